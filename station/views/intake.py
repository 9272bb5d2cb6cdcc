"""The page side of the scan intake: every workflow page's scan route and its answer go through here.

    taken, refused = take("putaway")          # the request's scan, through station/workflows/intake.py
    answer_response("partials/...", answer, scan_id, **screen)   # one .scan-result for station.js
    @renderer("putaway")                       # how a workflow shows an applied scan's answer:
    def show(taken) -> Response                  GET /floor/answer/<scan id> calls it for the page
                                                 of a station whose own scanner read the scan
    load_state(session, "putaway") / save_state(session, "putaway", state)   the request's holder
    open_page("putaway")                       this page is the one open at its station (GET views); any
                                                 other whole page shown at the station closes it

/floor/answer/<scan id> answers only a signed-in browser bound to the station the scan was made at.
"""
from __future__ import annotations

from typing import Callable

from flask import Blueprint, Response, abort, current_app, g, make_response, render_template, request
from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import auth, get_db
from ..models import Scan
from ..services import scans
from ..workflows import Answer, intake, state
from ..workflows.intake import Taken

bp = Blueprint("answers", __name__)

RENDERERS: dict[str, Callable[[Taken], Response]] = {}


def take(workflow: str) -> tuple[Taken | None, Answer | None]:
    """The wedge scan in this request (form or JSON: code, client_id, source) taken for `workflow`:
    (taken, None), or (None, Answer) when the request itself is wrong (nothing logged)."""
    data = request.get_json(silent=True) if request.is_json else request.form
    if not isinstance(data, dict) and not hasattr(data, "getlist"):
        return None, Answer("error", "Send a JSON object or a form with a code.")
    source = data.get("source") if data.get("source") in ("wedge", "manual") else "wedge"
    client_id = data.get("client_id") or None
    if not isinstance(client_id, (str, type(None))):
        return None, Answer("error", "client_id must be text.")
    station, operator = auth.current_station(), auth.current_operator()
    scan = intake.ScanIn(code=data.get("code"), source=source, station_id=station.id if station else None,
                         operator_id=operator.id if operator else None,
                         floor_session_id=auth.floor_session_id(), client_id=client_id)
    try:
        return intake.take(get_db(), scan, workflow, bounce_ms=current_app.config["SCAN_BOUNCE_MS"]), None
    except intake.Refused as exc:
        return None, Answer("error", exc.message)
    except scans.InvalidClientId as exc:
        return None, Answer("error", str(exc))


def answer_response(template: str, answer: Answer, scan_id: int | None, status: int = 200, **context) -> Response:
    """One .scan-result: the banner and the step, for station.js to show (and sound)."""
    response = make_response(render_template(template, answer=answer, scan_id=scan_id, **context), status)
    response.headers["Cache-Control"] = "no-store"
    return response


def holder() -> str | None:
    station = auth.current_station()
    return state.holder(station.id if station else None, auth.floor_session_id())


def load_state(session: Session, workflow: str) -> dict:
    return state.load(session, holder(), workflow)


def save_state(session: Session, workflow: str, value: dict) -> None:
    state.save(session, holder(), workflow, value)


def open_page(workflow: str) -> None:
    """Record that `workflow`'s page is open at this browser's station (its own scanner's scans go there)."""
    g.workflow_opened = True
    station, operator = auth.current_station(), auth.current_operator()
    if station is None or operator is None:
        return
    with get_db().write() as session:
        state.open_at(session, station.id, workflow, floor_session_id=auth.floor_session_id(),
                      operator_id=operator.id)


@bp.after_app_request
def close_other_pages(response: Response) -> Response:
    """A whole page that opens no workflow (home, set-up, the scan log …) was just shown at a station:
    its own scanner's scans are no longer applied to the workflow page that was open before."""
    if (request.method != "GET" or response.status_code != 200 or response.mimetype != "text/html"
            or g.get("workflow_opened") or auth.is_htmx() or request.endpoint in (None, "static", "vendor")):
        return response
    station = auth.current_station()
    if station is None or auth.current_operator() is None:
        return response
    db = get_db()
    with db.read() as session:
        if not state.is_open_at(session, station.id):
            return response
    with db.write() as session:
        state.close_at(session, station.id)
    return response


def renderer(workflow: str):
    """Register how `workflow`'s page shows the answer of a scan applied on the server."""
    def register(view: Callable[[Taken], Response]):
        RENDERERS[workflow] = view
        return view
    return register


@bp.get("/floor/answer/<int:scan_id>")
def applied(scan_id: int):
    """The answer of a scan that the station's own scanner read and the server applied, drawn as the
    page of its workflow draws a wedge scan's answer (station.js fetches it from the station feed)."""
    station = auth.current_station()
    with get_db().read() as session:
        row = session.execute(select(Scan).where(Scan.id == scan_id)).scalar_one_or_none()
        if row is None or station is None or row.station_id != station.id:
            abort(404, description="No such scan at this station.")
        found = intake.applied(session, scan_id)
        outcome = scans.outcome_of(row)
    if found is None or found[0] not in RENDERERS:
        abort(404, description="That scan was not applied to a workflow.")
    workflow, answer = found
    response = RENDERERS[workflow](Taken(outcome, workflow, answer))
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Scan-Id"] = str(scan_id)
    return response
