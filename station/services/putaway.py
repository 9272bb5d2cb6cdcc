"""Put-away and moves: a pallet or a quantity of a lot from where it is to another location.

One function for the floor page and the API: it works out what the scan left open (the source
location when the lot is in one place, the whole pallet when no quantity is given) and calls
stock.move / stock.move_unit, which write the ledger row in the same transaction.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..models import HandlingUnit, Location, Lot, Movement, Stock
from .actor import NOBODY, Actor
from .errors import InsufficientStock, Invalid
from .stock import move, move_unit, require_positive


@dataclass(frozen=True)
class Place:
    location_id: int
    code: str
    qty: int


def places(session: Session, lot: Lot) -> list[Place]:
    """Where a lot's stock is (loose and on pallets), by location code."""
    return [Place(loc_id, code, qty) for loc_id, code, qty in session.execute(
        select(Location.id, Location.code, func.sum(Stock.qty))
        .join(Location, Location.id == Stock.location_id)
        .where(Stock.lot_id == lot.id, Stock.qty > 0)
        .group_by(Location.id, Location.code).order_by(Location.code))]


def unit_qty(session: Session, unit: HandlingUnit) -> int:
    """What is on a pallet where it stands."""
    if unit.location_id is None:
        return 0
    return session.scalar(select(func.coalesce(func.sum(Stock.qty), 0)).where(
        Stock.handling_unit_id == unit.id, Stock.location_id == unit.location_id)) or 0


def qty_at(session: Session, lot: Lot, location: Location) -> int:
    return session.scalar(select(func.coalesce(func.sum(Stock.qty), 0)).where(
        Stock.lot_id == lot.id, Stock.location_id == location.id)) or 0


def source_of(session: Session, lot: Lot, source: Location | None = None) -> Location:
    """The location to take a lot from: the one given, else the only one holding it.

    Several and none given: Invalid ``choose_location`` with the places in ``details["places"]``.
    """
    found = places(session, lot)
    if source is not None:
        return source
    if not found:
        raise InsufficientStock(f"Lot {lot.lot_number} has no stock anywhere — nothing to move.", available=0)
    if len(found) == 1:
        return session.get(Location, found[0].location_id)
    where = ", ".join(f"{p.code} ({p.qty})" for p in found)
    raise Invalid(f"Lot {lot.lot_number} is in {len(found)} places ({where}) — say which one it is moved from.",
                  code="choose_location", places=[{"location": p.code, "qty": p.qty} for p in found])


def move_goods(session: Session, *, dest: Location, lot: Lot | None = None, unit: HandlingUnit | None = None,
               qty: int | None = None, source: Location | None = None, by: Actor = NOBODY) -> Movement:
    """Move a pallet (all of it, or `qty` off it) or `qty` of a lot (all at `source` when None)."""
    if (lot is None) == (unit is None):
        raise Invalid("Give a lot or a pallet to move.", code="nothing_to_move")
    if qty is not None:
        qty = require_positive(qty, of=lot if lot is not None else unit.lot)
    if unit is not None:
        if unit.location_id is None:
            raise Invalid(f"Pallet {unit.sscc} has left the site.", code="unit_gone")
        if source is not None and source.id != unit.location_id:
            here = session.get(Location, unit.location_id)
            raise Invalid(f"Pallet {unit.sscc} is at {here.code}, not at {source.code}.", code="wrong_location")
        on_it = unit_qty(session, unit)
        if qty is None or qty == on_it:
            return move_unit(session, unit, dest, by=by)
        return move(session, unit.lot, qty, session.get(Location, unit.location_id), dest, by=by, unit=unit)
    source = source_of(session, lot, source)
    if qty is None:
        qty = qty_at(session, lot, source)
        if qty == 0:
            raise InsufficientStock(f"There is none of lot {lot.lot_number} at {source.code}.", available=0)
    return move(session, lot, qty, source, dest, by=by)
