"""Customer returns: the page of station/workflows/returns.py (scan the lot or pallet, how many, which
customer, why -> booked into the quarantine place).

    GET  /return              the page: the return being entered, one step at a time
    POST /return/scan         a wedge scan (station.js: code, client_id, station, source) -> its banner and
                              the return's next step, as one .scan-result (station.js shows it)
    POST /return/qty          how many came back (keypad; OK = data-command="confirm")
    POST /return/customer     the customer who sent it back (tap)
    POST /return/confirm      yes, from a customer who never received the lot (data-command="confirm")
    POST /return/book         the reason (a preset tapped, or written) -> booked (data-command="confirm")
    POST /return/cancel       start again, nothing booked (data-command="cancel": CMD:CANCEL)

The return is the workflow's state, held by the station (views/intake.py); scans go through the scan
intake to workflows.returns.step, taps call the workflow's tap functions (POST, redirect, GET: what a tap
said waits in the state, workflows/notes.py). Receivers, supervisors and admins ("returns").
"""
from __future__ import annotations

from flask import Blueprint, redirect, request, url_for

from .. import auth, get_db
from ..auth import requires
from ..workflows import Answer, notes
from ..workflows import returns as flow
from .intake import answer_response as scan_answer
from .intake import load_state, open_page, renderer, save_state, take

bp = Blueprint("returns", __name__, url_prefix="/return")

SAME_AGAIN = Answer("info", "The same label again — scanned once only.")


def _screen(note: bool = False) -> tuple[dict, Answer | None]:
    """The return as it is now, and (note=True) the tap's answer waiting to be shown, taken once."""
    with get_db().read() as s:
        held = load_state(s, flow.NAME)
        shown = flow.screen(s, held)
    waiting = notes.waiting(held) if note else None
    if waiting is not None or shown["state"] != notes.without(held):
        with get_db().write() as s:  # the note is shown once; a return whose lot is gone is forgotten
            held = load_state(s, flow.NAME)
            shown = flow.screen(s, held)
            waiting = notes.waiting(held) if note else None
            save_state(s, flow.NAME, shown["state"])
    return {**shown, "station": auth.current_station()}, waiting


@bp.get("")
@requires("returns")
def index():
    """The returns page at the dock."""
    open_page(flow.NAME)
    context, note = _screen(note=True)
    return scan_answer("return.html", note or flow.prompt(context), None, **context)


def _tap(action, *args):
    """A tap: the workflow's function over the state, in one transaction; its answer waits for the page."""
    with get_db().write() as s:
        held = load_state(s, flow.NAME)
        answer = action(s, held, *args)
        kept = answer.state if answer.state is not None else notes.without(held)
        save_state(s, flow.NAME, notes.noted(kept, answer))
    return redirect(url_for(".index"), 303)


@bp.post("/cancel")
@requires("returns")
def cancel():
    return _tap(flow.cancel)


@bp.post("/qty")
@requires("returns")
def choose_qty():
    return _tap(flow.choose_qty, request.form.get("qty"))


@bp.post("/customer")
@requires("returns")
def choose_customer():
    return _tap(flow.choose_customer, request.form.get("customer"))


@bp.post("/confirm")
@requires("returns")
def confirm_customer():
    return _tap(flow.confirm_customer)


@bp.post("/book")
@requires("returns")
def book():
    return _tap(flow.book, request.form.get("reason"), request.form.get("note"), auth.actor())


@bp.post("/scan")
@requires("returns")
def scan():
    """A wedge scan on the returns page: the returned lot or pallet."""
    taken, problem = take(flow.NAME)
    if problem is not None:
        return _scan_answer(problem, None, 400)
    if taken.outcome.retried:  # the answer to a scan already acted on: show where the return is now
        context, _ = _screen()
        return scan_answer("partials/return_scan.html", flow.prompt(context), taken.scan_id, **context)
    return show(taken)


@renderer(flow.NAME)
def show(taken):
    """A scan's answer with the return's next step (a wedge scan's, or one the station's own scanner read)."""
    return _scan_answer(taken.answer or SAME_AGAIN, taken.scan_id)


def _scan_answer(answer: Answer, scan_id: int | None, status: int = 200):
    context, _ = _screen()
    return scan_answer("partials/return_scan.html", answer, scan_id, status, **context)
