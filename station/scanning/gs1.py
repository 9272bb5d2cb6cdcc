"""GS1 in scans, read with biip: AIM symbology identifiers, element strings (GS1-128, GS1 DataMatrix,
GS1 QR), GS1 Digital Link URIs, the human-readable "(01)…(10)…" form, and plain GTINs and SSCCs.

biip does the parsing; this module chooses what to try, turns element strings into plain
fields, and turns biip's errors into sentences for the person holding the scanner.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from biip import ParseConfig, ParseError
from biip.gs1_application_identifiers import GS1ApplicationIdentifier
from biip.gs1_digital_link_uris import GS1DigitalLinkURI
from biip.gs1_element_strings import GS1ElementStrings
from biip.gs1_messages import GS1Message
from biip.gtin import Gtin
from biip.sscc import Sscc
from biip.symbology import GS1Symbology, SymbologyIdentifier
from biip.upc import Upc

from .clean import GS, display

CONFIG = ParseConfig(separator_chars=(GS,))

# Symbologies whose data is a GS1 element string (or, for DataMatrix and QR, a Digital Link).
GS1_MESSAGE_SYMBOLOGIES = frozenset(s.value for s in GS1Symbology.with_gs1_messages())
# EAN/UPC and ITF-14: the data is a GTIN and nothing else.
GTIN_SYMBOLOGIES = frozenset(s.value for s in GS1Symbology.with_gtin()) | {"E4"}

DATE_AIS = {"11": "production date", "12": "due date", "13": "packaging date",
            "15": "best-before date", "16": "sell-by date", "17": "expiry date"}
# AI -> the key it gets in Resolution.fields (dates and measures are handled apart).
FIELD_NAMES = {"00": "sscc", "01": "gtin", "02": "content_gtin", "10": "lot", "21": "serial",
               "30": "count", "37": "units", "400": "order", "410": "ship_to_gln",
               "411": "bill_to_gln", "412": "supplier_gln", "413": "ship_for_gln",
               "414": "location_gln", "415": "pay_to_gln"}
DATE_FIELDS = {"11": "produced", "12": "due", "13": "packed", "15": "best_before", "16": "sell_by",
               "17": "expiry"}
WHAT = {"00": "SSCC", "01": "GTIN", "02": "content GTIN", "10": "lot", "21": "serial number",
        "30": "count", "37": "count", "400": "order number"}


class Unreadable(Exception):
    """A code that is GS1 in form but wrong in content; the message is for the worker."""

    def __init__(self, error: str, message: str, **fields) -> None:
        super().__init__(message)
        self.error, self.message, self.fields = error, message, fields


@dataclass(frozen=True)
class Gs1Reading:
    """A GS1 code read: its form, its element strings and the fields a workflow uses."""

    form: str  # "element_string" | "digital_link" | "hri"
    elements: GS1ElementStrings
    fields: dict = field(default_factory=dict)


def split_symbology(text: str) -> tuple[str | None, str]:
    """The AIM symbology identifier (e.g. "]C1") and the data after it; (None, text) if none."""
    if not text.startswith("]"):
        return None, text
    try:
        identifier = SymbologyIdentifier.extract(text)
    except (ParseError, ValueError, IndexError):  # "]" alone, "]Y" without its length digit
        return None, text
    return identifier.value, text[len(identifier.value):]


def is_gs1_message_symbology(symbology: str | None) -> bool:
    return symbology is not None and symbology[1:] in GS1_MESSAGE_SYMBOLOGIES


def is_gtin_symbology(symbology: str | None) -> bool:
    return symbology is not None and symbology[1:] in GTIN_SYMBOLOGIES


# --- plain identifiers -------------------------------------------------------------------------


def read_gtin(digits: str, *, upc_e: bool = False) -> tuple[str, str]:
    """(GTIN-14, format name) of a GTIN-8/12/13/14 (or a UPC-E when `upc_e`); Unreadable if its
    check digit is wrong."""
    try:
        if upc_e:
            upc = Upc.parse(digits)
            return Gtin.parse(upc.as_upc_a()).as_gtin_14(), "UPC-E"
        gtin = Gtin.parse(digits)
    except ParseError as exc:
        raise _check_digit_error("GTIN", digits, str(exc)) from None
    return gtin.as_gtin_14(), f"GTIN-{gtin.format.value}"


def read_sscc(digits: str) -> str:
    """An 18-digit SSCC; Unreadable if its check digit is wrong."""
    try:
        return Sscc.parse(digits).value
    except ParseError as exc:
        raise _check_digit_error("SSCC", digits, str(exc)) from None


def _check_digit_error(what: str, digits: str, detail: str) -> Unreadable:
    if "check digit" in detail:
        return Unreadable("bad_check_digit", f"{what} {digits} has a wrong check digit — scan again "
                                             f"or type it.", **{what.lower(): digits})
    return Unreadable(f"bad_{what.lower()}", f"{digits} is not a valid {what}: {detail}")


# --- GS1 messages ------------------------------------------------------------------------------


def read_element_string(data: str, substitutes: tuple[str, ...] = ()) -> Gs1Reading:
    """A GS1 element string, FNC1 sent as GS or as one of `substitutes`; Unreadable otherwise."""
    for stand_in in substitutes:
        if stand_in:
            data = data.replace(stand_in, GS)
    data = data.strip(GS + " ")  # FNC1 in first position, a trailing separator
    try:
        message = GS1Message.parse(data, config=CONFIG)
    except (ParseError, ValueError) as exc:
        raise _explain(str(exc), data) from None
    if not message.element_strings:
        raise Unreadable("bad_gs1", "The GS1 code holds no data — scan again.")
    reading = _reading("element_string", message.element_strings)
    if GS not in data:
        warning = _swallowed_field(message.element_strings[-1])
        if warning:
            reading.fields["warnings"] = [warning]
    return reading


# AIs whose value validates itself (a real date, a check digit): found inside a lot or serial,
# they are almost surely a field the variable-length one swallowed for want of a separator.
_TELLTALE_AIS = ("01", "02", "11", "13", "15", "17")


def _swallowed_field(last) -> str | None:
    """A warning when the last field, variable-length and unterminated, ends in what reads as
    another field: "10ABC17270331" is lot ABC and expiry 2027-03-31 when a wedge drops FNC1."""
    if not last.ai.separator_required:
        return None
    value = last.value
    for start in range(1, len(value) - 7):
        if value[start:start + 2] not in _TELLTALE_AIS:
            continue
        try:
            tail = GS1Message.parse(value[start:], config=CONFIG).element_strings
        except (ParseError, ValueError):
            continue
        first = tail[0]
        if first.gtin_error or (first.ai.ai in DATE_AIS and first.date is None):
            continue
        name = WHAT.get(last.ai.ai) or last.ai.data_title.lower()
        return (f"The {name} ({last.ai.ai}) '{value}' ends in what looks like {first.as_hri()} — the scanner "
                f"may be dropping the group separator (FNC1); check the {name} against the label.")
    return None


def read_hri(data: str) -> Gs1Reading:
    """The human-readable form "(01)04012345000019(10)ABC", as typed from under a barcode."""
    try:
        message = GS1Message.parse_hri(data, config=CONFIG)
    except (ParseError, ValueError) as exc:
        raise _explain(str(exc), data) from None
    return _reading("hri", message.element_strings)


def looks_like_digital_link(data: str) -> bool:
    return data[:8].lower().startswith(("https://", "http://"))


def read_digital_link(data: str) -> Gs1Reading:
    """A GS1 Digital Link URI on any domain: https://example.com/01/<gtin>/10/<lot>?17=<yymmdd>."""
    try:
        uri = GS1DigitalLinkURI.parse(data, config=CONFIG)
    except (ParseError, ValueError) as exc:
        if "primary identifier" in str(exc):  # a web address, e.g. a QR code on a leaflet
            raise Unreadable("not_recognised", f"This is a web link ({display(data, 60)}), not a GS1 "
                                               f"Digital Link — scan the product or pallet barcode.") from None
        raise _explain(str(exc), data, link=True) from None
    return _reading("digital_link", uri.element_strings)


def _reading(form: str, elements: GS1ElementStrings) -> Gs1Reading:
    fields: dict = {"ai": {}, "hri": "".join(es.as_hri() for es in elements)}
    measures = []
    for es in elements:
        ai = es.ai.ai
        for error, what in ((es.gtin_error, "GTIN"), (es.sscc_error, "SSCC"), (es.gln_error, "GLN")):
            if error:
                raise _check_digit_error(what, es.value, error)
        if not es.value:  # biip lets a variable-length field be empty: "10" then GS
            name = WHAT.get(ai) or es.ai.data_title.lower()
            raise Unreadable("bad_gs1", f"The {name} ({ai}) on this label is empty — scan again, or type it.",
                             ai=ai)
        if ai in fields["ai"]:
            continue  # a repeated AI: the first one counts
        fields["ai"][ai] = es.value
        if es.date is not None and ai in DATE_FIELDS:
            fields[DATE_FIELDS[ai]] = es.date.isoformat()
        elif es.decimal is not None and ai[:2] in ("31", "32", "33", "34", "35", "36"):
            measures.append({"ai": ai, "name": es.ai.data_title, "value": str(es.decimal)})
        elif ai in ("30", "37"):
            fields[FIELD_NAMES[ai]] = int(es.value)
        elif ai in ("01", "02") and es.gtin is not None:
            fields[FIELD_NAMES[ai]] = es.gtin.as_gtin_14()
        elif ai in FIELD_NAMES:
            fields[FIELD_NAMES[ai]] = es.value
    if measures:
        fields["measures"] = measures
    return Gs1Reading(form, elements, fields)


# --- biip's errors in words --------------------------------------------------------------------

_NO_AI = re.compile(r"Failed to get GS1 Application Identifier from '(.*)'\.$", re.S)
_NO_MATCH = re.compile(r"Failed to match '(.*)' with GS1 AI \((\d+)\) pattern", re.S)
_BAD_DATE = re.compile(r"Failed to parse GS1 AI \((\d+)\) date/time from '(.*)'\.$", re.S)
_UNKNOWN_AI = re.compile(r"Unknown GS1 Application Identifier '(\d+)'")
_PART = re.compile(r"([NX])(\.\.)?(\d+)")


def _explain(detail: str, data: str, *, link: bool = False) -> Unreadable:
    """biip's parse error as a sentence a worker can act on."""
    what = "GS1 Digital Link" if link else "GS1 code"
    if m := _BAD_DATE.search(detail):
        return _date_error(m.group(1), m.group(2))
    if m := _NO_MATCH.search(detail):
        ai, value = m.group(2), m.group(1)[len(m.group(2)):].split(GS)[0]
        if ai in DATE_AIS:
            return _date_error(ai, value[:6])
        definition = _definition(ai)
        name = WHAT.get(ai) or (definition.data_title.lower() if definition else "field")
        if not value:
            return Unreadable("bad_gs1", f"The {name} ({ai}) in this {what} is empty — scan again, or type it.",
                              ai=ai)
        shape = _shape(definition.format) if definition else "its format"
        return Unreadable("bad_gs1", f"The {name} ({ai}) '{display(value, 40)}' in this {what} is not "
                                     f"{shape} — scan again, or type it.", ai=ai)
    if m := _NO_AI.search(detail):
        rest = m.group(1)
        if not rest or rest == data:
            return Unreadable("bad_gs1", f"This is not a GS1 code: '{display(rest, 24)}' does not start "
                                         f"with a GS1 application identifier.")
        return Unreadable("bad_gs1", f"This {what} could not be read: '{display(rest, 24)}' is not a GS1 "
                                     f"field — a field may be too long, or a separator (FNC1) is missing.")
    if m := _UNKNOWN_AI.search(detail):
        return Unreadable("bad_gs1", f"({m.group(1)}) is not a GS1 application identifier — check what "
                                     f"was typed.")
    return Unreadable("bad_gs1", f"This {what} could not be read ({display(detail, 160)}).")


def _definition(ai: str) -> GS1ApplicationIdentifier | None:
    try:
        return GS1ApplicationIdentifier.extract(ai)
    except ParseError:
        return None


def _date_error(ai: str, value: str) -> Unreadable:
    name = DATE_AIS.get(ai, "date")
    reason = "it is not YYMMDD"
    if len(value) >= 6 and value[:6].isdigit():
        month, day = int(value[2:4]), int(value[4:6])
        reason = (f"there is no month {month:02d}" if not 1 <= month <= 12
                  else f"month {month:02d} has no day {day:02d}")
    return Unreadable("invalid_date", f"The {name} ({ai}) {display(value, 20)} on this label is not a real "
                                      f"date ({reason}) — check the label and type the date.", ai=ai)


def _shape(fmt: str) -> str:
    """"N2+N14" -> "14 digits"; "N2+X..20" -> "up to 20 characters"."""
    parts = []
    for kind, upto, size in _PART.findall(fmt.split("+", 1)[-1]):
        unit = "digits" if kind == "N" else "characters"
        parts.append(f"{'up to ' if upto else ''}{size} {unit}")
    return " then ".join(parts) or fmt
