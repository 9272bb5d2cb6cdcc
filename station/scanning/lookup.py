"""The records a scan can name, found with read-only statements built once (this is the scan hot path).

Each function runs one statement through a RawReader (station.rawsql), with bind parameters, and returns
plain dicts (JSON-ready: dates as ISO strings) or None. Nothing here loads ORM objects or writes.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import String, and_, bindparam, case, func, literal_column, or_, select, union_all

from .. import clock, quantities
from ..rawsql import RawReader
from ..models import HandlingUnit, Item, ItemGtin, Location, Lot, Operator, Stock, Supplier

_ITEM = (Item.id.label("item_id"), Item.sku, Item.name.label("item_name"), Item.unit, Item.qty_decimals,
         Item.variable_measure)
_LOT = (Lot.id.label("lot_id"), Lot.lot_number, Lot.status, Lot.expiry, Lot.on_hand, Lot.supplier_lot,
        Supplier.code.label("supplier"))
_LOCATION = (Location.id.label("location_id"), Location.code.label("location_code"),
             Location.barcode.label("location_barcode"), Location.name.label("location_name"),
             Location.kind.label("location_kind"))

# An item by GTIN-14 and, in the same round trip, its lot with our lot number (AI 10) if any, and what
# the GTIN is of the item (a pack of 12, or the trade unit itself).
_ITEM_AND_LOT = (
    select(*_ITEM, *_LOT, ItemGtin.pack_qty, ItemGtin.pack_name)
    .select_from(ItemGtin)
    .join(Item, Item.id == ItemGtin.item_id)
    .outerjoin(Lot, and_(Lot.item_id == Item.id, Lot.lot_number == bindparam("lot", type_=String)))
    .outerjoin(Supplier, Supplier.id == Lot.supplier_id)
    .where(ItemGtin.gtin == bindparam("gtin"))
)
# An item's lots by the supplier's lot number. The only index on supplier_lot is
# (supplier_id, supplier_lot), so the statement walks it supplier by supplier (a join from the
# few suppliers), plus the lots received without a supplier; "item_id + 0" keeps the planner
# from walking all of the item's lots through ix_lots_item_id instead (30-70 ms at 1M lots on
# SQLite and PostgreSQL, against well under 1 ms).
_LOT_ITEM = Lot.item_id + literal_column("0") == bindparam("item")
_SUPPLIER_LOT = Lot.supplier_lot == bindparam("lot")
_SUPPLIER_LOTS = union_all(
    select(*_LOT).outerjoin(Supplier, Supplier.id == Lot.supplier_id)
    .where(Lot.supplier_id.in_(select(Supplier.id).scalar_subquery()), _SUPPLIER_LOT, _LOT_ITEM),
    select(*_LOT).outerjoin(Supplier, Supplier.id == Lot.supplier_id)
    .where(Lot.supplier_id.is_(None), _SUPPLIER_LOT, _LOT_ITEM),
).order_by("lot_id").limit(20)
_LOT_BY_NUMBER = (
    select(*_LOT, *_ITEM)
    .join(Item, Item.id == Lot.item_id)
    .outerjoin(Supplier, Supplier.id == Lot.supplier_id)
    .where(Lot.lot_number == bindparam("lot"))
)
_ON_PALLET = (select(func.coalesce(func.sum(Stock.qty), 0))
              .where(Stock.handling_unit_id == HandlingUnit.id).scalar_subquery())
_UNIT_BY_SSCC = (
    select(HandlingUnit.id.label("unit_id"), HandlingUnit.sscc, HandlingUnit.qty_received,
           HandlingUnit.received_at, Operator.name.label("received_by"), _ON_PALLET.label("on_pallet"),
           *_LOT, *_ITEM, *_LOCATION)
    .join(Lot, Lot.id == HandlingUnit.lot_id)
    .join(Item, Item.id == Lot.item_id)
    .outerjoin(Supplier, Supplier.id == Lot.supplier_id)
    .outerjoin(Location, Location.id == HandlingUnit.location_id)
    .outerjoin(Operator, Operator.id == HandlingUnit.received_by_id)
    .where(HandlingUnit.sscc == bindparam("sscc"))
)
# A location by its barcode, else by its code: one round trip, the barcode match first.
_BY_BARCODE = Location.barcode == bindparam("barcode")
_LOCATION_BY_CODES = (select(*_LOCATION).where(or_(_BY_BARCODE, Location.code == bindparam("code")))
                      .order_by(case((_BY_BARCODE, 0), else_=1)).limit(1))
_OPERATOR_BY_BADGE = select(Operator.id, Operator.badge, Operator.name, Operator.role, Operator.active).where(
    Operator.badge == bindparam("badge"))
_SUPPLIER_BY_GLN = select(Supplier.id, Supplier.code, Supplier.name).where(Supplier.gln == bindparam("gln"))


def _value(v):
    return getattr(v, "value", v)  # enums as their string


def _day(d: dt.date | None) -> str | None:
    return d.isoformat() if d else None


def item_of(row) -> dict:
    return {"id": row.item_id, "sku": row.sku, "name": row.item_name, "unit": row.unit,
            "decimals": row.qty_decimals, "variable_measure": bool(row.variable_measure)}


def lot_of(row) -> dict:
    return {"id": row.lot_id, "lot_number": row.lot_number, "status": _value(row.status),
            "expiry": _day(row.expiry), "on_hand": row.on_hand, "supplier": row.supplier,
            "supplier_lot": row.supplier_lot}


def location_of(row) -> dict:
    return {"id": row.location_id, "code": row.location_code, "barcode": row.location_barcode,
            "name": row.location_name, "kind": _value(row.location_kind)}


def item_and_lot(conn: RawReader, gtin14: str, lot: str | None) -> tuple[dict, dict | None, dict | None] | None:
    """The item with this GTIN-14, its lot numbered `lot` (ours) and, when the GTIN is a pack's, the
    pack ({"gtin", "name", "qty": a decimal string of the item's unit}); None if no item has it."""
    row = conn.execute(_ITEM_AND_LOT, {"gtin": gtin14, "lot": lot}).first()
    if row is None:
        return None
    pack = None
    if row.pack_qty is not None:
        pack = {"gtin": gtin14, "name": row.pack_name or "pack", "qty": quantities.text(row.pack_qty)}
    return item_of(row), (lot_of(row) if row.lot_id is not None else None), pack


def supplier_lots(conn: RawReader, item_id: int, supplier_lot: str) -> list[dict]:
    """The item's lots received under this supplier lot number (oldest first, at most 20)."""
    return [lot_of(row) for row in conn.execute(_SUPPLIER_LOTS, {"item": item_id, "lot": supplier_lot})]


def lot_by_number(conn: RawReader, lot_number: str) -> tuple[dict, dict] | None:
    """(lot, item) for our lot number, or None."""
    row = conn.execute(_LOT_BY_NUMBER, {"lot": lot_number}).first()
    return (lot_of(row), item_of(row)) if row else None


def unit_by_sscc(conn: RawReader, sscc: str) -> dict | None:
    """A received pallet: {"unit", "lot", "item", "location"}, or None if the SSCC is not known."""
    row = conn.execute(_UNIT_BY_SSCC, {"sscc": sscc}).first()
    if row is None:
        return None
    received_at = row.received_at
    if received_at is not None and received_at.tzinfo is None:
        received_at = received_at.replace(tzinfo=dt.timezone.utc)  # SQLite gives naive UTC back
    unit = {"id": row.unit_id, "sscc": row.sscc, "qty_received": row.qty_received, "qty": row.on_pallet,
            "received_at": received_at.isoformat() if received_at else None,
            "received_by": row.received_by, "location": row.location_code}
    return {"unit": unit, "lot": lot_of(row), "item": item_of(row),
            "location": location_of(row) if row.location_id is not None else None,
            "received_local": received_at.astimezone(clock.site_zone()) if received_at else None}


def location(conn: RawReader, barcode: str, code: str) -> dict | None:
    """The location whose barcode is `barcode`, else the one whose code is `code`, or None."""
    row = conn.execute(_LOCATION_BY_CODES, {"barcode": barcode, "code": code}).first()
    return location_of(row) if row else None


def operator_by_badge(conn: RawReader, badge: str) -> dict | None:
    row = conn.execute(_OPERATOR_BY_BADGE, {"badge": badge}).first()
    if row is None:
        return None
    return {"id": row.id, "badge": row.badge, "name": row.name, "role": _value(row.role),
            "active": bool(row.active)}


def supplier_by_gln(conn: RawReader, gln: str) -> dict | None:
    row = conn.execute(_SUPPLIER_BY_GLN, {"gln": gln}).first()
    return {"id": row.id, "code": row.code, "name": row.name} if row else None
