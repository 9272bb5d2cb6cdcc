"""What a recall covers: the affected lots (the source and every lot made or split from it) and the
customers who were shipped any of them; preview_recall shows it before anything is written.
services/recalls.py holds the rules.
"""
from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..models import (
    Customer,
    Item,
    Lot,
    LotLink,
    LotStatus,
    Movement,
    MovementKind,
    Recall,
    RecallLot,
    RecallStatus,
    Supplier,
)
from .errors import Conflict, Invalid
from .genealogy import descendants

MAX_TEXT = 200   # reasons and notes


# --- what a recall covers --------------------------------------------------------------------


@dataclass(frozen=True)
class AffectedLot:
    lot_id: int
    lot_number: str
    sku: str
    item_name: str
    unit: str
    depth: int
    status: str
    on_hand: int
    stops: bool                      # its status becomes RECALLED (False: it already is)
    other_recalls: tuple[str, ...]   # open recalls that already cover it
    decimals: int = 0                # the item's, for the pages to write its quantities in


@dataclass(frozen=True)
class AffectedCustomer:
    customer_id: int
    code: str
    name: str
    shipped_qty: int


@dataclass(frozen=True)
class Preview:
    source: str                      # "lot 260615-001" / "supplier ACME's lot S-77"
    lot_number: str | None
    supplier_code: str | None
    supplier_lot: str | None
    start_ids: tuple[int, ...]
    lots: list[AffectedLot]
    customers: list[AffectedCustomer]

    @property
    def stopped(self) -> int:
        return sum(1 for lot in self.lots if lot.stops)

    @property
    def on_hand(self) -> int:
        return sum(lot.on_hand for lot in self.lots)

    @property
    def shipped(self) -> int:
        return sum(c.shipped_qty for c in self.customers)


def _clean(text: str | None) -> str:
    return " ".join((text or "").split())


def _reason(reason: str | None, what: str) -> str:
    text = _clean(reason)
    if not text:
        raise Invalid(f"Write why — {what} needs a reason (a complaint, a supplier notice, a lab result).",
                      code="reason_required", field="reason")
    if len(text) > MAX_TEXT:
        raise Invalid(f"The reason is {len(text)} characters long; keep it to {MAX_TEXT}.",
                      code="reason_too_long", field="reason")
    return text


def _note(note: str | None) -> str | None:
    text = _clean(note)
    if len(text) > MAX_TEXT:
        raise Invalid(f"The note is {len(text)} characters long; keep it to {MAX_TEXT}.",
                      code="note_too_long", field="note")
    return text or None


def _source(session: Session, lot, supplier, supplier_lot) -> tuple[str, Lot | None, Supplier | None, str | None,
                                                                    list[int]]:
    """The lots a recall starts from: (words, lot, supplier, supplier lot, their ids)."""
    if isinstance(lot, str):
        lot = _clean(lot) or None
    if isinstance(supplier, str):
        supplier = _clean(supplier) or None
    supplier_lot = _clean(supplier_lot) or None
    if lot is not None and (supplier is not None or supplier_lot is not None):
        raise Invalid("Start the recall from one of our lots or from a supplier's lot number, not both.",
                      code="recall_source")
    if lot is None and supplier is None and supplier_lot is None:
        raise Invalid("Say what is recalled: scan or type one of our lot numbers, or choose the supplier "
                      "and type their lot number.", code="recall_source", field="lot")
    if lot is not None:
        if not isinstance(lot, Lot):
            found = session.scalar(select(Lot).where(Lot.lot_number == lot))
            if found is None:
                raise Invalid(f"There is no lot '{lot[:40]}' here — check the number on the label.",
                              code="unknown_lot", field="lot")
            lot = found
        return f"lot {lot.lot_number}", lot, None, None, [lot.id]
    if supplier is None or supplier_lot is None:
        raise Invalid("A supplier's lot needs both: the supplier and the lot number they printed.",
                      code="recall_source", field="supplier" if supplier is None else "supplier_lot")
    if not isinstance(supplier, Supplier):
        found = session.scalar(select(Supplier).where(Supplier.code == supplier))
        if found is None:
            raise Invalid(f"There is no supplier '{supplier[:20]}'.", code="unknown_supplier", field="supplier")
        supplier = found
    ids = list(session.scalars(select(Lot.id).where(Lot.supplier_id == supplier.id,
                                                    Lot.supplier_lot == supplier_lot).order_by(Lot.id)))
    if not ids:
        raise Invalid(f"Nothing was received here from {supplier.name} ({supplier.code}) with their lot number "
                      f"'{supplier_lot[:40]}' — check the number on their notice.",
                      code="no_supplier_lot", field="supplier_lot")
    return f"{supplier.name}'s lot {supplier_lot}", None, supplier, supplier_lot, ids


def _depths(session: Session, start_ids: list[int], ids: set[int]) -> dict[int, int]:
    """Each affected lot's distance (in links) from the nearest source lot."""
    children: dict[int, list[int]] = defaultdict(list)
    for component, output in session.execute(
            select(LotLink.component_lot_id, LotLink.output_lot_id).where(LotLink.component_lot_id.in_(ids))):
        children[component].append(output)
    depth = {lot_id: 0 for lot_id in start_ids}
    queue = deque(start_ids)
    while queue:
        here = queue.popleft()
        for child in children.get(here, ()):
            if child not in depth:
                depth[child] = depth[here] + 1
                queue.append(child)
    return depth


def _open_recalls_of(session: Session, ids) -> dict[int, list[str]]:
    covered: dict[int, list[str]] = defaultdict(list)
    for lot_id, number in session.execute(
            select(RecallLot.lot_id, Recall.number).join(Recall, Recall.id == RecallLot.recall_id)
            .where(RecallLot.lot_id.in_(list(ids)), Recall.status == RecallStatus.OPEN).order_by(Recall.id)):
        covered[lot_id].append(number)
    return covered


def _stops(status: LotStatus, on_hand: int) -> bool:
    # Every affected lot is stopped, a used-up one too: stock booked back into it later (a customer
    # return, a count correction) must not make it pickable while the recall stands. Only a lot
    # already RECALLED (by another recall) keeps its status.
    return status is not LotStatus.RECALLED


def _shipped_by_customer(session: Session, ids) -> list[AffectedCustomer]:
    rows = session.execute(
        select(Customer.id, Customer.code, Customer.name, func.sum(Movement.qty))
        .join(Customer, Customer.id == Movement.customer_id)
        .where(Movement.kind == MovementKind.SHIP, Movement.lot_id.in_(list(ids)))
        .group_by(Customer.id, Customer.code, Customer.name).order_by(Customer.name, Customer.code))
    return [AffectedCustomer(cid, code, name, qty) for cid, code, name, qty in rows]


def _affected(session: Session, lot, supplier, supplier_lot, *, lock: bool) -> Preview:
    words, lot, supplier, supplier_lot, start_ids = _source(session, lot, supplier, supplier_lot)
    ids = descendants(session, start_ids)
    depth = _depths(session, start_ids, ids)
    query = (select(Lot, Item.sku, Item.name, Item.unit, Item.qty_decimals).join(Item, Item.id == Lot.item_id)
             .where(Lot.id.in_(sorted(ids))).order_by(Lot.id))
    if lock:
        # Lock the lots in id order (no deadlock between two recalls) and read their status afresh.
        query = query.with_for_update(of=Lot).execution_options(populate_existing=True)
    rows = session.execute(query).all()
    covered = _open_recalls_of(session, ids)
    lots = [AffectedLot(row.id, row.lot_number, sku, name, unit, depth.get(row.id, 0), row.status.value,
                        row.on_hand, _stops(row.status, row.on_hand), tuple(covered.get(row.id, ())), decimals)
            for row, sku, name, unit, decimals in rows]
    lots.sort(key=lambda a: (a.depth, a.lot_number))
    return Preview(words, lot.lot_number if lot else None, supplier.code if supplier else None, supplier_lot,
                   tuple(start_ids), lots, _shipped_by_customer(session, ids))


def _refuse_duplicate(preview: Preview) -> None:
    """The same source twice while the first recall is open: say which recall already has it."""
    starts = [lot for lot in preview.lots if lot.lot_id in preview.start_ids]
    if starts and all(lot.other_recalls for lot in starts):
        first = starts[0]
        number = first.other_recalls[0]
        what = f"Lot {first.lot_number} is" if len(starts) == 1 else \
            f"Every lot of {preview.source} ({len(starts)}) is"
        raise Conflict(f"{what} already in open recall {number} — it is stopped there. Open {number} to "
                       f"follow it up, or close it before starting another.",
                       code="already_recalled", recall=number)


def preview_recall(session: Session, *, lot=None, supplier=None, supplier_lot=None) -> Preview:
    """What a recall from this source would stop and whom it would list; writes nothing.
    Refuses exactly as open_recall would (except for the reason, asked for at the confirm step)."""
    preview = _affected(session, lot, supplier, supplier_lot, lock=False)
    _refuse_duplicate(preview)
    return preview
