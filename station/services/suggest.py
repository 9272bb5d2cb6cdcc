"""FIFO/FEFO pick suggestions: which lots and locations to pick, in order, to cover a quantity.

Lots are read in index order through the partial indexes ix_lots_fifo / ix_lots_fefo (which
hold only available lots with stock), a few at a time, so the query reads about as many rows
as it returns, whether the item has ten lots or a million.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import and_, or_, select, tuple_
from sqlalchemy.orm import Session

from .. import clock
from ..models import Item, Location, LocationKind, Lot, LotStatus, RemovalStrategy, Stock
from .errors import Invalid, NotFound

BATCH = 8


@dataclass(frozen=True)
class Allocation:
    lot_id: int
    lot_number: str
    location_id: int
    location_code: str
    qty: int
    expiry: dt.date | None
    fifo_date: dt.date
    handling_unit_id: int | None = None


@dataclass(frozen=True)
class Suggestion:
    item_id: int
    strategy: RemovalStrategy
    requested: int
    allocations: list[Allocation] = field(default_factory=list)

    @property
    def allocated(self) -> int:
        return sum(a.qty for a in self.allocations)

    @property
    def short(self) -> int:
        """How much of the request no pickable stock covers."""
        return self.requested - self.allocated


def suggest(session: Session, item: Item | int, qty: int, *, on: dt.date | None = None) -> Suggestion:
    """The ordered allocations covering `qty` of `item`, skipping unavailable and expired lots."""
    if isinstance(item, int):
        found = session.get(Item, item)
        if found is None:
            raise NotFound(f"No item with id {item}.")
        item = found
    if qty <= 0:
        raise Invalid("The quantity to pick must be more than 0.", code="invalid_qty")
    today = on or clock.today()
    allocations: list[Allocation] = []
    remaining = qty
    for lots in _lot_batches(session, item, today):
        for allocation in _allocate(session, lots, remaining):
            allocations.append(allocation)
            remaining -= allocation.qty
        if remaining == 0:
            break
    return Suggestion(item.id, item.removal_strategy, qty, allocations)


def _lot_batches(session: Session, item: Item, today: dt.date):
    """Yield batches of pickable lots in removal order (keyset pagination over the index)."""
    base = select(Lot.id, Lot.lot_number, Lot.expiry, Lot.fifo_date).where(
        Lot.item_id == item.id, Lot.status == LotStatus.AVAILABLE, Lot.on_hand > 0
    )
    if item.removal_strategy is RemovalStrategy.FEFO:
        # Lots with an expiry date first (soonest first), then lots that never expire.
        yield from _pages(session, base.where(Lot.expiry >= today),
                          (Lot.expiry, Lot.fifo_date, Lot.lot_number))
        yield from _pages(session, base.where(Lot.expiry.is_(None)), (Lot.fifo_date, Lot.lot_number))
    else:
        yield from _pages(session, base.where(or_(Lot.expiry.is_(None), Lot.expiry >= today)),
                          (Lot.fifo_date, Lot.lot_number))


def _pages(session: Session, query, order):
    last = None
    while True:
        page = query if last is None else query.where(tuple_(*order) > tuple_(*last))
        rows = session.execute(page.order_by(*order).limit(BATCH)).all()
        if not rows:
            return
        yield rows
        if len(rows) < BATCH:
            return
        last = [getattr(rows[-1], col.key) for col in order]


def _allocate(session: Session, lots, remaining: int):
    """Yield allocations from these lots' stock, lot by lot in the given order."""
    stock = session.execute(
        select(Stock.lot_id, Stock.location_id, Location.code, Stock.qty, Stock.handling_unit_id)
        .join(Location, Location.id == Stock.location_id)
        .where(Stock.lot_id.in_([lot.id for lot in lots]), Stock.qty > 0,
               Location.kind != LocationKind.SHIPPING)
        .order_by(Stock.lot_id, Location.code, Stock.handling_unit_id.is_not(None), Stock.id)
    ).all()
    by_lot: dict[int, list] = {}
    for row in stock:
        by_lot.setdefault(row.lot_id, []).append(row)
    for lot in lots:
        for row in by_lot.get(lot.id, ()):
            take = min(remaining, row.qty)
            yield Allocation(lot.id, lot.lot_number, row.location_id, row.code, take,
                             lot.expiry, lot.fifo_date, row.handling_unit_id)
            remaining -= take
            if remaining == 0:
                return
