"""The pick page's taps, on the picking blueprint: each calls its function of workflows/picking.py on
the holder's state, in one write transaction with saving the new state, and answers the pick list
with the banner (out of band into #scan-current).

    POST /pick/<order>/override         reason -> picks the younger lot the last scan asked about
    POST /pick/<order>/cancel           forget the pending lot / location / quantity
    POST /pick/<order>/short            reason, lot, location -> the suggested lot is not there (written off)
    POST /pick/<order>/qty              qty -> the next lot scan picks this many
    POST /pick/<order>/line/<no>        make line <no> the current one
    POST /pick/<order>/next             the next open line (CMD:NEXT)
    POST /pick/<order>/undo             take back the last pick made here (CMD:UNDO)
    POST /pick/<order>/ship             ship the order (CMD:CONFIRM)
"""
from __future__ import annotations

from flask import make_response, render_template, request

from .. import auth, get_db
from ..services.errors import DomainError
from ..workflows import Answer
from ..workflows import picking as workflow
from ..workflows.picking import NAME
from . import intake
from .picking import bp, order_or_404, page_state, work_context


def _tap(number: str, act, *args):
    """`act(session, state, *args) -> Answer` on this order's state, saved in the same transaction;
    answers the pick list and the banner. A refusal (DomainError) leaves the state as it was."""
    with get_db().write() as s:
        state = page_state(s, order_or_404(s, number))
        try:
            with s.begin_nested():
                answer = act(s, state, *args)
        except DomainError as exc:
            answer = Answer("error", exc.message)
        if answer.state is not None:
            state = answer.state
        intake.save_state(s, NAME, state)
        s.flush()
        s.expire_all()  # the list is drawn from what the tap wrote
        order = order_or_404(s, number)
        body = render_template("partials/pick_work.html", **work_context(s, order, state), answer=answer)
    response = make_response(body)
    response.headers["Cache-Control"] = "no-store"
    return response


def _reason(limit: int) -> str:
    return " ".join((request.form.get("reason") or "").split())[:limit]


@bp.post("/<number>/override")
@auth.requires("picking")
def override(number: str):
    return _tap(number, workflow.override, _reason(200), auth.actor())


@bp.post("/<number>/cancel")
@auth.requires("picking")
def cancel(number: str):
    return _tap(number, workflow.cancel)


@bp.post("/<number>/qty")
@auth.requires("picking")
def set_qty(number: str):
    return _tap(number, workflow.set_qty, request.form.get("qty") or "")


@bp.post("/<number>/short")
@auth.requires("picking")
def short(number: str):
    # the page sends the lot and location it showed; a tap without them (an older page) acts on the suggestion
    lot, location = request.form.get("lot"), request.form.get("location")
    seen = (lot[:64], location[:64]) if lot is not None and location is not None else None
    return _tap(number, workflow.short, _reason(160), auth.actor(), seen)


@bp.post("/<number>/line/<int:line_no>")
@auth.requires("picking")
def choose_line(number: str, line_no: int):
    return _tap(number, workflow.choose_line, line_no)


@bp.post("/<number>/next")
@auth.requires("picking")
def next_line(number: str):
    return _tap(number, workflow.next_line)


@bp.post("/<number>/undo")
@auth.requires("picking")
def undo(number: str):
    return _tap(number, workflow.undo, auth.actor())


@bp.post("/<number>/ship")
@auth.requires("picking")
def ship(number: str):
    return _tap(number, workflow.ship, auth.actor())
