"""Labels: layouts, ZPL escaping and barcodes, previews that decode back to their data (no Flask, no DB)."""

import datetime as dt
import re

import biip
import pytest
import zxingcpp
from hypothesis import given
from hypothesis import strategies as st

from labels import gs1, zpl
from labels.layout import Box, Code128, DataMatrix, Label, QRCode, Text, TextBlock
from labels.png import render_png
from labels.templates import digital_link, lot_label

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

INJECTIONS = [
    "^XZ^XA^FO0,0^GB800,800,800^FS",
    "~JA",
    "~HS~JA^XZ",
    "lot_5E_7E",
    "^FH_5EXZ",
    "ctl\x00\x03\x1b\r\n\x7f\x85end",
]


def decode(img) -> list[str]:
    """Every barcode in an image as symbology identifier + plain text."""
    return [r.symbology_identifier + r.text for r in zxingcpp.read_barcodes(img, text_mode=zxingcpp.TextMode.Plain)]


def unhex(field: str) -> bytes:
    """Undo ^FH escaping the way a printer does: _XX becomes one byte."""
    return re.sub(rb"_([0-9A-F]{2})", lambda mt: bytes([int(mt[1], 16)]), field.encode("utf-8"))


def one_of_each(text: str) -> Label:
    """A label whose text fields all carry `text`."""
    return Label.sized("4x6", 203, (Text(10, 10, text, 30), TextBlock(10, 60, 700, 2, text, 30), QRCode(10, 200, text, 4)))


def test_label_sizes_are_in_dots_for_each_density():
    assert (Label.sized("4x6", 203).width, Label.sized("4x6", 203).height) == (812, 1218)
    assert (Label.sized("4x3", 300).width, Label.sized("4x3", 300).height) == (1200, 900)
    assert (Label.sized("2x1", 600).width, Label.sized("2x1", 600).height) == (1200, 600)
    with pytest.raises(ValueError, match="4x6"):
        Label.sized("5x5", 203)
    with pytest.raises(ValueError, match="203"):
        Label.sized("4x6", 250)


def test_zpl_is_one_utf8_format_with_size_and_copies():
    out = zpl.render(Label.sized("4x6", 203, (Box(0, 0, 812, 3, 3),)), copies=3)
    assert out == b"^XA^CI28^CF0^PW812^LL1218^LH0,0^FO0,0^GB812,3,3^FS^PQ3^XZ"
    for bad in (0, -1, 1.5, "2"):
        with pytest.raises(ValueError):
            zpl.render(Label.sized("4x6", 203), copies=bad)


@pytest.mark.parametrize("payload", INJECTIONS)
def test_data_cannot_become_zpl_commands(payload):
    out = zpl.render(one_of_each(payload))
    benign = zpl.render(one_of_each("x"))
    assert out.count(b"^XA") == 1 and out.count(b"^XZ") == 1
    assert out.count(b"^") == benign.count(b"^")  # no caret comes from the data
    assert b"~" not in out
    assert not re.search(rb"[\x00-\x1f\x7f]", out)
    for field in re.findall(rb"\^FD(?:MA,)?(.*?)\^FS", out):
        assert unhex(field.decode("utf-8")) == payload.encode("utf-8")


def test_backslashes_in_a_text_block_are_not_fb_line_breaks():
    out = zpl.render(Label.sized("4x6", 203, (TextBlock(0, 0, 500, 2, "a\\&b", 30),))).decode()
    assert "^FH^FDa\\\\&b^FS" in out


def test_utf8_text_is_sent_as_utf8_under_ci28():
    out = zpl.render(one_of_each("Müsli ß ç 日本"))
    assert b"^CI28" in out
    assert "Müsli ß ç 日本".encode("utf-8") in out


def test_gs1_128_starts_in_subset_c_with_fnc1_and_separates_variable_length_ais():
    el = Code128(0, 0, (("01", "09501101530003"), ("10", "AB1"), ("17", "270131"), ("21", "S7")), 100, gs1=True)
    out = zpl.render(Label.sized("4x6", 203, (el,))).decode()
    data = re.search(r"\^BCN,100,N,N,N,N\^FD(.*?)\^FS", out)[1]
    assert data == ">;>8010950110153000310>6AB1>8>51727013121>6S7"


def test_code128_writes_zpl_special_characters_as_invocation_codes():
    out = zpl.render(Label.sized("4x6", 203, (Code128(0, 0, "LOT:A^B~C>D_", 80),))).decode()
    assert "^FD>:LOT:A><B>=C>0D_^FS" in out


def interpret_code128(field: str) -> list[str | None]:
    """Read ZPL ^BC mode-N field data back into characters and FNC1 (None), as the printer would."""
    out: list[str | None] = []
    mode = "B"
    i = 0
    specials = {"<": "^", "0": ">", "=": "~"}
    while i < len(field):
        if field[i] == ">":
            code = field[i + 1]
            i += 2
            if code == "8":
                out.append(None)
            elif code in ";5":
                mode = "C"
            elif code in ":6":
                mode = "B"
            else:
                assert mode == "B" and code in specials, field
                out.append(specials[code])
        elif mode == "C":
            pair = field[i : i + 2]
            assert len(pair) == 2 and pair.isdigit(), field
            out.extend(pair)
            i += 2
        else:
            out.append(field[i])
            i += 1
    return out


@given(st.lists(st.one_of(st.none(), st.sampled_from("0123456789"), st.characters(min_codepoint=0x20, max_codepoint=0x7E))))
def test_code128_field_data_reads_back_to_the_same_symbols(items):
    assert interpret_code128(zpl.code128_field(items)) == items


def test_gs1_datamatrix_uses_underscore_fnc1_without_fh():
    el = DataMatrix(0, 0, (("01", "09501101530003"), ("10", "AB1"), ("17", "270131")), 5)
    out = zpl.render(Label.sized("4x6", 203, (el,))).decode()
    assert "^BXN,5,200,18,18,,_^FD_1010950110153000310AB1_117270131^FS" in out
    assert "^FH" not in out


def test_gs1_values_outside_character_set_82_are_refused():
    with pytest.raises(ValueError, match="set 82"):
        zpl.render(Label.sized("4x6", 203, (Code128(0, 0, (("10", "A^B"),), 80, gs1=True),)))


def test_gs1_separators_follow_biips_ai_table():
    # FNC1 after a variable-length AI unless it is last; 7003 is fixed (N10) yet needs one, as GS1 says.
    pairs = (("00", "395011010000000019"), ("10", "AB1"), ("3103", "000123"), ("7003", "2701311200"),
             ("21", "S1"), ("17", "270131"))
    assert [sep for _, sep in gs1.element_strings(pairs)] == [False, True, False, True, True, False]
    for ai in ("04", "011", "1"):  # unassigned; "011" is not AI 01 with a 1 in front
        with pytest.raises(ValueError, match="not a GS1 application identifier"):
            gs1.element_strings(((ai, "1"),))
    assert gs1.check_digit("39501101000000001") == "9" and gs1.sscc(3, "9501101", 1) == "395011010000000019"


def test_lot_label_zpl_is_a_few_hundred_bytes():
    out = zpl.render(lot_label(LOT))
    assert 300 < len(out) < 1000
    assert b">;>801095011015300031727053110>6L2611->50042" in out
    assert b"^BQN,2,5^FH^FDMA,https://id.gs1.org/01/09501101530003/10/L2611-0042?17=270531^FS" in out


def test_preview_is_one_pixel_per_dot_at_the_label_density():
    img = render_png(lot_label(LOT, "4x3", 300))
    assert img.size == (1200, 900) and img.info["dpi"] == (300, 300)


@pytest.mark.parametrize("size", ["4x6", "4x3", "4x2", "2x1"])
@pytest.mark.parametrize("dpi", [203, 300, 600])
def test_lot_label_preview_decodes_to_gs1_and_digital_link(size, dpi):
    found = decode(render_png(lot_label(LOT, size, dpi)))
    gs1_code = "]d2" if size == "2x1" else "]C1"  # 2x1: a GS1 DataMatrix, the GS1-128 would be too narrow
    assert gs1_code + "01095011015300031727053110L2611-0042" in found
    parsed = biip.parse(next(t for t in found if t.startswith(gs1_code)))
    assert parsed.gtin.value == "09501101530003"
    assert parsed.gs1_message.element_strings.get(ai="10").value == "L2611-0042"
    assert parsed.gs1_message.element_strings.get(ai="17").date == dt.date(2027, 5, 31)
    if size != "2x1":
        assert "]Q1https://id.gs1.org/01/09501101530003/10/L2611-0042?17=270531" in found


@pytest.mark.parametrize("size", ["4x6", "2x1"])
def test_lot_label_without_gtin_carries_stations_lot_code(size):
    label = lot_label({**LOT, "gtin": None}, size)
    assert decode(render_png(label)) == ["]C0LOT:L2611-0042"]
    assert b"^FD>:LOT:L2611->50042^FS" in zpl.render(label)


def test_lot_that_is_not_a_gs1_lot_falls_back_to_the_lot_code():
    label = lot_label({**LOT, "lot_number": "LOT 2026/11 #42 with spaces"})
    assert decode(render_png(label)) == ["]C0LOT:LOT 2026/11 #42 with spaces"]


def test_variable_length_ai_in_the_middle_decodes_with_a_separator():
    pairs = (("01", "09501101530003"), ("10", "AB1"), ("17", "270131"))
    found = decode(render_png(Label.sized("4x6", 203, (Code128(40, 40, pairs, 150, gs1=True, module=2),))))
    assert found == ["]C10109501101530003" + "10AB1\x1d" + "17270131"]
    assert biip.parse(found[0]).gs1_message.element_strings.get(ai="17").date == dt.date(2027, 1, 31)


def test_injection_payloads_survive_in_preview_barcodes():
    label = Label.sized("4x6", 203, (Code128(40, 40, "^XZ~JA>_", 120), QRCode(40, 300, INJECTIONS[0], 5)))
    assert sorted(decode(render_png(label))) == sorted(["]C0^XZ~JA>_", "]Q1" + INJECTIONS[0]])


def test_digital_link_percent_encodes_the_lot():
    assert digital_link((("01", "09501101530003"), ("10", "A/B"))) == "https://id.gs1.org/01/09501101530003/10/A%2FB"
