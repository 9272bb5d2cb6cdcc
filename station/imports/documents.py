"""Orders and expected receipts: one row per line, the rows of one document grouped by its number.

The document's own fields (customer, due date, priority; expected date) are repeated on each of its rows
and must agree. Documents are written through orders.enter_order and expected.enter_expected_receipt.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Customer, ExpectedPallet, ExpectedReceipt, HandlingUnit, Item, ItemGtin, Order, Supplier
from ..services import expected as expected_service
from ..services import orders as order_service
from ..services.actor import Actor
from ..services.errors import DomainError
from .base import Checked, Column, Kind, RowFailed, codes
from .cells import Cells, Problem, Row, gtin14


def _agree(c: Cells, first: tuple[int, tuple], now: tuple, names: tuple[str, ...], what: str) -> None:
    """The rows of one document repeat its fields: a row that differs from the document's first row is wrong."""
    row, values = first
    for name, a, b in zip(names, values, now):
        if a != b:
            c.problem(name, f"{what} has another {name.replace('_', ' ')} on row {row}; its rows must agree")
            return


# --- orders --------------------------------------------------------------------------------------------


@dataclass
class OrderRecord:
    row: int
    number: str
    customer: str
    due_on: dt.date | None
    priority: int
    lines: list[tuple[str, int, int]] = field(default_factory=list)  # (sku, qty, row)


def check_orders(session: Session, rows: list[Row], today: dt.date) -> Checked:
    out = Checked()
    active = dict(session.execute(select(Customer.code, Customer.active)).all())
    skus = set(session.scalars(select(Item.sku)))
    taken = set(session.scalars(select(Order.number)))
    orders: dict[str, OrderRecord] = {}
    bad: set[str] = set()
    for row in rows:
        c = Cells(row, out.problems)
        number = c.via("number", order_service.check_number, required=True)
        customer = c.code("customer", max_len=20, required=True)
        if customer and customer not in active:
            c.problem("customer", f"no customer {customer}")
        elif customer and not active[customer]:
            c.problem("customer", f"customer {customer} is no longer active")
        due_on = c.date("due_on")
        priority = c.whole("priority", low=1, high=9, what="a priority from 1 (first) to 9")
        sku = c.code("sku", max_len=40, required=True)
        if sku and sku not in skus:
            c.problem("sku", f"no item {sku}")
        qty = c.qty("qty", order_service.MAX_QTY)
        if number and number in taken:
            c.problem("number", f"order {number} already exists")
        record = orders.get(number) if number else None
        if number and record is None and c.ok:
            record = orders[number] = OrderRecord(row.number, number, customer, due_on, priority or 5)
        elif record is not None:
            _agree(c, (record.row, (record.customer, record.due_on, record.priority)),
                   (customer, due_on, priority or 5), ("customer", "due_on", "priority"), f"order {number}")
            same = next((r for s, _q, r in record.lines if s == sku), None)
            if same:
                c.problem("sku", f"{sku} is twice in order {number} (rows {same} and {row.number}); put it on one row")
            if len(record.lines) >= order_service.MAX_LINES:
                c.problem("number", f"order {number} has more than {order_service.MAX_LINES} lines")
        if c.ok and record is not None:
            record.lines.append((sku, qty, row.number))
        elif number:
            bad.add(number)
    out.records = [r for n, r in orders.items() if n not in bad]
    return out


def write_orders(session: Session, records: list[OrderRecord], by: Actor, today: dt.date) -> int:
    for r in records:
        try:
            order_service.enter_order(session, number=r.number, customer_code=r.customer, due_on=r.due_on,
                                      priority=r.priority, by=by,
                                      lines=[order_service.OrderLineIn(sku, qty) for sku, qty, _row in r.lines])
        except DomainError as exc:
            raise RowFailed(Problem(r.row, "number", f"order {r.number}: {exc.message}")) from None
    return len(records)


ORDERS = Kind(
    "orders", "Orders",
    (Column("number", "SO-24001", True, "one row per line; the rows of an order repeat its number"),
     Column("customer", "GREENBASKET", True, "the customer's code"),
     Column("due_on", "2026-12-09", note="YYYY-MM-DD"),
     Column("priority", "5", note="1 is picked first, 9 last (default 5)"),
     Column("sku", "FLOUR-25", True), Column("qty", "48", True)),
    check_orders, write_orders,
    lambda r: (r.number, r.customer, r.due_on.isoformat() if r.due_on else "", str(r.priority),
               ", ".join(f"{qty} × {sku}" for sku, qty, _row in r.lines)),
    ("Order", "Customer", "Due", "Priority", "Lines"), unit="orders")


# --- expected receipts ---------------------------------------------------------------------------------


@dataclass
class ExpectedRecord:
    row: int
    supplier: str
    reference: str
    expected_on: dt.date | None
    lines: list[expected_service.ExpectedLineIn] = field(default_factory=list)


def check_expected(session: Session, rows: list[Row], today: dt.date) -> Checked:
    out = Checked()
    suppliers = codes(session, Supplier.code)
    skus = set(session.scalars(select(Item.sku)))
    gtins = set(session.scalars(select(ItemGtin.gtin)))
    taken = set(session.execute(select(Supplier.code, ExpectedReceipt.reference).join(Supplier)).all())
    known_pallets = set(session.scalars(select(ExpectedPallet.sscc)))
    seen_pallets: dict[str, int] = {}
    found: list[tuple[str, int]] = []
    records: dict[tuple[str, str], ExpectedRecord] = {}
    bad: set[tuple[str, str]] = set()
    for row in rows:
        c = Cells(row, out.problems)
        supplier = c.code("supplier", max_len=20, required=True)
        if supplier and supplier not in suppliers:
            c.problem("supplier", f"no supplier {supplier}")
        reference = c.text("reference", max_len=40, required=True, what="reference (the PO or ASN number)")
        expected_on = c.date("expected_on")
        sku = c.code("sku", max_len=40)
        if sku and sku not in skus:
            c.problem("sku", f"no item {sku}")
        gtin = (c.gs1_numbers("gtin", "GTIN", (8, 12, 13, 14)) or [None])[0]
        if gtin and gtin14(gtin) not in gtins:
            c.problem("gtin", f"no item has GTIN {gtin}")
        if not c.raw("sku") and not c.raw("gtin"):
            c.problem("sku", "give the item's SKU or its GTIN")
        qty = c.qty("qty", expected_service.MAX_QTY)
        supplier_lot = c.text("supplier_lot", max_len=40)
        pallets = c.gs1_numbers("ssccs", "SSCC", (18,)) or []
        for sscc in pallets:
            if sscc in seen_pallets:
                c.problem("ssccs", f"pallet {sscc} is twice in the file (rows {seen_pallets[sscc]} and {row.number})")
            seen_pallets[sscc] = row.number
            found.append((sscc, row.number))
            if sscc in known_pallets:
                c.problem("ssccs", f"pallet {sscc} is expected already")
        key = (supplier, reference)
        if supplier and reference and key in taken:
            c.problem("reference", f"{supplier} already has an expected receipt {reference}")
        record = records.get(key)
        if record is None and c.ok:
            record = records[key] = ExpectedRecord(row.number, supplier, reference, expected_on)
        elif record is not None:
            _agree(c, (record.row, (record.expected_on,)), (expected_on,), ("expected_on",), f"{reference}")
        if c.ok and record is not None:
            record.lines.append(expected_service.ExpectedLineIn(qty=qty, sku=sku, gtin=gtin, supplier_lot=supplier_lot,
                                                                ssccs=tuple(pallets)))
        else:
            bad.add(key)
    booked = set()
    values = [s for s, _ in found]
    for start in range(0, len(values), 1000):
        booked.update(session.scalars(select(HandlingUnit.sscc).where(HandlingUnit.sscc.in_(values[start:start + 1000]))))
    out.problems += [Problem(row, "ssccs", f"pallet {sscc} was received already") for sscc, row in found if sscc in booked]
    out.records = [r for key, r in records.items() if key not in bad]
    return out


def write_expected(session: Session, records: list[ExpectedRecord], by: Actor, today: dt.date) -> int:
    for r in records:
        try:
            expected_service.enter_expected_receipt(session, supplier_code=r.supplier, reference=r.reference,
                                                    lines=r.lines, expected_on=r.expected_on, by=by)
        except DomainError as exc:
            raise RowFailed(Problem(r.row, "reference", f"{r.reference}: {exc.message}")) from None
    return len(records)


EXPECTED = Kind(
    "expected", "Expected receipts",
    (Column("supplier", "HOFMUEHLE", True, "one row per line; the rows of a receipt repeat supplier and reference"),
     Column("reference", "PO-4711", True, "the purchase order or ASN number"),
     Column("expected_on", "2026-12-10", note="YYYY-MM-DD"),
     Column("sku", "FLOUR-25", note="the SKU, or the GTIN in the next column"),
     Column("gtin", ""),
     Column("qty", "500", True),
     Column("supplier_lot", "M26311B"),
     Column("ssccs", "", note="the pallets announced, separated by ; or spaces")),
    check_expected, write_expected,
    lambda r: (r.supplier, r.reference, r.expected_on.isoformat() if r.expected_on else "",
               ", ".join(f"{line.qty} × {line.sku or line.gtin}" for line in r.lines)),
    ("Supplier", "Reference", "Expected", "Lines"), unit="expected receipts")
