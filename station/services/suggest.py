"""FIFO/FEFO pick suggestions: which lots and locations to pick, in order, to cover a quantity.

Lots are read in index order through the partial indexes ix_lots_fifo / ix_lots_fefo (which
hold only available lots with stock), a page at a time, so the query reads about as many rows
as it returns, whether the item has ten lots or a million.

This is on the scan path, so the statements are built once, with bind parameters, and run on
the session's connection: building them per call cost more than running them (bench/).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import Date, String, bindparam, or_, select, text, tuple_
from sqlalchemy.orm import Session

from .. import clock
from ..models import Item, Location, Lot, RemovalStrategy, Stock
from .errors import Invalid, NotFound

BATCH = 8  # lots in the first page; later pages double, up to MAX_BATCH
MAX_BATCH = 256


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


def _after(*columns):
    """Keyset condition: rows that sort after the last row of the previous page."""
    types = {Lot.expiry.key: Date, Lot.fifo_date.key: Date, Lot.lot_number.key: String}
    return tuple_(*columns) > tuple_(*(bindparam(f"last_{c.key}", type_=types[c.key]) for c in columns))


# Literal SQL, not parameters: the planner must see the partial indexes' own predicate.
_PICKABLE = text("lots.status = 'available' AND lots.on_hand > 0")
_LOTS = select(Lot.id, Lot.lot_number, Lot.expiry, Lot.fifo_date)
_ITEM = Lot.item_id == bindparam("item")
_TODAY = bindparam("today", type_=Date)
_FIFO_ORDER = (Lot.fifo_date, Lot.lot_number)
_FEFO_ORDER = (Lot.expiry, Lot.fifo_date, Lot.lot_number)


def _walk(order, *conditions, first_only=()):
    """The first-page and next-page statements of one walk through the lots, in `order`."""
    base = _LOTS.where(_ITEM, _PICKABLE, *conditions)
    first = base.where(*first_only).order_by(*order).limit(bindparam("n"))
    following = base.where(_after(*order)).order_by(*order).limit(bindparam("n"))
    return first, following, order


_FIFO = _walk(_FIFO_ORDER, or_(Lot.expiry.is_(None), Lot.expiry >= _TODAY))
# Later FEFO pages are bounded by the keyset alone; repeating expiry >= today would restart
# the index walk at today's date on every page.
_FEFO_DATED = _walk(_FEFO_ORDER, first_only=(Lot.expiry >= _TODAY,))
_FEFO_UNDATED = _walk(_FIFO_ORDER, Lot.expiry.is_(None))

_STRATEGY = select(Item.removal_strategy).where(Item.id == bindparam("item"))
_STOCK = (
    select(Stock.lot_id, Stock.location_id, Location.code, Stock.qty, Stock.handling_unit_id)
    .join(Location, Location.id == Stock.location_id)
    .where(Stock.lot_id.in_(bindparam("lots", expanding=True)), Stock.qty > 0,
           # staged for shipping: already picked; in quarantine: returned or retrieved goods that wait for
           # inspection and are moved out (put-away) once their lot is released
           text("locations.kind NOT IN ('shipping', 'quarantine')"))
    .order_by(Stock.lot_id, Location.code, Stock.handling_unit_id.is_not(None), Stock.id)
)


def suggest(session: Session, item: Item | int, qty: int, *, on: dt.date | None = None,
            expiring_from: dt.date | None = None) -> Suggestion:
    """The ordered allocations covering `qty` of `item`, skipping unavailable and expired lots.

    `expiring_from`: no lot that expires before this day is suggested (an order's due date, or the
    customer's minimum shelf life on the ship day: services.picking.earliest_expiry); lots
    without an expiry always qualify. It only moves the walks' lower bound on expiry, so the
    statements and the index walks stay the same."""
    try:
        fits = not isinstance(qty, (bool, float)) and qty > 0
    except TypeError:
        fits = False
    if not fits:
        raise Invalid("The quantity to pick must be a number greater than 0.", code="invalid_qty")
    conn = session.connection()
    if isinstance(item, Item):
        item_id, strategy = item.id, item.removal_strategy
    else:
        item_id, strategy = item, conn.execute(_STRATEGY, {"item": item}).scalar()
        if strategy is None:
            raise NotFound(f"No item with id {item}.", code="unknown_item")
        strategy = RemovalStrategy(strategy)
    today = on or clock.today()
    params = {"item": item_id, "today": max(today, expiring_from) if expiring_from else today}
    walks = (_FEFO_DATED, _FEFO_UNDATED) if strategy is RemovalStrategy.FEFO else (_FIFO,)
    allocations: list[Allocation] = []
    remaining = qty
    for walk in walks:
        for lots in _pages(conn, walk, params):
            for allocation in _allocate(conn, lots, remaining):
                allocations.append(allocation)
                remaining -= allocation.qty
            if remaining == 0:
                return Suggestion(item_id, strategy, qty, allocations)
    return Suggestion(item_id, strategy, qty, allocations)


def _pages(conn, walk, params):
    """Yield pages of pickable lots in removal order; each page twice the size of the last."""
    first, following, order = walk
    statement, size, page_params = first, BATCH, dict(params)
    while True:
        rows = conn.execute(statement, {**page_params, "n": size}).all()
        if not rows:
            return
        yield rows
        if len(rows) < size:
            return
        page_params.update({f"last_{c.key}": getattr(rows[-1], c.key) for c in order})
        statement, size = following, min(size * 2, MAX_BATCH)


def _allocate(conn, lots, remaining: int):
    """Yield allocations from these lots' stock, lot by lot in the given order."""
    by_lot: dict[int, list] = {}
    for row in conn.execute(_STOCK, {"lots": [lot.id for lot in lots]}):
        by_lot.setdefault(row.lot_id, []).append(row)
    for lot in lots:
        for row in by_lot.get(lot.id, ()):
            take = min(remaining, row.qty)
            yield Allocation(lot.id, lot.lot_number, row.location_id, row.code, take,
                             lot.expiry, lot.fifo_date, row.handling_unit_id)
            remaining -= take
            if remaining == 0:
                return
