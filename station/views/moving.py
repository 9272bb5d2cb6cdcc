"""Put-away / move: the page of station/workflows/putaway.py (scan a pallet or a lot, say how many,
scan where it goes -> moved).

    GET  /move              the page: the move being made, one step at a time
    POST /move/scan         a wedge scan (station.js: code, client_id, station, source) -> its banner
                            and the move's next step, as one .scan-result (station.js shows it)
    POST /move/source       a lot in several places: the location it is taken from (tap)
    POST /move/qty          how many of the lot (keypad; OK = data-command="confirm")
    POST /move/part         only part of the pallet: ask how many
    POST /move/cancel       start again, nothing moved (data-command="cancel": CMD:CANCEL)

The move being made is the workflow's state, held by the station (views/intake.py); scans go through
the scan intake to workflows.putaway.step, taps call the workflow's tap functions. Taps are plain forms
that come back to the page (POST, redirect, GET): what a tap said waits in the state (workflows/notes.py).
"""
from __future__ import annotations

from flask import Blueprint, redirect, request, url_for

from .. import auth, get_db
from ..auth import requires
from ..workflows import Answer, notes, putaway
from .intake import answer_response as scan_answer
from .intake import load_state, open_page, renderer, save_state, take

bp = Blueprint("putaway", __name__, url_prefix="/move")

SAME_AGAIN = Answer("info", "The same label again — scanned once only.")


# --- the page -----------------------------------------------------------------------------------


def _screen(note: bool = False) -> tuple[dict, Answer | None]:
    """The move as it is now, and (note=True) the tap's answer waiting to be shown, taken once."""
    with get_db().read() as s:
        held = load_state(s, putaway.NAME)
        shown = putaway.screen(s, held)
    waiting = notes.waiting(held) if note else None
    if waiting is not None or shown["state"] != notes.without(held):
        with get_db().write() as s:  # the note is shown once; a move whose goods are gone is forgotten
            held = load_state(s, putaway.NAME)
            shown = putaway.screen(s, held)
            waiting = notes.waiting(held) if note else None
            save_state(s, putaway.NAME, shown["state"])
    return {**shown, "station": auth.current_station()}, waiting


@bp.get("")
@requires("putaway")
def index():
    open_page(putaway.NAME)
    context, note = _screen(note=True)
    return scan_answer("move.html", note or putaway.prompt(context), None, **context)


def _tap(action, *args):
    """A tap: the workflow's function over the state, in one transaction; its answer waits for the page."""
    with get_db().write() as s:
        held = load_state(s, putaway.NAME)
        answer = action(s, held, *args)
        kept = answer.state if answer.state is not None else notes.without(held)
        save_state(s, putaway.NAME, notes.noted(kept, answer))
    return redirect(url_for(".index"), 303)


@bp.post("/cancel")
@requires("putaway")
def cancel():
    return _tap(putaway.cancel)


@bp.post("/part")
@requires("putaway")
def part():
    return _tap(putaway.part)


@bp.post("/source")
@requires("putaway")
def choose_source():
    return _tap(putaway.choose_source, request.form.get("from", ""))


@bp.post("/qty")
@requires("putaway")
def choose_qty():
    return _tap(putaway.choose_qty, request.form.get("qty"))


# --- scans --------------------------------------------------------------------------------------


@bp.post("/scan")
@requires("putaway")
def scan():
    taken, problem = take(putaway.NAME)
    if problem is not None:
        return _scan_answer(problem, None, 400)
    if taken.outcome.retried:  # the answer to a scan already acted on: show where the move is now
        context, _ = _screen()
        return scan_answer("partials/move_scan.html", putaway.prompt(context), taken.scan_id, **context)
    return show(taken)


@renderer(putaway.NAME)
def show(taken):
    """A scan's answer with the move's next step (a wedge scan's, or one the station's own scanner read)."""
    return _scan_answer(taken.answer or SAME_AGAIN, taken.scan_id)


def _scan_answer(answer: Answer, scan_id: int | None, status: int = 200):
    context, _ = _screen()
    return scan_answer("partials/move_scan.html", answer, scan_id, status, **context)
