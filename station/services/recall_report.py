"""A recall as the supervisor reads it: its lots (stock now, where), customers and shipments, events;
and the list of every recall with its progress."""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .. import clock
from ..models import (
    ApiToken,
    Customer,
    Item,
    Location,
    Lot,
    LotStatus,
    Movement,
    MovementKind,
    Operator,
    Recall,
    RecallCustomer,
    RecallEvent,
    RecallLot,
    RecallStatus,
    StationDevice,
    Stock,
    Supplier,
)
from .actor import who_column
from .recall_scope import _open_recalls_of

# --- the report ------------------------------------------------------------------------------


def _operator_name(session: Session, operator_id: int | None) -> str | None:
    return session.scalar(select(Operator.name).where(Operator.id == operator_id)) if operator_id else None


def _when(ts: dt.datetime | None) -> str:
    if ts is None:
        return ""
    ts = ts if ts.tzinfo else ts.replace(tzinfo=dt.timezone.utc)
    return ts.astimezone(clock.site_zone()).strftime("%Y-%m-%d %H:%M")


def utc(ts: dt.datetime | None) -> dt.datetime | None:
    # SQLite gives back naive datetimes; every timestamp is stored in UTC.
    return None if ts is None else ts if ts.tzinfo else ts.replace(tzinfo=dt.timezone.utc)


@dataclass(frozen=True)
class Place:
    location: str
    qty: int


@dataclass(frozen=True)
class ReportLot:
    lot_number: str
    sku: str
    item_name: str
    unit: str
    depth: int
    status_before: str
    status_now: str
    on_hand_at_start: int
    shipped_qty: int
    retrieved_qty: int
    stock_now: list[Place]
    other_recalls: tuple[str, ...]
    decimals: int = 0  # the item's, for the pages to write its quantities in

    @property
    def on_hand_now(self) -> int:
        return sum(p.qty for p in self.stock_now)

    @property
    def to_retrieve(self) -> int:
        """Everything of it that can come back: on site at the start plus shipped."""
        return self.on_hand_at_start + self.shipped_qty

    @property
    def left(self) -> int:
        return max(0, self.to_retrieve - self.retrieved_qty)


@dataclass(frozen=True)
class Shipment:
    order: str | None
    ts: dt.datetime
    lot_number: str
    qty: int


@dataclass(frozen=True)
class ReportCustomer:
    code: str
    name: str
    shipped_qty: int
    notified_at: dt.datetime | None
    notified_by: str | None
    note: str | None
    shipments: list[Shipment]


@dataclass(frozen=True)
class ReportEvent:
    ts: dt.datetime
    action: str
    operator: str | None
    station: str | None
    lot_number: str | None
    customer: str | None
    qty: int | None
    note: str | None


@dataclass(frozen=True)
class Report:
    number: str
    status: str
    reason: str
    source: str
    lot_number: str | None
    supplier_code: str | None
    supplier_name: str | None
    supplier_lot: str | None
    opened_at: dt.datetime
    opened_by: str | None
    closed_at: dt.datetime | None
    closed_by: str | None
    close_reason: str | None
    lots: list[ReportLot]
    customers: list[ReportCustomer]
    events: list[ReportEvent] = field(default_factory=list)

    @property
    def lots_stopped(self) -> int:
        return sum(1 for lot in self.lots if lot.status_now == LotStatus.RECALLED.value)

    @property
    def stock_at_start(self) -> int:
        return sum(lot.on_hand_at_start for lot in self.lots)

    @property
    def stock_now(self) -> int:
        return sum(lot.on_hand_now for lot in self.lots)

    @property
    def shipped(self) -> int:
        return sum(c.shipped_qty for c in self.customers)

    @property
    def retrieved(self) -> int:
        return sum(lot.retrieved_qty for lot in self.lots)

    @property
    def to_retrieve(self) -> int:
        return sum(lot.to_retrieve for lot in self.lots)

    @property
    def notified(self) -> int:
        return sum(1 for c in self.customers if c.notified_at is not None)


def _source_words(lot_number, supplier_code, supplier_name, supplier_lot) -> str:
    if lot_number:
        return f"lot {lot_number}"
    return f"{supplier_name or supplier_code}'s lot {supplier_lot}"


def recall_report(session: Session, recall: Recall) -> Report:
    """Each affected lot (item, depth, status before and now, stock now by location, retrieved), each
    customer (shipments: order, date, lot, qty; notified), the events, and the totals."""
    entries = session.execute(
        select(RecallLot, Lot.lot_number, Lot.status, Item.sku, Item.name, Item.unit, Item.qty_decimals)
        .join(Lot, Lot.id == RecallLot.lot_id).join(Item, Item.id == Lot.item_id)
        .where(RecallLot.recall_id == recall.id)).all()
    ids = [entry.lot_id for entry, *_ in entries]
    numbers = {entry.lot_id: number for entry, number, *_ in entries}
    places: dict[int, list[Place]] = defaultdict(list)
    for lot_id, code, qty in session.execute(
            select(Stock.lot_id, Location.code, func.sum(Stock.qty)).join(Location, Location.id == Stock.location_id)
            .where(Stock.lot_id.in_(ids), Stock.qty > 0).group_by(Stock.lot_id, Location.code)
            .order_by(Stock.lot_id, Location.code)):
        places[lot_id].append(Place(code, qty))
    shipped: dict[int, int] = defaultdict(int)
    by_customer: dict[int, list[Shipment]] = defaultdict(list)
    for lot_id, customer_id, reference, ts, qty in session.execute(
            select(Movement.lot_id, Movement.customer_id, Movement.reference, Movement.ts, Movement.qty)
            .where(Movement.kind == MovementKind.SHIP, Movement.lot_id.in_(ids)).order_by(Movement.ts, Movement.id)):
        shipped[lot_id] += qty
        if customer_id is not None:
            by_customer[customer_id].append(Shipment(reference, utc(ts), numbers[lot_id], qty))
    covered = _open_recalls_of(session, ids)
    lots = [ReportLot(number, sku, name, unit, entry.depth, entry.status_before.value, status.value,
                      entry.on_hand_at_start, shipped[entry.lot_id], entry.retrieved_qty, places[entry.lot_id],
                      tuple(n for n in covered.get(entry.lot_id, ()) if n != recall.number), decimals)
            for entry, number, status, sku, name, unit, decimals in entries]
    lots.sort(key=lambda lot: (lot.depth, lot.lot_number))
    customers = [
        ReportCustomer(code, name, entry.shipped_qty, utc(entry.notified_at),
                       _operator_name(session, entry.notified_by_id), entry.note, by_customer[entry.customer_id])
        for entry, code, name in session.execute(
            select(RecallCustomer, Customer.code, Customer.name).join(Customer, Customer.id == RecallCustomer.customer_id)
            .where(RecallCustomer.recall_id == recall.id).order_by(Customer.name, Customer.code))]
    supplier = session.get(Supplier, recall.supplier_id) if recall.supplier_id else None
    lot_number = session.scalar(select(Lot.lot_number).where(Lot.id == recall.lot_id)) if recall.lot_id else None
    return Report(
        number=recall.number, status=recall.status.value, reason=recall.reason,
        source=_source_words(lot_number, supplier and supplier.code, supplier and supplier.name, recall.supplier_lot),
        lot_number=lot_number, supplier_code=supplier.code if supplier else None,
        supplier_name=supplier.name if supplier else None, supplier_lot=recall.supplier_lot,
        opened_at=utc(recall.opened_at), opened_by=_operator_name(session, recall.opened_by_id),
        closed_at=utc(recall.closed_at), closed_by=_operator_name(session, recall.closed_by_id),
        close_reason=recall.close_reason, lots=lots, customers=customers, events=_events(session, recall))


def _events(session: Session, recall: Recall) -> list[ReportEvent]:
    rows = session.execute(
        select(RecallEvent, who_column(Operator.name, ApiToken.name), StationDevice.name, Lot.lot_number,
               Customer.name)
        .outerjoin(Operator, Operator.id == RecallEvent.operator_id)
        .outerjoin(ApiToken, ApiToken.id == RecallEvent.token_id)
        .outerjoin(StationDevice, StationDevice.id == RecallEvent.station_id)
        .outerjoin(Lot, Lot.id == RecallEvent.lot_id)
        .outerjoin(Customer, Customer.id == RecallEvent.customer_id)
        .where(RecallEvent.recall_id == recall.id).order_by(RecallEvent.id))
    return [ReportEvent(utc(e.ts), e.action, who, station, lot, customer, e.qty, e.note)
            for e, who, station, lot, customer in rows]


# --- the list --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Summary:
    number: str
    status: str
    reason: str
    source: str
    opened_at: dt.datetime
    closed_at: dt.datetime | None
    lots: int
    retrieved: int
    to_retrieve: int
    customers: int
    notified: int


def recall_list(session: Session, *, status: str | None = None, limit: int = 200) -> list[Summary]:
    """Recalls, open ones first, newest first, each with its progress."""
    query = (select(Recall, Lot.lot_number, Supplier.code, Supplier.name)
             .outerjoin(Lot, Lot.id == Recall.lot_id).outerjoin(Supplier, Supplier.id == Recall.supplier_id)
             .order_by((Recall.status == RecallStatus.OPEN).desc(), Recall.id.desc()).limit(limit))
    if status:
        query = query.where(Recall.status == RecallStatus(status))
    rows = session.execute(query).all()
    ids = [recall.id for recall, *_ in rows]
    lot_counts = {rid: (n, got or 0, start or 0) for rid, n, got, start in session.execute(
        select(RecallLot.recall_id, func.count(), func.sum(RecallLot.retrieved_qty),
               func.sum(RecallLot.on_hand_at_start))
        .where(RecallLot.recall_id.in_(ids)).group_by(RecallLot.recall_id))}
    shipped = {rid: qty or 0 for rid, qty in session.execute(
        select(RecallLot.recall_id, func.sum(Movement.qty))
        .join(Movement, Movement.lot_id == RecallLot.lot_id)
        .where(RecallLot.recall_id.in_(ids), Movement.kind == MovementKind.SHIP).group_by(RecallLot.recall_id))}
    people = {rid: (n, int(told or 0)) for rid, n, told in session.execute(
        select(RecallCustomer.recall_id, func.count(), func.count(RecallCustomer.notified_at))
        .where(RecallCustomer.recall_id.in_(ids)).group_by(RecallCustomer.recall_id))}
    out = []
    for recall, lot_number, code, name in rows:
        n_lots, got, start = lot_counts.get(recall.id, (0, 0, 0))
        n_customers, told = people.get(recall.id, (0, 0))
        out.append(Summary(recall.number, recall.status.value, recall.reason,
                           _source_words(lot_number, code, name, recall.supplier_lot), utc(recall.opened_at),
                           utc(recall.closed_at), n_lots, got, start + shipped.get(recall.id, 0),
                           n_customers, told))
    return out
