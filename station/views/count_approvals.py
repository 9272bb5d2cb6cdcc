"""The supervisor's side of stock counts (blueprint "counting"): counts waiting for approval.

    GET  /count/pending                  every count waiting (a difference above the threshold), with its
                                         differences, counter and reasons; counts still open (someone left
                                         one half done: it keeps others from counting that location); recent
                                         decisions below
    POST /count/<id>/approve (note?)     book its differences (services.counts.approve; never one's own)
    POST /count/<id>/reject (note)       book nothing; the note says why (count again, …)
    POST /count/<id>/cancel              stop an open count; nothing is booked

A decision answers the page again with a banner on top (200, or the refusal's status: a count that is
one's own, already decided, or whose books changed since — nothing is booked then).
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import render_template, request
from sqlalchemy import select

from .. import auth, get_db
from ..auth import requires
from ..models import ApiToken, Count, CountStatus, HandlingUnit, Item, Location, Lot, Operator
from ..services import counts
from ..services.actor import who
from ..services.errors import DomainError
from .counting import bp

RECENT = 10


@dataclass
class Shown:
    """A count as the approvals page shows it."""

    id: int
    location: str
    status: str
    counter: str
    finished_at: object
    decided_by: str | None
    note: str | None
    own: bool
    lines: list[dict]


def _name(session, operator_id: int | None) -> str | None:
    return session.scalar(select(Operator.name).where(Operator.id == operator_id)) if operator_id else None


def _token_name(session, token_id: int | None) -> str | None:
    return session.scalar(select(ApiToken.name).where(ApiToken.id == token_id)) if token_id else None


def _shown(session, count: Count, me: int | None) -> Shown:
    lines = []
    for line in count.lines:
        if not counts.diff(line):
            continue
        lot = session.get(Lot, line.lot_id)
        item = session.get(Item, lot.item_id)
        unit = session.get(HandlingUnit, line.handling_unit_id) if line.handling_unit_id else None
        lines.append({"lot": lot.lot_number, "sku": item.sku, "name": item.name, "unit": item.unit,
                      "decimals": item.qty_decimals, "sscc": unit.sscc if unit else None, "expected": line.expected_qty,
                      "counted": line.counted_qty, "diff": counts.diff(line), "reason": line.reason})
    return Shown(count.id, session.get(Location, count.location_id).code, count.status.value,
                 who(_name(session, count.counted_by_id), _token_name(session, count.token_id)) or "—",
                 count.finished_at,
                 _name(session, count.decided_by_id), count.decision_note,
                 me is not None and me == count.counted_by_id, lines)


def _page(status: int = 200, kind: str | None = None, message: str | None = None, detail: str | None = None):
    me = auth.current_operator()
    with get_db().read() as session:
        pending = session.scalars(select(Count).where(Count.status == CountStatus.PENDING).order_by(Count.id))
        waiting = [_shown(session, c, me.id if me else None) for c in pending]
        still_open = [_shown(session, c, None) for c in session.scalars(
            select(Count).where(Count.status == CountStatus.OPEN).order_by(Count.id).limit(50))]
        decided = session.scalars(select(Count).where(Count.status.in_([CountStatus.BOOKED, CountStatus.REJECTED]),
                                                      Count.decided_at.is_not(None))
                                  .order_by(Count.decided_at.desc(), Count.id.desc()).limit(RECENT))
        recent = [_shown(session, c, None) for c in decided]
    return render_template("count_pending.html", waiting=waiting, still_open=still_open, recent=recent,
                           kind=kind, message=message, detail=detail), status


@bp.get("/pending")
@requires("supervisor")
def pending():
    """Counts waiting for a supervisor's approval."""
    return _page()


def _decide(count_id: int, action: str):
    note = " ".join((request.form.get("note") or "").split())[:400]
    me = auth.current_operator()
    try:
        with get_db().write() as session:
            count = counts.get(session, count_id)
            if action == "approve":
                counts.approve(session, count, by=auth.actor(), note=note, approver_name=me.name)
            elif action == "cancel":
                counts.cancel(session, count, by=auth.actor())
            else:
                counts.reject(session, count, by=auth.actor(), note=note)
            where = session.get(Location, count.location_id).code
    except DomainError as exc:  # nothing was booked: the transaction rolled back
        return _page(exc.status, "error", exc.message, "Nothing was booked.")
    if action == "approve":
        return _page(200, "ok", f"Count {count_id} of {where} approved — its differences are booked.")
    if action == "cancel":
        return _page(200, "info", f"Count {count_id} of {where} cancelled — nothing was booked.",
                     "Its location can be counted again.")
    return _page(200, "info", f"Count {count_id} of {where} rejected — nothing was booked.", note)


@bp.post("/<int:count_id>/approve")
@requires("supervisor")
def approve(count_id: int):
    return _decide(count_id, "approve")


@bp.post("/<int:count_id>/reject")
@requires("supervisor")
def reject(count_id: int):
    return _decide(count_id, "reject")


@bp.post("/<int:count_id>/cancel")
@requires("supervisor")
def cancel_open(count_id: int):
    return _decide(count_id, "cancel")
