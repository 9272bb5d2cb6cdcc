"""The catalogue: items, suppliers, customers and locations, and finding them by their codes."""
from __future__ import annotations

import re
from typing import Iterable, NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from .. import quantities
from ..gs1 import normalise_gln, normalise_gtin
from ..models import (Customer, ExpectedReceiptLine, Item, ItemGtin, Location, LocationKind, Lot, LotScheme,
                      Movement, OrderLine, RemovalStrategy, Supplier)
from ..quantities import Qty
from .errors import Conflict, Invalid, NotFound

CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")


def _code(value: str | None, what: str, max_len: int) -> str:
    text = (value or "").strip()
    if not text:
        raise Invalid(f"The {what} is required.", code=f"invalid_{what.replace(' ', '_')}")
    if len(text) > max_len or not CODE.match(text):
        raise Invalid(f"The {what} {text!r} must be 1–{max_len} letters, digits or . _ / - "
                      f"(starting with a letter or digit).", code=f"invalid_{what.replace(' ', '_')}")
    return text


def _name(value: str | None, what: str = "name", max_len: int = 200) -> str:
    text = " ".join((value or "").split())
    if not text:
        raise Invalid(f"The {what} is required.", code="invalid_name")
    if len(text) > max_len:
        raise Invalid(f"The {what} must be at most {max_len} characters.", code="invalid_name")
    return text


class Pack(NamedTuple):
    """A packaging level of an item: its own GTIN, what it is called, how much of the item's unit it holds."""

    gtin: str
    name: str
    qty: Qty


def _unit_rules(unit: str, qty_decimals: int, variable_measure: bool) -> tuple[str, int]:
    try:
        unit = quantities.check_unit(_code(unit, "unit", 16))
        qty_decimals = quantities.check_decimals(qty_decimals)
    except quantities.QuantityError as exc:
        raise Invalid(str(exc), code="invalid_unit") from None
    if variable_measure and unit not in quantities.WEIGHTS_KG:
        raise Invalid(f"A variable-measure item is weighed: its unit is one of {', '.join(quantities.WEIGHTS_KG)}, "
                      f"not {unit}.", code="invalid_unit")
    return unit, qty_decimals


def _free_gtins(session: Session, gtins: list[str], item_id: int | None) -> None:
    """Refuse a GTIN that already names another item (as its unit or as one of its packs)."""
    for gtin in gtins:
        query = select(Item.sku).join(ItemGtin).where(ItemGtin.gtin == gtin)
        owner = session.scalar(query if item_id is None else query.where(Item.id != item_id))
        if owner:
            raise Conflict(f"GTIN {gtin} already belongs to item {owner}.", code="gtin_exists")


def _pack_qty(qty, unit: str, qty_decimals: int, gtin: str) -> Qty:
    try:
        value = quantities.parse(qty, what=f"The quantity of pack {gtin}")
    except quantities.QuantityError as exc:
        raise Invalid(str(exc), code="invalid_qty") from None
    if value <= 0:
        raise Invalid(f"The pack {gtin} must hold more than 0 {unit}.", code="invalid_qty")
    try:
        return quantities.for_item(value, qty_decimals, unit, what=f"The quantity of pack {gtin},")
    except quantities.QuantityError as exc:
        raise Invalid(str(exc), code="too_many_decimals") from None


def _pack_rows(packs, unit: str, qty_decimals: int, taken: list[str]) -> list[ItemGtin]:
    """The item_gtins rows of `packs`, each checked: a GTIN of its own (not the unit's, not another pack's),
    a name, and a quantity above 0 in the item's decimals."""
    rows, seen = [], set(taken)
    for pack in packs:
        gtin = normalise_gtin(pack.gtin)
        if gtin in seen:
            raise Invalid(f"GTIN {gtin} is given twice: a pack needs a GTIN of its own, not the unit's or another "
                          f"pack's.", code="duplicate_gtin")
        seen.add(gtin)
        rows.append(ItemGtin(gtin=gtin, pack_qty=_pack_qty(pack.qty, unit, qty_decimals, gtin),
                             pack_name=_name(pack.name, "pack name", 20)))
    return rows


def create_item(session: Session, *, sku: str, name: str, gtins: list[str] = (), unit: str = "ea",
                shelf_life_days: int | None = None,
                removal_strategy: RemovalStrategy = RemovalStrategy.FIFO,
                lot_scheme: LotScheme | None = None, labels_per_receipt: int = 1, qty_decimals: int = 0,
                variable_measure: bool = False, packs: Iterable[Pack] = ()) -> Item:
    sku = _code(sku, "SKU", 40)
    unit, qty_decimals = _unit_rules(unit, qty_decimals, variable_measure)
    if session.scalar(select(Item.id).where(Item.sku == sku)):
        raise Conflict(f"Item {sku} already exists.", code="item_exists")
    if shelf_life_days is not None and (not isinstance(shelf_life_days, int) or shelf_life_days < 0):
        raise Invalid("The shelf life is a whole number of days, 0 or more.", code="invalid_shelf_life")
    normalised = list(dict.fromkeys(normalise_gtin(g) for g in gtins))
    pack_rows = _pack_rows(packs, unit, qty_decimals, normalised)
    _free_gtins(session, normalised + [row.gtin for row in pack_rows], None)
    item = Item(sku=sku, name=_name(name), unit=unit, qty_decimals=qty_decimals,
                variable_measure=bool(variable_measure), shelf_life_days=shelf_life_days,
                removal_strategy=RemovalStrategy(removal_strategy), lot_scheme=lot_scheme,
                labels_per_receipt=labels_per_receipt,
                gtins=[ItemGtin(gtin=g) for g in normalised] + pack_rows)
    session.add(item)
    session.flush()
    return item


def _in_use(session: Session, item: Item) -> str | None:
    """What already counts in the item's unit and decimals (None: nothing yet)."""
    if session.scalar(select(Movement.id).join(Lot, Lot.id == Movement.lot_id).where(Lot.item_id == item.id)
                      .limit(1)) is not None:
        return "stock movements"
    if session.scalar(select(OrderLine.id).where(OrderLine.item_id == item.id).limit(1)) is not None:
        return "order lines"
    if session.scalar(select(ExpectedReceiptLine.id).where(ExpectedReceiptLine.item_id == item.id)
                      .limit(1)) is not None:
        return "expected receipt lines"
    return None


def change_item(session: Session, item: Item, *, unit: str | None = None, qty_decimals: int | None = None,
                variable_measure: bool | None = None, packs: Iterable[Pack] | None = None) -> Item:
    """Change how an item is counted (the fields given; None keeps one). Once quantities of the item exist
    (stock movements, order lines, expected receipts) its unit stays, and its decimals can be raised but not
    lowered: stock could hold more decimals than the new precision. A refusal changes nothing."""
    new_unit, new_decimals = _unit_rules(item.unit if unit is None else unit,
                                         item.qty_decimals if qty_decimals is None else qty_decimals,
                                         item.variable_measure if variable_measure is None else variable_measure)
    if new_unit != item.unit or new_decimals < item.qty_decimals:
        used = _in_use(session, item)
        if used and new_unit != item.unit:
            raise Conflict(f"Item {item.sku} already has {used} in {item.unit}: its unit cannot become {new_unit}. "
                           f"Nothing was changed.", code="item_in_use")
        if used:
            raise Conflict(f"Item {item.sku} already has {used} counted in {item.qty_decimals} decimals of "
                           f"{item.unit}: its decimals can be raised, not lowered to {new_decimals}, or stock "
                           f"could hold more decimals than the item allows. Nothing was changed.",
                           code="item_in_use")
    own = [g for g in item.gtins if g.pack_qty is None]
    if packs is None:  # the packs kept must still fit the item's decimals
        for g in item.gtins:
            if g.pack_qty is not None:
                _pack_qty(g.pack_qty, new_unit, new_decimals, g.gtin)
        pack_rows = None
    else:
        pack_rows = _pack_rows(packs, new_unit, new_decimals, [g.gtin for g in own])
        _free_gtins(session, [row.gtin for row in pack_rows], item.id)
    item.unit, item.qty_decimals = new_unit, new_decimals
    if variable_measure is not None:
        item.variable_measure = bool(variable_measure)
    if pack_rows is not None:
        item.gtins = own
        session.flush()  # the old pack rows go before the new ones may take their GTINs again
        item.gtins = own + pack_rows
    session.flush()
    return item


def create_location(session: Session, *, code: str, kind: LocationKind, name: str = "",
                    barcode: str | None = None) -> Location:
    code = _code(code, "location code", 30)
    barcode = (barcode or "").strip() or code
    if session.scalar(select(Location.id).where((Location.code == code) | (Location.barcode == barcode))):
        raise Conflict(f"Location {code} (barcode {barcode}) already exists.", code="location_exists")
    location = Location(code=code, barcode=barcode, name=" ".join((name or "").split()),
                        kind=LocationKind(kind))
    session.add(location)
    session.flush()
    return location


def _party(session: Session, model, what: str, code: str, name: str, gln: str | None):
    code = _code(code, f"{what} code", 20)
    if session.scalar(select(model.id).where(model.code == code)):
        raise Conflict(f"{what.capitalize()} {code} already exists.", code=f"{what}_exists")
    if gln:
        gln = normalise_gln(gln)
        owner = session.scalar(select(model.code).where(model.gln == gln))
        if owner:
            raise Conflict(f"GLN {gln} already belongs to {what} {owner}.", code="gln_exists")
    record = model(code=code, name=_name(name), gln=gln or None)
    session.add(record)
    session.flush()
    return record


def create_supplier(session: Session, *, code: str, name: str, gln: str | None = None) -> Supplier:
    return _party(session, Supplier, "supplier", code, name, gln)


def create_customer(session: Session, *, code: str, name: str, gln: str | None = None) -> Customer:
    return _party(session, Customer, "customer", code, name, gln)


def one(session: Session, query, error, message: str, code: str):
    """The one row `query` finds, or `error(message, code=code)`."""
    found = session.scalar(query)
    if found is None:
        raise error(message, code=code)
    return found


def item_by_sku(session: Session, sku: str) -> Item:
    return one(session, select(Item).where(Item.sku == sku).options(selectinload(Item.gtins)),
                NotFound, f"No item with SKU {sku!r}.", "unknown_item")


def item_by_gtin(session: Session, gtin: str) -> Item:
    normalised = normalise_gtin(gtin)
    return one(session, select(Item).join(ItemGtin).where(ItemGtin.gtin == normalised),
                NotFound, f"No item has GTIN {normalised}.", "unknown_gtin")


def location_by_code(session: Session, code: str) -> Location:
    return one(session, select(Location).where(Location.code == code),
                NotFound, f"No location {code!r}.", "unknown_location")


def first_location(session: Session, kind: LocationKind, purpose: str) -> Location:
    """The first location of `kind` by code, for `purpose` ("to receive at"); Invalid if none."""
    return one(session, select(Location).where(Location.kind == kind).order_by(Location.code).limit(1),
                Invalid, f"There is no {kind.value} location {purpose}; create one, or give the location.",
                f"no_{kind.value}_location")


def supplier_by_code(session: Session, code: str) -> Supplier:
    return one(session, select(Supplier).where(Supplier.code == code),
                NotFound, f"No supplier {code!r}.", "unknown_supplier")


def lot_by_number(session: Session, lot_number: str) -> Lot:
    return one(session, select(Lot).where(Lot.lot_number == lot_number),
                NotFound, f"No lot {lot_number!r}.", "unknown_lot")
