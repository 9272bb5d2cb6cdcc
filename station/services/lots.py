"""A lot as people look at it: the lot, its stock by location and its history."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import String, bindparam, select
from sqlalchemy.orm import Session, aliased

from .. import clock
from ..models import (ApiToken, Customer, HandlingUnit, Item, Location, Lot, LotEvent, LotStatus, Movement,
                      Operator, Stock, Supplier)
from ..rawsql import RawReader
from .actor import who_column
from .catalog import lot_by_number
from .errors import NotFound


@dataclass(frozen=True)
class StockLine:
    location_code: str
    location_kind: str
    qty: int
    sscc: str | None


@dataclass(frozen=True)
class HistoryLine:
    ts: dt.datetime
    kind: str
    qty: int
    from_location: str | None
    to_location: str | None
    operator: str | None
    customer: str | None
    reference: str | None
    reason: str | None


@dataclass(frozen=True)
class EventLine:
    """A status change: who is the operator, "API: <token name>", or None (the system)."""
    ts: dt.datetime
    action: str
    from_status: LotStatus
    to_status: LotStatus
    reason: str
    who: str | None


@dataclass(frozen=True)
class LotDetails:
    lot: Lot
    stock: list[StockLine]
    history: list[HistoryLine]
    events: list[EventLine]

    @property
    def expired(self) -> bool:
        return self.lot.expiry is not None and self.lot.expiry < clock.today()

    @property
    def days_to_expiry(self) -> int | None:
        return None if self.lot.expiry is None else (self.lot.expiry - clock.today()).days


@dataclass(frozen=True)
class LotCard(LotDetails):
    """lot_card's answer: `lot` is a row of _LOT (lot_number, status, ..., sku, item_name, unit, supplier)."""


# The statements of a lot's card, defined once: the pages run them in a Session (lot_details), the lot API on
# the DBAPI cursor (lot_card, station.rawsql), the same SQL either way.
_SOURCE, _DEST = aliased(Location), aliased(Location)
_LOT = (
    select(Lot.id, Lot.lot_number, Lot.status, Lot.expiry, Lot.produced_on, Lot.received_on, Lot.supplier_lot,
           Lot.on_hand, Item.sku, Item.name.label("item_name"), Item.unit, Supplier.code.label("supplier"))
    .join(Item, Item.id == Lot.item_id)
    .outerjoin(Supplier, Supplier.id == Lot.supplier_id)
    .where(Lot.lot_number == bindparam("number", type_=String))
)
_STOCK = (
    select(Location.code, Location.kind, Stock.qty, HandlingUnit.sscc)
    .join(Location, Location.id == Stock.location_id)
    .outerjoin(HandlingUnit, HandlingUnit.id == Stock.handling_unit_id)
    .where(Stock.lot_id == bindparam("lot_id"), Stock.qty > 0)
    .order_by(Location.code, HandlingUnit.sscc)
)
_HISTORY = (
    select(Movement.ts, Movement.kind, Movement.qty, _SOURCE.code, _DEST.code.label("to_code"),
           who_column(Operator.name, ApiToken.name).label("who"), Customer.name, Movement.reference,
           Movement.reason)
    .outerjoin(_SOURCE, _SOURCE.id == Movement.from_location_id)
    .outerjoin(_DEST, _DEST.id == Movement.to_location_id)
    .outerjoin(Operator, Operator.id == Movement.operator_id)
    .outerjoin(ApiToken, ApiToken.id == Movement.token_id)
    .outerjoin(Customer, Customer.id == Movement.customer_id)
    .where(Movement.lot_id == bindparam("lot_id"))
    .order_by(Movement.id.desc()).limit(bindparam("limit"))
)
_EVENTS = (
    select(LotEvent.ts, LotEvent.action, LotEvent.from_status, LotEvent.to_status, LotEvent.reason,
           who_column(Operator.name, ApiToken.name).label("who"))
    .outerjoin(Operator, Operator.id == LotEvent.operator_id)
    .outerjoin(ApiToken, ApiToken.id == LotEvent.token_id)
    .where(LotEvent.lot_id == bindparam("lot_id"))
    .order_by(LotEvent.id.desc()).limit(bindparam("limit"))
)


def stock_lines(session: Session, lot_id: int) -> list[StockLine]:
    """Where a lot's stock is: one line per location (and pallet), by location code."""
    return _stock(session.execute(_STOCK, {"lot_id": lot_id}))


def _stock(rows) -> list[StockLine]:
    return [StockLine(code, kind.value, qty, sscc) for code, kind, qty, sscc in rows]


def _lines(run, lot_id: int, limit: int) -> tuple[list[StockLine], list[HistoryLine], list[EventLine]]:
    """A lot's stock, latest movements and latest status changes, by `run(statement, params)`."""
    return (_stock(run(_STOCK, {"lot_id": lot_id})),
            [HistoryLine(ts, kind.value, *rest) for ts, kind, *rest in run(_HISTORY, {"lot_id": lot_id, "limit": limit})],
            [EventLine(*row) for row in run(_EVENTS, {"lot_id": lot_id, "limit": limit})])


def lot_details(session: Session, lot_number: str, history_limit: int = 200) -> LotDetails:
    """The lot (NotFound if unknown) with its stock by location, its latest movements and status changes."""
    lot = lot_by_number(session, lot_number)
    session.refresh(lot, ["item", "supplier"])
    return LotDetails(lot, *_lines(session.execute, lot.id, history_limit))


def lot_card(reader: RawReader, lot_number: str, history_limit: int = 200) -> LotCard:
    """What lot_details says, as plain rows read on the DBAPI cursor in one snapshot: the lot API's answer
    in a fixed four statements whatever the lot's history (no ORM objects, no lazy loads)."""
    reader.snapshot()
    lot = reader.execute(_LOT, {"number": lot_number}).first()
    if lot is None:
        raise NotFound(f"No lot {lot_number!r}.", code="unknown_lot")
    return LotCard(lot, *_lines(reader.execute, lot.id, history_limit))
