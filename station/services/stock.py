"""Stock and the ledger: every change of stock writes its movement row in the same transaction.

Decrements are conditional updates (``qty = qty - n WHERE qty >= n``), so concurrent pickers
can never drive a quantity below zero; CHECK constraints on stock and lots are the backstop.

Event (services/events.py), in the move's transaction:
    lot.moved   lot (event_bodies.lot_facts), qty, from, to (location_facts), sscc (the pallet moved
                whole or in part, or null), pallets (each pallet the stock came off: sscc, qty)
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from .. import clock, quantities
from ..models import HandlingUnit, Item, Location, Lot, LotStatus, Movement, MovementKind, Stock
from . import events
from .actor import NOBODY, Actor
from .errors import InsufficientStock, Invalid, LotNotPickable
from .event_bodies import location_facts, lot_facts, lot_key, qty_text
from ..quantities import Qty

# Why a lot cannot leave its place, in words a picker understands.
BLOCKED = {
    LotStatus.HOLD: "is on hold — QA release needed",
    LotStatus.QUARANTINE: "is in quarantine — QA release needed",
    LotStatus.RECALLED: "is recalled — it must not leave the site",
    LotStatus.EXPIRED: "has expired",
    LotStatus.CONSUMED: "has no stock left",
}


def require_positive(qty: Qty, what: str = "quantity", of: Item | Lot | None = None) -> Qty:
    """`qty` as an exact quantity greater than 0, or Invalid. With `of` (the item, or a lot of it), a
    fractional quantity must also fit the item's decimals: more is refused in words, never rounded.
    A whole quantity fits every item, so the item is only loaded for a fractional one."""
    try:
        value = quantities.normal(qty)
    except TypeError:
        value = None
    if value is None or value <= 0:
        raise Invalid(f"The {what} must be a number greater than 0 (got {qty!r}).", code="invalid_qty")
    if value > quantities.MAX_QTY:
        raise Invalid(f"The {what} must be at most {quantities.MAX_QTY:,} (got {value}).", code="invalid_qty")
    if not isinstance(value, int):
        item = of.item if isinstance(of, Lot) else of
        try:
            if item is None:
                quantities.parse(value, what=f"The {what}")
            else:
                quantities.for_item(value, item.qty_decimals, item.unit, what=f"The {what}")
        except quantities.QuantityError as exc:
            raise Invalid(str(exc), code="too_many_decimals") from None
    return value


def ensure_pickable(lot: Lot, on: dt.date | None = None, verb: str = "picked") -> None:
    """Refuse a lot that is held, quarantined, recalled, expired or empty."""
    today = on or clock.today()
    if lot.status in BLOCKED:
        raise LotNotPickable(f"Lot {lot.lot_number} {BLOCKED[lot.status]}; it cannot be {verb}.",
                             lot_status=lot.status.value)
    if lot.expiry is not None and lot.expiry < today:
        raise LotNotPickable(f"Lot {lot.lot_number} expired on {lot.expiry.isoformat()}; "
                             f"it cannot be {verb}.", lot_status="expired")


def record(session: Session, kind: MovementKind, lot: Lot, qty: int, *,
           source: Location | None = None, dest: Location | None = None,
           by: Actor = NOBODY, **fields) -> Movement:
    """Append one ledger row."""
    movement = Movement(
        kind=kind, lot_id=lot.id, qty=qty,
        from_location_id=source.id if source else None,
        to_location_id=dest.id if dest else None,
        operator_id=by.operator_id, station_id=by.station_id, raw_scan=by.raw_scan, token_id=by.token_id,
        **fields,
    )
    session.add(movement)
    return movement


def _change_on_hand(session: Session, lot: Lot, delta: int) -> None:
    """Keep lots.on_hand equal to the sum of the lot's stock, and consumed <-> available in step."""
    on_hand = session.execute(
        update(Lot.__table__).where(Lot.__table__.c.id == lot.id)
        .values(on_hand=Lot.__table__.c.on_hand + delta)
        .returning(Lot.__table__.c.on_hand)
    ).scalar_one()
    # What the database now holds, kept without a further SELECT (an event body reads it next).
    set_committed_value(lot, "on_hand", on_hand)
    if on_hand == 0 and lot.status is LotStatus.AVAILABLE:
        lot.status = LotStatus.CONSUMED
    elif on_hand > 0 and lot.status is LotStatus.CONSUMED:
        lot.status = LotStatus.AVAILABLE


def add_stock(session: Session, lot: Lot, location: Location, qty: int,
              unit: HandlingUnit | None = None) -> None:
    """Put `qty` of `lot` at `location` (on pallet `unit` if given)."""
    key = [Stock.lot_id == lot.id, Stock.location_id == location.id,
           Stock.handling_unit_id == unit.id if unit else Stock.handling_unit_id.is_(None)]
    bump = update(Stock).where(*key).values(qty=Stock.qty + qty).execution_options(
        synchronize_session=False)
    if session.execute(bump).rowcount == 0:
        try:
            with session.begin_nested():
                session.add(Stock(lot_id=lot.id, location_id=location.id,
                                  handling_unit_id=unit.id if unit else None, qty=qty))
        except IntegrityError:  # another transaction inserted the same row first
            if session.execute(bump).rowcount == 0:
                raise
    _change_on_hand(session, lot, qty)


def remove_stock(session: Session, lot: Lot, location: Location, qty: int,
                 unit: HandlingUnit | None = None) -> list[tuple[int | None, int]]:
    """Take `qty` of `lot` from `location`: loose stock first, then pallets, unless `unit` is given.

    Returns (handling_unit_id, qty) for each part taken. Refuses when there is not enough.
    """
    query = select(Stock.id, Stock.qty, Stock.handling_unit_id).where(
        Stock.lot_id == lot.id, Stock.location_id == location.id, Stock.qty > 0)
    if unit is not None:
        query = query.where(Stock.handling_unit_id == unit.id)
    rows = session.execute(
        query.order_by(Stock.handling_unit_id.is_not(None), Stock.handling_unit_id, Stock.id)).all()
    available = sum(r.qty for r in rows)
    if available < qty:
        where = f"on pallet {unit.sscc} " if unit else ""
        raise InsufficientStock(
            f"Only {available} of lot {lot.lot_number} {where}at {location.code}; {qty} asked.",
            available=available)
    taken: list[tuple[int | None, int]] = []
    remaining = qty
    for row in rows:
        take = min(remaining, row.qty)
        done = session.execute(
            update(Stock).where(Stock.id == row.id, Stock.qty >= take)
            .values(qty=Stock.qty - take).execution_options(synchronize_session=False)
        ).rowcount
        if done == 0:  # someone else took it between our read and our write
            raise InsufficientStock(
                f"Stock of lot {lot.lot_number} at {location.code} changed meanwhile; try again.")
        taken.append((row.handling_unit_id, take))
        remaining -= take
        if remaining == 0:
            break
    _change_on_hand(session, lot, -qty)
    return taken


def move(session: Session, lot: Lot, qty: int, source: Location, dest: Location, *,
         by: Actor = NOBODY, unit: HandlingUnit | None = None) -> Movement:
    """Move `qty` of `lot` from one location to another (within the site)."""
    qty = require_positive(qty, of=lot)
    if source.id == dest.id:
        raise Invalid(f"Lot {lot.lot_number} is already at {dest.code}.", code="same_location")
    pallets = []
    for unit_id, part in remove_stock(session, lot, source, qty, unit):
        on = session.get(HandlingUnit, unit_id) if unit_id else None
        add_stock(session, lot, dest, part, on)
        if on is not None:
            pallets.append({"sscc": on.sscc, "qty": qty_text(part)})
    if unit is not None and unit.location_id == source.id and not session.scalar(
            select(Stock.id).where(Stock.handling_unit_id == unit.id, Stock.location_id == source.id,
                                   Stock.qty > 0).limit(1)):
        unit.location_id = dest.id  # the whole pallet has gone; part of one stays where it was
    movement = record(session, MovementKind.MOVE, lot, qty, source=source, dest=dest, by=by,
                      handling_unit_id=unit.id if unit else None)
    events.record(session, "lot.moved", {
        "lot": lot_facts(lot, session), "qty": qty_text(qty), "from": location_facts(source), "to": location_facts(dest),
        "sscc": unit.sscc if unit else None, "pallets": pallets}, key=lot_key(lot), by=by)
    return movement


def move_unit(session: Session, unit: HandlingUnit, dest: Location, *, by: Actor = NOBODY) -> Movement:
    """Move a whole pallet (everything on it) to `dest`."""
    if unit.location_id is None:
        raise Invalid(f"Pallet {unit.sscc} has left the site.", code="unit_gone")
    qty = session.scalar(select(Stock.qty).where(Stock.handling_unit_id == unit.id,
                                                 Stock.location_id == unit.location_id)) or 0
    if qty == 0:
        raise InsufficientStock(f"Pallet {unit.sscc} is empty.")
    return move(session, unit.lot, qty, unit.location, dest, by=by, unit=unit)


def adjust(session: Session, lot: Lot, location: Location, delta: int, reason: str, *,
           by: Actor = NOBODY) -> Movement:
    """Correct stock up or down (a count difference, damage), with a reason on the ledger."""
    try:
        size = quantities.normal(delta)
    except TypeError:
        size = 0
    if size == 0:
        raise Invalid("An adjustment must be a number other than 0.", code="invalid_qty")
    size = require_positive(abs(size), "adjustment", of=lot)
    reason = require_reason(reason)
    if delta > 0:
        add_stock(session, lot, location, size)
        return record(session, MovementKind.ADJUST, lot, size, dest=location, by=by, reason=reason)
    remove_stock(session, lot, location, size)
    return record(session, MovementKind.ADJUST, lot, size, source=location, by=by, reason=reason)


def require_counted(counted: Qty, lot: Lot, what: str = "quantity there") -> Qty:
    """What was found at a place: 0 or more, in the item's decimals (see require_positive)."""
    try:
        value = quantities.normal(counted)
    except TypeError:
        value = None
    if value is None or value < 0:
        raise Invalid(f"The {what} must be a number, 0 or more (got {counted!r}).", code="invalid_qty")
    return value if value == 0 else require_positive(value, what, of=lot)


def require_reason(reason: str | None) -> str:
    text = (reason or "").strip()
    if not text:
        raise Invalid("A reason is required.", code="reason_required")
    if len(text) > 200:
        raise Invalid("The reason must be at most 200 characters.", code="reason_too_long")
    return text


def adjust_to(session: Session, lot: Lot, location: Location, counted: int, reason: str, *,
              by: Actor = NOBODY) -> Movement:
    """Correct a lot's stock at `location` to `counted` (what is really there), with a reason: the
    difference is one ADJUST row. Refused in words when it already is that much (nothing to correct)."""
    counted = require_counted(counted, lot)
    require_reason(reason)
    here = session.scalar(select(func.coalesce(func.sum(Stock.qty), 0))
                          .where(Stock.lot_id == lot.id, Stock.location_id == location.id)) or 0
    if counted == here:
        raise Invalid(f"Lot {lot.lot_number} already has {here} at {location.code}; there is nothing to correct.",
                      code="no_difference")
    return adjust(session, lot, location, counted - here, reason, by=by)
