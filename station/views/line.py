"""The line: the page of station/workflows/line.py (start a run, scan the component lots used, finish ->
a new lot and its labels).

    GET  /line                      the station's line: its open run, or "start a run" (items, ?q=)
    POST /line/start                start a run of an item (sku) on this station's line
    POST /line/scan                 a wedge scan: a component lot (then its quantity on the keypad, and
                                    where it comes from when that is not clear) -> banner + the run;
                                    with no run open, an item (its GTIN, a GS1 label with (01) but no
                                    lot of ours, or its SKU) starts a run of it, as the tap does
    POST /line/source               the location the scanned lot is taken from (tap)
    POST /line/component            the quantity of the scanned lot: it joins the run (OK = confirm)
    POST /line/component/cancel     forget the scanned lot (CMD:CANCEL)
    POST /line/undo                 take the last component back (CMD:UNDO)
    POST /line/finish               qty made, copies: the new lot, linked to its components, its labels
                                    queued to the station's printer (CMD:CONFIRM) -> the run's page
    POST /line/cancel-run           stop the run; nothing was consumed
    The run's own page (reprint, print more) is views/line_runs.py, on this blueprint.

The run is in the database; the lot just scanned, before its quantity is typed, is the workflow's
state, held by the station (views/intake.py). Scans go through the scan intake to
workflows.line.step; taps call the workflow's tap functions and come back to the page (POST, redirect,
GET), what they said waiting in the state (workflows/notes.py).
"""
from __future__ import annotations

from flask import Blueprint, redirect, request, url_for

from .. import auth, get_db
from ..auth import requires
from ..workflows import Answer, line, notes
from .intake import answer_response, load_state, open_page, renderer, save_state, take

bp = Blueprint("line", __name__, url_prefix="/line")

SAME_AGAIN = Answer("info", "The same label again — scanned once only.")


def _station_id() -> int | None:
    station = auth.current_station()
    return station.id if station else None


def _screen(q: str | None = None) -> dict:
    with get_db().read() as s:
        shown = line.screen(s, load_state(s, line.NAME), _station_id(), q)
        s.expunge_all()  # the rows stay as read for the template (ending a read rolls back, expiring them)
    return {**shown, "station": auth.current_station()}


def take_note() -> Answer | None:
    """What the last tap said, shown once (the line page and the run's page)."""
    with get_db().read() as s:
        if notes.waiting(load_state(s, line.NAME)) is None:
            return None
    with get_db().write() as s:
        held = load_state(s, line.NAME)
        save_state(s, line.NAME, notes.without(held))
    return notes.waiting(held)


@bp.get("")
@requires("line")
def index():
    open_page(line.NAME)
    note = take_note()
    context = _screen(request.args.get("q"))
    return answer_response("line.html", note or line.prompt(context), None, **context)


def tap(action, *args):
    """A tap: the workflow's function over the state, in one transaction; its answer waits for the page.
    The answer's data may name the run whose page comes next, and say the tap was made "again" (a
    double tap): then what the first one said stands."""
    with get_db().write() as s:
        held = load_state(s, line.NAME)
        answer = action(s, held, auth.actor(), *args)
        kept = answer.state if answer.state is not None else notes.without(held)
        if not answer.data.get("again"):
            save_state(s, line.NAME, notes.noted(kept, answer))
    if answer.data.get("run"):
        return redirect(url_for(".run_page", run_id=answer.data["run"]), 303)
    return redirect(url_for(".index"), 303)


@bp.post("/start")
@requires("line")
def start():
    return tap(line.start, request.form.get("item", ""))


@bp.post("/source")
@requires("line")
def choose_source():
    return tap(line.choose_source, request.form.get("from", ""))


@bp.post("/component")
@requires("line")
def add_component():
    return tap(line.add_component, request.form.get("run"), request.form.get("qty"))


@bp.post("/component/cancel")
@requires("line")
def forget_component():
    return tap(line.forget_component)


@bp.post("/undo")
@requires("line")
def undo():
    return tap(line.undo, request.form.get("run"), request.form.get("component"))


@bp.post("/cancel-run")
@requires("line")
def cancel_run():
    return tap(line.cancel_run, request.form.get("run"))


@bp.post("/finish")
@requires("line")
def finish():
    return tap(line.finish, request.form.get("run"), request.form.get("qty"), request.form.get("copies"))


# --- scans ----------------------------------------------------------------------------------------


@bp.post("/scan")
@requires("line")
def scan():
    taken, problem = take(line.NAME)
    if problem is not None:
        return _scan_answer(problem, None, 400)
    if taken.outcome.retried:  # the answer to a scan already acted on: show where the run is now
        context = _screen()
        return answer_response("partials/line_scan.html", line.prompt(context), taken.scan_id, **context)
    return show(taken)


@renderer(line.NAME)
def show(taken):
    """A scan's answer with the run as it is now (a wedge scan's, or one the station's own scanner read)."""
    return _scan_answer(taken.answer or SAME_AGAIN, taken.scan_id)


def _scan_answer(answer: Answer, scan_id: int | None, status: int = 200):
    return answer_response("partials/line_scan.html", answer, scan_id, status, **_screen())
