"""Scan resolution on a real database (SQLite and PostgreSQL): a table of real-world scan strings
in every format the dock and the line see, the refusals, and properties that hold for any input."""
from __future__ import annotations

import datetime as dt
import json
import hashlib
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event, select

from station.demo import check_digit
from station.models import Base, LocationKind, Operator, Role, SequenceReset
from station.scanning import ScanContext, resolve
from station.scanning.resolution import ACTIONS
from station.services import catalog, numbering, receiving
from station.services.actor import Actor

from factories import gtin13

GS = "\x1d"
BOLT13 = gtin13("400000000001")          # 4000000000013, EAN-13 of item BOLT (basic_site)
BOLT14 = "0" + BOLT13
BOX14 = "1400000000001" + check_digit("1400000000001")   # GTIN-14 of a case of bolts
GUM_UPC_A = "036000291452"
MINT_EAN8 = "96385074"
SODA_UPC_A = "012345000065"              # what the UPC-E 01234565 stands for
SSCC = "376130321109103420"              # a pallet received in the fixture
NEW_SSCC = "37613032110910343" + check_digit("37613032110910343")  # a pallet nobody received
DOOR_BARCODE = "00000000000000009" + check_digit("00000000000000009")  # an 18-digit location label
NORD_GLN = gtin13("500000000001")        # (basic_site's ACME GLN has a wrong check digit)
UNKNOWN_EAN13 = "4006381333931"
SUPPLIER_LOT = "ACM-4711"


@pytest.fixture
def site(site):
    """The small site plus items for every GTIN form, a pallet, supplier lots, operators, labels.

    Its facts are what the scan table refers to as {name}: lot numbers the services chose, etc.
    """
    with site.write() as s:
        bolt = catalog.item_by_sku(s, "BOLT")
        milk = catalog.item_by_sku(s, "MILK")
        catalog.create_item(s, sku="BOLT-BOX", name="Bolt M8, box of 100", gtins=[BOX14])
        catalog.create_item(s, sku="GUM", name="Chewing gum", gtins=[GUM_UPC_A])
        catalog.create_item(s, sku="MINT", name="Mints", gtins=[MINT_EAN8])
        catalog.create_item(s, sku="SODA", name="Soda can", gtins=[SODA_UPC_A])
        serial = numbering.create_scheme(s, "serial", "{seq:08}", SequenceReset.NEVER)
        nuts = catalog.create_item(s, sku="NUT", name="Nut M8", lot_scheme=serial)
        catalog.create_location(s, code="B-07", kind=LocationKind.STORAGE, barcode="LOC:B-07")
        catalog.create_location(s, code="COLD", kind=LocationKind.STORAGE, name="Cold room",
                                barcode="CR-0001")
        catalog.create_location(s, code="DOOR-9", kind=LocationKind.DOCK, barcode=DOOR_BARCODE)
        anna = Operator(badge="OP-1", name="Anna Lindqvist", role=Role.RECEIVER)
        gone = Operator(badge="OP-2", name="Former Worker", role=Role.PICKER, active=False)
        s.add_all([anna, gone])
        s.flush()
        acme = catalog.supplier_by_code(s, "ACME")
        catalog.create_supplier(s, code="NORD", name="Nordhavn", gln=NORD_GLN)
        dock = catalog.location_by_code(s, "DOCK")
        bolt_lot = receiving.receive(s, item=bolt, qty=40, location=dock, supplier=acme,
                                     supplier_lot=SUPPLIER_LOT, expiry=dt.date(2027, 3, 31),
                                     sscc=SSCC, by=Actor(operator_id=anna.id))
        milk_a = receiving.receive(s, item=milk, qty=10, location=dock, supplier=acme,
                                   supplier_lot="DUP-1", expiry=dt.date(2026, 12, 31))
        milk_b = receiving.receive(s, item=milk, qty=10, location=dock, supplier=acme,
                                   supplier_lot="DUP-1", expiry=dt.date(2027, 1, 31))
        cake_lot = receiving.receive(s, item=catalog.item_by_sku(s, "CAKE"), qty=5, location=dock)
        nut_lot = receiving.receive(s, item=nuts, qty=500, location=dock)
        site.update({"bolt_lot": bolt_lot.lot_number, "milk_a": milk_a.lot_number,
                     "milk_b": milk_b.lot_number, "cake_lot": cake_lot.lot_number,
                     "nut_lot": nut_lot.lot_number, "bolt13": BOLT13, "bolt14": BOLT14, "box14": BOX14,
                     "sscc": SSCC, "new_sscc": NEW_SSCC, "nord_gln": NORD_GLN})
    return site


ANY = object()


@dataclass
class Scan:
    """One scan and what resolve() must answer. `code` may name site facts as {bolt_lot};
    `records` maps a record to its identifying value (item: SKU, lot: lot number, lots: lot
    numbers, location: code, operator: badge, unit: SSCC, supplier: code)."""

    code: str | bytes
    kind: str
    ok: bool = True
    action: str | None = None
    error: str | None = None
    fields: dict = field(default_factory=dict)
    records: dict = field(default_factory=dict)
    workflow: str | None = None
    symbology: str | None | object = ANY  # ANY: not checked
    words: tuple[str, ...] = ()
    shown: str | None = None  # the display-safe code, when it matters


BOLT_FIELDS = {"gtin": BOLT14, "lot": SUPPLIER_LOT, "expiry": "2027-03-31"}
BOLT_LOT = {"item": "BOLT", "lot": "{bolt_lot}"}


def case(id: str, scan: Scan):
    return pytest.param(scan, id=id)


SCANS = [
    # --- GS1 element strings: each separator variant and each AIM prefix ---------------------
    case("GS1-128 ]C1, GS after the lot", Scan(
        "]C101{bolt14}10ACM-4711" + GS + "17270331", "gs1", action="show_lot", symbology="]C1",
        fields={**BOLT_FIELDS, "form": "element_string"}, records=BOLT_LOT,
        shown="]C101{bolt14}10ACM-4711␝17270331")),
    case("GS1-128 ]C1, '|' for GS from a keyboard wedge", Scan(
        "]C101{bolt14}10ACM-4711|17270331", "gs1", action="show_lot", symbology="]C1",
        fields=BOLT_FIELDS, records=BOLT_LOT)),
    case("GS1-128 ]C1, variable-length lot last, no separator", Scan(
        "]C101{bolt14}1727033110ACM-4711", "gs1", action="show_lot", fields=BOLT_FIELDS,
        records=BOLT_LOT)),
    case("GS1-128 ]C1, fixed-length fields only", Scan(
        "]C101{bolt14}17270331", "gs1", action="show_item", fields={"gtin": BOLT14, "expiry": "2027-03-31"},
        records={"item": "BOLT"})),
    case("GS1-128 ]C1, FNC1 sent as a leading GS, CR LF terminator", Scan(
        GS + "01{bolt14}10ACM-4711" + GS + "17270331\r\n", "gs1", action="show_lot", fields=BOLT_FIELDS,
        records=BOLT_LOT)),
    case("GS1 DataMatrix ]d2", Scan(
        "]d201{bolt14}10ACM-4711" + GS + "17270331", "gs1", action="show_lot", symbology="]d2",
        fields=BOLT_FIELDS, records=BOLT_LOT)),
    case("GS1 QR ]Q3", Scan(
        "]Q301{bolt14}10ACM-4711" + GS + "17270331", "gs1", action="show_lot", symbology="]Q3",
        fields=BOLT_FIELDS, records=BOLT_LOT)),
    case("GS1 DataBar ]e0", Scan(
        "]e001{bolt14}10ACM-4711", "gs1", action="show_lot", symbology="]e0",
        fields={"gtin": BOLT14, "lot": SUPPLIER_LOT}, records=BOLT_LOT)),
    case("plain Code 128 ]C0 carrying GS1 data", Scan(
        "]C001{bolt14}10ACM-4711|17270331", "gs1", action="show_lot", symbology="]C0",
        fields=BOLT_FIELDS, records=BOLT_LOT)),
    case("plain Data Matrix ]d1 carrying GS1 data", Scan(
        "]d101{bolt14}10ACM-4711" + GS + "17270331", "gs1", action="show_lot", symbology="]d1",
        fields=BOLT_FIELDS, records=BOLT_LOT)),
    case("no AIM prefix, GS", Scan(
        "01{bolt14}10ACM-4711" + GS + "17270331", "gs1", action="show_lot", symbology=None,
        fields=BOLT_FIELDS, records=BOLT_LOT)),
    case("no AIM prefix, no separator, lot last", Scan(
        "01{bolt14}1727033110ACM-4711", "gs1", action="show_lot", fields=BOLT_FIELDS, records=BOLT_LOT)),
    case("AI 10 is our own lot number", Scan(
        "]C101{bolt14}10{bolt_lot}", "gs1", action="show_lot", records=BOLT_LOT)),
    case("supplier lot on two of our lots, told apart by the expiry", Scan(
        "]C101" + "0" + gtin13("400000000002") + "17261231" + "10DUP-1", "gs1", action="show_lot",
        records={"item": "MILK", "lot": "{milk_a}", "lots": ["{milk_a}"]})),
    case("supplier lot on two of our lots, no expiry on the label", Scan(
        "]C101" + "0" + gtin13("400000000002") + "10DUP-1", "gs1", action="show_item",
        records={"item": "MILK", "lots": ["{milk_a}", "{milk_b}"]})),
    case("a lot not received here, in lookup", Scan(
        "]C101{bolt14}10NEVER-SEEN", "gs1", action="show_item", records={"item": "BOLT"},
        words=("NEVER-SEEN", "not been received"))),
    case("GS dropped by a wedge: the lot swallows the expiry, and the worker is warned", Scan(
        "]C101{bolt14}10ACM-471117270331", "gs1", action="receive", workflow="receiving",
        fields={"lot": "ACM-471117270331"}, records={"item": "BOLT"},
        words=("ends in what looks like (17)270331", "dropping the group separator"))),
    case("dates: production, packaging, best before with day 00 = end of month, expiry", Scan(
        "]C101{bolt14}11260115" + GS + "13260116" + GS + "15270200" + GS + "17280200" + GS + "10ACM-4711",
        "gs1", action="show_lot", fields={"produced": "2026-01-15", "packed": "2026-01-16",
                                           "best_before": "2027-02-28", "expiry": "2028-02-29"})),
    case("serial (21), count (30)", Scan(
        "]C101{bolt14}21SN-0042" + GS + "3012", "gs1", action="show_item",
        fields={"serial": "SN-0042", "count": 12}, records={"item": "BOLT"})),
    case("content GTIN (02) and count (37) on a case label", Scan(
        "]C102{bolt14}3712", "gs1", action="show_item", fields={"content_gtin": BOLT14, "units": 12},
        records={"item": "BOLT"})),
    case("supplier pallet label at receiving: SSCC, content, count, lot, gross weight, order, GLNs", Scan(
        "]C100{new_sscc}02{bolt14}3740" + GS + "10NEW-LOT-1" + GS + "3302012500400PO-9917" + GS
        + "410{nord_gln}412{nord_gln}", "gs1", action="receive", workflow="receiving",
        fields={"sscc": NEW_SSCC, "content_gtin": BOLT14, "units": 40, "lot": "NEW-LOT-1", "qty": "40",
                "order": "PO-9917", "ship_to_gln": NORD_GLN, "supplier_gln": NORD_GLN,
                "measures": [{"ai": "3302", "name": "GROSS WEIGHT (kg)", "value": "125.00"}]},
        records={"item": "BOLT", "supplier": "NORD"}, words=("New pallet", NEW_SSCC, "40 × BOLT"))),
    case("GS1 label at receiving, a further pallet of a known supplier lot", Scan(
        "]C101{bolt14}10ACM-4711|17270331", "gs1", action="receive", workflow="receiving",
        records=BOLT_LOT)),
    case("GS1 label in picking selects the lot", Scan(
        "]C101{bolt14}10ACM-4711|17270331", "gs1", action="select", workflow="picking", records=BOLT_LOT)),
    case("GS1 label in picking, lot never received", Scan(
        "]C101{bolt14}10NEVER-SEEN", "gs1", ok=False, error="lot_not_received", workflow="picking",
        records={"item": "BOLT"})),
    # --- SSCC ----------------------------------------------------------------------------------
    case("pallet label ]C1 (00), received", Scan(
        "]C100{sscc}", "gs1", action="show_pallet", fields={"sscc": SSCC},
        records={"unit": SSCC, "lot": "{bolt_lot}", "item": "BOLT", "location": "DOCK"},
        words=("40 ea", "DOCK"))),
    case("pallet label (00) without AIM", Scan(
        "00{sscc}", "gs1", action="show_pallet", records={"unit": SSCC, "lot": "{bolt_lot}"})),
    case("SSCC alone, 18 digits", Scan(
        "{sscc}", "sscc", action="show_pallet", fields={"sscc": SSCC}, records={"unit": SSCC})),
    case("received pallet at receiving is refused with who and when", Scan(
        "]C100{sscc}", "gs1", ok=False, error="sscc_already_received", workflow="receiving",
        records={"unit": SSCC, "lot": "{bolt_lot}"}, words=("already received", "Anna Lindqvist"))),
    case("received pallet in picking", Scan(
        "{sscc}", "sscc", action="select", workflow="picking", records={"unit": SSCC})),
    case("new pallet at receiving", Scan(
        "{new_sscc}", "sscc", action="receive", workflow="receiving", fields={"sscc": NEW_SSCC})),
    case("new pallet in lookup", Scan(
        "]C100{new_sscc}", "gs1", action=None, words=("not been received",))),
    case("new pallet in putaway", Scan(
        "{new_sscc}", "sscc", ok=False, error="pallet_not_received", workflow="putaway")),
    # --- GS1 Digital Link ------------------------------------------------------------------------
    case("Digital Link on id.gs1.org", Scan(
        "https://id.gs1.org/01/{bolt14}/10/ACM-4711?17=270331", "gs1", action="show_lot",
        fields={**BOLT_FIELDS, "form": "digital_link"}, records=BOLT_LOT)),
    case("Digital Link with ]Q1 from a plain QR", Scan(
        "]Q1https://id.gs1.org/01/{bolt14}/10/ACM-4711?17=270331", "gs1", action="show_lot",
        symbology="]Q1", fields={**BOLT_FIELDS, "form": "digital_link"}, records=BOLT_LOT)),
    case("Digital Link with ]Q3, other domain, path prefix, GTIN-13", Scan(
        "]Q3HTTPS://labels.example.com/p/01/{bolt13}/10/ACM-4711", "gs1", action="show_lot",
        symbology="]Q3", fields={"gtin": BOLT14, "lot": SUPPLIER_LOT}, records=BOLT_LOT)),
    case("Digital Link of a pallet", Scan(
        "https://example.com/00/{sscc}", "gs1", action="show_pallet", records={"unit": SSCC})),
    case("Digital Link at receiving", Scan(
        "https://id.gs1.org/01/{bolt14}/10/B-99?17=270331", "gs1", action="receive", workflow="receiving",
        records={"item": "BOLT"})),
    # --- human-readable form, typed ------------------------------------------------------------
    case("HRI typed with parentheses", Scan(
        "(01){bolt14}(10)ACM-4711(17)270331", "gs1", action="show_lot",
        fields={**BOLT_FIELDS, "form": "hri"}, records=BOLT_LOT)),
    case("HRI typed with spaces", Scan(
        "(01) {bolt14} (17) 270331 (10) ACM-4711", "gs1", action="show_lot", fields=BOLT_FIELDS,
        records=BOLT_LOT)),
    # --- plain GTINs ---------------------------------------------------------------------------
    case("EAN-13", Scan("{bolt13}", "gtin", action="show_item", fields={"gtin": BOLT14, "form": "GTIN-13"},
                        records={"item": "BOLT"})),
    case("EAN-13 with ]E0", Scan("]E0{bolt13}", "gtin", action="show_item", symbology="]E0",
                                 records={"item": "BOLT"})),
    case("UPC-A", Scan(GUM_UPC_A, "gtin", action="show_item", fields={"gtin": "00" + GUM_UPC_A, "form": "GTIN-12"},
                       records={"item": "GUM"})),
    case("UPC-E with ]E0", Scan("]E001234565", "gtin", action="show_item",
                                fields={"gtin": "00" + SODA_UPC_A, "form": "UPC-E"}, records={"item": "SODA"})),
    case("EAN-8", Scan(MINT_EAN8, "gtin", action="show_item", fields={"gtin": "000000" + MINT_EAN8},
                       records={"item": "MINT"})),
    case("EAN-8 with ]E4", Scan("]E4" + MINT_EAN8, "gtin", action="show_item", records={"item": "MINT"})),
    case("GTIN-14", Scan("{box14}", "gtin", action="show_item", fields={"gtin": BOX14, "form": "GTIN-14"},
                         records={"item": "BOLT-BOX"})),
    case("ITF-14 with ]I1", Scan("]I1{box14}", "gtin", action="show_item", records={"item": "BOLT-BOX"})),
    case("EAN-13 at receiving", Scan("{bolt13}", "gtin", action="receive", workflow="receiving",
                                     records={"item": "BOLT"})),
    case("EAN-13 in picking", Scan("{bolt13}", "gtin", action="select", workflow="picking",
                                   records={"item": "BOLT"})),
    # --- Station's own codes -------------------------------------------------------------------
    case("lot label", Scan("LOT:{bolt_lot}", "lot", action="show_lot", records=BOLT_LOT)),
    case("lot label in picking", Scan("LOT:{bolt_lot}", "lot", action="select", workflow="picking",
                                      records=BOLT_LOT)),
    case("lot label, Caps Lock on the wedge", Scan("lot:{bolt_lot}", "lot", action="show_lot", records=BOLT_LOT)),
    case("lot label as Code 128 with ]C0", Scan("]C0LOT:{cake_lot}", "lot", action="show_lot",
                                                symbology="]C0", records={"item": "CAKE", "lot": "{cake_lot}"})),
    case("location label by its barcode, QR ]Q1", Scan("]Q1LOC:B-07", "location", action="show_location",
                                                      records={"location": "B-07"})),
    case("location label by code (barcode not LOC:)", Scan("LOC:DOCK", "location", action="show_location",
                                                           records={"location": "DOCK"})),
    case("location label in putaway", Scan("LOC:B-07", "location", action="select", workflow="putaway",
                                           records={"location": "B-07"})),
    case("operator badge", Scan("OPR:OP-1", "operator", action="sign_in", records={"operator": "OP-1"},
                                words=("Anna Lindqvist",))),
    *(case(f"command {c}", Scan(f"CMD:{c}", "command", action=c.lower(), fields={"command": c},
                                workflow="picking"))
      for c in ("CONFIRM", "CANCEL", "UNDO", "NEXT", "REPRINT")),
    case("command in lower case", Scan("CMD:confirm", "command", action="confirm")),
    # --- bare lot numbers and locations --------------------------------------------------------
    case("bare lot number", Scan("{bolt_lot}", "lot", action="show_lot", records=BOLT_LOT)),
    case("bare lot number of digits (not a valid GTIN-8)", Scan(
        "{nut_lot}", "lot", action="show_lot", records={"item": "NUT", "lot": "{nut_lot}"})),
    case("bare location code", Scan("A-01", "location", action="show_location", records={"location": "A-01"})),
    case("bare location barcode", Scan("CR-0001", "location", action="show_location", records={"location": "COLD"})),
    case("18-digit location barcode that also checks out as an SSCC", Scan(
        DOOR_BARCODE, "location", action="show_location", records={"location": "DOOR-9"})),
    case("bytes from a serial scanner", Scan(b"]C100" + SSCC.encode() + b"\r", "gs1", action="show_pallet",
                                            records={"unit": SSCC})),
]

REFUSALS = [
    case("EAN-13 with a wrong check digit", Scan(
        "4000000000014", "rejected", ok=False, error="bad_check_digit",
        words=("GTIN 4000000000014 has a wrong check digit",))),
    case("GS1 (01) with a wrong check digit", Scan(
        "]C10104000000000014", "rejected", ok=False, error="bad_check_digit", words=("04000000000014",))),
    case("SSCC with a wrong check digit", Scan(
        "]C100376130321109103421", "rejected", ok=False, error="bad_check_digit", words=("SSCC",))),
    case("GLN (412) with a wrong check digit", Scan(
        "]C101{bolt14}4124000000000017", "rejected", ok=False, error="bad_check_digit", words=("GLN",))),
    case("GTIN-14 with a wrong check digit", Scan(
        "14000000000011", "rejected", ok=False, error="bad_check_digit")),
    case("impossible expiry 17=261345", Scan(
        "]C101{bolt14}17261345" + GS + "10ABC", "rejected", ok=False, error="invalid_date",
        words=("expiry date (17) 261345", "no month 13"))),
    case("impossible expiry without AIM prefix", Scan(
        "01{bolt14}1726134510ABC", "rejected", ok=False, error="invalid_date")),
    case("30 February", Scan(
        "]C101{bolt14}17270230" + GS + "10ABC", "rejected", ok=False, error="invalid_date",
        words=("no day 30",))),
    case("impossible date in a Digital Link", Scan(
        "https://id.gs1.org/01/{bolt14}/10/ABC?17=261345", "rejected", ok=False, error="invalid_date")),
    case("unknown EAN-13", Scan(
        UNKNOWN_EAN13, "rejected", ok=False, error="unknown_gtin", words=(UNKNOWN_EAN13, "not an item here"))),
    case("unknown GTIN on a GS1 label", Scan(
        "]C1010" + UNKNOWN_EAN13 + "10ABC", "rejected", ok=False, error="unknown_gtin",
        fields={"lot": "ABC"})),
    case("lot too long for (10)", Scan(
        "]C101{bolt14}10" + "A" * 25, "rejected", ok=False, error="bad_gs1")),
    case("a letter inside the GTIN", Scan(
        "]C10104000000000A13", "rejected", ok=False, error="bad_gs1", words=("14 digits",))),
    case("empty lot (10) before a GS", Scan(
        "]C101{bolt14}10" + GS + "17270331", "rejected", ok=False, error="bad_gs1", words=("lot (10)", "empty"))),
    case("empty count (30) at the end", Scan("]C101{bolt14}30", "rejected", ok=False, error="bad_gs1")),
    case("]C1 with no GS1 data", Scan("]C1HELLO", "rejected", ok=False, error="bad_gs1")),
    case("typed HRI with an unknown AI", Scan("(23)ABC", "rejected", ok=False, error="bad_gs1")),
    case("GS1 code without GTIN or SSCC", Scan(
        "]C1400PO-9917", "gs1", ok=False, error="no_identifier", fields={"order": "PO-9917"})),
    case("unknown lot label", Scan("LOT:NOPE", "rejected", ok=False, error="unknown_lot")),
    case("unknown location label", Scan("LOC:NOWHERE", "rejected", ok=False, error="unknown_location")),
    case("unknown badge", Scan("OPR:OP-999", "rejected", ok=False, error="unknown_operator")),
    case("inactive badge", Scan("OPR:OP-2", "operator", ok=False, error="operator_inactive")),
    case("unknown command", Scan("CMD:SELFDESTRUCT", "rejected", ok=False, error="unknown_command",
                                 words=("CONFIRM",))),
    case("empty lot label", Scan("LOT:", "rejected", ok=False, error="empty")),
    case("plain text", Scan("HELLO WORLD", "unknown", ok=False, error="not_recognised")),
    case("a web address in a QR code", Scan("]Q1https://example.com/menu", "unknown", ok=False,
                                           error="not_recognised", words=("web link",))),
    case("empty string", Scan("", "rejected", ok=False, error="empty")),
    case("only whitespace and a terminator", Scan("  \r\n", "rejected", ok=False, error="empty")),
    case("only a symbology identifier", Scan("]C1", "rejected", ok=False, error="empty")),
    case("a lone ]", Scan("]", "unknown", ok=False, error="not_recognised")),
    case("ESC inside", Scan("LOT:AB\x1bC", "rejected", ok=False, error="control_character",
                            words=("<ESC>",), shown="LOT:AB␛C")),
    case("NUL inside", Scan("AB\x00C", "rejected", ok=False, error="control_character", words=("<NUL>",),
                            shown="AB␀C")),
    case("Tab inside", Scan("01{bolt14}\t10ABC", "rejected", ok=False, error="control_character")),
    case("zero-width space inside", Scan("LOT:\u200b{bolt_lot}", "rejected", ok=False,
                                         error="control_character", words=("<U+200B>",))),
    case("non-UTF-8 bytes", Scan(b"LOT:\xff\xfe", "rejected", ok=False, error="not_text",
                                 words=("0xFF",), shown="LOT:\\xff\\xfe")),
    case("10 KB of garbage text", Scan("Z9!" * 3414, "rejected", ok=False, error="too_long", words=("10,242",))),
    case("10 KB of garbage bytes", Scan(bytes(range(256)) * 40, "rejected", ok=False, error="too_long")),
]


def _facts(value, facts: dict):
    if isinstance(value, str):
        return value.format(**facts)
    if isinstance(value, bytes):
        return value
    if isinstance(value, list):
        return [_facts(v, facts) for v in value]
    return value


RECORD_KEYS = {"item": "sku", "lot": "lot_number", "location": "code", "operator": "badge", "unit": "sscc",
               "supplier": "code"}


def check(db, facts: dict, scan: Scan):
    code = _facts(scan.code, facts)
    with db.read() as session:
        result = resolve(session, code, ScanContext(workflow=scan.workflow))
    got = result.to_dict()
    assert (result.kind, result.ok) == (scan.kind, scan.ok), got
    assert result.action == scan.action, got
    assert result.error == scan.error, got
    assert result.message.strip(), got
    if scan.symbology is not ANY:
        assert result.symbology == scan.symbology, got
    for key, expected in scan.fields.items():
        assert result.fields.get(key) == _facts(expected, facts), (key, got)
    for key, expected in scan.records.items():
        record = result.records.get(key)
        assert record is not None, (key, got)
        if key == "lots":
            assert [lot["lot_number"] for lot in record] == _facts(expected, facts), got
        else:
            assert record[RECORD_KEYS[key]] == _facts(expected, facts), (key, got)
    for word in scan.words:
        assert _facts(word, facts) in result.message, got
    if scan.shown is not None:
        assert result.code == _facts(scan.shown, facts), got
    assert result.action is None or result.action in ACTIONS
    assert not any(ord(c) < 32 for c in result.code), got
    return result


@pytest.mark.parametrize("scan", SCANS)
def test_scan_resolves(db, site, scan):
    check(db, site, scan)


@pytest.mark.parametrize("scan", REFUSALS)
def test_scan_is_refused_with_a_reason(db, site, scan):
    result = check(db, site, scan)
    assert not result.ok and result.error and result.action is None


def test_gs_substitutes_come_from_the_context(db, site):
    code = f"]C101{BOLT14}10{SUPPLIER_LOT}~17270331"
    with db.read() as session:
        plain = resolve(session, code)
        tilde = resolve(session, code, ScanContext(gs_substitutes=("~",)))
    assert plain.error == "bad_gs1"
    assert tilde.ok and tilde.fields["lot"] == SUPPLIER_LOT and tilde.fields["expiry"] == "2027-03-31"


def test_result_is_json_ready(db, site):


    with db.read() as session:
        for scan in (f"]C100{SSCC}", f"]C101{BOLT14}10{SUPPLIER_LOT}|17270331", "OPR:OP-1",
                     "]C100" + NEW_SSCC + "02" + BOLT14 + "3102012500"):
            json.dumps(resolve(session, scan, ScanContext(workflow="receiving")).to_dict())


# --- properties: any text, any bytes ----------------------------------------------------------

def _snapshot(db) -> dict:
    """Row count and a checksum of every table: any write resolve() made would show here."""
    state = {}
    with db.read() as session:
        for table in Base.metadata.sorted_tables:
            rows = session.execute(select(table).order_by(*table.primary_key.columns)).all()
            state[table.name] = (len(rows), hashlib.sha256(repr(rows).encode()).hexdigest())
    return state


PREFIXES = ["", "]C1", "]C0", "]d2", "]d1", "]Q3", "]Q1", "]e0", "]E0", "]E4", "]I1", "]Y", "]", "LOT:",
            "LOC:", "OPR:", "CMD:", "(01)", "(", "https://id.gs1.org/01/", "http://x/00/", "01" + BOLT14,
            "00" + SSCC, "0" + BOLT14 + "10", GS]
PIECES = st.one_of(
    st.text(),
    st.text(alphabet="0123456789", max_size=40),
    st.text(alphabet="0123456789()|/?=&-ABCxyz" + GS + "\r\n\t\x00\x1b\u200b\ud800\udfff", max_size=60),
    st.sampled_from([BOLT13, BOLT14, SSCC, NEW_SSCC, "17261345", "17270200", "10ACM-4711", "CONFIRM",
                     "OP-1", "DOCK", "A" * 600]),
)
SCAN_TEXT = st.one_of(st.text(), st.tuples(st.sampled_from(PREFIXES), PIECES, PIECES).map("".join))
SCAN_BYTES = st.one_of(st.binary(max_size=700),
                       SCAN_TEXT.map(lambda t: t.encode("utf-8", "surrogatepass")),
                       st.tuples(SCAN_TEXT, st.binary(max_size=8)).map(
                           lambda tb: tb[0].encode("utf-8", "surrogatepass") + tb[1]))
PROPERTY = settings(max_examples=200, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
WORKFLOWS = st.sampled_from([None, "lookup", "receiving", "picking", "putaway", "line"])


def _assert_sound(session, result) -> None:
    assert result.message and result.message.strip()
    assert result.kind in ("gs1", "gtin", "sscc", "lot", "location", "operator", "command", "unknown",
                           "rejected")
    assert result.ok == (result.error is None)
    assert result.error != "internal_error", result  # the catch-all in resolve() hid an exception
    assert result.action is None or result.action in ACTIONS
    assert not any(ord(c) < 32 or ord(c) == 127 for c in result.code)
    assert len(result.code) < 200
    assert not (session.new or session.dirty or session.deleted)


def test_any_text_resolves_without_error_or_change(db, site):
    before = _snapshot(db)
    with db.read() as session:
        @PROPERTY
        @given(code=SCAN_TEXT, workflow=WORKFLOWS)
        def prop(code, workflow):
            _assert_sound(session, resolve(session, code, ScanContext(workflow=workflow)))

        prop()
        session.commit()  # anything resolve() had added or changed would be written now
    assert _snapshot(db) == before


def test_any_bytes_resolve_without_error_or_change(db, site):
    before = _snapshot(db)
    with db.read() as session:
        @PROPERTY
        @given(code=SCAN_BYTES, workflow=WORKFLOWS)
        def prop(code, workflow):
            _assert_sound(session, resolve(session, code, ScanContext(workflow=workflow)))

        prop()
        session.commit()
    assert _snapshot(db) == before


def _read_only(dbapi_connection, dialect: str, on: bool) -> None:
    """Make the database itself refuse writes on this connection (or allow them again)."""
    cursor = dbapi_connection.cursor()
    if dialect == "sqlite":
        cursor.execute(f"PRAGMA query_only={'ON' if on else 'OFF'}")
    else:
        cursor.execute(f"SET SESSION CHARACTERISTICS AS TRANSACTION {'READ ONLY' if on else 'READ WRITE'}")
        dbapi_connection.commit()
    cursor.close()


@pytest.mark.parametrize("source", ["session", "reader"])
def test_resolve_reads_only(db, site, source):
    """Whatever is scanned, resolving writes nothing: the database is told to refuse any write on the
    connection, so an INSERT, UPDATE or DELETE would fail the scan instead of passing unseen."""
    dialect = db.engine.dialect.name

    def checkout(dbapi_connection, *_):
        _read_only(dbapi_connection, dialect, True)

    def checkin(dbapi_connection, *_):
        _read_only(dbapi_connection, dialect, False)

    db.engine.pool.dispose()  # every connection from here on is checked out through the listeners
    event.listen(db.engine, "checkout", checkout)
    event.listen(db.engine, "checkin", checkin)
    results = []
    try:
        context = db.read() if source == "session" else db.reader()
        with context as reader:
            for scan in [*SCANS, *REFUSALS]:
                code = _facts(scan.values[0].code, site)
                for workflow in (None, "receiving", "picking"):
                    results.append(resolve(reader, code, ScanContext(workflow=workflow)))
    finally:
        event.remove(db.engine, "checkout", checkout)
        event.remove(db.engine, "checkin", checkin)
        db.engine.pool.dispose()
    assert not [r for r in results if r.error == "internal_error"]  # a refused write would end up here
    assert sum(bool(r.records) for r in results) > len(SCANS)  # the scans reached the database
