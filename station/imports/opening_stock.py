"""The opening-stock kind: one row per place of a lot (a pallet, or loose stock at a location).

The same lot number on several rows is one lot in several places: those rows must agree on everything but
the place, pallet and quantity. The same lot twice at the same place without a pallet is a row pasted
twice, and refused. An empty lot number gets a new number from the item's scheme when written.
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import HandlingUnit, Item, Location, Lot, Supplier
from ..services.actor import Actor
from ..services.opening import NumberTaken, OpeningLine, book_openings
from .base import Checked, Column, Kind, RowFailed, codes
from .cells import Cells, Problem, Row

MAX_QTY = 100_000_000  # one row; a lot's rows together at most MAX_LOT
MAX_LOT = 1_000_000_000


def _in_chunks(session: Session, column, values: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(values), 1000):
        found.update(session.scalars(select(column).where(column.in_(values[start:start + 1000]))))
    return found


def check_opening(session: Session, rows: list[Row], today: dt.date) -> Checked:
    out = Checked()
    items = {r.sku: r for r in session.execute(select(Item.sku, Item.id, Item.shelf_life_days, Item.lot_scheme_id,
                                                          Item.unit, Item.qty_decimals))}
    locations = codes(session, Location.code)
    suppliers = codes(session, Supplier.code)
    lots: dict[str, tuple] = {}  # lot number -> (row, what must agree)
    lot_total: dict[str, int] = defaultdict(int)
    places: dict[tuple[str, str], int] = {}
    ssccs: dict[str, int] = {}
    for row in rows:
        c = Cells(row, out.problems)
        sku = c.code("sku", max_len=40, required=True)
        item = items.get(sku) if sku else None
        if sku and item is None:
            c.problem("sku", f"no item {sku}")
        lot = c.text("lot", max_len=40)
        if lot and (" " in lot or not lot.isprintable()):
            c.problem("lot", f"{lot!r} is not a lot number: no spaces or hidden characters")
            lot = None
        supplier = c.code("supplier", max_len=20)
        if supplier and supplier not in suppliers:
            c.problem("supplier", f"no supplier {supplier}")
        supplier_lot = c.text("supplier_lot", max_len=40)
        qty = c.qty("qty", MAX_QTY, item)
        location = c.code("location", max_len=30, required=True)
        if location and location not in locations:
            c.problem("location", f"no location {location}")
        expiry = c.expiry("expiry", today)
        produced = c.produced("produced", today)
        if expiry and produced and expiry < produced:
            c.problem("expiry", f"{expiry.isoformat()} is before the production date {produced.isoformat()}")
        if item is not None and item.shelf_life_days is not None and expiry is None and c.raw("expiry") == "":
            if produced is not None:
                expiry = produced + dt.timedelta(days=item.shelf_life_days)
            elif c.raw("produced") == "":
                c.problem("expiry", f"{sku} has a shelf life of {item.shelf_life_days} days: give the expiry date "
                                    "(or the production date)")
        pallets = c.gs1_numbers("sscc", "SSCC", (18,)) or []
        if len(pallets) > 1:
            c.problem("sscc", "one SSCC per row (one pallet)")
        sscc = pallets[0] if pallets else None
        if sscc:
            if sscc in ssccs:
                c.problem("sscc", f"pallet {sscc} is twice in the file (rows {ssccs[sscc]} and {row.number})")
            else:
                ssccs[sscc] = row.number
        if lot:
            same = (sku, supplier, supplier_lot, expiry, produced)
            first = lots.setdefault(lot, (row.number, same))
            if first[0] != row.number and first[1] != same:
                what = [n for n, a, b in zip(("sku", "supplier", "supplier lot", "expiry", "production date"),
                                             first[1], same) if a != b]
                c.problem("lot", f"{lot} is on row {first[0]} too, with another {what[0]}: rows of one lot differ "
                                 f"only in location, pallet and quantity")
            if not sscc and location:
                seen = places.setdefault((lot, location), row.number)
                if seen != row.number:
                    c.problem("lot", f"{lot} is twice in the file (rows {seen} and {row.number}) at {location}")
            if qty:
                lot_total[lot] += qty
                if lot_total[lot] > MAX_LOT:
                    c.problem("qty", f"lot {lot} adds up to more than {MAX_LOT:,}")
        if c.ok:
            out.records.append(OpeningLine(
                row.number, item.id, sku, item.lot_scheme_id, qty, locations[location], lot,
                suppliers.get(supplier) if supplier else None, supplier, supplier_lot, expiry, produced, sscc,
                location))
    for number in _in_chunks(session, Lot.lot_number, list(lots)):
        out.problems.append(Problem(lots[number][0], "lot", f"lot {number} already exists"))
    for sscc in _in_chunks(session, HandlingUnit.sscc, list(ssccs)):
        out.problems.append(Problem(ssccs[sscc], "sscc", f"pallet {sscc} is already booked"))
    out.problems.sort(key=lambda p: (p.row or 0))
    return out


def write_opening(session: Session, records: list[OpeningLine], by: Actor, today: dt.date) -> int:
    try:
        return book_openings(session, records, by=by, on=today)
    except NumberTaken as exc:
        raise RowFailed(Problem(exc.details.get("row"), "lot", exc.message.split(": ", 1)[-1])) from None


OPENING = Kind(
    "opening", "Opening stock",
    (Column("sku", "FLOUR-25", True),
     Column("lot", "", note="your lot number; empty: a new number from the item's pattern. The same lot in "
                           "several places: one row per place"),
     Column("supplier", "HOFMUEHLE", note="the supplier's code"),
     Column("supplier_lot", "M26311B"),
     Column("qty", "250", True, "in the item's unit, with up to as many decimals as the item has (12.35)"),
     Column("location", "A-01-02", True),
     Column("expiry", "2027-03-31", note="YYYY-MM-DD; needed for an item with a shelf life (or a production date)"),
     Column("produced", "2026-11-02", note="YYYY-MM-DD"),
     Column("sscc", "340123450001234565", note="the pallet's SSCC (18 digits), if it has one")),
    check_opening, write_opening,
    lambda r: (r.sku, r.lot_number or "(new number)", str(r.qty), r.location_code,
               r.expiry.isoformat() if r.expiry else "", r.sscc or ""),
    ("SKU", "Lot", "Qty", "Location", "Expiry", "SSCC"), unit="lots")
