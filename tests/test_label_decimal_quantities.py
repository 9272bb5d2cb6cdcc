"""Lot labels of decimal quantities (issue 17): the quantity is printed with its unit at the item's precision
("12.350 kg", "40 ea"), and a variable-measure (catch-weight) lot carries its net weight as GS1 AI 310n (kg)
or 320n (lb) in its GS1-128, its GS1 DataMatrix and its Digital Link, alongside (01)(17)(10). Every barcode
is checked as a scanner at the next dock would read it: the preview is decoded (zxing-cpp) and the text is
parsed with biip. A weight six digits cannot hold exactly is printed in words only, never rounded into a
barcode; data a label cannot be made from is refused with a sentence."""
from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import biip
import pytest
import zxingcpp
from PIL import Image

from factories import gtin13, received_lot
from labels import gs1, zpl
from labels.layout import Text, TextBlock
from labels.png import render_png
from labels.templates import lot_label
from station import quantities
from station.models import ItemGtin, Printer, PrintJobStatus
from station.processes.print_worker import PrintWorker
from station.services import catalog, labels, printing
from test_print_worker import wait_until
from test_zpl_injection_e2e import BOX, assert_one_clean_format

GTIN = "09501101530003"
CHEESE_GTIN = "9" + gtin13("400000000101")[:-1]  # a variable-measure trade item's GTIN-14 starts with 9
CHEESE_GTIN += gs1.check_digit(CHEESE_GTIN)
LOT = {
    "item_name": "Gouda, whole wheel",
    "sku": "GOUDA",
    "lot_number": "L2611-0042",
    "expiry": dt.date(2027, 5, 31),
    "quantity": "12.345",
    "unit": "kg",
    "variable_measure": True,
    "gtin": GTIN,
}
SIZES = ["4x6", "4x3", "4x2", "2x1"]


def decode(png) -> list[str]:
    """Every barcode on a preview (a PIL image or PNG bytes) as symbology identifier + plain text."""
    image = Image.open(io.BytesIO(png)) if isinstance(png, bytes) else png
    return [r.symbology_identifier + r.text for r in zxingcpp.read_barcodes(image, text_mode=zxingcpp.TextMode.Plain)]


def gs1_codes(found: list[str]) -> list[biip.ParseResult]:
    """The GS1-128 and GS1 DataMatrix codes among `found`, parsed by biip."""
    return [biip.parse(code) for code in found if code[:3] in ("]C1", "]d2")]


def words(label) -> str:
    return "\n".join(el.text for el in label.elements if isinstance(el, (Text, TextBlock)))


# --- the template: labels/ alone, no database ----------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("dpi", [203, 300, 600])
def test_a_variable_measure_lot_label_carries_its_net_weight_in_every_gs1_code(size, dpi):
    label = lot_label(LOT, size, dpi)
    found = decode(render_png(label))
    gs1_code = "]d2" if size == "2x1" else "]C1"  # 2x1: a GS1 DataMatrix, the GS1-128 would be too narrow
    assert gs1_code + "01" + GTIN + "3103012345" + "17270531" + "10L2611-0042" in found
    [parsed] = gs1_codes(found)
    strings = parsed.gs1_message.element_strings
    assert strings.get(ai="3103").decimal == Decimal("12.345")
    assert (parsed.gtin.value, strings.get(ai="10").value) == (GTIN, "L2611-0042")
    assert strings.get(ai="17").date == dt.date(2027, 5, 31)
    if size != "2x1":
        link = f"https://id.gs1.org/01/{GTIN}/10/L2611-0042?3103=012345&17=270531"
        assert "]Q1" + link in found
        uri = biip.parse(link).gs1_digital_link_uri
        assert uri.element_strings.get(ai="3103").decimal == Decimal("12.345")
    assert "12.345 kg" in words(label)


@pytest.mark.parametrize("unit, quantity, ai, digits, weight", [
    ("kg", "12.345", "3103", "012345", "12.345"),
    ("kg", "12.350", "3103", "012350", "12.35"),    # the item's precision, as the label prints it
    ("kg", "12", "3100", "000012", "12"),
    ("kg", "1234.500", "3102", "123450", "1234.5"),  # six digits hold two decimals of this one
    ("g", "12345", "3103", "012345", "12.345"),     # grams are said in kg
    ("g", "500", "3103", "000500", "0.5"),
    ("t", "1.500", "3100", "001500", "1500"),
    ("lb", "3.25", "3202", "000325", "3.25"),       # pounds in 320n
    ("oz", "24", "3204", "015000", "1.5"),          # ounces in pounds: 16 to the pound, exactly
])
def test_each_weight_unit_has_its_gs1_net_weight(unit, quantity, ai, digits, weight):
    label = lot_label({**LOT, "unit": unit, "quantity": quantity}, "4x6", 203)
    [parsed] = gs1_codes(decode(render_png(label)))
    assert parsed.gs1_message.element_strings.get(ai=ai).value == digits
    assert parsed.gs1_message.element_strings.get(ai=ai).decimal == Decimal(weight)
    assert f"QTY  {quantity} {unit}" in words(label)
    assert f"({ai}){digits}" in zpl.render(label).decode()  # the human-readable line under the barcode


@pytest.mark.parametrize("quantity", ["1234.567", "12345678", "0.000001"])
def test_a_weight_six_digits_cannot_hold_exactly_is_printed_in_words_only(quantity):
    label = lot_label({**LOT, "quantity": quantity, "unit": "kg"}, "4x6", 203)
    [parsed] = gs1_codes(decode(render_png(label)))
    assert not [s for s in parsed.gs1_message.element_strings if s.ai.ai.startswith(("310", "320"))]
    assert parsed.gs1_message.element_strings.get(ai="10").value == "L2611-0042"
    assert f"QTY  {quantity} kg" in words(label)


@pytest.mark.parametrize("data", [
    {**LOT, "variable_measure": False, "quantity": "12.350"},  # a fixed-measure item: no weight to carry
    {**LOT, "quantity": "0.000"},  # an empty lot weighs nothing worth a barcode
])
def test_no_net_weight_without_a_variable_measure_on_hand(data):
    label = lot_label(data, "4x6", 203)
    [parsed] = gs1_codes(decode(render_png(label)))
    assert [s.ai.ai for s in parsed.gs1_message.element_strings] == ["01", "17", "10"]
    assert f"QTY  {data['quantity']} kg" in words(label)


@pytest.mark.parametrize("size", SIZES)
def test_the_quantity_prints_with_its_unit_at_the_items_precision(size):
    for quantity, unit, shown in (("12.350", "kg", "12.350 kg"), ("40", "ea", "40 ea"), (40, "ea", "40 ea"),
                                  (Decimal("0.5"), "L", "0.5 L"), (Decimal("2E+3"), "g", "2000 g")):
        label = lot_label({**LOT, "variable_measure": False, "quantity": quantity, "unit": unit}, size, 203)
        assert f"QTY {shown}" in words(label).replace("QTY  ", "QTY "), (size, quantity)


def test_a_variable_measure_lot_without_a_gtin_has_no_gs1_and_says_its_weight():
    label = lot_label({**LOT, "gtin": None}, "4x6", 203)
    assert decode(render_png(label)) == ["]C0LOT:L2611-0042"]
    assert "QTY  12.345 kg" in words(label)


@pytest.mark.parametrize("change, reason", [
    ({"unit": "ea"}, "a variable-measure lot is weighed, so its 'unit' is a weight (kg, g, t, lb, oz), not 'ea'"),
    ({"quantity": 12.35}, "'quantity' must be a number like 40 or 12.350, got 12.35"),
    ({"quantity": "12,35"}, "'quantity' must be a number like 40 or 12.350, got '12,35'"),
    ({"quantity": "-1"}, "'quantity' must be a number like 40 or 12.350, got '-1'"),
    ({"quantity": "1^XZ^XA~JA"}, "'quantity' must be a number like 40 or 12.350"),
    ({"quantity": Decimal("NaN")}, "'quantity' must be a number like 40 or 12.350"),
])
def test_data_a_lot_label_cannot_carry_is_refused_in_words(change, reason):
    with pytest.raises(ValueError) as caught:
        lot_label({**LOT, **change}, "4x6", 203)
    assert reason in str(caught.value)
    with pytest.raises(labels.LabelNotPossible) as refused:  # what the station answers: 422, the same reason
        labels.render_zpl("lot", {**LOT, **change, "expiry": "2027-05-31"}, "4x6", 203)
    assert reason in refused.value.message and refused.value.status == 422


def test_a_decimal_lot_label_is_still_one_escaped_zpl_format():
    hostile = {**LOT, "item_name": f"Gouda {BOX} ~JA", "unit": "kg", "supplier_lot": "^FH_5E~HS"}
    payload = zpl.render(lot_label(hostile, "4x6", 203), 2)
    assert_one_clean_format(payload, 2)
    assert b"QTY  12.345 kg" in payload and b"(3103)012345" in payload


# --- from the database: what the station prints ---------------------------------------------------------------


@pytest.fixture
def weighed(site):
    """Items counted in decimals, some of them weighed case by case, and a lot of each."""
    with site.write() as s:
        acme = catalog.supplier_by_code(s, "ACME")
        made = [
            catalog.create_item(s, sku="GOUDA", name="Gouda, whole wheel", unit="kg", qty_decimals=3,
                                variable_measure=True, gtins=[CHEESE_GTIN]),
            catalog.create_item(s, sku="HAM", name="Smoked ham", unit="lb", qty_decimals=2,
                                variable_measure=True, gtins=[gtin13("400000000102")]),
            catalog.create_item(s, sku="MINCE", name="Beef mince", unit="g", variable_measure=True,
                                gtins=[gtin13("400000000103")]),
            catalog.create_item(s, sku="FLOUR", name="Flour type 550", unit="kg", qty_decimals=2,
                                gtins=[gtin13("400000000104")]),
            catalog.create_item(s, sku="EGG", name="Free-range egg", unit="ea",
                                gtins=[gtin13("400000000106"), gtin13("400000000105")]),
        ]
        for item in made:
            item.supplier_id = acme.id
        # The egg's case GTIN sorts first; a lot label names the egg, not a case of 12.
        s.get(ItemGtin, "0" + gtin13("400000000105")).pack_qty = 12
        for name, sku, qty in (("gouda", "GOUDA", Decimal("12.345")), ("ham", "HAM", Decimal("20.5")),
                               ("mince", "MINCE", 12345), ("flour", "FLOUR", Decimal("12.3")), ("egg", "EGG", 40)):
            site[name] = received_lot(s, sku, qty, supplier="ACME").lot_number
    return site


def net_weight(png: bytes) -> dict[str, Decimal]:
    [parsed] = gs1_codes(decode(png))
    return {s.ai.ai: s.decimal for s in parsed.gs1_message.element_strings if s.ai.ai[:3] in ("310", "320")}


@pytest.mark.parametrize("name, quantity, unit, weight", [
    ("gouda", "12.345", "kg", {"3103": Decimal("12.345")}),
    ("ham", "20.50", "lb", {"3202": Decimal("20.5")}),
    ("mince", "12345", "g", {"3103": Decimal("12.345")}),
    ("flour", "12.30", "kg", {}),  # counted in decimals, but not weighed case by case
    ("egg", "40", "ea", {}),
])
def test_a_lots_label_data_has_its_quantity_at_the_items_precision(db, weighed, name, quantity, unit, weight):
    with db.read() as s:
        data = labels.label_data(s, "lot", weighed[name])
    assert (data["quantity"], data["unit"], data["variable_measure"]) == (quantity, unit, bool(weight))
    png = labels.render_png("lot", data, "4x6", 203)
    assert net_weight(png) == weight
    assert f"QTY  {quantity} {unit}".encode() in labels.render_zpl("lot", data, "4x6", 203)


def test_a_lot_label_carries_the_items_own_gtin_not_a_packs(db, weighed):
    with db.read() as s:
        data = labels.label_data(s, "lot", weighed["egg"])
    assert data["gtin"] == "0" + gtin13("400000000106")
    [parsed] = gs1_codes(decode(labels.render_png("lot", data, "4x6", 203)))
    assert parsed.gtin.value == "0" + gtin13("400000000106")


def test_a_pallet_of_a_weighed_lot_carries_its_net_weight_and_takes_a_decimal_count(db, weighed):
    with db.write() as s:
        whole = labels.label_data(s, "pallet", weighed["gouda"])
        part = labels.label_data(s, "pallet", weighed["gouda"], count=Decimal("2.5"))
        for sku, lot, count, reason in (
                ("EGG", "egg", Decimal("2.5"), "A pallet's count is a whole number above 0, not Decimal('2.5')."),
                ("GOUDA", "gouda", Decimal("1.2345"), "A pallet's count is a number above 0 with at most 3 "
                                                      "decimals of kg, not Decimal('1.2345')."),
                ("GOUDA", "gouda", 2.5, "A pallet's count is a number above 0 with at most 3 decimals of kg, "
                                        "not 2.5.")):
            with pytest.raises(labels.LabelParameterError) as caught:
                labels.label_data(s, "pallet", weighed[lot], count=count)
            assert (caught.value.message, caught.value.code) == (reason, "invalid_pallet_count"), sku
    assert (whole["count"], part["count"]) == ("12.345", "2.500")
    for data, weight in ((whole, {"3103": Decimal("12.345")}), (part, {"3101": Decimal("2.5")})):
        found = decode(labels.render_png("pallet", data, "4x6", 203))
        [datamatrix] = [biip.parse(c) for c in found if c.startswith("]d2")]
        strings = datamatrix.gs1_message.element_strings
        assert {s.ai.ai: s.decimal for s in strings if s.ai.ai.startswith("310")} == weight
        assert strings.get(ai="37") is None  # a weight is no count of trade items


def test_a_decimal_lot_label_printed_on_a_simulated_printer_shows_its_weight(db, weighed, tmp_path):
    with db.write() as s:
        s.add(Printer(name="scale-1", url="sim://scale-1", label_size="4x6", dpi=203))
        s.flush()
        job_id = printing.request_labels(s, weighed["gouda"], printer="scale-1", copies=2).id
    with PrintWorker(db, threads=1, poll_s=0.02, status_every=0, spool_root=tmp_path / "spool"):
        wait_until(lambda: printing_status(db, job_id) is PrintJobStatus.PRINTED, what="the label printed")
    [spooled] = (tmp_path / "spool" / "scale-1").glob("*.zpl")
    payload = spooled.read_bytes()
    assert_one_clean_format(payload, 2)
    assert b"QTY  12.345 kg" in payload and b"(01)" + CHEESE_GTIN.encode() + b"(3103)012345" in payload
    preview = spooled.with_suffix(".png").read_bytes()  # what the printer's preview shows
    assert net_weight(preview) == {"3103": Decimal("12.345")}
    with db.read() as s:
        job = printing.get_job(s, job_id)
        assert job.data["quantity"] == "12.345" and printing.job_preview_png(job) == preview
    [parsed] = gs1_codes(decode(preview))
    assert parsed.gs1_message.element_strings.get(ai="10").value == weighed["gouda"]


def printing_status(db, job_id: int) -> PrintJobStatus:
    with db.read() as s:
        return printing.get_job(s, job_id).status


def test_a_site_with_a_decimal_comma_prints_it_in_words_and_the_barcodes_keep_their_digits(db, weighed):
    token = quantities.use_site_comma(True)  # as a request of a STATION_DECIMAL_COMMA=true site sets it
    try:
        with db.read() as s:
            lot, pallet = (labels.label_data(s, kind, weighed["gouda"]) for kind in ("lot", "pallet"))
    finally:
        quantities.restore_site_comma(token)
    assert lot["quantity"] == "12.345" and lot["decimal_comma"] is True  # the data stays machine-readable
    assert b"QTY  12,345 kg" in labels.render_zpl("lot", lot, "4x6", 203)
    assert net_weight(labels.render_png("lot", lot, "4x6", 203)) == {"3103": Decimal("12.345")}
    assert b"NET WEIGHT  12,345 kg" in labels.render_zpl("pallet", pallet, "4x6", 203)
    with db.read() as s:
        assert "decimal_comma" not in labels.label_data(s, "lot", weighed["gouda"])  # put back: a point
