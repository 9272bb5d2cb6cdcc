"""Lots found by item, status, location and expiry, a page at a time (GET /api/v1/lots).

Pages are keyset pages: `after` is the id of the last lot of the previous page, so a page never
repeats or skips a lot while others are received meanwhile. The order is lot id (the order lots
were made), or — when an expiry filter is given — soonest expiry first, then id: that is what
"what expires before Friday" asks, and it lets the walk follow ix_lots_expiry from the first
matching date instead of reading every lot in id order to find the few that expire (SQLite's
planner, without statistics, does exactly that for an id order). The other filters have an index
that starts the walk where their lots are: item (ix_lots_item_id), status (ix_lots_status:
status, id), location (the stock rows at it: ix_stock_location_id).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session, selectinload

from ..models import HandlingUnit, Item, Location, Lot, LotStatus, Stock
from .errors import Invalid
from .lots import StockLine


@dataclass(frozen=True)
class LotFilter:
    item: Item | None = None
    status: LotStatus | None = None
    location: Location | None = None  # lots with stock there now
    expires_before: dt.date | None = None  # expiry strictly before this day
    expires_after: dt.date | None = None  # expiry strictly after this day

    @property
    def by_expiry(self) -> bool:
        return self.expires_before is not None or self.expires_after is not None

    def __post_init__(self) -> None:
        before, after = self.expires_before, self.expires_after
        if before is not None and after is not None and after >= before:
            raise Invalid(f"No lot expires after {after.isoformat()} and before {before.isoformat()}: "
                          f"expires_after must be an earlier day than expires_before.",
                          code="invalid_range", field="expires_after")


def lot_query(where: LotFilter):
    """The lots that pass `where`, in the list's order (no page bounds yet)."""
    query = select(Lot).order_by(*((Lot.expiry, Lot.id) if where.by_expiry else (Lot.id,)))
    if where.item is not None:
        query = query.where(Lot.item_id == where.item.id)
    if where.status is not None:
        query = query.where(Lot.status == where.status)
    if where.expires_before is not None:
        query = query.where(Lot.expiry < where.expires_before)
    if where.expires_after is not None:
        query = query.where(Lot.expiry > where.expires_after)
    if where.location is not None:
        query = query.where(Lot.id.in_(select(Stock.lot_id).where(Stock.location_id == where.location.id,
                                                                   Stock.qty > 0)))
    return query


def lots_page(session: Session, where: LotFilter, *, after: int | None = None,
              limit: int = 100) -> tuple[list[Lot], dict[int, list[StockLine]], int | None]:
    """One page of the lots that pass `where` after the cursor `after` (a lot id), their stock by lot,
    and the next cursor (None on the last page)."""
    query = lot_query(where).options(selectinload(Lot.item), selectinload(Lot.supplier)).limit(limit + 1)
    if after is not None and where.by_expiry:
        last = session.get(Lot, after)
        if last is None or last.expiry is None:
            raise Invalid(f"after={after} is no lot of this list: pass the next_after of the page before.",
                          code="invalid_cursor", field="after")
        query = query.where(tuple_(Lot.expiry, Lot.id) > tuple_(last.expiry, last.id))
    elif after is not None:
        query = query.where(Lot.id > after)
    lots = list(session.scalars(query))
    more = len(lots) > limit
    lots = lots[:limit]
    return lots, stock_by_lot(session, [lot.id for lot in lots]), lots[-1].id if more else None


def stock_by_lot(session: Session, lot_ids: list[int]) -> dict[int, list[StockLine]]:
    """Where each lot's stock is (services.lots.stock_lines for many lots in one query)."""
    stock: dict[int, list[StockLine]] = {lot_id: [] for lot_id in lot_ids}
    if not lot_ids:
        return stock
    for lot_id, code, kind, qty, sscc in session.execute(
            select(Stock.lot_id, Location.code, Location.kind, Stock.qty, HandlingUnit.sscc)
            .join(Location, Location.id == Stock.location_id)
            .outerjoin(HandlingUnit, HandlingUnit.id == Stock.handling_unit_id)
            .where(Stock.lot_id.in_(lot_ids), Stock.qty > 0)
            .order_by(Stock.lot_id, Location.code, HandlingUnit.sscc)):
        stock[lot_id].append(StockLine(code, kind.value, qty, sscc))
    return stock
