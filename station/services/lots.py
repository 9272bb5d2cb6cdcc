"""A lot as people look at it: the lot, its stock by location and its history."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased, joinedload

from .. import clock
from ..models import ApiToken, Customer, HandlingUnit, Location, Lot, LotEvent, Movement, Operator, Stock
from .actor import who, who_column
from .catalog import lot_by_number


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
class LotDetails:
    lot: Lot
    stock: list[StockLine]
    history: list[HistoryLine]
    events: list[LotEvent]
    token_names: dict[int, str] = field(default_factory=dict)  # the API tokens that wrote events

    def event_who(self, event: LotEvent) -> str | None:
        """Who made a status change: the operator, or "API: <token name>", or None (the system)."""
        return who(event.operator.name if event.operator else None, self.token_names.get(event.token_id))

    @property
    def expired(self) -> bool:
        return self.lot.expiry is not None and self.lot.expiry < clock.today()

    @property
    def days_to_expiry(self) -> int | None:
        return None if self.lot.expiry is None else (self.lot.expiry - clock.today()).days


def stock_lines(session: Session, lot_id: int) -> list[StockLine]:
    """Where a lot's stock is: one line per location (and pallet), by location code."""
    return [
        StockLine(code, kind.value, qty, sscc)
        for code, kind, qty, sscc in session.execute(
            select(Location.code, Location.kind, Stock.qty, HandlingUnit.sscc)
            .join(Location, Location.id == Stock.location_id)
            .outerjoin(HandlingUnit, HandlingUnit.id == Stock.handling_unit_id)
            .where(Stock.lot_id == lot_id, Stock.qty > 0)
            .order_by(Location.code, HandlingUnit.sscc)
        )
    ]


def lot_details(session: Session, lot_number: str, history_limit: int = 200) -> LotDetails:
    """The lot (NotFound if unknown) with its stock by location and its latest movements."""
    lot = lot_by_number(session, lot_number)
    session.refresh(lot, ["item", "supplier"])
    stock = stock_lines(session, lot.id)
    source, dest = aliased(Location), aliased(Location)
    history = [
        HistoryLine(ts, kind.value, qty, src, dst, who, customer, ref, reason)
        for ts, kind, qty, src, dst, who, customer, ref, reason in session.execute(
            select(Movement.ts, Movement.kind, Movement.qty, source.code, dest.code,
                   who_column(Operator.name, ApiToken.name), Customer.name, Movement.reference, Movement.reason)
            .outerjoin(source, source.id == Movement.from_location_id)
            .outerjoin(dest, dest.id == Movement.to_location_id)
            .outerjoin(Operator, Operator.id == Movement.operator_id)
            .outerjoin(ApiToken, ApiToken.id == Movement.token_id)
            .outerjoin(Customer, Customer.id == Movement.customer_id)
            .where(Movement.lot_id == lot.id)
            .order_by(Movement.id.desc()).limit(history_limit)
        )
    ]
    rows = session.execute(
        select(LotEvent, ApiToken.name).outerjoin(ApiToken, ApiToken.id == LotEvent.token_id)
        .where(LotEvent.lot_id == lot.id).options(joinedload(LotEvent.operator))
        .order_by(LotEvent.id.desc())).all()
    names = {event.token_id: name for event, name in rows if name is not None}
    return LotDetails(lot, stock, history, [event for event, _ in rows], names)
