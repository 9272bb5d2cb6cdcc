"""resolve(code, context): what a scanned code is, what it matches, what the workflow should do.

The shape of ScanContext and Resolution (scanning/shape.py) is fixed: callers (pages, API, the scan
log, serial scanners) depend on it.

How a scan is classified, in this order (the first that fits decides):

 1. Cleaning: bytes are decoded as UTF-8, surrounding whitespace (CR, LF, Tab) dropped; empty,
    too long (> 512 characters), undecodable, or holding a control character other than GS →
    ``rejected``.
 2. An AIM symbology identifier (``]C1``, ``]d2``, ``]Q3``, ``]e0``, ``]C0``, ``]d1``, ``]Q1``,
    ``]E0``, ...) is taken off and reported in ``symbology``.
 3. Station's own codes, ``LOT:`` / ``LOC:`` / ``OPR:`` / ``CMD:`` (codes.py) → ``lot``,
    ``location``, ``operator``, ``command``.
 4. ``http(s)://…`` → a GS1 Digital Link URI on any domain → ``gs1``.
 5. ``(01)…(10)…`` → the human-readable GS1 form, as typed → ``gs1``.
 6. Digits only, unless the scanner said it is a GS1 element string (``]C1``, ``]d2``, ...):
    8, 12, 13 or 14 digits (or anything after ``]E0``/``]E4``/``]I1``) → a GTIN, check digit
    verified → ``gtin``; 18 digits → an SSCC → ``sscc``.
 7. Without a GS1 symbology and without GS: a lot number or a location code or barcode typed
    or scanned bare → ``lot`` / ``location``. (Also the fallback of step 6 when a number is
    not a valid or known GTIN, or an SSCC of no pallet here: some codes are all digits.)
 8. A GS1 element string, with FNC1 as GS or a configured stand-in (``|``), variable-length
    fields terminated or last → ``gs1``. Without any separator, a lot or serial that ends in
    what reads as a date or GTIN field gets a warning (``fields["warnings"]``, in the message):
    the scanner is probably dropping FNC1.
 9. Anything else → ``unknown``.

A code in a known form that is wrong (bad check digit, impossible date, unknown GTIN, lot or
location) is ``rejected`` with the reason in words and the stable reason in ``error``. A GS1
code with neither GTIN nor SSCC (an order number, a GLN) is ``gs1`` but not ok
(``no_identifier``).

Workflows (``context.workflow``): ``lookup`` (also None) shows what was scanned;
``receiving`` books goods in and refuses a pallet received before (``sscc_already_received``,
with who and when); any other (putaway, picking, line, ...) takes the scanned record as the
step's choice (``select``) and refuses a pallet or lot never received.

Records come from lookup.py (read-only, statements built once). GS1 codes resolve as: SSCC (00)
→ the pallet with its lot and location, or a new pallet; GTIN (01, else 02) → the item; with a
lot (10) → our lot of that number for that item, else the item's lots with that supplier lot
(``records["lots"]``), else none (a receipt would create it); (412) → the supplier by GLN.
A pack's GTIN (a case of 12) also gives ``records["pack"]``. What the label counts, in the item's
unit (measures.py: a pack, AI 37 × the content's pack, AI 30, a catch-weight item's net weight
310n/320n and its cases), is ``fields["qty"]`` (a decimal string), ``fields["pieces"]`` and
``fields["measure"]`` (words); receiving and picking, which take it, refuse a label whose quantity
cannot be taken (a net weight on a fixed-measure item, a weight with more decimals than the item's).

``action`` is one of ACTIONS. ``ok`` is what the banner shows: green (the workflow can go on)
or red (``message`` says why not, ``error`` names the reason for programs).
"""
from __future__ import annotations

import logging
from dataclasses import replace

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from .. import quantities
from ..rawsql import RawReader
from . import gs1, lookup, measures
from .clean import GS, clean, display
from .codes import COMMAND_PREFIX, LOCATION_PREFIX, LOT_PREFIX, Command, split_station_code
from .gs1 import Gs1Reading, Unreadable
from .shape import ACTIONS, Resolution, ScanContext  # noqa: F401 - ACTIONS: importable from here too

log = logging.getLogger(__name__)
LOOKUP, RECEIVING, PICKING = "lookup", "receiving", "picking"
# The workflows that take a label's quantity (measures.py): there a label whose quantity cannot be taken is refused.
TAKES_QTY = (RECEIVING, PICKING)


def resolve(session: Session | RawReader, code: str | bytes, context: ScanContext | None = None) -> Resolution:
    """Classify and resolve one scan; never raises for any input, never changes state.

    `session` is a Session (the scan is read in its transaction) or a RawReader (Database.reader()).

    Database failures (the server gone, a broken connection) are not about the scan and do
    propagate, so that a caller never reports an outage as "not recognised".
    """
    context = context or ScanContext()
    try:
        return _Scan(session, context).resolve(code)
    except SQLAlchemyError:
        raise
    except Exception:  # a parser bug must not take the scanner down: say so, log it
        log.exception("resolving a scan failed: %r", code if isinstance(code, (str, bytes)) else type(code))
        text = code.decode("utf-8", "backslashreplace") if isinstance(code, bytes) else code
        shown = display(text) if isinstance(text, str) else ""
        return Resolution(ok=False, kind="rejected", code=shown, error="internal_error",
                          message="This scan could not be read — scan again; if it happens again, "
                                  "tell a supervisor.")


class _Scan:
    """One scan on its way through the classification order (module docstring)."""

    def __init__(self, session: Session | RawReader, context: ScanContext) -> None:
        self.session = session
        self.workflow = (context.workflow or LOOKUP).strip().lower() or LOOKUP
        self.substitutes = tuple(s for s in context.gs_substitutes if s)
        self.code = ""
        self.symbology: str | None = None
        self._conn = None

    @property
    def conn(self) -> RawReader:
        if self._conn is None:
            source = self.session
            self._conn = source if isinstance(source, RawReader) else RawReader.of_session(source)
        return self._conn

    # --- answers ---------------------------------------------------------------------------------

    def answer(self, ok: bool, kind: str, message: str, *, error: str | None = None,
               fields: dict | None = None, records: dict | None = None, action: str | None = None) -> Resolution:
        return Resolution(ok=ok, kind=kind, message=message, code=self.code, symbology=self.symbology,
                          error=None if ok else (error or "refused"), fields=fields or {},
                          records={k: v for k, v in (records or {}).items() if v is not None},
                          action=action if ok else None)

    def rejected(self, error: str, message: str, fields: dict | None = None,
                 records: dict | None = None) -> Resolution:
        return self.answer(False, "rejected", message, error=error, fields=fields, records=records)

    def unknown(self) -> Resolution:
        return self.answer(False, "unknown", "This code is not recognised: it is not a GS1 label, GTIN, "
                                             "pallet SSCC or Station label — scan another barcode on "
                                             "the label, or type the code.", error="not_recognised")

    def show_or_select(self, what: str) -> str:
        return f"show_{what}" if self.workflow == LOOKUP else "select"

    # --- classification --------------------------------------------------------------------------

    def resolve(self, raw: object) -> Resolution:
        cleaned = clean(raw, allowed=(GS, *self.substitutes))
        self.code = cleaned.display
        if cleaned.text is None:
            return self.rejected(cleaned.error, cleaned.message)
        symbology, data = gs1.split_symbology(cleaned.text)
        self.symbology = symbology
        data = data.strip()
        if not data:
            return self.rejected("empty", f"Only the scanner's symbology identifier {symbology} arrived — "
                                          f"scan again.")
        station = split_station_code(data)
        if station is not None:
            return self.station_code(*station)
        try:
            return self.classify(data)
        except Unreadable as exc:
            if exc.error == "not_recognised":
                return self.answer(False, "unknown", exc.message, error=exc.error, fields=exc.fields)
            return self.rejected(exc.error, exc.message, fields=exc.fields)

    def classify(self, data: str) -> Resolution:
        gs1_symbology = gs1.is_gs1_message_symbology(self.symbology)
        if gs1.looks_like_digital_link(data):
            return self.gs1(gs1.read_digital_link(data))
        if data.startswith("("):
            return self.gs1(gs1.read_hri(data))
        digits = data.isascii() and data.isdigit()
        if digits and not gs1_symbology:
            if len(data) in (8, 12, 13, 14) or gs1.is_gtin_symbology(self.symbology):
                return self.plain_gtin(data)
            if len(data) == 18:
                return self.plain_sscc(data)
        may_be_bare = not gs1_symbology and GS not in data
        if may_be_bare:
            bare = self.bare(data)
            if bare is not None:
                return bare
        if gs1_symbology or (data[:2].isascii() and data[:2].isdigit()):
            try:
                return self.gs1(gs1.read_element_string(data, self.substitutes))
            except Unreadable as exc:
                separated = GS in data or any(s in data for s in self.substitutes)
                if gs1_symbology or separated or exc.error != "bad_gs1":
                    raise
        return self.unknown()

    # --- Station's own codes ---------------------------------------------------------------------

    def station_code(self, prefix: str, value: str) -> Resolution:
        if prefix == COMMAND_PREFIX:
            return self.command(value)
        if not value:
            return self.rejected("empty", f"The label {prefix} carries no code — it is misprinted; "
                                          f"type the code instead.")
        if prefix == LOT_PREFIX:
            found = lookup.lot_by_number(self.conn, value)
            if found is None:
                return self.rejected("unknown_lot", f"Lot {display(value, 40)} is not known here — check "
                                                    f"the label or type the lot number.",
                                     fields={"lot_number": value})
            return self.lot(*found, fields={"lot_number": value})
        if prefix == LOCATION_PREFIX:
            location = lookup.location(self.conn, barcode=prefix + value, code=value)
            if location is None:
                return self.rejected("unknown_location", f"Location {display(value, 40)} is not known here — "
                                                         f"check the label.", fields={"location": value})
            return self.location(location, fields={"location": value})
        return self.operator(value)

    def command(self, value: str) -> Resolution:
        try:
            command = Command(value.upper())
        except ValueError:
            names = ", ".join(c.value for c in Command)
            return self.rejected("unknown_command", f"{display(value, 20) or 'This'} is not a Station "
                                                    f"command (the commands are {names}).",
                                 fields={"command": value})
        return self.answer(True, "command", f"Command: {command.value.lower()}.",
                           fields={"command": command.value}, action=command.value.lower())

    def operator(self, badge: str) -> Resolution:
        operator = lookup.operator_by_badge(self.conn, badge)
        fields = {"badge": badge}
        if operator is None:
            return self.rejected("unknown_operator", f"Badge {display(badge, 40)} belongs to nobody here — ask "
                                                     f"a supervisor to register it.", fields=fields)
        if not operator["active"]:
            return self.answer(False, "operator", f"{operator['name']}'s badge is no longer active — ask a "
                                                  f"supervisor.", error="operator_inactive", fields=fields,
                               records={"operator": operator})
        return self.answer(True, "operator", f"Signed in: {operator['name']}.", fields=fields,
                           records={"operator": operator}, action="sign_in")

    def lot(self, lot: dict, item: dict, fields: dict) -> Resolution:
        return self.answer(True, "lot", _lot_words(lot, item), fields=fields,
                           records={"lot": lot, "item": item}, action=self.show_or_select("lot"))

    def location(self, location: dict, fields: dict) -> Resolution:
        name = f" — {location['name']}" if location["name"] else ""
        return self.answer(True, "location", f"Location {location['code']}{name}.", fields=fields,
                           records={"location": location}, action=self.show_or_select("location"))

    def bare(self, text: str) -> Resolution | None:
        """A lot number or location code/barcode given without a prefix; None if it is neither."""
        found = lookup.lot_by_number(self.conn, text)
        if found is not None:
            return self.lot(*found, fields={"lot_number": text})
        location = lookup.location(self.conn, barcode=text, code=text)
        if location is not None:
            return self.location(location, fields={"location": text})
        return None

    # --- plain GTIN and SSCC ---------------------------------------------------------------------

    def plain_gtin(self, digits: str) -> Resolution:
        may_be_bare = not gs1.is_gtin_symbology(self.symbology)
        try:
            gtin14, form = gs1.read_gtin(digits, upc_e=self.symbology == "]E0" and len(digits) <= 8)
        except Unreadable as exc:
            if may_be_bare and (bare := self.bare(digits)) is not None:
                return bare
            if len(digits) == 8 and not self.symbology:  # an EAN-8 that is not, maybe a UPC-E
                try:
                    gtin14, form = gs1.read_gtin(digits, upc_e=True)
                except Unreadable:
                    raise exc from None
            else:
                raise
        fields = {"gtin": gtin14, "form": form}
        found = lookup.item_and_lot(self.conn, gtin14, None)
        if found is None:
            if may_be_bare and (bare := self.bare(digits)) is not None:
                return bare
            return self.rejected("unknown_gtin", _unknown_gtin(digits), fields=fields)
        item, _, pack = found
        refused = self.take_quantity(fields, {"item": item, "pack": pack})
        if refused is not None:
            return refused
        return self.answer(True, "gtin", f"{_goods_words(fields, item)}.", fields=fields,
                           records={"item": item, "pack": pack}, action=self.item_action())

    def plain_sscc(self, digits: str) -> Resolution:
        try:
            sscc = gs1.read_sscc(digits)
        except Unreadable:
            bare = self.bare(digits)
            if bare is not None:
                return bare
            raise
        found = lookup.unit_by_sscc(self.conn, sscc)
        if found is None and (bare := self.bare(digits)) is not None:
            return bare  # an 18-digit location barcode or lot number that happens to check out
        return self.pallet("sscc", {"sscc": sscc, "form": "SSCC"}, sscc, found)

    def item_action(self) -> str:
        return "receive" if self.workflow == RECEIVING else self.show_or_select("item")

    # --- pallets and GS1 labels ------------------------------------------------------------------

    def pallet(self, kind: str, fields: dict, sscc: str, found: dict | None,
               extra: dict | None = None) -> Resolution:
        """An SSCC, alone or on a GS1 label: `found` is its pallet (None: not received), `extra`
        what the rest of the label resolved to."""
        if found is None:
            return self.new_pallet(kind, fields, sscc, extra or {})
        when = found.pop("received_local")
        records = {**found, **({"supplier": extra["supplier"]} if extra and extra.get("supplier") else {})}
        unit, lot, item = found["unit"], found["lot"], found["item"]
        if self.workflow == RECEIVING:
            who = unit["received_by"] or "an unknown operator"
            stamp = when.strftime("%Y-%m-%d %H:%M") if when else "an unknown date"
            return self.answer(False, kind, f"Pallet {sscc} was already received on {stamp} by {who} (lot "
                                            f"{lot['lot_number']}) — do not receive it again.",
                               error="sscc_already_received", fields=fields, records=records)
        goods = f"{item['sku']} {item['name']}, lot {lot['lot_number']}"
        if unit["qty"]:
            where = f" at {unit['location']}" if unit["location"] else ""
            words = f"Pallet {sscc}{where}: {quantities.said(unit['qty'], item['decimals'], item['unit'])} of {goods}."
        else:
            words = f"Pallet {sscc} is empty now (it held {goods})."
        return self.answer(True, kind, words, fields=fields, records=records,
                           action=self.show_or_select("pallet"))

    def new_pallet(self, kind: str, fields: dict, sscc: str, extra: dict) -> Resolution:
        """An SSCC nobody has received: welcome at the dock, not yet anywhere else."""
        records = {k: v for k, v in extra.items() if k in ("item", "supplier", "lot", "lots", "pack")}
        what = f": {_goods_words(fields, extra.get('item'))}" if extra.get("item") else ""
        if self.workflow == RECEIVING:
            return self.answer(True, kind, f"New pallet {sscc}{what} — receive it.", fields=fields,
                               records=records, action="receive")
        if self.workflow == LOOKUP:
            return self.answer(True, kind, f"Pallet {sscc} has not been received here{what}.",
                               fields=fields, records=records)
        return self.answer(False, kind, f"Pallet {sscc} has not been received — it cannot be used until "
                                        f"it is booked in at the dock.", error="pallet_not_received",
                           fields=fields, records=records)

    def gs1(self, reading: Gs1Reading) -> Resolution:
        result = self.gs1_records(reading)
        warnings = result.fields.get("warnings")
        if warnings and result.ok:
            return replace(result, message=f"{result.message} {' '.join(warnings)}")
        return result

    def gs1_records(self, reading: Gs1Reading) -> Resolution:
        fields = {"form": reading.form, **reading.fields}
        records: dict = {}
        if "supplier_gln" in fields:
            records["supplier"] = lookup.supplier_by_gln(self.conn, fields["supplier_gln"])
        if "sscc" in fields:
            unit = lookup.unit_by_sscc(self.conn, fields["sscc"])
            if unit is not None:  # a received pallet: its records say what is on it
                return self.pallet("gs1", fields, fields["sscc"], unit, records)
        gtin = fields.get("gtin") or fields.get("content_gtin")
        lot_text = fields.get("lot")
        if gtin:
            found = lookup.item_and_lot(self.conn, gtin, lot_text)
            if found is None:
                return self.rejected("unknown_gtin", _unknown_gtin(gtin), fields=fields)
            records["item"], records["lot"], records["pack"] = found
            if records["lot"] is None and lot_text:
                records["lots"] = self.supplier_lots(records["item"]["id"], lot_text, fields.get("expiry"))
                if len(records["lots"]) == 1:
                    records["lot"] = records["lots"][0]
        if gtin and (refused := self.take_quantity(fields, records)) is not None:
            return refused
        if "sscc" in fields:
            return self.new_pallet("gs1", fields, fields["sscc"], records)
        if not gtin:
            present = ", ".join(f"({ai})" for ai in fields["ai"])
            return self.answer(False, "gs1", f"This GS1 barcode has no GTIN or SSCC (only {present}) — scan the "
                                             f"label's product or pallet barcode.", error="no_identifier",
                               fields=fields, records=records)
        return self.goods(fields, records, lot_text)

    def take_quantity(self, fields: dict, records: dict) -> Resolution | None:
        """The label's quantity for its item (fields qty, pieces, measure: measures.py); where the workflow
        takes it, a label whose quantity cannot be taken is refused in words (None: go on)."""
        try:
            fields.update(measures.label_quantity(fields, records["item"], records.get("pack")))
        except measures.NotAQuantity as exc:
            if self.workflow in TAKES_QTY:
                return self.rejected(exc.error, exc.message, fields=fields, records=records)
        return None

    def supplier_lots(self, item_id: int, lot_text: str, expiry: str | None) -> list[dict]:
        lots = lookup.supplier_lots(self.conn, item_id, lot_text)
        same_date = [lot for lot in lots if expiry and lot["expiry"] == expiry]
        return same_date or lots

    def goods(self, fields: dict, records: dict, lot_text: str | None) -> Resolution:
        """A GS1 label naming an item (and maybe a lot), without a pallet SSCC."""
        item, lot, lots = records["item"], records.get("lot"), records.get("lots") or []
        goods = _goods_words(fields, item)
        if self.workflow == RECEIVING:
            return self.answer(True, "gs1", f"Receive {goods}.", fields=fields, records=records,
                               action="receive")
        if lot is not None:
            return self.answer(True, "gs1", _lot_words(lot, item), fields=fields, records=records,
                               action=self.show_or_select("lot"))
        if lots:
            return self.answer(True, "gs1", f"{goods}: {len(lots)} lots here carry this supplier lot.",
                               fields=fields, records=records, action=self.show_or_select("item"))
        if lot_text and self.workflow != LOOKUP:
            return self.answer(False, "gs1", f"Lot {display(lot_text, 40)} of {item['sku']} has not been received "
                                             f"here — it cannot be used until it is booked in.",
                               error="lot_not_received", fields=fields, records=records)
        note = f" Lot {display(lot_text, 40)} has not been received here." if lot_text else ""
        return self.answer(True, "gs1", f"{item['sku']} {item['name']}.{note}", fields=fields,
                           records=records, action=self.show_or_select("item"))


def _unknown_gtin(gtin: str) -> str:
    return (f"GTIN {gtin} is not an item here — check the label, or add the GTIN to the item in "
            f"the catalogue.")


def _goods_words(fields: dict, item: dict | None) -> str:
    if item is None:
        return "unknown goods"
    words = f"{item['sku']} {item['name']}"
    count = fields.get("units") or fields.get("count")
    if count and not item.get("variable_measure"):
        words = f"{count} × {words}"
    if fields.get("measure"):
        words += f" ({fields['measure']})"
    elif item.get("variable_measure") and fields.get("pieces"):
        words += f" ({fields['pieces']} case{'s' if fields['pieces'] != 1 else ''}, no weight on the label)"
    if fields.get("lot"):
        words += f", lot {display(fields['lot'], 40)}"
    if fields.get("expiry"):
        words += f", expiry {fields['expiry']}"
    return words


def _lot_words(lot: dict, item: dict) -> str:
    status = "" if lot["status"] == "available" else f" — {lot['status'].upper()}"
    expiry = f", expiry {lot['expiry']}" if lot["expiry"] else ""
    on_hand = quantities.said(lot["on_hand"], item["decimals"], item["unit"])
    return f"Lot {lot['lot_number']}: {item['sku']} {item['name']}, {on_hand} on hand{expiry}{status}."
