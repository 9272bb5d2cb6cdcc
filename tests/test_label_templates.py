"""Label templates: golden ZPL, every size and density, previews that decode to exactly the data, refusals.

Golden files. tests/golden/<template>-<size>-<dpi>[-<variant>].zpl hold the exact ZPL bytes of each template
for fixed data. After an intended layout or renderer change, regenerate them and review the diff:

    STATION_UPDATE_GOLDEN=1 .venv/bin/python -m pytest -q tests/test_label_templates.py
    git diff tests/golden/

With the variable set the golden tests rewrite their files instead of comparing (and still pass).

Round trips. For every template at every size (4x6, 4x3, 4x2, 2x1) and density (203, 300, 600 dpi) the PNG
preview is decoded with zxing-cpp: the set of barcodes found must be exactly the ones the data calls for,
and biip must read GS1 codes (GS1-128 with FNC1 separators, GS1 DataMatrix, the Digital Link QR) back to
the same SSCC, GTIN, count, lot and dates. Every element, quiet zones included, stays on the label, and no
two elements overlap.
"""

import ast
import datetime as dt
import os
import re
from pathlib import Path

import biip
import pytest
import zxingcpp
from hypothesis import given, settings
from hypothesis import strategies as st

from labels import code128, datamatrix, png, zpl
from labels.layout import DPIS, LABEL_SIZES, Box, Code128, DataMatrix, Label, QRCode, Text, TextBlock
from labels.png import element_box, render_png
from labels.templates import TEMPLATES, lot_label
from labels.templates import common as template_common
from labels.templates.commands import capacity

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("STATION_UPDATE_GOLDEN", "").lower() in ("1", "true", "yes")

LOT = {
    "item_name": "Organic Muesli Crunch, honey & almond 750 g",
    "sku": "MU-750",
    "lot_number": "L2611-0042",
    "expiry": dt.date(2027, 5, 31),
    "produced_on": "2026-11-20",
    "quantity": 24,
    "unit": "ea",
    "supplier_lot": "SUP-99812",
    "gtin": "09501101530003",
}
PALLET = {
    "sscc": "395011010000000019",
    "gtin": "09501101530003",
    "count": 24,
    "unit": "cases",
    "lot_number": "L2611-0042",
    "best_before": "2027-05-31",
    "item_name": "Organic Muesli Crunch, honey & almond 750 g",
    "sku": "MU-750",
    "ship_from": "Müller Foods GmbH, Köln",
}
LOCATION = {"code": "A-01-02", "name": "Aisle A, rack 1, level 2", "kind": "storage"}
BADGE = {"badge": "0042", "name": "Ana Müller", "role": "Picker", "pin": "1234"}
BADGE_CJK = {"badge": "0043", "name": "山田 太郎", "role": "ライン長"}
COMMANDS = {"title": "Line 3 commands", "commands": [
    {"code": "CMD:CONFIRM", "label": "Confirm"},
    {"code": "CMD:CANCEL", "label": "Cancel"},
    {"code": "CMD:UNDO", "label": "Undo"},
    {"code": "CMD:NEXT", "label": "Next"},
    {"code": "CMD:REPRINT", "label": "Reprint"},
]}
SIZES = list(LABEL_SIZES)


def commands_for(size: str, dpi: int) -> dict:
    """The command sheet data cut to what one label of this size holds."""
    return {**COMMANDS, "commands": COMMANDS["commands"][: capacity(size, dpi, titled=True)]}


TEST_PRINT = {"printer": "zebra", "at": "2026-12-07 08:10 UTC"}


def data_for(name: str, size: str, dpi: int) -> dict:
    return ({"lot": LOT, "pallet": PALLET, "location": LOCATION, "badge": BADGE, "test": TEST_PRINT}.get(name)
            or commands_for(size, dpi))


def expected_codes(name: str, size: str, dpi: int) -> list[str]:
    """Every barcode the label must carry, as symbology identifier + text (GS = FNC1 separator)."""
    if name == "lot":
        if size == "2x1":  # no room for the GS1-128 at 0.19 mm: the same element strings as a GS1 DataMatrix
            return ["]d201095011015300031727053110L2611-0042"]
        return ["]C101095011015300031727053110L2611-0042",
                "]Q1https://id.gs1.org/01/09501101530003/10/L2611-0042?17=270531"]
    if name == "pallet":
        codes = ["]C100395011010000000019"]
        if size in ("4x6", "4x3"):
            codes += ["]C102095011015300033724", "]C11527053110L2611-0042"]
        if size != "2x1":
            codes.append("]d2" "00395011010000000019" "0209501101530003" "15270531" "3724\x1d" "10L2611-0042")
        return codes
    if name == "location":
        return ["]C0LOC:A-01-02"]
    if name == "badge":
        return ["]C0OPR:0042"]
    if name == "test":
        return ["]C0TEST:zebra"]
    return ["]C0" + c["code"] for c in commands_for(size, dpi)["commands"]]


def decode(img) -> list[str]:
    """Every barcode in an image as symbology identifier + plain text."""
    return [r.symbology_identifier + r.text for r in zxingcpp.read_barcodes(img, text_mode=zxingcpp.TextMode.Plain)]


def gs1_parse(found: str):
    """biip's reading of a decoded barcode (a Digital Link is parsed without its ]Q1 prefix)."""
    return biip.parse(found[3:] if found.startswith("]Q1") else found)


def unhex(field: bytes) -> bytes:
    """Undo ^FH escaping the way a printer does: _XX becomes one byte."""
    return re.sub(rb"_([0-9A-F]{2})", lambda mt: bytes([int(mt[1], 16)]), field)


def quiet_zone(el) -> tuple[int, int]:
    """(horizontal, vertical) quiet zone in dots that a symbol needs around it."""
    if isinstance(el, Code128):
        return 10 * el.module, 0
    if isinstance(el, QRCode):
        return 4 * el.magnification, 4 * el.magnification
    if isinstance(el, DataMatrix):
        return el.module, el.module
    return 0, 0


def assert_inside_and_apart(label: Label) -> None:
    """Every element and its quiet zone lies on the label; no two non-box elements overlap."""
    areas = []
    for el in label.elements:
        x0, y0, x1, y1 = element_box(el)
        qx, qy = quiet_zone(el)
        area = (x0 - qx, y0 - qy, x1 + qx, y1 + qy)
        assert 0 <= area[0] and 0 <= area[1] and area[2] <= label.width and area[3] <= label.height, (el, area)
        if not isinstance(el, Box):
            areas.append((el, area))
    for i, (a, ra) in enumerate(areas):
        for b, rb in areas[i + 1:]:
            assert not (ra[0] < rb[2] and rb[0] < ra[2] and ra[1] < rb[3] and rb[1] < ra[3]), (a, b)


# --- the registry and Station's codes -------------------------------------------------------------


def test_every_template_is_registered_and_lot_label_still_imports():
    assert set(TEMPLATES) == {"lot", "pallet", "location", "badge", "commands", "test"}
    assert TEMPLATES["lot"] is lot_label


def test_station_code_prefixes_match_the_scanning_scheme():
    from labels import codes
    from station.scanning import codes as scanning_codes

    # One scheme: station's scanning codes and the templates' names are labels.codes' own objects.
    for name in ("LOT_PREFIX", "LOCATION_PREFIX", "OPERATOR_PREFIX", "COMMAND_PREFIX", "Command",
                 "split_station_code", "command_code"):
        assert getattr(scanning_codes, name) is getattr(codes, name), name
    for name in ("LOT_PREFIX", "LOCATION_PREFIX", "OPERATOR_PREFIX", "COMMAND_PREFIX"):
        assert getattr(template_common, name) is getattr(codes, name), name
    assert {c["code"] for c in COMMANDS["commands"]} == {codes.command_code(c) for c in codes.Command}


def test_templates_write_no_code_prefix_of_their_own(monkeypatch):
    """The badge and location templates make their default barcodes with labels.codes: a changed prefix
    there changes what they print, and no template or station module spells a prefix as a literal."""
    from labels import codes

    monkeypatch.setattr(codes, "OPERATOR_PREFIX", "XOP:")
    monkeypatch.setattr(codes, "LOCATION_PREFIX", "XLC:")

    def barcodes(label):
        return [el.data for el in label.elements if isinstance(el, Code128)]

    assert barcodes(TEMPLATES["badge"]({"badge": "OP-7", "name": "Anna"}, "2x1")) == ["XOP:OP-7"]
    assert barcodes(TEMPLATES["location"]({"code": "A-01-02"}, "4x2")) == ["XLC:A-01-02"]

    root = Path(__file__).parent.parent
    sources = [*(root / "labels").rglob("*.py"), *(root / "station").rglob("*.py")]
    for path in sources:
        if path == root / "labels" / "codes.py":
            continue
        tree = ast.parse(path.read_text(), str(path))
        docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                      if isinstance(n, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)) and n.body
                      and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
                assert node.value not in codes.PREFIXES, (path, node.lineno, node.value)


def test_labels_imports_neither_station_nor_devices():
    root = Path(__file__).parent.parent / "labels"
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in ("station", "devices", "flask"), f"{path}: imports {name}"


# --- golden ZPL ---------------------------------------------------------------------------------

GOLDEN_CASES = [
    ("lot", LOT, "4x6", 203, ""),
    ("lot", LOT, "2x1", 300, ""),
    ("pallet", PALLET, "4x6", 203, ""),
    ("pallet", PALLET, "4x2", 300, ""),
    ("pallet", {"sscc": "040123450001234564"}, "4x3", 203, "sscc-only"),
    ("location", LOCATION, "4x6", 203, ""),
    ("location", LOCATION, "2x1", 600, ""),
    ("badge", BADGE, "4x2", 203, ""),
    ("badge", BADGE_CJK, "4x2", 203, "cjk"),
    ("commands", COMMANDS, "4x6", 203, ""),
    ("commands", {"commands": COMMANDS["commands"][:1]}, "2x1", 203, ""),
]


@pytest.mark.parametrize(("name", "data", "size", "dpi", "variant"), GOLDEN_CASES,
                         ids=[f"{c[0]}-{c[2]}-{c[3]}{'-' + c[4] if c[4] else ''}" for c in GOLDEN_CASES])
def test_template_zpl_matches_golden_bytes(name, data, size, dpi, variant):
    out = zpl.render(TEMPLATES[name](data, size, dpi))
    path = GOLDEN / f"{name}-{size}-{dpi}{'-' + variant if variant else ''}.zpl"
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        path.write_bytes(out)
    assert path.exists(), f"{path.name} is missing: run with STATION_UPDATE_GOLDEN=1 to create it"
    assert out == path.read_bytes(), f"{path.name} changed: review, then regenerate with STATION_UPDATE_GOLDEN=1"


def test_golden_zpl_is_compact_native_zpl():
    for path in GOLDEN.glob("*.zpl"):
        out = path.read_bytes()
        assert out.startswith(b"^XA^CI28^CF0") and out.endswith(b"^PQ1^XZ"), path.name
        assert out.count(b"^XA") == 1 and out.count(b"^XZ") == 1, path.name
        assert b"^GF" not in out and len(out) < 1200, path.name  # native barcodes and fonts, no bitmaps


# --- every size and density ---------------------------------------------------------------------


@pytest.mark.parametrize("dpi", DPIS)
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_template_preview_decodes_to_exactly_its_data_at_every_size(name, size, dpi):
    label = TEMPLATES[name](data_for(name, size, dpi), size, dpi)
    blank = Label.sized(size, dpi)
    assert (label.width, label.height, label.dpi) == (blank.width, blank.height, dpi)
    out = zpl.render(label)
    assert out.count(b"^XA") == 1 and out.count(b"^XZ") == 1
    assert_inside_and_apart(label)
    img = render_png(label)
    assert img.size == (label.width, label.height)
    found = decode(img)
    assert sorted(found) == sorted(expected_codes(name, size, dpi))
    for code in found:
        if code[:3] in ("]C1", "]d2", "]Q1"):
            check_gs1(name, gs1_parse(code))


def check_gs1(name: str, parsed) -> None:
    """biip reads the GS1 content back to the data the label was made from."""
    message = parsed.gs1_message or parsed.gs1_digital_link_uri.as_gs1_message()
    values = {es.ai.ai: es for es in message.element_strings}
    if name == "lot":
        assert values["01"].gtin.value == "09501101530003"
        assert values["10"].value == "L2611-0042"
        assert values["17"].date == dt.date(2027, 5, 31)
        return
    assert name == "pallet"
    if "00" in values:
        assert values["00"].sscc.value == "395011010000000019"
    if "02" in values:
        assert values["02"].gtin.value == "09501101530003"
        assert values["37"].value == "24"
    if "10" in values:
        assert values["10"].value == "L2611-0042"
        assert values["15"].date == dt.date(2027, 5, 31)
    assert values.keys() in ({"00"}, {"02", "37"}, {"15", "10"}, {"00", "02", "15", "37", "10"})


def test_pallet_datamatrix_is_the_whole_gs1_message_with_one_separator():
    found = [c for c in decode(render_png(TEMPLATES["pallet"](PALLET))) if c.startswith("]d2")]
    assert len(found) == 1 and found[0].count("\x1d") == 1
    parsed = biip.parse(found[0])
    assert parsed.sscc.value == "395011010000000019"
    assert parsed.gs1_message.element_strings.get(ai="02").gtin.value == "09501101530003"
    assert parsed.gs1_message.as_hri() == "(00)395011010000000019(02)09501101530003(15)270531(37)24(10)L2611-0042"


def test_pallet_with_expiry_carries_ai_17_and_sscc_only_pallet_carries_the_sscc_alone():
    label = TEMPLATES["pallet"]({**PALLET, "best_before": None, "expiry": "2027-01-31"}, "4x6")
    found = decode(render_png(label))
    assert "]C11727013110L2611-0042" in found
    only = decode(render_png(TEMPLATES["pallet"]({"sscc": "040123450001234564"}, "4x6")))
    assert sorted(only) == ["]C100040123450001234564", "]d200040123450001234564"]


def test_datamatrix_zpl_asks_for_the_preview_symbol_size():
    label = TEMPLATES["pallet"](PALLET, "4x6", 203)
    dm = next(el for el in label.elements if isinstance(el, DataMatrix))
    n = dm.modules
    drawn = zxingcpp.read_barcodes(render_png(label), formats=zxingcpp.BarcodeFormat.DataMatrix)
    assert [r.extra["Version"] for r in drawn] == [f"{n}x{n}"]  # the decoder's measure of the preview
    assert f"^BXN,{dm.module},200,{n},{n},,_^FD_1".encode() in zpl.render(label)


def test_datamatrix_preview_keeps_the_zpl_size_where_zxing_cpp_would_pick_a_smaller_one():
    # Rows and columns in the ZPL hold the data in ASCII encodation (22x22 here); zint alone packs these
    # capitals in C40 into 20x20. The preview must show what the printer is told to draw.
    el = DataMatrix(10, 10, (("01", "09501101530003"), ("10", "PALLETLOTNUMBER")), 4)
    label = Label.sized("2x1", 203, (el,))
    assert el.modules == 22 and len(datamatrix.matrix(el.data, el.modules)) == 22
    drawn = zxingcpp.read_barcodes(render_png(label), text_mode=zxingcpp.TextMode.Plain)
    assert [(r.symbology_identifier + r.text, r.extra["Version"]) for r in drawn] == [
        ("]d20109501101530003" "10PALLETLOTNUMBER", "22x22")]
    assert b"^BXN,4,200,22,22,,_^FD_1010950110153000310PALLETLOTNUMBER^FS" in zpl.render(label)


def test_location_and_badge_take_a_stored_barcode_as_is():
    label = TEMPLATES["location"]({"code": "B7", "barcode": "RACK-B7"}, "4x3")
    assert decode(render_png(label)) == ["]C0RACK-B7"]
    assert decode(render_png(TEMPLATES["badge"]({"badge": "77", "name": "Jo", "barcode": "OPR:77"}))) == ["]C0OPR:77"]


def test_badge_never_prints_the_pin():
    out = zpl.render(TEMPLATES["badge"](BADGE, "4x6"))
    assert b"1234" not in out


def test_command_sheet_capacity_per_size():
    assert [capacity(size) for size in SIZES] == [9, 5, 3, 1]
    assert capacity("4x6", titled=True) == 8
    label = TEMPLATES["commands"]({"commands": COMMANDS["commands"]}, "4x3")
    assert sorted(decode(render_png(label))) == sorted("]C0" + c["code"] for c in COMMANDS["commands"])


# --- refusals -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "data", "message"), [
    ("pallet", {**PALLET, "sscc": "39501101000000001"}, r"'sscc' must be 18 digits, got '39501101000000001' \(17"),
    ("pallet", {**PALLET, "sscc": "3950110100000000190"}, r"'sscc' must be 18 digits"),
    ("pallet", {**PALLET, "sscc": "39501101000000001X"}, r"'sscc' must be 18 digits"),
    ("pallet", {**PALLET, "sscc": "395011010000000016"}, r"bad check digit: 6, expected 9"),
    ("pallet", {**PALLET, "sscc": None}, r"'sscc' must be 18 digits"),
    ("pallet", {**PALLET, "gtin": "09501101530004"}, r"'gtin' 09501101530004 has a bad check digit: 4, expected 3"),
    ("pallet", {**PALLET, "gtin": "95011015"}, r"'gtin' 95011015 has a bad check digit"),
    ("pallet", {**PALLET, "gtin": "ABC"}, r"'gtin' must be a GTIN of 8, 12, 13 or 14 digits"),
    ("pallet", {**PALLET, "count": None}, r"'count' \(AI 37\) is required with the content 'gtin'"),
    ("pallet", {**PALLET, "count": 0}, r"'count' \(AI 37\) must be a whole number"),
    ("pallet", {**PALLET, "count": "2.5"}, r"'count' \(AI 37\) must be a whole number"),
    ("pallet", {"sscc": PALLET["sscc"], "lot_number": "L1"}, r"'lot_number' \(AI 10\) on a pallet label needs"),
    ("pallet", {**PALLET, "lot_number": "LOT 2026/11 #42"}, r"cannot be a GS1 batch/lot \(10\)"),
    ("pallet", {**PALLET, "lot_number": "L" * 21}, r"cannot be a GS1 batch/lot \(10\)"),
    ("pallet", {**PALLET, "best_before": "31.05.2027"}, r"'best_before' must be a date \(YYYY-MM-DD\)"),
    ("pallet", {**PALLET, "expiry": "2099-01-01"}, r"outside the GS1 date window"),
    ("lot", {**LOT, "gtin": "09501101530004"}, r"bad check digit"),
    ("lot", {**LOT, "lot_number": " "}, r"a lot label needs 'lot_number'"),
    ("location", {"name": "no code"}, r"a location label needs 'code'"),
    ("location", {"code": "Lager Süd"}, r"'code' must be printable ASCII"),
    ("badge", {"name": "Ana"}, r"an operator badge needs 'badge'"),
    ("badge", {"badge": "0042"}, r"an operator badge needs 'name'"),
    ("commands", {"commands": []}, r"a command sheet needs 'commands'"),
    ("commands", {"commands": ["CMD:CONFIRM"]}, r"commands\[0\] must be a dict"),
    ("commands", {"commands": [{"label": "Confirm"}]}, r"commands\[0\] needs 'code'"),
    ("commands", {"commands": [{"code": "CMD:\x1dX"}]}, r"'commands\[0\].code' must be printable ASCII"),
])
def test_bad_data_is_refused_with_a_message_that_says_what_is_wrong(name, data, message):
    with pytest.raises(ValueError, match=message):
        TEMPLATES[name](data)


def test_what_does_not_fit_a_size_is_refused():
    with pytest.raises(ValueError, match=r"5 commands do not fit a 2x1 label \(at most 1\)"):
        TEMPLATES["commands"](COMMANDS, "2x1")
    with pytest.raises(ValueError, match=r"too long to print readably on a 2x1 label"):
        TEMPLATES["location"]({"code": "WAREHOUSE-NORTH-AISLE-12-RACK-03-LEVEL-4-BIN-17"}, "2x1")
    with pytest.raises(ValueError, match=r"too long for a scannable barcode on a 2x1 label"):
        TEMPLATES["commands"]({"commands": [{"code": "CMD:" + "X" * 30, "label": "X"}]}, "2x1")


# --- escaping, UTF-8 and fonts --------------------------------------------------------------------

INJECTION = "^XZ^XA^FO0,0^GB800,800,800^FS"


def test_a_lot_named_like_zpl_prints_literally_on_one_label():
    label = lot_label({**LOT, "lot_number": INJECTION}, "4x6")
    out = zpl.render(label)
    assert out.count(b"^XA") == 1 and out.count(b"^XZ") == 1
    assert out.count(b"^FO") == len(label.elements)  # every field origin is ours: none came from the data
    assert b"~" not in out and not re.search(rb"[\x00-\x1f\x7f]", out)
    fields = [unhex(f) for f in re.findall(rb"\^FH\^FD(.*?)\^FS", out)]
    assert INJECTION.encode() in fields  # the lot line, as printed
    # Not a GS1 lot, so Station's LOT: code; too long for a Code 128 at 0.19 mm on 4 inches, so a Data Matrix.
    assert decode(render_png(label)) == ["]d1LOT:" + INJECTION]
    assert f"^BXN,6,200,22,22^FH^FDLOT:{zpl.field_hex(INJECTION)}^FS".encode() in out


@pytest.mark.parametrize("payload", [INJECTION, "~JA~HS", "a_5E_7E_b", "ctl\x00\x03\x1b\r\n\x7f\x85end", "\\&x"])
@pytest.mark.parametrize("name", ["location", "badge", "commands", "pallet"])
def test_text_from_data_never_becomes_zpl(name, payload):
    data = {
        "location": {"code": "A-1", "name": payload},
        "badge": {"badge": "7", "name": payload, "role": payload},
        "commands": {"title": payload, "commands": [{"code": "CMD:CONFIRM", "label": payload}]},
        "pallet": {**PALLET, "item_name": payload, "ship_from": payload},
    }[name]
    label = TEMPLATES[name](data, "4x6")
    out = zpl.render(label)
    assert out.count(b"^XA") == 1 and out.count(b"^XZ") == 1
    assert b"~" not in out and not re.search(rb"[\x00-\x1f\x7f]", out)
    assert out.count(b"^FO") == out.count(b"^FS") == len(label.elements)  # every field is one of ours
    assert out.count(b"^FD") == sum(not isinstance(el, Box) for el in label.elements)


def test_utf8_text_prints_under_ci28_with_font_0_for_latin_and_a_unicode_font_for_cjk():
    label = Label.sized("4x3", 203, (Text(20, 20, "Jürgen Groß, François", 30), Text(20, 80, "山田 日本", 30),
                                     TextBlock(20, 140, 700, 2, "Müsli ß ç 日本", 30)))
    out = zpl.render(label)
    assert b"^CI28" in out and b"^CF0" in out
    assert "^FO20,20^A0N,30,30^FH^FDJürgen Groß, François^FS".encode() in out
    assert "^FO20,80^A@N,30,30,E:ANMDJ.TTF^FH^FD山田 日本^FS".encode() in out
    assert "^A@N,30,30,E:ANMDJ.TTF^FB700,2,0,L,0^FH^FDMüsli ß ç 日本^FS".encode() in out
    assert b"E:ANMDJ.TTF" not in zpl.render(label, unicode_font=None)
    assert out.replace(b"E:ANMDJ.TTF", b"E:NOTOCJK.TTF") == zpl.render(label, unicode_font="E:NOTOCJK.TTF")
    for bad in ("ANMDJ.TTF", "E:A^XZ.TTF", "E:ANMDJ.TTF^FS", "E:X~JA.TTF"):
        with pytest.raises(ValueError, match="unicode_font"):
            zpl.render(label, unicode_font=bad)


def test_a_cjk_badge_uses_the_unicode_font_only_for_its_cjk_fields():
    out = zpl.render(TEMPLATES["badge"]({**BADGE_CJK, "role": "Picker"}, "4x3")).decode()
    fonts = dict((text, font) for font, text in re.findall(r"\^A([0@])N[^^]*(?:\^FB[^^]*)?\^FH\^FD(.*?)\^FS", out))
    assert fonts == {"山田 太郎": "@", "Picker": "0", "# 0043": "0"}


def test_copies_are_one_pq_command():
    out = zpl.render(TEMPLATES["location"](LOCATION, "2x1"), copies=25)
    assert out.endswith(b"^PQ25^XZ") and out.count(b"^PQ") == 1 and out.count(b"^XA") == 1


def test_preview_fonts_come_from_debian_packages_and_draw_non_ascii():
    fonts = png.preview_fonts()
    assert fonts["latin"] and fonts["latin"].startswith("/usr/share/fonts/truetype/dejavu/")
    assert fonts["cjk"] and "droid" in fonts["cjk"].lower()
    for text in ("ü", "ß", "ç", "日", "本"):
        ink = png._text_mask(text, 40)[0].tobytes()
        tofu = png._text_mask("\U0010fffd", 40)[0].tobytes()
        assert ink != tofu, f"{text!r} is drawn as a missing-glyph box"
    assert [path for path, _, _ in png._runs("Müller 日本")] == [fonts["latin"], fonts["cjk"]]


# --- Code 128 symbols shared by printer and preview -----------------------------------------------


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=24))
def test_code128_preview_decodes_to_the_same_text(value):
    el = Code128(40, 20, value, 60, module=2)
    img = render_png(Label(el.width + 80, 100, 203, (el,)))
    assert decode(img) == ["]C0" + value]
    assert len(code128.modules(el.stream)) == code128.width(el.stream)


def test_code128_stays_in_subset_b_for_an_odd_digit_run_after_letters():
    # Switching to B while already in B would be FNC4 (value 100), not a switch: "A1234567" must not do it.
    assert code128.zpl_field(list("A1234567")) == ">:A1>5234567"
    assert code128.values(list("A1234567"))[:3] == [104, 33, 17]


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 .,:;-/()&#@%!?'+*_ÄÖÜäöüßçéèñ日本語東京山田太郎ライン長"),
    min_size=1, max_size=40), st.sampled_from([14, 24, 40, 64]))
def test_the_fitting_estimate_is_never_narrower_than_the_preview(value, height):
    from labels.layout import text_width

    assert png.line_width(value, height) <= text_width(value, height)
