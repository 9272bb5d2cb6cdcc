"""Labels from the database: the data each template needs, and the label rendered as ZPL or PNG.

`label_data` reads the records a label is about and returns a plain, JSON-safe dict (dates as
ISO strings), which is what a print job stores: a job's preview and a reprint show exactly what
was sent, whatever has changed since. `render_zpl` and `render_png` turn such a dict into bytes
through the templates in ``labels.templates``; they never touch the database.

Every refusal is a DomainError with a stable code: a bad template, size, dpi or copies is a
LabelParameterError (400), an unknown lot, location or operator is NotFound (404), and data a
template cannot make a label from is a LabelNotPossible (422): a pallet label of an item without a
GTIN, of a lot number GS1 (10) cannot carry, or of a lot with nothing on hand; a deactivated
operator's badge; a label too big for the size asked for. A pallet label's SSCC is drawn last, so
a refused label uses no serial.
"""
from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from labels import gs1, png, zpl
from labels.layout import DPIS, LABEL_SIZES, Label
from labels.templates import TEMPLATES

from .. import quantities
from ..gs1 import normalise_sscc
from ..models import HandlingUnit, Item, Lot, Operator, Printer, PrintJob, StationDevice, Stock
from ..quantities import Qty
from ..scanning.codes import Command, command_code
from .catalog import location_by_code, lot_by_number, one
from .errors import Conflict, Invalid, NotFound
from .sscc import next_sscc

DEFAULT_SIZE, DEFAULT_DPI = "4x6", 203
# The templates label_data reads the database for, and what their key is.
DATA = {"lot": "lot number", "pallet": "lot number", "location": "location code",
        "badge": "operator badge", "commands": None}
MAX_COPIES = 1000  # one request; a typo must not run a whole roll through the printer
# The words printed under each command barcode.
COMMAND_WORDS = {
    Command.CONFIRM: "Confirm",
    Command.CANCEL: "Cancel",
    Command.UNDO: "Undo",
    Command.NEXT: "Next",
    Command.REPRINT: "Reprint",
}


class LabelParameterError(Invalid):
    """The label was asked for wrongly: an unknown template, size or dpi, bad copies."""

    code = "invalid_label_parameter"
    status = 400


class LabelNotPossible(Invalid):
    """The records are there, but the template cannot make a label from them."""

    code = "label_not_possible"


# --- the data ----------------------------------------------------------------------------------


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def _gtin(item: Item) -> str | None:
    """The item's GTIN for its labels: the GTIN of the trade unit itself, the first by number when it has
    several (stored as GTIN-14). A case's or pallet's GTIN (pack_qty) would say the label is of 12 or 480
    units, so an item with pack GTINs only has none for its labels."""
    return next((g.gtin for g in item.gtins if g.pack_qty is None), None)


def _qty(value, item: Item) -> str:
    """A quantity as the label prints it: a decimal string at the item's precision ("12.350", "40"), which
    is also what a print job can store (JSON has no exact decimal)."""
    return quantities.text(value, item.qty_decimals)


def _written() -> dict:
    """How the label writes its quantity for people: with the site's decimal comma where it has one."""
    return {"decimal_comma": True} if quantities.site_comma() else {}


def _lot_data(session: Session, lot_number: str) -> dict:
    lot = lot_by_number(session, lot_number)
    item = lot.item
    return {
        "item_name": item.name,
        "sku": item.sku,
        "gtin": _gtin(item),
        "lot_number": lot.lot_number,
        "expiry": _iso(lot.expiry),
        "produced_on": _iso(lot.produced_on),
        "quantity": _qty(lot.on_hand, item),
        "unit": item.unit,
        "variable_measure": bool(item.variable_measure),  # the quantity is a net weight: GS1 (310n)/(320n)
        "supplier_lot": lot.supplier_lot,
        "supplier": lot.supplier.name if lot.supplier else None,
        **_written(),
    }


def _pallet_data(session: Session, lot_number: str, sscc: str | None, count: Qty | None) -> dict:
    lot = lot_by_number(session, lot_number)
    item = lot.item
    unit = None
    if sscc is not None:
        sscc = normalise_sscc(sscc)
        unit = session.scalar(select(HandlingUnit).where(HandlingUnit.sscc == sscc))
        if unit is not None and unit.lot_id != lot.id:
            other = session.get(Lot, unit.lot_id)
            raise Conflict(f"SSCC {sscc} is a pallet of lot {other.lot_number}, not of lot {lot.lot_number}.",
                           code="sscc_other_lot", sscc=sscc)
    if count is not None:
        _check_count(count, item)
    elif unit is not None:  # a received pallet: what is on it now, else what came in on it
        count = session.scalar(select(func.coalesce(func.sum(Stock.qty), 0))
                               .where(Stock.handling_unit_id == unit.id)) or unit.qty_received
    else:
        count = lot.on_hand
    if count == 0:
        raise LabelNotPossible(f"Lot {lot.lot_number} has nothing on hand to put on a pallet label; "
                               f"give the count of {item.unit} on the pallet.", code="nothing_on_hand")
    # The pallet label carries its content as GS1 (02) GTIN, (37) count, (17) expiry and (10) lot; a
    # label with the SSCC alone would name nothing Station can find, since printing creates no pallet.
    if _gtin(item) is None:
        raise LabelNotPossible(f"Item {item.sku} has no GTIN, and a pallet label names its content by GTIN; "
                               f"add the item's GTIN, or print lot labels.", code="pallet_needs_gtin")
    if len(lot.lot_number) > 20 or not set(lot.lot_number) <= gs1.CSET82:
        raise LabelNotPossible(f"Lot number {lot.lot_number!r} cannot be a GS1 batch/lot (10) on a pallet "
                               f"label: at most 20 letters, digits or !\"%&'()*+,-./:;<=>?_; print lot "
                               f"labels instead.", code="pallet_lot_not_gs1")
    if sscc is None:
        sscc = next_sscc(session)  # only now: a refused label uses no serial up
    return {
        "sscc": sscc,
        "gtin": _gtin(item),
        "count": _qty(count, item),
        "unit": item.unit,
        "lot_number": lot.lot_number,
        "item_name": item.name,
        "sku": item.sku,
        "expiry": _iso(lot.expiry),  # (17); Station keeps one date per lot, so no best-before (15)
        "produced_on": _iso(lot.produced_on),
        **_written(),
    }


def _check_count(count, item: Item) -> None:
    """A pallet's count given by hand: above 0 and within the item's decimals (a whole number for most)."""
    ok = isinstance(count, (int, Decimal)) and not isinstance(count, bool) and (
        isinstance(count, int) or count.is_finite()) and count > 0
    if ok:
        try:
            quantities.for_item(count, item.qty_decimals, item.unit)
        except quantities.QuantityError:
            ok = False
    if not ok:
        kind = ("a whole number above 0" if not item.qty_decimals else
                f"a number above 0 with at most {item.qty_decimals} decimals of {item.unit}")
        raise LabelParameterError(f"A pallet's count is {kind}, not {count!r}.", code="invalid_pallet_count")


def _location_data(session: Session, code: str) -> dict:
    location = location_by_code(session, code)
    # A location created without a barcode of its own stores its code; its label then carries
    # Station's LOC:<code>, which no lot number can be mistaken for. Any other stored barcode is
    # what the location already scans as, so the label carries exactly that.
    barcode = location.barcode if location.barcode != location.code else None
    return {"code": location.code, "name": location.name, "kind": location.kind.value, "barcode": barcode}


def operator_by_badge(session: Session, badge: str) -> Operator:
    return one(session, select(Operator).where(Operator.badge == badge), NotFound,
               f"No operator with badge {badge!r}.", "unknown_operator")


def _badge_data(session: Session, badge: str) -> dict:
    operator = operator_by_badge(session, badge)
    if not operator.active:
        raise LabelNotPossible(f"Operator {operator.name} ({operator.badge}) is deactivated; "
                               f"their badge would not sign in.", code="operator_inactive")
    # Only what the badge shows: never the PIN hash.
    return {"badge": operator.badge, "name": operator.name,
            "role": operator.role.value.replace("_", " ").capitalize()}


def _commands_data() -> dict:
    return {"commands": [{"code": command_code(c), "label": COMMAND_WORDS.get(c, c.value.capitalize())}
                         for c in Command]}


def label_data(session: Session, template: str, key: str | None = None, *, sscc: str | None = None,
               count: Qty | None = None) -> dict:
    """The plain dict `template` needs, read from the database.

    `key` is a lot number ("lot", "pallet"), a location code ("location") or an operator badge
    ("badge"); "commands" needs none. A pallet label gets a newly drawn SSCC (in this session's
    transaction) unless `sscc` is given, and the lot's quantity on hand as its count (what is on
    that pallet when `sscc` is a received pallet) unless `count` is given.
    """
    if not isinstance(template, str) or template not in DATA:
        raise LabelParameterError(f"There is no label template {template!r}; use one of "
                                  f"{', '.join(DATA)}.", code="unknown_template")
    if template == "commands":
        return _commands_data()
    if not isinstance(key, str) or not key.strip():
        raise LabelParameterError(f"A {template} label needs a {DATA[template]}.", code="label_key_required")
    if template == "lot":
        return _lot_data(session, key)
    if template == "pallet":
        return _pallet_data(session, key, sscc, count)
    if template == "location":
        return _location_data(session, key)
    return _badge_data(session, key)


def pallet_of_lot(session: Session, lot: Lot, sscc: str) -> bool:
    """True when `sscc` is a pallet of `lot`: received with it, or drawn for one of its labels."""
    return bool(session.scalar(select(HandlingUnit.id).where(
        HandlingUnit.sscc == sscc, HandlingUnit.lot_id == lot.id)) or session.scalar(
        select(PrintJob.id).where(PrintJob.sscc == sscc, PrintJob.lot_id == lot.id).limit(1)))


# --- size and density ------------------------------------------------------------------------


def label_format(session: Session, station: str | None = None) -> tuple[str, int]:
    """(size, dpi) to render at when none is asked for: the station's printer's, else the first
    active printer's, else 4x6 at 203 dpi."""
    printer = None
    if station:
        row = session.scalar(select(StationDevice).where(StationDevice.name == station))
        if row is None:
            raise LabelParameterError(f"No station {station!r}.", code="unknown_station")
        printer = session.get(Printer, row.printer_id) if row.printer_id else None
    if printer is None:
        printer = session.scalar(select(Printer).where(Printer.active.is_(True)).order_by(Printer.id).limit(1))
    if printer is None:
        return DEFAULT_SIZE, DEFAULT_DPI
    if printer.label_size not in LABEL_SIZES or printer.dpi not in DPIS:
        raise LabelNotPossible(
            f"Printer {printer.name} is set to {printer.label_size} labels at {printer.dpi} dpi, which "
            f"Station has no layouts for; set it to one of {', '.join(LABEL_SIZES)} at "
            f"{', '.join(map(str, DPIS))} dpi.", code="printer_format_unsupported")
    return printer.label_size, printer.dpi


# --- rendering -------------------------------------------------------------------------------


def _template(template: Any):
    if not isinstance(template, str) or template not in TEMPLATES:
        raise LabelParameterError(f"There is no label template {template!r}; use one of "
                                  f"{', '.join(sorted(TEMPLATES))}.", code="unknown_template")
    return TEMPLATES[template]


def _layout(template: str, data: dict, size: str, dpi: int) -> Label:
    make = _template(template)
    if not isinstance(size, str) or size not in LABEL_SIZES:
        raise LabelParameterError(f"There is no label size {size!r}; use one of {', '.join(LABEL_SIZES)}.",
                                  code="unknown_label_size")
    if not isinstance(dpi, int) or isinstance(dpi, bool) or dpi not in DPIS:
        raise LabelParameterError(f"Labels print at {', '.join(map(str, DPIS))} dpi, not {dpi!r}.",
                                  code="unsupported_dpi")
    if not isinstance(data, dict):
        raise LabelNotPossible(f"A {template} label is made from a dict of its data, not {type(data).__name__}.")
    try:
        return make(data, size, dpi)
    except KeyError as exc:
        raise LabelNotPossible(f"A {template} label needs {exc.args[0]!r}, and the data has none.",
                               code="label_data_missing") from None
    except ValueError as exc:
        raise LabelNotPossible(f"Cannot make a {size} {template} label from this data: {exc}") from None


def render_zpl(template: str, data: dict, size: str, dpi: int, copies: int = 1) -> bytes:
    """The label as ZPL II, printed `copies` times (1 to MAX_COPIES)."""
    if not isinstance(copies, int) or isinstance(copies, bool) or not 1 <= copies <= MAX_COPIES:
        raise LabelParameterError(f"Copies is a whole number from 1 to {MAX_COPIES}, not {copies!r}.",
                                  code="invalid_copies")
    label = _layout(template, data, size, dpi)
    try:
        return zpl.render(label, copies)
    except ValueError as exc:
        raise LabelNotPossible(f"Cannot print this {template} label: {exc}") from None


def render_png(template: str, data: dict, size: str, dpi: int) -> bytes:
    """The label's preview as a PNG, one pixel per printer dot."""
    label = _layout(template, data, size, dpi)
    try:
        image = png.render_png(label)
    except ValueError as exc:
        raise LabelNotPossible(f"Cannot preview this {template} label: {exc}") from None
    except NotImplementedError as exc:
        raise LabelNotPossible(f"This {template} label has no preview yet: {exc}",
                               code="preview_unavailable") from None
    out = io.BytesIO()
    image.save(out, format="PNG", dpi=(dpi, dpi))
    return out.getvalue()
