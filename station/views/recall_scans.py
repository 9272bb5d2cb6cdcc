"""The recall pages' scans (blueprint "recalls"), taken by the scan intake for the recall workflow
(station/workflows/recall.py): POST /recalls/scan (the list and a preview: a lot opens its recall's
preview) and POST /recalls/<number>/scan (a recall's page: a lot of it opens its form). show_answer
draws the answer, for a wedge scan and for a scan of the station's own scanner alike."""
from __future__ import annotations

from flask import Response, make_response, request, url_for
from sqlalchemy import select

from .. import auth, get_db
from ..models import Recall
from ..auth import requires
from ..workflows import intake as scan_intake
from ..workflows import recall as flow
from ..workflows.intake import Taken
from . import intake
from .recalls import bp, showing


@bp.post("/scan")
@requires("supervisor")
def scan():
    """A scanned lot label (or pallet label) opens the preview of a recall from that lot."""
    return _take(None)


def _a_scan() -> bool:
    """The request carries a code that can be a scan (a refused request must change nothing)."""
    data = request.get_json(silent=True) if request.is_json else request.form
    try:
        scan_intake.clean(data.get("code") if hasattr(data, "get") else None)
    except scan_intake.Refused:
        return False
    return True


def _take(number: str | None) -> Response:
    """The scan, for the page showing recall `number` (None: the list or a preview)."""
    if number is not None:
        with get_db().read() as s:
            known = s.scalar(select(Recall.id).where(Recall.number == number)) is not None
        if not known:  # before anything is logged or remembered: a refusal changes nothing
            return auth.banner_response("error", f"There is no recall {number}.", 404,
                                        "Open the recall from the list of recalls and scan again.")
    if _a_scan():
        showing(number)
    taken, refused = intake.take(flow.NAME)
    if refused is not None:
        return auth.banner_response(refused.kind, refused.message, 400)
    return show_answer(taken)


@intake.renderer(flow.NAME)
def show_answer(taken: Taken) -> Response:
    """A scan's answer on the recall pages: open the preview or the lot's form, or say why not."""
    answer = taken.answer
    if taken.outcome.ignored or answer is None:
        return auth.banner_response("info", "The same label again — scanned once only.")
    target = None
    if answer.ok and answer.data.get("preview"):
        target = url_for("recalls.preview", lot=answer.data["preview"])  # not ".": /floor/answer draws it too
    elif answer.ok and answer.data.get("lot"):
        target = url_for("recalls.show", number=answer.data["recall"], lot=answer.data["lot"])
    if target is None:
        return auth.banner_response(answer.kind, answer.message, answer.data.get("status", 200), answer.detail)
    response = make_response("", 200)
    response.headers["HX-Redirect"] = target
    return response


@bp.post("/<number>/scan")
@requires("supervisor")
def scan_on_report(number: str):
    """A lot label scanned on a recall's page: that lot's row, ready for how many came back (its
    Retrieved button then answers CMD:CONFIRM)."""
    return _take(number)
