"""Receiving at the dock, the page: an adapter over station/workflows/receiving.py.

    GET  /receive                  the page: the receipt being filled, big touch controls (and this
                                   station's own scanner now scans into receiving)
    POST /receive/scan             a wedge scan (station.js: code, client_id, station, source), taken by
                                   views/intake.take -> its banner (.scan-result) + the receipt
                                   (#receive-work, swapped in by receive.js); show() draws the same
                                   for a scan of the station's own scanner (GET /floor/answer/<id>)
    POST /receive/draft            the form's values as typed (saved on every change; answers 204)
    GET  /receive/items?q=         item search by SKU, name or GTIN -> big buttons
    POST /receive/item             choose the item (sku) -> the receipt
    POST /receive/confirm          book it: lot, stock at the station's dock, ledger row, labels
                                   queued to the station's printer -> the receipt done, job state live
    POST /receive/cancel           start again with an empty receipt
    POST /receive/new-item         supervisor: create the item of an unknown GTIN, go on with the receipt

The receipt being filled is the workflow's state, held by the station (or, on a device bound to no
station, by the operator's floor session): the two barcodes of a pallet label can be scanned in either
order, from the wedge or the station's scanner, and hand entry survives a scan. Each tap loads the
state, runs the workflow's tap and saves the state in one write transaction. Command barcodes
(CMD:CONFIRM, CMD:CANCEL) are pressed by station.js on the buttons marked data-command.
"""
from __future__ import annotations

from typing import Callable

from flask import Blueprint, Response, make_response, render_template, request

from .. import auth, clock, get_db
from ..auth import requires
from ..services import dates
from ..services.errors import DomainError
from ..workflows import Answer
from ..workflows import receiving as workflow
from ..workflows.receipt_draft import find_items
from . import intake
from .intake import Taken

bp = Blueprint("receiving", __name__, url_prefix="/receive")

NAME = workflow.NAME
SAME_LABEL = Answer("info", "The same label again — scanned once only.")


@bp.app_template_global()
def expiry_bounds() -> tuple[str, str]:
    """The date picker's min and max for an expiry (services/dates.py): the calendar offers no other."""
    first, last = dates.expiry_window(clock.today())
    return first.isoformat(), last.isoformat()


def _context(session, state: dict, **extra) -> dict:
    """The page's receipt (workflow.screen) with who and where this browser is."""
    station = auth.current_station()
    context = workflow.screen(session, state, station.id if station else None)
    context.update(station=station, may_create_item=auth.can("supervisor"), **extra)
    return context


# --- the page and its scans ----------------------------------------------------------------------------


@bp.get("")
@requires("receiving")
def index():
    intake.open_page(NAME)
    with get_db().read() as s:
        context = _context(s, intake.load_state(s, NAME))
    response = make_response(render_template("receive.html", **context))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/scan")
@requires("receiving")
def scan():
    """One scan from the wedge (or typed): taken once for receiving, its answer drawn by show()."""
    taken, refused = intake.take(NAME)
    if refused is not None:
        return _scan_response(refused, None, status=400)
    return show(taken)


@intake.renderer(NAME)
def show(taken: Taken) -> Response:
    """A scan's answer as the page shows it: the banner, and the receipt when the scan changed it (as
    the station holds it now). A bounce, or a retry of a scan that had no answer, was applied once."""
    answer = taken.answer or SAME_LABEL
    work = None
    if answer.data.get("receipt"):
        with get_db().read() as s:
            work = _context(s, intake.load_state(s, NAME))
    res = taken.resolution
    response = _scan_response(answer, taken.scan_id, ignored=taken.answer is None or taken.outcome.ignored,
                              code=res.code, error=res.error, work=work)
    response.headers["X-Scan-Id"] = str(taken.scan_id)
    return response


def _scan_response(answer: Answer, scan_id: int | None, status: int = 200, **context) -> Response:
    context = {"ignored": False, "code": "", "error": None, "work": None, **context}
    return intake.answer_response("partials/receive_scan.html", answer, scan_id, status, **context)


# --- taps ---------------------------------------------------------------------------------------------


def _tap(run: Callable[..., Answer], *, draw: bool = True) -> tuple[Answer, dict | None]:
    """Run a tap of the workflow over this browser's receipt, saving the new state with its work in one
    write transaction: the answer, and the receipt to draw (None unless `draw`)."""
    with get_db().write() as s:
        state = intake.load_state(s, NAME)
        answer = run(s, state)
        if answer.state is not None and answer.state != state:
            intake.save_state(s, NAME, answer.state)
        return answer, _context(s, state if answer.state is None else answer.state) if draw else None


def _work(answer: Answer, context: dict, *, banner: bool = True, **extra) -> Response:
    """The receipt (#receive-work) for htmx, with the answer's banner also shown full width (#scan-current)."""
    status = 200 if answer.kind != "error" else answer.data.get("status", 422)
    shown = (answer.kind, answer.message, answer.detail) if banner else None
    return make_response(render_template("partials/receive_work.html", banner=shown, oob=True,
                                         bad=answer.data.get("bad"), **context, **extra), status)


@bp.post("/draft")
@requires("receiving")
def save_draft():
    """The form as typed, kept so that a scan re-drawing the receipt does not lose it."""
    form = request.form.to_dict()
    _tap(lambda s, state: workflow.fill(s, state, form), draw=False)
    return "", 204


@bp.get("/items")
@requires("receiving")
def items():
    query = request.args.get("q", "")
    with get_db().read() as s:
        found = [(i.sku, i.name, i.unit) for i in find_items(s, query)]
    return render_template("partials/receive_items.html", items=found, query=query.strip())


@bp.post("/item")
@requires("receiving")
def choose_item():
    form = request.form.to_dict()
    answer, context = _tap(lambda s, state: workflow.choose_item(s, state, form.get("sku", ""), form))
    return _work(answer, context, banner=not answer.ok)  # the receipt shows the item chosen: no banner


@bp.post("/cancel")
@requires("receiving")
def cancel():
    return _work(*_tap(workflow.cancel))


@bp.post("/confirm")
@requires("receiving")
def confirm():
    form, station = request.form.to_dict(), auth.current_station()
    answer, context = _tap(lambda s, state: workflow.confirm(s, state, form, by=auth.actor(),
                                                             station_id=station.id if station else None))
    done = answer.data.get("done")
    if done is None:
        return _work(answer, context)
    from .printers import _job_context

    with get_db().read() as s:
        jobs = []
        for job_id in done.get("jobs") or []:
            try:
                jobs.append(_job_context(s, job_id))
            except DomainError:
                continue
        return _work(answer, context, done=done, repeated=answer.data.get("repeated"), jobs=jobs)


@bp.post("/new-item")
@requires("supervisor")
def new_item():
    """A supervisor adds the item of a GTIN that was not known; the receipt goes on with it."""
    form = request.form.to_dict()
    answer, context = _tap(lambda s, state: workflow.add_item(
        s, state, sku=form.get("sku", ""), name=form.get("name", ""), unit=form.get("unit", "")))
    return _work(answer, context, item_form=form if answer.data.get("status") == 422 else None)
