"""Recalls, for supervisors: start one from a lot or a supplier's lot, follow it up, close it.

    GET  /recalls                    open and closed recalls with their progress; "Start a recall"
    POST /recalls/scan               a wedge scan (station.js), taken by the scan intake for the recall
                                     workflow (station/workflows/recall.py): a lot label or pallet ->
                                     HX-Redirect to its preview; anything else -> a red banner
    GET  /recalls/new?lot=…          the preview: what the recall would stop and whom it lists, and
         /recalls/new?supplier=…&supplier_lot=…   the reason + confirm (data-command="confirm")
    POST /recalls                    start it (source + reason) -> 303 to the recall's page (also when an
                                     open recall already holds the source — a confirm sent twice — with
                                     a banner saying so)
    GET  /recalls/<number>[?lot=…]   the report: lots, where their stock is now, customers, shipments,
                                     progress, events; forms for the follow-up (?lot: that lot's form first,
                                     its Retrieved button answering CMD:CONFIRM)
    POST /recalls/<number>/scan      a wedge scan of a lot label on that page -> HX-Redirect to ?lot=
                                     (both scan URLs and their answers: views/recall_scans.py)
    POST /recalls/<number>/retrieved (lot, qty, note)       stock of an affected lot gathered back
    POST /recalls/<number>/notified  (customer, note)       a customer was told
    POST /recalls/<number>/close     (reason, accept_unnotified)
    GET  /recalls/<number>.csv       the report as CSV (views/recall_export.py)

Forms are plain POSTs: a success redirects to the recall's page with a green banner (POST, redirect,
GET: the banner waits in the workflow state); a refusal answers the page again with the red banner,
the words typed kept, and nothing changed (services.recalls raises before anything is written, and the
transaction rolls back). A scan of the station's own scanner on these pages is answered as a wedge
scan is (show_answer): the state says which recall's page is open.
"""
from __future__ import annotations

from flask import Blueprint, make_response, redirect, render_template, request, url_for
from sqlalchemy import select

from .. import auth, get_db
from ..auth import requires
from ..models import Supplier
from ..scanning.codes import command_of
from ..services import recalls
from ..services.errors import DomainError
from ..workflows import Answer, notes
from ..workflows import recall as flow
from . import intake
from .common import clean_scan

bp = Blueprint("recalls", __name__, url_prefix="/recalls")

PREVIEW_LOTS = 60  # the preview lists this many lots; the count says how many in all
REASONS = ("Customer complaint", "Supplier notice", "Lab result", "Foreign body found", "Labelling error")


def _enter(number: str | None) -> Answer | None:
    """A recall page is open at this station showing recall `number` (None: the list or a preview):
    the state says so, for the station's own scanner; a tap's answer waiting in it is returned, to be
    shown once."""
    intake.open_page(flow.NAME)
    return showing(number)


def showing(number: str | None) -> Answer | None:
    """The state says the page shows recall `number` (a scan POST sets it too: the page's own URL
    says which recall it shows, even when another tab at the station drew another since)."""
    db = get_db()
    with db.read() as s:
        current = intake.load_state(s, flow.NAME)
    if current != flow.showing(number):
        with db.write() as s:
            intake.save_state(s, flow.NAME, flow.showing(number))
    return notes.waiting(current)


def _page(template: str, status: int = 200, **context):
    response = make_response(render_template(template, **context), status)
    response.headers["Cache-Control"] = "no-store"
    return response


def _error_status(exc: DomainError) -> int:
    return exc.status if 400 <= exc.status < 500 else 409


# --- the list and the start form ----------------------------------------------------------------


def _suppliers() -> list[tuple[str, str]]:
    with get_db().read() as s:
        return [(code, name) for code, name in s.execute(select(Supplier.code, Supplier.name).order_by(Supplier.name))]


def _index(answer: Answer | None = None, status: int = 200, **form):
    with get_db().read() as s:
        rows = recalls.recall_list(s)
    return _page("recalls.html", status, answer=answer, open_recalls=[r for r in rows if r.status == "open"],
                 closed_recalls=[r for r in rows if r.status != "open"], suppliers=_suppliers(),
                 form=form)


@bp.get("")
@requires("supervisor")
def index():
    return _index(_enter(None))


def _source_args() -> dict:
    values = request.values
    lot = clean_scan(values.get("lot"))
    supplier = clean_scan(values.get("supplier"))
    supplier_lot = clean_scan(values.get("supplier_lot"))
    if lot:
        return {"lot": lot}
    return {"supplier": supplier or None, "supplier_lot": supplier_lot or None}


@bp.get("/new")
@requires("supervisor")
def preview():
    _enter(None)
    source = _source_args()
    try:
        with get_db().read() as s:
            found = recalls.preview_recall(s, **source)
    except DomainError as exc:
        return _index(Answer("error", exc.message, "Nothing was stopped."), _error_status(exc), **source)
    return _preview(found, source)


def _preview(found: recalls.Preview, source: dict, answer: Answer | None = None, status: int = 200,
             reason: str = ""):
    if answer is None:
        answer = Answer("info", f"A recall of {found.source} stops {found.stopped} "
                                f"{'lot' if found.stopped == 1 else 'lots'}",
                        "Check what it covers, write why, then confirm (or scan CMD:CONFIRM).")
    return _page("recall_new.html", status, answer=answer, preview=found, source=source, reason=reason,
                 reasons=REASONS, shown=found.lots[:PREVIEW_LOTS])


@bp.post("")
@requires("supervisor")
def create():
    source = _source_args()
    reason = clean_scan(request.form.get("reason"))
    try:
        with get_db().write() as s:
            answer = flow.start(s, source, reason, auth.actor())
            intake.save_state(s, flow.NAME, notes.noted(flow.showing(answer.data["recall"]), answer))
    except DomainError as exc:
        try:
            with get_db().read() as s:
                found = recalls.preview_recall(s, **source)
        except DomainError:
            return _index(Answer("error", exc.message, "Nothing was stopped."), _error_status(exc), **source)
        return _preview(found, source, Answer("error", exc.message, "Nothing was stopped."),
                        _error_status(exc), "" if command_of(reason) else reason)
    return redirect(url_for(".show", number=answer.data["recall"]), 303)


# --- one recall ---------------------------------------------------------------------------------


def _report(number: str) -> tuple[recalls.Report, dict[str, list[recalls.Source]]]:
    """The report, and (an open recall) where each lot with goods left to retrieve can come from."""
    with get_db().read() as s:
        recall = recalls.recall_by_number(s, number)
        report = recalls.recall_report(s, recall)
        left = {x.lot_number for x in report.lots if x.left} if report.status == "open" else set()
        sources = {entry.lot.lot_number: recalls.retrieval_sources(s, entry.lot)
                   for entry in recall.lots if entry.lot.lot_number in left}
        return report, sources


def _show(number: str, answer: Answer | None = None, status: int = 200, **typed):
    try:
        report, sources = _report(number)
    except DomainError as exc:
        return _index(Answer("error", exc.message), exc.status)
    focus = typed.get("lot") or clean_scan(request.args.get("lot"))
    return _page("recall.html", status, answer=answer, report=report, typed=typed, focus=focus, sources=sources,
                 lot_of={lot.lot_number: lot for lot in report.lots})


@bp.get("/<number>")
@requires("supervisor")
def show(number: str):
    return _show(number, _enter(number))


def _act(number: str, tap, **typed):
    """Run the tap `tap(session)` -> Answer; then 303 back with its words, or the page with the refusal."""
    try:
        with get_db().write() as s:
            answer = tap(s)
            intake.save_state(s, flow.NAME, notes.noted(flow.showing(number), answer))
    except DomainError as exc:
        return _show(number, Answer("error", exc.message, "Nothing was changed."), _error_status(exc), **typed)
    return redirect(url_for(".show", number=number), 303)


@bp.post("/<number>/retrieved")
@requires("supervisor")
def retrieved(number: str):
    lot = clean_scan(request.form.get("lot"))
    note = clean_scan(request.form.get("note"))
    qty = (request.form.get("qty") or "").strip()
    source = clean_scan(request.form.get("from"))
    typed = {"qty": qty[:20]} if qty else {}  # drawn again in its field when refused
    return _act(number, lambda s: flow.retrieved(s, number, lot, qty, note, auth.actor(), source), lot=lot,
                note=note, source=source, **typed)


@bp.post("/<number>/notified")
@requires("supervisor")
def notified(number: str):
    customer = clean_scan(request.form.get("customer"))
    note = clean_scan(request.form.get("note"))
    return _act(number, lambda s: flow.notified(s, number, customer, note, auth.actor()), customer=customer,
                note=note)


@bp.post("/<number>/close")
@requires("supervisor")
def close(number: str):
    reason = clean_scan(request.form.get("reason"))
    accept = request.form.get("accept_unnotified") in ("1", "on", "true")
    return _act(number, lambda s: flow.close(s, number, reason, accept, auth.actor()), close_reason=reason,
                accept=accept)
