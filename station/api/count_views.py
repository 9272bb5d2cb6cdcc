"""Stock counts over the API (handheld apps, an ERP's cycle-count plan): the same service as /count.

    POST /counts                   {location, lines: [{lot | sscc, qty, reason?}], finish?} -> 201 the count:
                                   booked, pending (a difference above the threshold) or open
    GET  /counts?status=&location=&cursor=&limit=   counts, newest first, a page at a time (keyset)
    GET  /counts/<id>              one count with its lines
    POST /counts/<id>/approve      {note?}  book a pending count's differences (supervisor; never the
                                   token that counted it)
    POST /counts/<id>/reject       {note}   book nothing

A refusal changes nothing and says why in the counter's words: an unknown lot, pallet or location in the
body is a 422 naming the field; a lot on the books there and not listed (422 not_counted), a difference
without a reason (422 reason_required), a pallet the books have elsewhere (422 pallet_elsewhere); someone
else's open count of the location, a count already decided, one's own count, books changed since a
pending count (409). POST /counts and the decisions take a request_id: a retry gets the first answer.
"""
from __future__ import annotations

from flask import current_app, g
from sqlalchemy import select

from .. import get_db
from ..models import ApiToken, Count, CountStatus, HandlingUnit, Item, Location, Lot, Operator
from ..services import catalog, counts
from ..services.actor import who
from ..services.errors import Invalid
from ..services.printing import _utc
from .core import api_actor, route, write
from .count_schemas import CountIn, CountLineOut, CountOut, CountPage, CountQuery, DecisionIn
from .views import _referenced


def _name(session, model, row_id: int | None) -> str | None:
    return session.scalar(select(model.name).where(model.id == row_id)) if row_id is not None else None


def count_out(session, count: Count, recount: list[str] | None = None) -> CountOut:
    lines = []
    for line in count.lines:
        lot = session.get(Lot, line.lot_id)
        unit = session.get(HandlingUnit, line.handling_unit_id) if line.handling_unit_id else None
        lines.append(CountLineOut(lot_number=lot.lot_number, sscc=unit.sscc if unit else None,
                                  sku=session.get(Item, lot.item_id).sku, expected=line.expected_qty,
                                  counted=line.counted_qty, difference=counts.diff(line), reason=line.reason))
    decided = _name(session, Operator, count.decided_by_id) or ("API" if count.decided_at else None)
    return CountOut(
        id=count.id, location=session.get(Location, count.location_id).code, status=count.status.value,
        counted_by=who(_name(session, Operator, count.counted_by_id), _name(session, ApiToken, count.token_id)),
        started_at=_utc(count.started_at), finished_at=_utc(count.finished_at) if count.finished_at else None,
        decided_by=decided, decided_at=_utc(count.decided_at) if count.decided_at else None,
        decision_note=count.decision_note, recount=recount or [], lines=lines)


def _line(session, count: Count, entry, index: int):
    field = f"lines[{index}].{'sscc' if entry.sscc else 'lot'}"
    if entry.sscc:
        unit = session.scalar(select(HandlingUnit).where(HandlingUnit.sscc == entry.sscc))
        if unit is None:
            raise Invalid(f"Pallet {entry.sscc} has not been received here.", code="unknown_sscc", field=field)
        find = counts.line_for_unit
        args = (unit,)
    else:
        find = counts.line_for_lot
        args = (_referenced(catalog.lot_by_number, session, entry.lot, field),)
    try:
        return find(session, count, *args)
    except Invalid as exc:
        raise Invalid(exc.message, code=exc.code, field=field, **exc.details) from None


@route("POST", "/counts", body=CountIn, response=CountOut, status=201, errors=(409,),
       workflow="count", action="Counting stock", idempotent=True)
def create_count(body: CountIn) -> CountOut:
    """Count a location: what was found of each lot and pallet; finish books it (or leaves it pending)."""
    with write() as session:
        location = _referenced(catalog.location_by_code, session, body.location, "location")
        count = counts.start(session, location, by=api_actor())
        seen: set[int] = set()
        for index, entry in enumerate(body.lines):
            line = _line(session, count, entry, index)
            if line.id in seen:
                raise Invalid(f"{entry.sscc or entry.lot} is listed twice — give each lot or pallet once.",
                              code="duplicate_line", field=f"lines[{index}]")
            seen.add(line.id)
            counts.set_counted(count, line, entry.qty)
            if entry.reason is not None:
                counts.set_reason(count, line, entry.reason)
        recount: list[str] = []
        if body.finish:
            result = counts.finish(session, count, by=api_actor(),
                                   threshold=current_app.config["COUNT_APPROVAL_THRESHOLD"])
            recount = result.changed
        session.flush()
        session.refresh(count)
        return count_out(session, count, recount)


@route("GET", "/counts", query=CountQuery, response=CountPage, workflow="count", action="Reading counts")
def list_counts(query: CountQuery) -> CountPage:
    """Counts, newest first, filtered by status and location, a page at a time (keyset: pass next_cursor)."""
    with get_db().read() as session:
        stmt = select(Count).order_by(Count.id.desc()).limit(query.limit + 1)
        if query.status:
            stmt = stmt.where(Count.status == CountStatus(query.status))
        if query.location:
            stmt = stmt.where(Count.location_id == _referenced(catalog.location_by_code, session, query.location,
                                                               "location").id)
        if query.cursor:
            stmt = stmt.where(Count.id < query.cursor)
        rows = list(session.scalars(stmt))
        more = len(rows) > query.limit
        rows = rows[:query.limit]
        return CountPage(data=[count_out(session, c) for c in rows], next_cursor=rows[-1].id if more else None)


@route("GET", "/counts/<int:count_id>", response=CountOut, errors=(404,), workflow="count",
       action="Reading a count")
def get_count(count_id: int) -> CountOut:
    """One count with its lines: what the books said, what was counted, why it differs."""
    with get_db().read() as session:
        return count_out(session, counts.get(session, count_id))


@route("POST", "/counts/<int:count_id>/approve", body=DecisionIn, response=CountOut, errors=(404, 409),
       workflow="supervisor", action="Approving a count", idempotent=True)
def approve_count(count_id: int, body: DecisionIn) -> CountOut:
    """Approve a pending count: its differences are booked as count movements."""
    with write() as session:
        count = counts.get(session, count_id)
        counts.approve(session, count, by=api_actor(), note=body.note, approver_name=f"API: {g.api_token.name}")
        session.flush()
        return count_out(session, count)


@route("POST", "/counts/<int:count_id>/reject", body=DecisionIn, response=CountOut, errors=(404, 409),
       workflow="supervisor", action="Rejecting a count", idempotent=True)
def reject_count(count_id: int, body: DecisionIn) -> CountOut:
    """Reject a pending count: nothing is booked; the note says why."""
    with write() as session:
        count = counts.get(session, count_id)
        counts.reject(session, count, by=api_actor(), note=body.note or "")
        session.flush()
        return count_out(session, count)
