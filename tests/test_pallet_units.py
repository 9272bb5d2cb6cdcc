"""Our pallet label never prints a weight as a count (labels/templates/pallet.py): GS1 AI 37 is a count of
trade items, so it is printed only for a count unit (ea, case, sack, box...). 40 kg of flour in 25 kg sacks
is "NET WEIGHT 40 kg" with the net weight AI 3100, never "COUNT 40 kg" with (37)40. The barcodes on the
preview are decoded (zxing-cpp) and read back with biip, as a scanner at the next dock would."""
from __future__ import annotations

import biip
import pytest
import zxingcpp

from factories import gtin13, received_lot
from labels.layout import Text
from labels.png import render_png
from labels.templates import TEMPLATES
from labels.templates.pallet import measure_of
from station.services import catalog, labels

SSCC = "395011010000000019"
GTIN = "09501101530003"


def pallet(unit: str, count: int) -> dict:
    return {"sscc": SSCC, "gtin": GTIN, "count": count, "unit": unit, "lot_number": "L-1", "sku": "FLOUR-25",
            "item_name": "Flour type 550"}


def read(label) -> tuple[list[str], list[str]]:
    """The label's barcodes (symbology id + text) and its text lines."""
    codes = [r.symbology_identifier + r.text
             for r in zxingcpp.read_barcodes(render_png(label), text_mode=zxingcpp.TextMode.Plain)]
    return codes, [el.text for el in label.elements if isinstance(el, Text)]


def datamatrix(codes: list[str]):
    [found] = [c for c in codes if c.startswith("]d2")]
    return biip.parse(found).gs1_message


@pytest.mark.parametrize("unit, count, ai, value, caption", [
    ("kg", 40, "3100", "000040", "NET WEIGHT  40 kg"),
    ("g", 2500, "3101", "000025", "NET WEIGHT  2500 g"),  # 2.5 kg
    ("g", 1234, "3103", "001234", "NET WEIGHT  1234 g"),
    ("l", 1000, "3150", "001000", "NET VOLUME  1000 l"),
    ("m", 120, "3110", "000120", "LENGTH  120 m"),
])
def test_a_unit_of_measure_prints_its_net_measure_and_no_count(unit, count, ai, value, caption):
    codes, lines = read(TEMPLATES["pallet"](pallet(unit, count), "4x6", 203))
    message = datamatrix(codes)
    assert message.element_strings.get(ai="37") is None
    assert message.element_strings.get(ai=ai).value == value
    assert not any("(37)" in c or c.startswith("]C102") and "37" in c[19:21] for c in codes)
    assert caption in lines and not any(line.startswith("COUNT") for line in lines)


@pytest.mark.parametrize("unit", ["ea", "case", "sack", "cup", "box", "cases"])
def test_a_count_unit_prints_ai_37_with_its_unit(unit):
    codes, lines = read(TEMPLATES["pallet"](pallet(unit, 40), "4x6", 203))
    assert datamatrix(codes).element_strings.get(ai="37").value == "40"
    assert f"]C102{GTIN}3740" in codes
    assert f"COUNT  40 {unit}" in lines


def test_a_measure_too_large_for_six_digits_is_said_in_words_only():
    codes, lines = read(TEMPLATES["pallet"](pallet("kg", 2_000_000), "4x6", 203))
    strings = datamatrix(codes).element_strings
    assert strings.get(ai="37") is None and strings.get(ai="3100") is None
    assert "NET WEIGHT  2000000 kg" in lines


@pytest.mark.parametrize("unit, measured", [("kg", True), ("KG", True), ("ml", True), ("m²", True),
                                            ("ea", False), ("sack", False), ("pallet", False)])
def test_which_units_are_measures(unit, measured):
    assert (measure_of(unit) is not None) == measured


def test_a_received_pallet_of_flour_in_kg_is_labelled_by_weight(site):
    with site.write() as s:
        catalog.create_item(s, sku="FLOUR-25", name="Flour type 550, 25 kg sacks", unit="kg",
                            gtins=[gtin13("400000000099")])
        lot = received_lot(s, "FLOUR-25", 40, supplier="ACME", sscc="376130321109103420")
        data = labels.label_data(s, "pallet", lot.lot_number, sscc="376130321109103420")
    zpl = labels.render_zpl("pallet", data, "4x6", 203).decode()
    assert "(3100)000040" in zpl and "(37)" not in zpl
    assert "NET WEIGHT  40 kg" in zpl and "COUNT" not in zpl
