"""Counting stock: the page of station/workflows/count.py (scan a location, scan each lot or pallet found
and key how many, DONE, answer for what was not found, give reasons, finish).

    GET  /count                 the page: the count being made, one step at a time
    POST /count/scan            a wedge scan (station.js) -> its banner and the count's next step, as one
                                .scan-result; a location opens its count, a lot label or a pallet's SSCC is
                                then keyed, CMD:DONE finishes counting
    POST /count/qty             how many of the scanned lot or pallet (keypad; OK = data-command="confirm")
    POST /count/as-books        a pallet holds what the books say (data-command="confirm" for a pallet)
    POST /count/forget          leave the scanned lot unkeyed (data-command="cancel" while keying)
    POST /count/done            counted everything found (data-command="next": CMD:NEXT; CMD:DONE as a scan)
    POST /count/back            back to counting
    POST /count/not-here        a lot on the books not found here: 0
    POST /count/count-it        a lot asked about was found: key it
    POST /count/reason          why a line differs (a reason tapped, or typed)
    POST /count/finish          book the differences, or leave them for a supervisor above
                                COUNT_APPROVAL_THRESHOLD (data-command="confirm")
    POST /count/cancel          stop the count, nothing booked
    The supervisor's approvals (/count/pending) are views/count_approvals.py, on this blueprint.

The count is in the database; where the counter is in it is the workflow's state, held by the station
(views/intake.py). Taps are plain forms that come back to the page (POST, redirect, GET): what a tap said
waits in the state (workflows/notes.py).
"""
from __future__ import annotations

from flask import Blueprint, current_app, redirect, request, url_for

from .. import auth, get_db
from ..auth import requires
from ..workflows import Answer, notes
from ..workflows import count as workflow
from .intake import answer_response, load_state, open_page, renderer, save_state, take

bp = Blueprint("counting", __name__, url_prefix="/count")

SAME_AGAIN = Answer("info", "The same label again — scanned once only.")


def _screen(note: bool = False) -> tuple[dict, Answer | None]:
    """The count as it is now, and (note=True) the tap's answer waiting to be shown, taken once."""
    with get_db().read() as s:
        held = load_state(s, workflow.NAME)
        shown = workflow.screen(s, held)
        s.expunge_all()  # the rows stay as read for the template
    waiting = notes.waiting(held) if note else None
    if waiting is not None or shown["state"] != notes.without(held):
        with get_db().write() as s:  # the note is shown once; a count no longer open is forgotten
            held = load_state(s, workflow.NAME)
            shown = workflow.screen(s, held)
            waiting = notes.waiting(held) if note else None
            save_state(s, workflow.NAME, shown["state"])
            s.expunge_all()
    return {**shown, "station": auth.current_station()}, waiting


@bp.get("")
@requires("count")
def index():
    open_page(workflow.NAME)
    context, note = _screen(note=True)
    return answer_response("count.html", note or workflow.prompt(context), None, **context)


def _tap(action, *args):
    """A tap: the workflow's function over the state, in one transaction; its answer waits for the page."""
    with get_db().write() as s:
        held = load_state(s, workflow.NAME)
        answer = action(s, held, auth.actor(), *args)
        kept = answer.state if answer.state is not None else notes.without(held)
        save_state(s, workflow.NAME, notes.noted(kept, answer))
    return redirect(url_for(".index"), 303)


@bp.post("/qty")
@requires("count")
def key_qty():
    return _tap(workflow.key_qty, request.form.get("qty"))


@bp.post("/as-books")
@requires("count")
def as_books():
    return _tap(workflow.as_books)


@bp.post("/forget")
@requires("count")
def forget():
    return _tap(workflow.forget)


@bp.post("/done")
@requires("count")
def done():
    return _tap(workflow.done)


@bp.post("/back")
@requires("count")
def back():
    return _tap(workflow.back)


@bp.post("/not-here")
@requires("count")
def not_here():
    return _tap(workflow.not_here, request.form.get("line"))


@bp.post("/count-it")
@requires("count")
def count_it():
    return _tap(workflow.count_it, request.form.get("line"))


@bp.post("/reason")
@requires("count")
def give_reason():
    return _tap(workflow.give_reason, request.form.get("line"), request.form.get("reason"),
                request.form.get("other", "")[:400])


@bp.post("/finish")
@requires("count")
def finish():
    return _tap(workflow.finish, current_app.config["COUNT_APPROVAL_THRESHOLD"])


@bp.post("/cancel")
@requires("count")
def cancel():
    return _tap(workflow.cancel)


# --- scans ----------------------------------------------------------------------------------------


@bp.post("/scan")
@requires("count")
def scan():
    taken, problem = take(workflow.NAME)
    if problem is not None:
        return _scan_answer(problem, None, 400)
    if taken.outcome.retried:  # the answer to a scan already acted on: show where the count is now
        context, _ = _screen()
        return answer_response("partials/count_scan.html", workflow.prompt(context), taken.scan_id, **context)
    return show(taken)


@renderer(workflow.NAME)
def show(taken):
    """A scan's answer with the count's next step (a wedge scan's, or one the station's own scanner read)."""
    return _scan_answer(taken.answer or SAME_AGAIN, taken.scan_id)


def _scan_answer(answer: Answer, scan_id: int | None, status: int = 200):
    context, _ = _screen()
    return answer_response("partials/count_scan.html", answer, scan_id, status, **context)


from . import count_approvals  # noqa: E402,F401 - adds the supervisor's approvals to this blueprint
