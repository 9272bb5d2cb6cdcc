"""The parts every event body is made of, so a lot, an item or a place looks the same in each event type
(services/events.py). A body stands alone: the ERP reads the lot number, the item's SKU and GTINs, the
supplier's lot and the expiry from the event itself, never by calling Station back.

Dates are ISO strings; a missing value is null, never left out, so a reader's schema is fixed per type.
Quantities are decimal strings ("40", "12.345"; `qty_text`): a JSON number is read as a binary float by most
readers, and 0.1 + 0.2 kg must reach the ERP as the 0.3 kg the ledger holds.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import inspect
from sqlalchemy.orm import Session

from .. import quantities
from ..models import Item, Location, Lot, Movement, Order, OrderLine, Supplier


def qty_text(value) -> str | None:
    """A quantity as every event body carries it: its exact decimal string in the item's unit, null for none."""
    return None if value is None else quantities.text(value)


def item_facts(item: Item, session: Session | None = None) -> dict[str, Any]:
    """With `session`, the GTINs are read by gtins_of (cheaper than the lazy load, for hot paths)."""
    gtins = gtins_of(session, item) if session is not None else [g.gtin for g in item.gtins]
    return {"sku": item.sku, "name": item.name, "unit": item.unit, "gtins": gtins}


def supplier_facts(supplier: Supplier | None) -> dict[str, Any] | None:
    if supplier is None:
        return None
    return {"code": supplier.code, "name": supplier.name, "gln": supplier.gln}


def lot_facts(lot: Lot, session: Session | None = None) -> dict[str, Any]:
    """The lot and what it is: item, supplier, dates, status and what is on hand now (`session`: see
    item_facts)."""
    return {"number": lot.lot_number, "status": lot.status.value, "on_hand": qty_text(lot.on_hand),
            "supplier_lot": lot.supplier_lot, "expiry": _day(lot.expiry), "produced_on": _day(lot.produced_on),
            "received_on": _day(lot.received_on), "origin": lot.origin,
            "item": item_facts(lot.item, session), "supplier": supplier_facts(lot.supplier)}


def location_facts(location: Location | None) -> dict[str, Any] | None:
    if location is None:
        return None
    return {"code": location.code, "kind": location.kind.value}


def lot_key(lot: Lot | str) -> str:
    """Deliveries of one lot's events keep their order."""
    return f"lot:{lot if isinstance(lot, str) else lot.lot_number}"


def order_key(number: str) -> str:
    return f"order:{number}"


def _day(value) -> str | None:
    return value.isoformat() if value else None


def operator_facts(operator) -> dict[str, Any] | None:
    """A person named in a body besides the envelope's operator (a count's counter and approver)."""
    if operator is None:
        return None
    return {"badge": operator.badge, "name": operator.name}


def customer_facts(customer) -> dict[str, Any] | None:
    if customer is None:
        return None
    return {"code": customer.code, "name": customer.name, "gln": customer.gln}


_GTINS_SQL = {"sqlite": "SELECT gtin FROM item_gtins WHERE item_id = ? ORDER BY gtin",
              "postgresql": "SELECT gtin FROM item_gtins WHERE item_id = %s ORDER BY gtin"}


def gtins_of(session, item: Item) -> list[str]:
    """An item's GTINs as item_facts lists them, without the ORM's lazy load of the collection when it is
    not loaded yet: one statement straight to the driver, about a tenth of the lazy load's cost (the
    receipt is a hot path, issue 18). Nothing is loaded into the session."""
    if "gtins" in inspect(item).dict:  # loaded already
        return [g.gtin for g in item.gtins]
    connection = session.connection()
    cursor = connection.connection.dbapi_connection.cursor()
    try:
        cursor.execute(_GTINS_SQL[connection.dialect.name], (item.id,))
        return [row[0] for row in cursor.fetchall()]
    finally:
        cursor.close()


def pick_body(session: Session, movement: Movement, lot: Lot, line: OrderLine | None, source: Location,
               dest: Location) -> dict:
    """What pick.confirmed and pick.undone say: the pick, its order line and the lot."""
    order = line.order if line is not None else None
    return {"order": order.number if order else None, "line": line.line_no if line else None,
            "customer": customer_facts(order.customer) if order else None, "lot": lot_facts(lot, session),
            "qty": qty_text(movement.qty), "from": location_facts(source), "to": location_facts(dest),
            "followed_suggestion": movement.followed_suggestion, "override_reason": movement.reason,
            "pick_id": movement.id, "pieces": movement.pieces}


def shipment_body(session: Session, order: Order, lines: list[OrderLine], picked) -> dict:
    """Every line of a shipped order: what was ordered, what went (lot by lot) and what did not, and why."""
    went: dict[int, list[dict]] = {}
    shipped: dict[int, quantities.Qty] = {}
    for row in picked:
        went.setdefault(row.order_line_id, []).append(
            {"lot": lot_facts(session.get(Lot, row.lot_id)), "qty": qty_text(row.qty),
             "from": location_facts(session.get(Location, row.staging_id))})
        shipped[row.order_line_id] = shipped.get(row.order_line_id, 0) + row.qty
    return {"order": {"number": order.number, "due_on": order.due_on.isoformat() if order.due_on else None},
            "customer": customer_facts(order.customer),
            "lines": [{"line": line.line_no, "item": item_facts(line.item), "ordered": qty_text(line.qty),
                       "shipped": qty_text(shipped.get(line.id, 0)),
                       "short_qty": qty_text(line.short_qty), "short_reason": line.short_reason,
                       "lots": went.get(line.id, [])} for line in sorted(lines, key=lambda x: x.line_no)]}
