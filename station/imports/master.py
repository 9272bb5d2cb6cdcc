"""Master data kinds: items, locations, suppliers, customers and operators, one row each.

Every row is checked against the file (a code twice) and the database (a code taken) before anything is
written; the writers then go through the catalogue, customer and operator services, so an imported item
is made exactly as one made by the API.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from .. import quantities
from ..models import Customer, Item, ItemGtin, Location, LocationKind, Operator, RemovalStrategy, Role, \
    SequenceReset, Supplier
from ..services import catalog, customers, numbering, operators
from ..services.actor import Actor
from ..services.errors import DomainError
from .base import Checked, Column, Kind, RowFailed, codes, twice
from .cells import Cells, Problem, Row, gtin14

YES_NO = {"yes": True, "no": False, "true": True, "false": False, "1": True, "0": False, "y": True, "n": False}
MAX_SHELF_LIFE = 36_500


def _failed(row: int, column: str | None, exc: DomainError) -> RowFailed:
    return RowFailed(Problem(row, column, exc.message))


# --- items ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemRecord:
    row: int
    sku: str
    name: str
    gtins: tuple[str, ...]
    unit: str
    shelf_life_days: int | None
    removal_strategy: RemovalStrategy
    lot_pattern: str | None
    lot_reset: SequenceReset
    supplier: str | None
    labels_per_receipt: int
    refuse_younger_lots: bool
    qty_decimals: int = 0
    variable_measure: bool = False


def check_items(session: Session, rows: list[Row], today: dt.date) -> Checked:
    out = Checked()
    skus = set(session.scalars(select(Item.sku)))
    gtin_owner = dict(session.execute(select(ItemGtin.gtin, Item.sku).join(Item)).all())
    suppliers = codes(session, Supplier.code)
    seen_sku: dict[str, int] = {}
    seen_gtin: dict[str, int] = {}
    for row in rows:
        c = Cells(row, out.problems)
        sku = c.code("sku", max_len=40, required=True)
        if sku and not twice(seen_sku, sku, row.number, c, "sku", sku) and sku in skus:
            c.problem("sku", f"item {sku} already exists")
        name = c.text("name", max_len=200, required=True)
        gtins = c.gs1_numbers("gtins", "GTIN", (8, 12, 13, 14)) or []
        gtins = list(dict.fromkeys(gtin14(g) for g in gtins))
        for gtin in gtins:
            if twice(seen_gtin, gtin, row.number, c, "gtins", f"GTIN {gtin}"):
                continue
            if gtin in gtin_owner:
                c.problem("gtins", f"GTIN {gtin} already belongs to item {gtin_owner[gtin]}")
        unit = c.code("unit", max_len=16) or "ea"
        if unit not in quantities.UNITS:
            c.problem("unit", f"{unit!r} is not a unit Station knows (e.g. ea, kg, g, L, mL, m)")
        decimals = c.whole("decimals", low=0, high=quantities.MAX_DECIMALS, what="a number of decimals from 0 to 6")
        weighed = c.choice("variable_measure", YES_NO, default=False)
        if weighed and unit not in quantities.WEIGHTS_KG:
            c.problem("variable_measure", f"a variable-measure item is weighed: its unit is kg, g, t, lb or oz, not {unit}")
        shelf_life = c.whole("shelf_life_days", low=0, high=MAX_SHELF_LIFE, what="a number of days")
        strategy = c.choice("removal_strategy", {"FIFO": RemovalStrategy.FIFO, "FEFO": RemovalStrategy.FEFO},
                            default=RemovalStrategy.FIFO)
        pattern = c.text("lot_pattern", max_len=120)
        reset = c.choice("lot_reset", {r.value: r for r in SequenceReset}, default=SequenceReset.DAILY)
        if pattern and reset:
            try:
                numbering.validate_pattern(pattern, reset)
            except DomainError as exc:
                c.problem("lot_pattern", exc.message)
        supplier = c.code("supplier", max_len=20)
        if supplier and supplier not in suppliers:
            c.problem("supplier", f"no supplier {supplier}")
        labels = c.whole("labels_per_receipt", low=0, high=99, what="a number of labels")
        refuse = c.choice("refuse_younger_lots", YES_NO, default=False)
        if c.ok:
            out.records.append(ItemRecord(row.number, sku, name, tuple(gtins), unit, shelf_life, strategy, pattern,
                                          reset, supplier, 1 if labels is None else labels, refuse, decimals or 0,
                                          weighed))
    return out


def write_items(session: Session, records: list[ItemRecord], by: Actor, today: dt.date) -> int:
    suppliers = codes(session, Supplier.code)
    policies = []
    with session.no_autoflush:  # create_item flushes each item itself; nothing else is pending meanwhile
        for r in records:
            try:
                scheme = (numbering.create_scheme(session, f"item:{r.sku}", r.lot_pattern, r.lot_reset)
                          if r.lot_pattern else None)
                item = catalog.create_item(session, sku=r.sku, name=r.name, gtins=list(r.gtins), unit=r.unit,
                                           shelf_life_days=r.shelf_life_days, removal_strategy=r.removal_strategy,
                                           lot_scheme=scheme, labels_per_receipt=r.labels_per_receipt,
                                           qty_decimals=r.qty_decimals, variable_measure=r.variable_measure)
            except DomainError as exc:
                raise _failed(r.row, None, exc) from None
            if r.supplier or r.refuse_younger_lots:
                policies.append({"item_id": item.id, "supplier_id": suppliers.get(r.supplier),
                                 "refuse": r.refuse_younger_lots})
            session.expunge(item)  # a big file's items need not stay in the session's identity map
    if policies:  # what create_item does not take, in one statement rather than an UPDATE per item
        items = Item.__table__
        session.execute(update(items).where(items.c.id == bindparam("item_id"))
                        .values(supplier_id=bindparam("supplier_id"), refuse_younger_lots=bindparam("refuse")),
                        policies)
    return len(records)


ITEMS = Kind(
    "items", "Items",
    (Column("sku", "FLOUR-25", True, "your article number: letters, digits, . _ / -"),
     Column("name", "Wheat flour type 550, 25 kg sack", True),
     Column("gtins", "4012345100013;14012345100010", note="GTIN-8/12/13/14, several separated by ; or spaces"),
     Column("unit", "kg", note="the unit quantities are counted in (default ea): ea, kg, g, L, mL, m, …"),
     Column("decimals", "3", note="how many decimals the item is counted in, 0 (default) to 6: kg to the gram is 3"),
     Column("variable_measure", "no", note="yes: each case weighs what its GS1 label says (catch weight)"),
     Column("shelf_life_days", "365", note="empty: no expiry"),
     Column("removal_strategy", "FEFO", note="FIFO (default) or FEFO"),
     Column("lot_pattern", "", note="the item's own lot-number pattern, e.g. {item}-{yy}{jjj}-{seq:04}; "
                                    "empty: the site's"),
     Column("lot_reset", "", note="when the pattern's {seq} restarts: daily (default), monthly, yearly, never"),
     Column("supplier", "HOFMUEHLE", note="the usual supplier's code"),
     Column("labels_per_receipt", "1", note="lot labels printed per receipt (default 1)"),
     Column("refuse_younger_lots", "no", note="yes: picking refuses a younger lot than the suggestion")),
    check_items, write_items,
    lambda r: (r.sku, r.name, " ".join(r.gtins), r.unit, "" if r.shelf_life_days is None else str(r.shelf_life_days),
               r.removal_strategy.value, r.supplier or ""),
    ("SKU", "Name", "GTINs", "Unit", "Shelf life", "Removal", "Supplier"), unit="items")


# --- locations -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LocationRecord:
    row: int
    code: str
    kind: LocationKind
    name: str
    barcode: str


def check_locations(session: Session, rows: list[Row], today: dt.date) -> Checked:
    out = Checked()
    taken_codes = set(session.scalars(select(Location.code)))
    taken_barcodes = set(session.scalars(select(Location.barcode)))
    seen_code: dict[str, int] = {}
    seen_barcode: dict[str, int] = {}
    for row in rows:
        c = Cells(row, out.problems)
        code = c.code("code", max_len=30, required=True)
        if code and not twice(seen_code, code, row.number, c, "code", code) and code in taken_codes:
            c.problem("code", f"location {code} already exists")
        kind = c.choice("kind", {k.value: k for k in LocationKind})
        if kind is None and not c.raw("kind"):
            c.problem("kind", f"the kind is missing: one of {', '.join(k.value for k in LocationKind)}")
        name = c.text("name", max_len=120) or ""
        given = c.text("barcode", max_len=60)
        barcode = given or code
        if given and twice(seen_barcode, barcode, row.number, c, "barcode", f"barcode {barcode}"):
            pass  # said; the code's own twice covers a barcode that is the code
        elif barcode and barcode in taken_barcodes:
            c.problem("barcode", f"barcode {barcode} is another location's already")
        elif barcode:
            seen_barcode.setdefault(barcode, row.number)
        if c.ok:
            out.records.append(LocationRecord(row.number, code, kind, name, barcode))
    return out


def write_locations(session: Session, records: list[LocationRecord], by: Actor, today: dt.date) -> int:
    for r in records:
        try:
            catalog.create_location(session, code=r.code, kind=r.kind, name=r.name, barcode=r.barcode)
        except DomainError as exc:
            raise _failed(r.row, "code", exc) from None
    return len(records)


LOCATIONS = Kind(
    "locations", "Locations",
    (Column("code", "A-01-02", True, "aisle-bay-level or any code: letters, digits, . _ / -"),
     Column("kind", "storage", True, "dock, storage, line, shipping or quarantine"),
     Column("name", "Rack A bay 01 level 02"),
     Column("barcode", "LOC:A-01-02", note="what its label scans as (default: the code)")),
    check_locations, write_locations,
    lambda r: (r.code, r.kind.value, r.name, r.barcode), ("Code", "Kind", "Name", "Barcode"), unit="locations")


# --- suppliers and customers ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PartyRecord:
    row: int
    code: str
    name: str
    gln: str | None
    min_shelf_life_days: int | None = None


def _check_parties(session: Session, rows: list[Row], model, what: str, shelf_life: bool) -> Checked:
    out = Checked()
    taken = set(session.scalars(select(model.code)))
    gln_owner = dict(session.execute(select(model.gln, model.code).where(model.gln.is_not(None))).all())
    seen_code: dict[str, int] = {}
    seen_gln: dict[str, int] = {}
    for row in rows:
        c = Cells(row, out.problems)
        code = c.code("code", max_len=20, required=True)
        if code and not twice(seen_code, code, row.number, c, "code", code) and code in taken:
            c.problem("code", f"{what} {code} already exists")
        name = c.text("name", max_len=200, required=True)
        glns = c.gs1_numbers("gln", "GLN", (13,)) or []
        gln = glns[0] if glns else None
        if len(glns) > 1:
            c.problem("gln", "one GLN per row")
        elif gln and not twice(seen_gln, gln, row.number, c, "gln", f"GLN {gln}") and gln in gln_owner:
            c.problem("gln", f"GLN {gln} already belongs to {what} {gln_owner[gln]}")
        days = (c.whole("min_shelf_life_days", low=0, high=MAX_SHELF_LIFE, what="a number of days")
                if shelf_life else None)
        if c.ok:
            out.records.append(PartyRecord(row.number, code, name, gln, days))
    return out


def write_suppliers(session: Session, records: list[PartyRecord], by: Actor, today: dt.date) -> int:
    for r in records:
        try:
            catalog.create_supplier(session, code=r.code, name=r.name, gln=r.gln)
        except DomainError as exc:
            raise _failed(r.row, "code", exc) from None
    return len(records)


def write_customers(session: Session, records: list[PartyRecord], by: Actor, today: dt.date) -> int:
    for r in records:
        try:
            customers.save_customer(session, code=r.code, name=r.name, gln=r.gln,
                                    min_shelf_life_days=r.min_shelf_life_days)
        except DomainError as exc:
            raise _failed(r.row, "code", exc) from None
    return len(records)


SUPPLIERS = Kind(
    "suppliers", "Suppliers",
    (Column("code", "HOFMUEHLE", True), Column("name", "Hofmühle Getreide GmbH", True),
     Column("gln", "4012345000016", note="13 digits")),
    lambda s, rows, today: _check_parties(s, rows, Supplier, "supplier", False), write_suppliers,
    lambda r: (r.code, r.name, r.gln or ""), ("Code", "Name", "GLN"), unit="suppliers")

CUSTOMERS = Kind(
    "customers", "Customers",
    (Column("code", "GREENBASKET", True), Column("name", "Green Basket Supermarkets", True),
     Column("gln", "5060123000016", note="13 digits"),
     Column("min_shelf_life_days", "30", note="days of shelf life a lot must still have when it ships")),
    lambda s, rows, today: _check_parties(s, rows, Customer, "customer", True), write_customers,
    lambda r: (r.code, r.name, r.gln or "", "" if r.min_shelf_life_days is None else str(r.min_shelf_life_days)),
    ("Code", "Name", "GLN", "Min. shelf life"), unit="customers")


# --- operators -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OperatorRecord:
    row: int
    badge: str
    name: str
    role: Role


def check_operators(session: Session, rows: list[Row], today: dt.date) -> Checked:
    out = Checked()
    taken = dict(session.execute(select(func.lower(Operator.badge), Operator.name)).all())
    seen: dict[str, int] = {}
    for row in rows:
        c = Cells(row, out.problems)
        badge = c.via("badge", operators.clean_badge, required=True)
        if badge and not twice(seen, badge.lower(), row.number, c, "badge", f"badge {badge}") \
                and badge.lower() in taken:
            c.problem("badge", f"badge {badge} already belongs to {taken[badge.lower()]}")
        name = c.via("name", operators.clean_name, required=True)
        role = c.via("role", operators.parse_role, required=True)
        if c.ok:
            out.records.append(OperatorRecord(row.number, badge, name, role))
    return out


def write_operators(session: Session, records: list[OperatorRecord], by: Actor, today: dt.date) -> int:
    for r in records:
        try:
            operators.add_operator(session, badge=r.badge, name=r.name, role=r.role, by=by)
        except DomainError as exc:
            raise _failed(r.row, "badge", exc) from None
    return len(records)


NO_PINS = ("PINs are never imported: remove the column. Supervisors and admins are given a PIN by an admin "
           "(the operators page, or `station operator reset-pin BADGE`).")
OPERATORS = Kind(
    "operators", "Operators",
    (Column("badge", "OP-2001", True, "what the badge scans as"), Column("name", "Anna Lindqvist", True),
     Column("role", "receiver", True, "receiver, picker, line operator, supervisor or admin")),
    check_operators, write_operators,
    lambda r: (r.badge, r.name, operators.ROLE_WORDS[r.role]), ("Badge", "Name", "Role"),
    refused_columns={name: NO_PINS for name in ("pin", "pins", "pin_code", "pincode", "password", "pin_hash",
                                                "passcode", "code_pin")},
    unit="operators")
