"""Expected receipts (a supplier's PO or ASN): what is coming, and what the dock received against it.

Entering one is idempotent on (supplier, reference): the same body again answers the receipt already
entered, a different body is a conflict — a supplier's message sent twice must not expect the goods
twice. Receiving books each pallet against its line (`book_against`) in the receipt's own transaction,
so the received quantity can never disagree with the stock booked in.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from .. import clock
from ..gs1 import normalise_sscc
from ..models import (ExpectedPallet, ExpectedReceipt, ExpectedReceiptLine, ExpectedStatus, HandlingUnit, Item,
                      Supplier)
from .actor import NOBODY, Actor
from .catalog import item_by_gtin, item_by_sku, supplier_by_code
from .errors import Conflict, Invalid, NotFound
from .stock import require_positive

MAX_LINES = 500
MAX_QTY = 10_000_000


@dataclass(frozen=True)
class ExpectedLineIn:
    """One line as the supplier announced it: the item (by SKU or GTIN), how many, and maybe its pallets."""

    qty: int
    sku: str | None = None
    gtin: str | None = None
    supplier_lot: str | None = None
    ssccs: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Line:
    """A line checked and resolved: what is compared with a receipt already entered."""

    item: Item
    qty: int
    supplier_lot: str | None
    ssccs: tuple[str, ...]

    def key(self) -> tuple:
        return self.item.id, self.qty, self.supplier_lot, tuple(sorted(self.ssccs))


@dataclass(frozen=True)
class Booked:
    """What one pallet received against an expected line changed: said to the receiver in words."""

    line: ExpectedReceiptLine
    over: int  # how many more than the line expected this receipt made it (0: not over)
    completed: bool  # this receipt turned the expected receipt `received`


# --- entering ---------------------------------------------------------------------------------------


def enter_expected_receipt(session: Session, *, supplier_code: str, reference: str,
                           lines: list[ExpectedLineIn], expected_on: dt.date | None = None,
                           by: Actor = NOBODY) -> tuple[ExpectedReceipt, bool]:
    """Enter what `supplier_code` will deliver under `reference`; (receipt, True) when created.

    The same body again answers (existing receipt, False); a different body under the same supplier
    and reference is a Conflict. Every refusal changes nothing.
    """
    supplier = supplier_by_code(session, (supplier_code or "").strip())
    reference = _reference(reference)
    if not lines:
        raise Invalid("An expected receipt needs at least one line.", code="no_lines")
    if len(lines) > MAX_LINES:
        raise Invalid(f"An expected receipt has at most {MAX_LINES} lines.", code="too_many_lines")
    checked = [_check_line(session, n, line) for n, line in enumerate(lines, start=1)]
    _refuse_repeated_pallets(checked)

    existing = session.scalar(
        select(ExpectedReceipt).where(ExpectedReceipt.supplier_id == supplier.id,
                                      ExpectedReceipt.reference == reference)
        .options(selectinload(ExpectedReceipt.lines).selectinload(ExpectedReceiptLine.pallets)))
    if existing is not None:
        if _same_body(existing, checked, expected_on):
            return existing, False
        raise Conflict(f"{supplier.name} already has an expected receipt {reference} with other lines or "
                       f"another date; give this one another reference.", code="expected_exists",
                       expected_id=existing.id)
    for line in checked:
        _refuse_known_pallets(session, line.ssccs)

    expected = ExpectedReceipt(supplier_id=supplier.id, reference=reference, expected_on=expected_on,
                               status=ExpectedStatus.OPEN, created_at=clock.now(),
                               created_by_id=by.operator_id, token_id=by.token_id)
    session.add(expected)
    session.flush()
    for n, line in enumerate(checked, start=1):
        row = ExpectedReceiptLine(expected_receipt_id=expected.id, line_no=n, item_id=line.item.id,
                                  qty=line.qty, received_qty=0, supplier_lot=line.supplier_lot)
        session.add(row)
        session.flush()
        per_pallet = _pallet_qty(line)
        for sscc in line.ssccs:
            session.add(ExpectedPallet(sscc=sscc, line_id=row.id, qty=per_pallet))
    session.flush()
    session.refresh(expected)
    return expected, True


def _reference(value: str | None) -> str:
    text = (value or "").strip()
    if not text:
        raise Invalid("The reference (the PO or ASN number) is required.", code="invalid_reference")
    if len(text) > 40 or any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise Invalid("The reference is at most 40 characters, without control characters.",
                      code="invalid_reference")
    return text


def _in_range(qty: object) -> bool:
    try:
        return not isinstance(qty, bool) and 0 < qty <= MAX_QTY
    except TypeError:
        return False


def _check_line(session: Session, n: int, line: ExpectedLineIn) -> _Line:
    if not _in_range(line.qty):
        raise Invalid(f"Line {n}: the quantity must be a number greater than 0, at most {MAX_QTY:,}.",
                      code="invalid_qty", line=n)
    sku, gtin = (line.sku or "").strip(), (line.gtin or "").strip()
    if not sku and not gtin:
        raise Invalid(f"Line {n}: give the item's SKU or its GTIN.", code="no_item", line=n)
    item = item_by_sku(session, sku) if sku else item_by_gtin(session, gtin)
    if sku and gtin and item_by_gtin(session, gtin).id != item.id:
        raise Invalid(f"Line {n}: GTIN {gtin} is not an item {sku} GTIN.", code="gtin_mismatch", line=n)
    supplier_lot = (line.supplier_lot or "").strip() or None
    if supplier_lot and (len(supplier_lot) > 40 or any(ord(c) < 32 or ord(c) == 127 for c in supplier_lot)):
        raise Invalid(f"Line {n}: a supplier lot is at most 40 characters, without control characters.",
                      code="invalid_supplier_lot", line=n)
    if len(line.ssccs) > line.qty:
        raise Invalid(f"Line {n}: {len(line.ssccs)} pallets cannot carry only {line.qty}.",
                      code="too_many_pallets", line=n)
    ssccs = tuple(normalise_sscc(s) for s in line.ssccs)
    return _Line(item=item, qty=require_positive(line.qty, f"quantity of line {n}", of=item), supplier_lot=supplier_lot, ssccs=ssccs)


def _refuse_repeated_pallets(lines: list[_Line]) -> None:
    seen: set[str] = set()
    for line in lines:
        for sscc in line.ssccs:
            if sscc in seen:
                raise Invalid(f"Pallet {sscc} is listed twice.", code="sscc_repeated", sscc=sscc)
            seen.add(sscc)


def _refuse_known_pallets(session: Session, ssccs: tuple[str, ...]) -> None:
    if not ssccs:
        return
    expected = session.execute(
        select(ExpectedPallet.sscc, ExpectedReceipt.reference, Supplier.name)
        .join(ExpectedReceiptLine, ExpectedPallet.line_id == ExpectedReceiptLine.id)
        .join(ExpectedReceipt).join(Supplier)
        .where(ExpectedPallet.sscc.in_(ssccs)).limit(1)).first()
    if expected:
        raise Conflict(f"Pallet {expected.sscc} is already expected from {expected.name} "
                       f"(reference {expected.reference}).", code="sscc_already_expected", sscc=expected.sscc)
    received = session.scalar(select(HandlingUnit.sscc).where(HandlingUnit.sscc.in_(ssccs)).limit(1))
    if received:
        raise Conflict(f"Pallet {received} has already been received.", code="sscc_already_received",
                       sscc=received)


def _pallet_qty(line: _Line) -> int | None:
    """What each announced pallet carries when the line says so: its quantity split evenly, else unknown."""
    if line.ssccs and line.qty % len(line.ssccs) == 0:
        return line.qty // len(line.ssccs)
    return None


def _same_body(existing: ExpectedReceipt, lines: list[_Line], expected_on: dt.date | None) -> bool:
    if existing.expected_on != expected_on:
        return False
    stored = [(row.item_id, row.qty, row.supplier_lot, tuple(sorted(p.sscc for p in row.pallets)))
              for row in existing.lines]
    return stored == [line.key() for line in lines]


# --- closing ------------------------------------------------------------------------------------------


def close_short(session: Session, expected: ExpectedReceipt, reason: str, by: Actor = NOBODY) -> ExpectedReceipt:
    """A supervisor closes an open expected receipt whose missing goods will not come; the reason is kept."""
    reason = " ".join((reason or "").split())
    if not reason:
        raise Invalid("Say why the rest will not come (the reason is required).", code="reason_required")
    if len(reason) > 200:
        raise Invalid("The reason is at most 200 characters.", code="invalid_reason")
    if expected.status != ExpectedStatus.OPEN:
        raise Conflict(f"Expected receipt {expected.reference} is already {expected.status.value}.",
                       code="expected_not_open")
    expected.status = ExpectedStatus.CLOSED
    expected.closed_at = clock.now()
    expected.closed_by_id = by.operator_id
    expected.close_reason = reason
    session.flush()
    return expected


# --- receiving against it -------------------------------------------------------------------------------


def open_pallet(session: Session, sscc: str) -> ExpectedPallet | None:
    """The announced pallet `sscc` of an open expected receipt, not yet received; None otherwise."""
    return session.scalar(
        select(ExpectedPallet).join(ExpectedReceiptLine, ExpectedPallet.line_id == ExpectedReceiptLine.id)
        .join(ExpectedReceipt)
        .where(ExpectedPallet.sscc == sscc, ExpectedPallet.received_at.is_(None),
               ExpectedReceipt.status == ExpectedStatus.OPEN))


def open_lines_for(session: Session, item: Item, supplier: Supplier | None = None) -> list[ExpectedReceiptLine]:
    """The lines of open expected receipts expecting `item` (from `supplier` when given), oldest first."""
    query = (select(ExpectedReceiptLine).join(ExpectedReceipt)
             .where(ExpectedReceiptLine.item_id == item.id, ExpectedReceipt.status == ExpectedStatus.OPEN))
    if supplier is not None:
        query = query.where(ExpectedReceipt.supplier_id == supplier.id)
    lines = list(session.scalars(query.order_by(ExpectedReceipt.expected_on, ExpectedReceipt.id,
                                                ExpectedReceiptLine.line_no)))
    # A line already received in full is only a candidate when nothing else still expects the item.
    missing = [line for line in lines if line.received_qty < line.qty]
    return missing or lines


def open_from(session: Session, supplier: Supplier) -> bool:
    """Whether `supplier` has any open expected receipt (so an item not on one is "not expected")."""
    return bool(session.scalar(select(func.count(ExpectedReceipt.id)).where(
        ExpectedReceipt.supplier_id == supplier.id, ExpectedReceipt.status == ExpectedStatus.OPEN)))


def line_by_id(session: Session, line_id: int) -> ExpectedReceiptLine | None:
    """An open expected receipt's line by id (what a receiver picked on the page), else None."""
    line = session.get(ExpectedReceiptLine, line_id)
    if line is None or line.expected.status != ExpectedStatus.OPEN:
        return None
    return line


def book_against(session: Session, line: ExpectedReceiptLine, qty: int, sscc: str | None = None) -> Booked:
    """Count `qty` received against `line` (and mark its announced pallet `sscc` received).

    Runs in the receipt's transaction. The expected receipt turns `received` once every line is in.
    """
    # One booking at a time per expected receipt (a row lock on PostgreSQL; SQLite writes are serialised):
    # two docks receiving pallets of it at once must both count, and the last line in closes it.
    session.flush()
    session.refresh(line.expected, ["status"], with_for_update=True)
    for row in line.expected.lines:
        session.refresh(row, ["received_qty"])
    if line.expected.status != ExpectedStatus.OPEN:
        raise Conflict(f"Expected receipt {line.expected.reference} is {line.expected.status.value}: "
                       f"nothing more is received against it.", code="expected_not_open")
    before_missing = max(line.qty - line.received_qty, 0)
    line.received_qty += qty
    if sscc:
        pallet = session.get(ExpectedPallet, sscc)
        if pallet is not None and pallet.line_id == line.id:
            pallet.received_at = clock.now()
    over = max(qty - before_missing, 0)
    completed = all(row.received_qty >= row.qty for row in line.expected.lines)
    if completed:
        line.expected.status = ExpectedStatus.RECEIVED
    session.flush()
    return Booked(line=line, over=over, completed=completed)


def missing(expected: ExpectedReceipt) -> list[tuple[ExpectedReceiptLine, int]]:
    """Each line still short, with how many are missing."""
    return [(line, line.qty - line.received_qty) for line in expected.lines if line.received_qty < line.qty]


def missing_words(expected: ExpectedReceipt) -> str | None:
    """What is still missing of `expected`, in words ("Still missing from ...: 20 x FLOUR-25"), or None."""
    short = missing(expected)
    if not short:
        return None
    parts = ", ".join(f"{n} {line.item.unit} {line.item.sku}" for line, n in short)
    return f"Still missing from {expected.supplier.name} ({expected.reference}): {parts}."


# --- reading ---------------------------------------------------------------------------------------------


def _loaded():
    return select(ExpectedReceipt).options(
        selectinload(ExpectedReceipt.supplier),
        selectinload(ExpectedReceipt.lines).selectinload(ExpectedReceiptLine.item),
        selectinload(ExpectedReceipt.lines).selectinload(ExpectedReceiptLine.pallets))


def get(session: Session, expected_id: int) -> ExpectedReceipt:
    """One expected receipt with its lines and pallets; NotFound in words."""
    found = session.scalar(_loaded().where(ExpectedReceipt.id == expected_id))
    if found is None:
        raise NotFound(f"There is no expected receipt {expected_id}.", code="unknown_expected_receipt")
    return found


def page(session: Session, *, status: ExpectedStatus | None = None, after: int | None = None,
         limit: int = 100) -> tuple[list[ExpectedReceipt], int | None]:
    """Expected receipts by id (oldest first) after the cursor `after`; and the next cursor, or None."""
    query = _loaded().order_by(ExpectedReceipt.id).limit(limit + 1)
    if status is not None:
        query = query.where(ExpectedReceipt.status == status)
    if after is not None:
        query = query.where(ExpectedReceipt.id > after)
    rows = list(session.scalars(query))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, rows[-1].id if more else None


def open_receipts(session: Session) -> list[ExpectedReceipt]:
    """Every open expected receipt, those due first (undated last): the supervisor page's list."""
    return list(session.scalars(_loaded().where(ExpectedReceipt.status == ExpectedStatus.OPEN)
                                .order_by(ExpectedReceipt.expected_on.is_(None), ExpectedReceipt.expected_on,
                                          ExpectedReceipt.id)))
