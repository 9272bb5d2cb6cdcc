"""The storage model: catalogue, lots, stock, the movement ledger, orders, people and devices.

Quantities are whole numbers in the item's unit (an item weighed in grams has unit "g").
Timestamps are UTC.
"""
from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    JSON,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from . import clock
from .quantities import Qty, Quantity

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    return clock.now()


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    """A portable enum: a short string column with a CHECK constraint, same on SQLite and PostgreSQL."""
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=16,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )


class RemovalStrategy(str, enum.Enum):
    FIFO = "FIFO"
    FEFO = "FEFO"


class LocationKind(str, enum.Enum):
    DOCK = "dock"
    STORAGE = "storage"
    LINE = "line"
    SHIPPING = "shipping"
    QUARANTINE = "quarantine"  # returned or retrieved goods wait here; nothing is picked from it


class LotStatus(str, enum.Enum):
    AVAILABLE = "available"
    QUARANTINE = "quarantine"
    HOLD = "hold"
    RECALLED = "recalled"
    EXPIRED = "expired"
    CONSUMED = "consumed"


class MovementKind(str, enum.Enum):
    RECEIVE = "receive"
    MOVE = "move"
    ADJUST = "adjust"
    PICK = "pick"
    CONSUME = "consume"
    PRODUCE = "produce"
    SHIP = "ship"
    UNPICK = "unpick"  # a pick taken back (undo): staging -> where it was picked from, for the same line
    OPENING = "opening"  # stock on the shelves when the site went live (bulk import): outside -> location
    COUNT = "count"  # a stock count's difference: found (outside -> location) or missing (location -> outside)
    RETURN = "return"  # goods back from a customer (a return, or retrieved in a recall): outside -> quarantine


class OrderStatus(str, enum.Enum):
    OPEN = "open"
    PICKING = "picking"
    PICKED = "picked"
    SHIPPED = "shipped"
    CANCELLED = "cancelled"


class Role(str, enum.Enum):
    RECEIVER = "receiver"
    PICKER = "picker"
    LINE_OPERATOR = "line_operator"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


class TokenRole(str, enum.Enum):
    """An API token's role: an operator role, or "agent" — a station PC's scanner agent, bound to one
    station, that may only post that station's scans."""

    RECEIVER = "receiver"
    PICKER = "picker"
    LINE_OPERATOR = "line_operator"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"
    AGENT = "agent"


class ExpectedStatus(str, enum.Enum):
    OPEN = "open"  # goods still to come
    RECEIVED = "received"  # every line received in full (or more)
    CLOSED = "closed"  # closed short by a supervisor, with a reason
    CANCELLED = "cancelled"


class CountStatus(str, enum.Enum):
    OPEN = "open"  # the counter is scanning the location
    PENDING = "pending"  # finished; a difference above the threshold waits for a supervisor
    BOOKED = "booked"  # differences booked in the ledger (none, small ones, or approved)
    REJECTED = "rejected"  # a supervisor refused the differences: nothing booked; count again
    CANCELLED = "cancelled"


class SequenceReset(str, enum.Enum):
    DAILY = "daily"
    MONTHLY = "monthly"
    YEARLY = "yearly"
    NEVER = "never"


class RunStatus(str, enum.Enum):
    OPEN = "open"  # started: components are being scanned
    FINISHED = "finished"  # its output lot was made; components consumed
    CANCELLED = "cancelled"  # stopped before finishing; nothing was consumed


class PrintJobStatus(str, enum.Enum):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"  # delivered to the printer (or its spooler), not yet seen printed
    PRINTED = "printed"  # the printer's own counters showed the job done
    FAILED = "failed"
    CANCELLED = "cancelled"


# --- catalogue -------------------------------------------------------------------------------


class LotScheme(Base):
    """A lot-number pattern such as ``{yy}{mm}{dd}-{seq:03}`` and when its sequence resets."""

    __tablename__ = "lot_schemes"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(60), unique=True)
    pattern: Mapped[str] = mapped_column(String(120))
    reset: Mapped[SequenceReset] = mapped_column(_enum(SequenceReset, "sequence_reset"))


class LotCounter(Base):
    """The last sequence number drawn for a scheme in one period (a day, month, year or ever)."""

    __tablename__ = "lot_counters"
    scheme_id: Mapped[int] = mapped_column(ForeignKey("lot_schemes.id"), primary_key=True)
    period: Mapped[str] = mapped_column(String(10), primary_key=True)
    value: Mapped[int] = mapped_column(Integer)


class Item(Base):
    __tablename__ = "items"
    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    unit: Mapped[str] = mapped_column(String(16), default="ea")
    # How many decimals the item is counted in (kg to the gram: 3); more in an input is refused, never rounded.
    qty_decimals: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Variable measure (catch weight): each case weighs what its label says (GS1 AI 310n/320n); stock is
    # kept in the item's unit (kg, lb) and the ledger also counts the cases (movements.pieces).
    variable_measure: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    shelf_life_days: Mapped[int | None] = mapped_column(Integer)
    removal_strategy: Mapped[RemovalStrategy] = mapped_column(
        _enum(RemovalStrategy, "removal_strategy"), default=RemovalStrategy.FIFO
    )
    lot_scheme_id: Mapped[int | None] = mapped_column(ForeignKey("lot_schemes.id"))
    labels_per_receipt: Mapped[int] = mapped_column(Integer, default=1)
    # Picking policy: a lot younger than the FIFO/FEFO suggestion is refused outright instead of
    # needing an override reason.
    refuse_younger_lots: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    # The usual supplier: receiving books it when neither the label (AI 412) nor an expected receipt names one.
    supplier_id: Mapped[int | None] = mapped_column(ForeignKey("suppliers.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    gtins: Mapped[list[ItemGtin]] = relationship(
        back_populates="item", order_by="ItemGtin.gtin", cascade="all, delete-orphan"
    )
    lot_scheme: Mapped[LotScheme | None] = relationship()
    supplier: Mapped[Supplier | None] = relationship()

    __table_args__ = (
        CheckConstraint("shelf_life_days IS NULL OR shelf_life_days >= 0", name="shelf_life"),
        CheckConstraint("labels_per_receipt >= 0", name="labels_per_receipt"),
        CheckConstraint("qty_decimals BETWEEN 0 AND 6", name="qty_decimals"),
    )


class ItemGtin(Base):
    """A GTIN (stored as 14 digits) that identifies an item; the scan path looks items up here."""

    __tablename__ = "item_gtins"
    gtin: Mapped[str] = mapped_column(String(14), primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), index=True)
    # A packaging level's GTIN (a case of 12, a pallet of 480): how many of the item's unit it holds, and
    # what it is called. NULL: the GTIN of the trade unit itself.
    pack_qty: Mapped[Qty | None] = mapped_column(Quantity)
    pack_name: Mapped[str | None] = mapped_column(String(20))

    __table_args__ = (CheckConstraint("pack_qty IS NULL OR pack_qty > 0", name="pack_qty_positive"),)
    item: Mapped[Item] = relationship(back_populates="gtins")


class Supplier(Base):
    __tablename__ = "suppliers"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    gln: Mapped[str | None] = mapped_column(String(13), unique=True)


class Customer(Base):
    __tablename__ = "customers"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    gln: Mapped[str | None] = mapped_column(String(13), unique=True)
    # Days of shelf life a lot must still have on the day it ships to this customer (None: any).
    min_shelf_life_days: Mapped[int | None] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))

    __table_args__ = (
        CheckConstraint("min_shelf_life_days IS NULL OR min_shelf_life_days >= 0", name="min_shelf_life"),
    )


class Location(Base):
    __tablename__ = "locations"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(30), unique=True)
    barcode: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(120), default="")
    kind: Mapped[LocationKind] = mapped_column(_enum(LocationKind, "location_kind"))


# --- lots and stock --------------------------------------------------------------------------

# Only lots that can be picked are in the suggestion indexes, so a FIFO/FEFO query walks
# exactly the rows it returns, however many empty or blocked lots an item has.
_PICKABLE = text("status = 'available' AND on_hand > 0")


class Lot(Base):
    __tablename__ = "lots"
    id: Mapped[int] = mapped_column(primary_key=True)
    lot_number: Mapped[str] = mapped_column(String(40), unique=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    supplier_id: Mapped[int | None] = mapped_column(ForeignKey("suppliers.id"))
    supplier_lot: Mapped[str | None] = mapped_column(String(40))
    produced_on: Mapped[dt.date | None] = mapped_column(Date)
    received_on: Mapped[dt.date | None] = mapped_column(Date)
    expiry: Mapped[dt.date | None] = mapped_column(Date)
    # FIFO sort key: the production date when known, else the receipt date.
    fifo_date: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[LotStatus] = mapped_column(_enum(LotStatus, "lot_status"), default=LotStatus.AVAILABLE)
    # Sum of this lot's stock rows, kept in the same transaction; drives the suggestion indexes.
    on_hand: Mapped[Qty] = mapped_column(Quantity, default=0)
    origin: Mapped[str] = mapped_column(String(16))  # "receipt" or "production"
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))

    item: Mapped[Item] = relationship()
    supplier: Mapped[Supplier | None] = relationship()
    stock: Mapped[list[Stock]] = relationship(back_populates="lot", order_by="Stock.id")

    __table_args__ = (
        CheckConstraint("on_hand >= 0", name="on_hand_not_negative"),
        Index("ix_lots_fifo", "item_id", "fifo_date", "lot_number", "expiry",
              sqlite_where=_PICKABLE, postgresql_where=_PICKABLE),
        Index("ix_lots_fefo", "item_id", "expiry", "fifo_date", "lot_number",
              sqlite_where=_PICKABLE, postgresql_where=_PICKABLE),
        Index("ix_lots_item_id", "item_id"),
        Index("ix_lots_supplier_lot", "supplier_id", "supplier_lot"),
        Index("ix_lots_expiry", "expiry"),
        Index("ix_lots_status", "status", "id"),  # GET /lots?status=hold
    )


class LinkKind(str, enum.Enum):
    PRODUCTION = "production"  # the output lot was made on a line from the component lot
    SPLIT = "split"  # the output lot is part of the component lot under a new number (repack, split)


class LotLink(Base):
    """Genealogy: an output lot made from (or split off) this quantity of a component lot."""

    __tablename__ = "lot_links"
    output_lot_id: Mapped[int] = mapped_column(ForeignKey("lots.id"), primary_key=True)
    component_lot_id: Mapped[int] = mapped_column(ForeignKey("lots.id"), primary_key=True, index=True)
    qty: Mapped[Qty] = mapped_column(Quantity)
    kind: Mapped[LinkKind] = mapped_column(_enum(LinkKind, "link_kind"), default=LinkKind.PRODUCTION,
                                           server_default=LinkKind.PRODUCTION.value)


class HandlingUnit(Base):
    """A pallet or case identified by its SSCC (GS1 AI 00)."""

    __tablename__ = "handling_units"
    id: Mapped[int] = mapped_column(primary_key=True)
    sscc: Mapped[str] = mapped_column(String(18), unique=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("lots.id"), index=True)
    location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"))
    qty_received: Mapped[Qty] = mapped_column(Quantity)
    pieces_received: Mapped[int | None] = mapped_column(Integer)  # cases on it (a variable-measure item)
    received_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    received_by_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))

    lot: Mapped[Lot] = relationship()
    location: Mapped[Location | None] = relationship()
    received_by: Mapped[Operator | None] = relationship()


class Stock(Base):
    """Quantity of a lot at a location (optionally on a pallet); never negative."""

    __tablename__ = "stock"
    id: Mapped[int] = mapped_column(primary_key=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("lots.id"))
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"), index=True)
    handling_unit_id: Mapped[int | None] = mapped_column(ForeignKey("handling_units.id"), index=True)
    qty: Mapped[Qty] = mapped_column(Quantity)

    lot: Mapped[Lot] = relationship(back_populates="stock")
    location: Mapped[Location] = relationship()
    handling_unit: Mapped[HandlingUnit | None] = relationship()

    __table_args__ = (
        CheckConstraint("qty >= 0", name="qty_not_negative"),
        Index("ix_stock_lot_id", "lot_id", "location_id"),
        Index("uq_stock_loose", "lot_id", "location_id", unique=True,
              sqlite_where=text("handling_unit_id IS NULL"),
              postgresql_where=text("handling_unit_id IS NULL")),
        Index("uq_stock_unit", "lot_id", "location_id", "handling_unit_id", unique=True,
              sqlite_where=text("handling_unit_id IS NOT NULL"),
              postgresql_where=text("handling_unit_id IS NOT NULL")),
    )


class Movement(Base):
    """One row of the append-only ledger. Goods go from a location (None: from outside) to a
    location (None: out of the site), so stock at L = sum(qty to L) - sum(qty from L)."""

    __tablename__ = "movements"
    id: Mapped[int] = mapped_column(primary_key=True)
    ts: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    kind: Mapped[MovementKind] = mapped_column(_enum(MovementKind, "movement_kind"))
    lot_id: Mapped[int] = mapped_column(ForeignKey("lots.id"))
    qty: Mapped[Qty] = mapped_column(Quantity)
    pieces: Mapped[int | None] = mapped_column(Integer)  # cases moved with qty (a variable-measure item)
    from_location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"))
    to_location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"))
    handling_unit_id: Mapped[int | None] = mapped_column(ForeignKey("handling_units.id"))
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    station_id: Mapped[int | None] = mapped_column(ForeignKey("stations.id"))
    order_line_id: Mapped[int | None] = mapped_column(ForeignKey("order_lines.id"), index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    reference: Mapped[str | None] = mapped_column(String(80))
    reason: Mapped[str | None] = mapped_column(String(200))
    raw_scan: Mapped[str | None] = mapped_column(String(400))
    followed_suggestion: Mapped[bool | None] = mapped_column(Boolean)
    token_id: Mapped[int | None] = mapped_column(ForeignKey("api_tokens.id"))  # an API write: whose token
    chain_hash: Mapped[str | None] = mapped_column(String(64))  # tamper evidence (services/chain.py)

    lot: Mapped[Lot] = relationship()
    from_location: Mapped[Location | None] = relationship(foreign_keys=[from_location_id])
    to_location: Mapped[Location | None] = relationship(foreign_keys=[to_location_id])
    operator: Mapped[Operator | None] = relationship()
    customer: Mapped[Customer | None] = relationship()

    __table_args__ = (
        CheckConstraint("qty > 0", name="qty_positive"),
        CheckConstraint("from_location_id IS NOT NULL OR to_location_id IS NOT NULL", name="has_place"),
        Index("ix_movements_lot_id", "lot_id", "id"),
        # Audit filters (operator, station, place) walk newest first by id.
        Index("ix_movements_operator_id", "operator_id", "id"),
        Index("ix_movements_station_id", "station_id", "id"),
        Index("ix_movements_from_location_id", "from_location_id", "id"),
        Index("ix_movements_to_location_id", "to_location_id", "id"),
        Index("ix_movements_customer_id", "customer_id", "id"),
    )


class LotEvent(Base):
    """Append-only record of a lot's status changes (hold, quarantine, release, ...): who, when, why."""

    __tablename__ = "lot_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    ts: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    lot_id: Mapped[int] = mapped_column(ForeignKey("lots.id"), index=True)
    action: Mapped[str] = mapped_column(String(20))
    from_status: Mapped[LotStatus] = mapped_column(_enum(LotStatus, "lot_event_from"))
    to_status: Mapped[LotStatus] = mapped_column(_enum(LotStatus, "lot_event_to"))
    reason: Mapped[str] = mapped_column(String(200))
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    station_id: Mapped[int | None] = mapped_column(ForeignKey("stations.id"))
    token_id: Mapped[int | None] = mapped_column(ForeignKey("api_tokens.id"))
    chain_hash: Mapped[str | None] = mapped_column(String(64))

    operator: Mapped[Operator | None] = relationship()


# --- orders ----------------------------------------------------------------------------------


class Order(Base):
    __tablename__ = "orders"
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(30), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    status: Mapped[OrderStatus] = mapped_column(_enum(OrderStatus, "order_status"), default=OrderStatus.OPEN)
    due_on: Mapped[dt.date | None] = mapped_column(Date)
    # 1 is picked first, 9 last; /pick lists by priority, then due date.
    priority: Mapped[int] = mapped_column(Integer, default=5, server_default="5")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    token_id: Mapped[int | None] = mapped_column(ForeignKey("api_tokens.id"))  # entered by an integration
    shipped_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    cancel_reason: Mapped[str | None] = mapped_column(String(200))

    customer: Mapped[Customer] = relationship()
    lines: Mapped[list[OrderLine]] = relationship(back_populates="order", order_by="OrderLine.line_no")

    __table_args__ = (
        CheckConstraint("priority BETWEEN 1 AND 9", name="priority_range"),
        Index("ix_orders_status", "status", "priority", "due_on", "id"),
    )


# --- expected receipts (purchase orders, advance shipping notices) ---------------------------


class ExpectedReceipt(Base):
    """What a supplier is going to deliver: the dock receives against it and is told what differs."""

    __tablename__ = "expected_receipts"
    id: Mapped[int] = mapped_column(primary_key=True)
    supplier_id: Mapped[int] = mapped_column(ForeignKey("suppliers.id"))
    reference: Mapped[str] = mapped_column(String(40))  # the PO or ASN number
    expected_on: Mapped[dt.date | None] = mapped_column(Date)
    status: Mapped[ExpectedStatus] = mapped_column(_enum(ExpectedStatus, "expected_status"),
                                                   default=ExpectedStatus.OPEN)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    token_id: Mapped[int | None] = mapped_column(ForeignKey("api_tokens.id"))
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    close_reason: Mapped[str | None] = mapped_column(String(200))

    supplier: Mapped[Supplier] = relationship()
    lines: Mapped[list[ExpectedReceiptLine]] = relationship(
        back_populates="expected", order_by="ExpectedReceiptLine.line_no")

    __table_args__ = (
        UniqueConstraint("supplier_id", "reference"),
        Index("ix_expected_receipts_status", "status", "expected_on"),
    )


class ExpectedReceiptLine(Base):
    __tablename__ = "expected_receipt_lines"
    id: Mapped[int] = mapped_column(primary_key=True)
    expected_receipt_id: Mapped[int] = mapped_column(ForeignKey("expected_receipts.id"))
    line_no: Mapped[int] = mapped_column(Integer)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    qty: Mapped[Qty] = mapped_column(Quantity)
    received_qty: Mapped[Qty] = mapped_column(Quantity, default=0, server_default="0")  # kept with each receipt
    supplier_lot: Mapped[str | None] = mapped_column(String(40))

    expected: Mapped[ExpectedReceipt] = relationship(back_populates="lines")
    item: Mapped[Item] = relationship()
    pallets: Mapped[list[ExpectedPallet]] = relationship(back_populates="line", order_by="ExpectedPallet.sscc")

    __table_args__ = (
        UniqueConstraint("expected_receipt_id", "line_no"),
        CheckConstraint("qty > 0", name="qty_positive"),
        CheckConstraint("received_qty >= 0", name="received_not_negative"),
    )


class ExpectedPallet(Base):
    """An SSCC the supplier announced (ASN): scanning it at the dock finds its expected receipt line."""

    __tablename__ = "expected_pallets"
    sscc: Mapped[str] = mapped_column(String(18), primary_key=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("expected_receipt_lines.id"), index=True)
    qty: Mapped[Qty | None] = mapped_column(Quantity)
    received_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    line: Mapped[ExpectedReceiptLine] = relationship(back_populates="pallets")

    __table_args__ = (CheckConstraint("qty IS NULL OR qty > 0", name="qty_positive"),)


class OrderLine(Base):
    __tablename__ = "order_lines"
    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    line_no: Mapped[int] = mapped_column(Integer)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    qty: Mapped[Qty] = mapped_column(Quantity)
    picked_qty: Mapped[Qty] = mapped_column(Quantity, default=0)
    # What the order shipped without, and why (set when the order ships short).
    short_qty: Mapped[Qty] = mapped_column(Quantity, default=0, server_default=text("0"))
    short_reason: Mapped[str | None] = mapped_column(String(200))

    order: Mapped[Order] = relationship(back_populates="lines")
    item: Mapped[Item] = relationship()

    __table_args__ = (
        UniqueConstraint("order_id", "line_no"),
        CheckConstraint("qty > 0", name="qty_positive"),
        CheckConstraint("picked_qty >= 0", name="picked_not_negative"),
    )


# --- stock counts ---------------------------------------------------------------------------


class Count(Base):
    """A count of one location: every lot (or pallet) found there with its quantity, then the differences
    booked as `count` movements — at once, or after a supervisor's approval above the threshold."""

    __tablename__ = "counts"
    id: Mapped[int] = mapped_column(primary_key=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"))
    status: Mapped[CountStatus] = mapped_column(_enum(CountStatus, "count_status"), default=CountStatus.OPEN)
    station_id: Mapped[int | None] = mapped_column(ForeignKey("stations.id"))
    counted_by_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    token_id: Mapped[int | None] = mapped_column(ForeignKey("api_tokens.id"))
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))  # approved or rejected
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    decision_note: Mapped[str | None] = mapped_column(String(200))

    location: Mapped[Location] = relationship()
    lines: Mapped[list[CountLine]] = relationship(back_populates="count", order_by="CountLine.id",
                                                  cascade="all, delete-orphan")

    __table_args__ = (Index("ix_counts_status", "status", "id"), Index("ix_counts_location_id", "location_id", "id"))


class CountLine(Base):
    """A lot (or pallet) at the counted location: what the books said and what was found."""

    __tablename__ = "count_lines"
    id: Mapped[int] = mapped_column(primary_key=True)
    count_id: Mapped[int] = mapped_column(ForeignKey("counts.id"), index=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("lots.id"))
    handling_unit_id: Mapped[int | None] = mapped_column(ForeignKey("handling_units.id"))
    expected_qty: Mapped[Qty] = mapped_column(Quantity)  # on the books when the count started
    counted_qty: Mapped[Qty | None] = mapped_column(Quantity)  # None: not counted yet
    reason: Mapped[str | None] = mapped_column(String(200))  # why it differs (the counter's words)

    count: Mapped[Count] = relationship(back_populates="lines")
    lot: Mapped[Lot] = relationship()

    __table_args__ = (
        CheckConstraint("expected_qty >= 0", name="expected_not_negative"),
        CheckConstraint("counted_qty IS NULL OR counted_qty >= 0", name="counted_not_negative"),
    )


# --- production runs ------------------------------------------------------------------------

# A line works on one run at a time.
_OPEN_RUN = text("status = 'open'")


class ProductionRun(Base):
    """A run on a line: started for an item, component lots scanned in, finished into one new lot.

    Components are recorded as they are scanned and consumed when the run finishes, in the same
    transaction that makes the output lot (services.production.produce), so a cancelled run has
    moved nothing and the ledger never needs a correction for a scan taken back.
    """

    __tablename__ = "production_runs"
    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"))  # the line; output lands here
    status: Mapped[RunStatus] = mapped_column(_enum(RunStatus, "run_status"), default=RunStatus.OPEN)
    station_id: Mapped[int | None] = mapped_column(ForeignKey("stations.id"))
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_by_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    finished_by_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    qty: Mapped[Qty | None] = mapped_column(Quantity)  # made, once finished
    output_lot_id: Mapped[int | None] = mapped_column(ForeignKey("lots.id"))

    item: Mapped[Item] = relationship()
    location: Mapped[Location] = relationship()
    output_lot: Mapped[Lot | None] = relationship()
    started_by: Mapped[Operator | None] = relationship(foreign_keys=[started_by_id])
    components: Mapped[list[ProductionRunComponent]] = relationship(
        back_populates="run", order_by="ProductionRunComponent.id", cascade="all, delete-orphan")

    __table_args__ = (
        CheckConstraint("qty IS NULL OR qty > 0", name="qty_positive"),
        CheckConstraint("status <> 'finished' OR (output_lot_id IS NOT NULL AND qty IS NOT NULL "
                        "AND finished_at IS NOT NULL)", name="finished_has_lot"),
        UniqueConstraint("output_lot_id"),
        Index("ix_production_runs_location_id", "location_id", "id"),
        Index("uq_production_runs_open", "location_id", unique=True,
              sqlite_where=_OPEN_RUN, postgresql_where=_OPEN_RUN),
    )


class ProductionRunComponent(Base):
    """A quantity of a component lot scanned into an open run, and where it is taken from."""

    __tablename__ = "production_run_components"
    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("production_runs.id"), index=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("lots.id"), index=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"))
    qty: Mapped[Qty] = mapped_column(Quantity)
    scanned_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    raw_scan: Mapped[str | None] = mapped_column(String(400))

    run: Mapped[ProductionRun] = relationship(back_populates="components")
    lot: Mapped[Lot] = relationship()
    location: Mapped[Location] = relationship()

    __table_args__ = (CheckConstraint("qty > 0", name="qty_positive"),)


# --- people, stations, devices ---------------------------------------------------------------


class Operator(Base):
    __tablename__ = "operators"
    id: Mapped[int] = mapped_column(primary_key=True)
    badge: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    role: Mapped[Role] = mapped_column(_enum(Role, "operator_role"))
    pin_hash: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Wrong PINs (station/auth/ take_guess): counted here so every app process sees the same count.
    pin_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    pin_failed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    pin_locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    pin_lock_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # locks in a row


class Printer(Base):
    __tablename__ = "printers"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(60), unique=True)
    url: Mapped[str] = mapped_column(String(300))
    dpi: Mapped[int] = mapped_column(Integer, default=203)
    label_size: Mapped[str] = mapped_column(String(10), default="4x6")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # The last status the print worker read, so pages show it without talking to the printer.
    state: Mapped[str] = mapped_column(String(16), default="unknown")
    state_detail: Mapped[str | None] = mapped_column(Text)
    state_checked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class StationDevice(Base):
    """A workstation (tablet, handheld, line PC): where it stands, what it prints on and scans with."""

    __tablename__ = "stations"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(60), unique=True)
    location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"))
    printer_id: Mapped[int | None] = mapped_column(ForeignKey("printers.id"))
    scanner_url: Mapped[str | None] = mapped_column(String(300))


class ScannerReading(Base):
    """How a station's scanner is being read, by whichever process reads it (the scanner service):
    kept here so that every app process can show it on the scan log page."""

    __tablename__ = "scanner_readings"
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"), primary_key=True)
    url: Mapped[str] = mapped_column(String(300))
    state: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)
    scans: Mapped[int] = mapped_column(Integer, default=0)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_scan_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    reader: Mapped[str] = mapped_column(String(80))  # host:pid of the process reading it
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class PrintJob(Base):
    __tablename__ = "print_jobs"
    id: Mapped[int] = mapped_column(primary_key=True)
    printer_id: Mapped[int] = mapped_column(ForeignKey("printers.id"))
    lot_id: Mapped[int | None] = mapped_column(ForeignKey("lots.id"))
    template: Mapped[str] = mapped_column(String(40))
    copies: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[PrintJobStatus] = mapped_column(
        _enum(PrintJobStatus, "print_job_status"), default=PrintJobStatus.QUEUED
    )
    payload: Mapped[bytes | None] = mapped_column(LargeBinary)  # the ZPL sent, rendered once at request time
    # What the label was made from, so the preview of a job shows exactly what was sent.
    data: Mapped[dict | None] = mapped_column(JSON)
    label_size: Mapped[str] = mapped_column(String(10), default="4x6")
    dpi: Mapped[int] = mapped_column(Integer, default=203)
    sscc: Mapped[str | None] = mapped_column(String(18))  # the SSCC drawn for a pallet label
    station_id: Mapped[int | None] = mapped_column(ForeignKey("stations.id"))
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    request_id: Mapped[str | None] = mapped_column(String(64))  # a retried request makes no second job
    reprint_of_id: Mapped[int | None] = mapped_column(ForeignKey("print_jobs.id"))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))  # backoff while faulted
    claimed_by: Mapped[str | None] = mapped_column(String(80))  # the worker sending it
    claimed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    printed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    lost_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # requeued after a loss
    token_id: Mapped[int | None] = mapped_column(ForeignKey("api_tokens.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (
        CheckConstraint("copies > 0", name="copies_positive"),
        Index("ix_print_jobs_status", "status", "id"),
        Index("ix_print_jobs_printer", "printer_id", "id"),
        Index("ix_print_jobs_lot", "lot_id", "id"),  # GET /print-jobs?lot=
        UniqueConstraint("request_id"),
    )


class SsccCounter(Base):
    """The last SSCC serial reference drawn for a company prefix and extension digit."""

    __tablename__ = "sscc_counters"
    company_prefix: Mapped[str] = mapped_column(String(10), primary_key=True)
    extension: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_serial: Mapped[int] = mapped_column(BigInteger, default=0)


class ApiToken(Base):
    """An API token; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(60))
    role: Mapped[TokenRole] = mapped_column(_enum(TokenRole, "token_role"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    station_id: Mapped[int | None] = mapped_column(ForeignKey("stations.id"))  # agent tokens: their station

    __table_args__ = (CheckConstraint("role <> 'agent' OR station_id IS NOT NULL", name="agent_has_station"),)


class ApiRequest(Base):
    """An API write made with a request_id: a retry with the same id gets this answer again."""

    __tablename__ = "api_requests"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_id: Mapped[int] = mapped_column(ForeignKey("api_tokens.id"))
    request_id: Mapped[str] = mapped_column(String(64))
    endpoint: Mapped[str] = mapped_column(String(80))
    status: Mapped[int] = mapped_column(Integer)
    body: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (UniqueConstraint("token_id", "request_id"),)


class FloorSession(Base):
    """A signed-in browser: the session cookie carries a secret whose SHA-256 is this row's key, so a
    session ends on the server (sign-out, idle timeout, operator disabled, "sign out everywhere")."""

    __tablename__ = "floor_sessions"
    id: Mapped[int] = mapped_column(primary_key=True)
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    operator_id: Mapped[int] = mapped_column(ForeignKey("operators.id"))
    station_id: Mapped[int | None] = mapped_column(ForeignKey("stations.id"))
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    end_reason: Mapped[str | None] = mapped_column(String(20))  # signed_out, timed_out, disabled, everywhere

    __table_args__ = (Index("ix_floor_sessions_operator_id", "operator_id", "ended_at"),)


class ChainHead(Base):
    """The last link of each tamper-evident chain (movements, lot_events, recall_events, scans): a
    writer locks its chain's row, so rows are chained in one order even on PostgreSQL."""

    __tablename__ = "chain_heads"
    chain: Mapped[str] = mapped_column(String(40), primary_key=True)
    last_id: Mapped[int] = mapped_column(BigInteger, default=0)
    last_hash: Mapped[str] = mapped_column(String(64))



# --- recalls ---------------------------------------------------------------------------------


class RecallStatus(str, enum.Enum):
    OPEN = "open"
    CLOSED = "closed"


class Recall(Base):
    """A recall, started from one of our lots or from a supplier's lot, until it is closed."""

    __tablename__ = "recalls"
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    reason: Mapped[str] = mapped_column(String(200))
    status: Mapped[RecallStatus] = mapped_column(_enum(RecallStatus, "recall_status"), default=RecallStatus.OPEN)
    lot_id: Mapped[int | None] = mapped_column(ForeignKey("lots.id"))  # started from this lot, or
    supplier_id: Mapped[int | None] = mapped_column(ForeignKey("suppliers.id"))  # from this supplier's
    supplier_lot: Mapped[str | None] = mapped_column(String(40))  # lot number
    opened_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    opened_by_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    close_reason: Mapped[str | None] = mapped_column(String(200))

    lots: Mapped[list[RecallLot]] = relationship(back_populates="recall", order_by="RecallLot.lot_id")
    customers: Mapped[list[RecallCustomer]] = relationship(back_populates="recall",
                                                           order_by="RecallCustomer.customer_id")

    __table_args__ = (
        CheckConstraint("lot_id IS NOT NULL OR (supplier_id IS NOT NULL AND supplier_lot IS NOT NULL)",
                        name="has_source"),
        CheckConstraint("status <> 'closed' OR closed_at IS NOT NULL", name="closed_has_time"),
    )


class RecallLot(Base):
    """A lot a recall stopped: its status and stock when the recall began, and how much came back."""

    __tablename__ = "recall_lots"
    recall_id: Mapped[int] = mapped_column(ForeignKey("recalls.id"), primary_key=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("lots.id"), primary_key=True, index=True)
    depth: Mapped[int] = mapped_column(Integer)  # 0: the lot the recall started from
    status_before: Mapped[LotStatus] = mapped_column(_enum(LotStatus, "recall_lot_status_before"))
    on_hand_at_start: Mapped[Qty] = mapped_column(Quantity)
    retrieved_qty: Mapped[Qty] = mapped_column(Quantity, default=0)

    recall: Mapped[Recall] = relationship(back_populates="lots")
    lot: Mapped[Lot] = relationship()

    __table_args__ = (CheckConstraint("retrieved_qty >= 0", name="retrieved_not_negative"),)


class RecallCustomer(Base):
    """A customer who received recalled goods, and when they were told."""

    __tablename__ = "recall_customers"
    recall_id: Mapped[int] = mapped_column(ForeignKey("recalls.id"), primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), primary_key=True)
    shipped_qty: Mapped[Qty] = mapped_column(Quantity)
    notified_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    notified_by_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    note: Mapped[str | None] = mapped_column(String(200))

    recall: Mapped[Recall] = relationship(back_populates="customers")
    customer: Mapped[Customer] = relationship()


class RecallEvent(Base):
    """Who did what in a recall, when and why (append-only, like the ledger)."""

    __tablename__ = "recall_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    ts: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    recall_id: Mapped[int] = mapped_column(ForeignKey("recalls.id"), index=True)
    action: Mapped[str] = mapped_column(String(20))  # open, retrieve, notify, close
    lot_id: Mapped[int | None] = mapped_column(ForeignKey("lots.id"))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    qty: Mapped[Qty | None] = mapped_column(Quantity)
    note: Mapped[str | None] = mapped_column(String(200))
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    station_id: Mapped[int | None] = mapped_column(ForeignKey("stations.id"))
    token_id: Mapped[int | None] = mapped_column(ForeignKey("api_tokens.id"))
    chain_hash: Mapped[str | None] = mapped_column(String(64))


# --- the scan log ----------------------------------------------------------------------------


class Scan(Base):
    """Every scan from every scanner, as it arrived and as it was resolved (append-only, hash-chained).

    A retried request (same client_id) is not logged again: the unique client_id makes the database
    the judge, across threads and processes. A trigger bounce (the same code from the same source
    and station within a short window) is logged with ``ignored`` set and points at the scan it
    repeated.
    """

    __tablename__ = "scans"
    id: Mapped[int] = mapped_column(primary_key=True)
    ts: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    source: Mapped[str] = mapped_column(String(300))  # "wedge", "manual", "api", "serial://…", "sim://…"
    station_id: Mapped[int | None] = mapped_column(ForeignKey("stations.id"))
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    raw: Mapped[bytes] = mapped_column(LargeBinary)  # the bytes as received (capped)
    text: Mapped[str] = mapped_column(String(400))  # display-safe: control characters made visible
    client_id: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(20))
    ok: Mapped[bool] = mapped_column(Boolean)
    message: Mapped[str] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(String(40))
    result: Mapped[dict] = mapped_column(JSON)  # the whole Resolution, returned again on a retry
    ignored: Mapped[bool] = mapped_column(Boolean, default=False)
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("scans.id"))
    token_id: Mapped[int | None] = mapped_column(ForeignKey("api_tokens.id"))  # posted with this API token
    chain_hash: Mapped[str | None] = mapped_column(String(64))

    station: Mapped[StationDevice | None] = relationship()
    operator: Mapped[Operator | None] = relationship()

    __table_args__ = (
        UniqueConstraint("client_id"),
        Index("ix_scans_station_id", "station_id", "id"),
        Index("ix_scans_source", "source", "id"),
    )


class ScanApplication(Base):
    """A scan applied to a workflow step, once (station/workflows/intake.py): the step's answer, kept so a
    retry or the page of a station whose own scanner read it gets the same answer. The scan log stays
    append-only; this row's primary key decides which request applied the scan."""

    __tablename__ = "scan_applications"
    scan_id: Mapped[int] = mapped_column(ForeignKey("scans.id"), primary_key=True)
    client_id: Mapped[str | None] = mapped_column(String(64), unique=True)  # logged:<scan id> (before 0012)
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))  # signed in at that page
    applied_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    workflow: Mapped[str | None] = mapped_column(String(20))  # the workflow step that took the scan
    answer: Mapped[dict | None] = mapped_column(JSON)  # what it answered (workflows.Answer.to_dict())


class WorkflowState(Base):
    """What a worker is in the middle of in one workflow (the move being made, the receipt being filled,
    the pick list's current line): JSON owned by that workflow's module in station/workflows/. Held by a
    station ("station:<id>") — so the station's own scanner, its pages and the API share it — or, on a
    browser bound to no station, by its floor session ("session:<id>")."""

    __tablename__ = "workflow_states"
    holder: Mapped[str] = mapped_column(String(40), primary_key=True)
    workflow: Mapped[str] = mapped_column(String(20), primary_key=True)
    state: Mapped[dict] = mapped_column(JSON)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class StationWorkflow(Base):
    """The workflow open at a station (the page last opened or scanned on there, or the API's choice):
    a scan of the station's own scanner is applied to it on the server. Signed-in pages record their
    floor session and operator: the scan acts as that operator while the session lives."""

    __tablename__ = "station_workflows"
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"), primary_key=True)
    workflow: Mapped[str] = mapped_column(String(20))
    floor_session_id: Mapped[int | None] = mapped_column(ForeignKey("floor_sessions.id"))
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    token_id: Mapped[int | None] = mapped_column(ForeignKey("api_tokens.id"))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


# --- events out to the ERP (issue 16) ----------------------------------------------------------


class Event(Base):
    """One thing that happened, for the ERP: written in the transaction of the change it describes (an
    outbox). `position` is the feed's order: given at commit under the `event_heads` row lock
    (services/events.py), so positions follow commit order with no gaps — a reader that follows them
    misses nothing and sees nothing twice."""

    __tablename__ = "events"
    id: Mapped[int] = mapped_column(primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger, unique=True)
    uid: Mapped[str] = mapped_column(String(36), unique=True)  # the id receivers see (Station-Event-Id)
    type: Mapped[str] = mapped_column(String(40))
    schema: Mapped[int] = mapped_column(Integer, default=1)
    occurred_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    station_id: Mapped[int | None] = mapped_column(ForeignKey("stations.id"))
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    token_id: Mapped[int | None] = mapped_column(ForeignKey("api_tokens.id"))
    # What deliveries keep in order ("lot:<number>", "order:<number>", ...): a receiver gets one key's
    # events in position order; different keys may pass each other while one is being retried.
    key: Mapped[str] = mapped_column(String(100))
    body: Mapped[dict] = mapped_column(JSON)

    __table_args__ = (
        Index("ix_events_type_position", "type", "position"),
    )


class EventHead(Base):
    """The last position given to an event. Locked (PostgreSQL: FOR UPDATE) from the moment a
    transaction numbers its events until it commits, so positions are handed out in commit order."""

    __tablename__ = "event_heads"
    name: Mapped[str] = mapped_column(String(20), primary_key=True)
    last_position: Mapped[int] = mapped_column(BigInteger, default=0)


class WebhookSubscription(Base):
    """Where events are POSTed (an ERP's endpoint): which types, signed with `secret`."""

    __tablename__ = "webhook_subscriptions"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    url: Mapped[str] = mapped_column(String(500))
    types: Mapped[list] = mapped_column(JSON, default=list)  # event types; empty = every type
    secret: Mapped[str] = mapped_column(String(200))  # HMAC-SHA256 key of the signature
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # The feed position up to which this subscription's deliveries are made (services/webhooks.py).
    fanned_position: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    token_id: Mapped[int | None] = mapped_column(ForeignKey("api_tokens.id"))
    last_delivered_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class DeliveryStatus(str, enum.Enum):
    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"  # gave up after the retry window; "deliver again" makes it pending


class WebhookDelivery(Base):
    """One event to one subscription: tried until a 2xx, with backoff, for up to three days. A worker
    claims it (claimed_by/claimed_until) for one attempt; a claim that runs out (a killed worker) is
    taken again, so nothing is lost and no two workers send it at once."""

    __tablename__ = "webhook_deliveries"
    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("webhook_subscriptions.id"))
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"))
    position: Mapped[int] = mapped_column(BigInteger)  # the event's, for ordering per key
    key: Mapped[str] = mapped_column(String(100))  # the event's
    status: Mapped[DeliveryStatus] = mapped_column(_enum(DeliveryStatus, "delivery_status"),
                                                   default=DeliveryStatus.PENDING)
    replay: Mapped[bool] = mapped_column(Boolean, default=False)  # made by a replay or "deliver again"
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(80))
    claimed_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_status: Mapped[int | None] = mapped_column(Integer)  # the receiver's HTTP status
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ix_webhook_deliveries_due", "status", "next_at"),
        Index("ix_webhook_deliveries_key", "subscription_id", "key", "position"),
        Index("ix_webhook_deliveries_event", "event_id"),
    )
