"""station.services.labels: the data each template gets from the database, rendering it to ZPL and
PNG, and a clear refusal (with a stable code) for everything that cannot be a label."""
from __future__ import annotations

import datetime as dt
import io
import json

import biip
import pytest
import zxingcpp
from biip.sscc import Sscc
from PIL import Image
from sqlalchemy import func, select

from station.models import SequenceReset, SsccCounter
from station.scanning.codes import Command, split_station_code
from station.services import catalog, labels, numbering
from station.services.errors import Conflict, DomainError, NotFound

from factories import TODAY, gtin13, operator, printer, received_lot

BOLT_GTIN14 = "0" + gtin13("400000000001")
PALLET = "376130321109103420"  # a supplier's SSCC (check digit valid)


@pytest.fixture
def site(site):
    site.lot("bolt", "BOLT", 40, supplier="ACME", supplier_lot="ACME-77", expiry=dt.date(2027, 1, 31),
             produced=dt.date(2026, 6, 1), on=TODAY)
    site.lot("cake", "CAKE", 5, on=TODAY)
    site.lot("milk", "MILK", 6, on=TODAY)
    site.lot("pallet", "BOLT", 12, supplier="ACME", supplier_lot="ACME-88", sscc=PALLET, on=TODAY)
    with site.write() as s:
        operator(s)
        operator(s, badge="OP-8", name="Retired Person", active=False)
    return site


def counter(db) -> int:
    with db.read() as s:
        return s.scalar(select(func.coalesce(func.sum(SsccCounter.last_serial), 0)))


def decode(png: bytes) -> list[str]:
    image = Image.open(io.BytesIO(png))
    return [r.symbology_identifier + r.text
            for r in zxingcpp.read_barcodes(image, text_mode=zxingcpp.TextMode.Plain)]


# --- data --------------------------------------------------------------------------------------


def test_lot_data_comes_from_the_lot_its_item_and_supplier(db, site):
    with db.read() as s:
        data = labels.label_data(s, "lot", site["bolt"])
    assert data == {
        "item_name": "Bolt M8", "sku": "BOLT", "gtin": BOLT_GTIN14, "lot_number": site["bolt"],
        "expiry": "2027-01-31", "produced_on": "2026-06-01", "quantity": "40", "unit": "ea",
        "variable_measure": False, "supplier_lot": "ACME-77", "supplier": "Acme Foods",
    }
    assert json.loads(json.dumps(data)) == data  # what a print job stores, unchanged


def test_lot_data_of_an_item_without_gtin_or_dates_has_none_for_them(db, site):
    with db.read() as s:
        data = labels.label_data(s, "lot", site["cake"])
    assert (data["gtin"], data["supplier_lot"], data["supplier"], data["produced_on"]) == (None,) * 4
    assert data["expiry"] == (TODAY + dt.timedelta(days=10)).isoformat()  # CAKE's shelf life
    assert (data["sku"], data["quantity"]) == ("CAKE", "5")


def test_each_pallet_label_draws_a_new_sscc(db, site, monkeypatch):
    monkeypatch.setenv("STATION_GS1_COMPANY_PREFIX", "7312345")
    monkeypatch.setenv("STATION_SSCC_EXTENSION", "0")
    with db.write() as s:
        first = labels.label_data(s, "pallet", site["bolt"])
        second = labels.label_data(s, "pallet", site["bolt"])
    assert first["sscc"] != second["sscc"]
    assert [first["sscc"][:17], second["sscc"][:17]] == ["07312345000000001", "07312345000000002"]
    assert Sscc.parse(first["sscc"]).value == first["sscc"]
    assert {k: v for k, v in first.items() if k != "sscc"} == {
        "gtin": BOLT_GTIN14, "count": "40", "unit": "ea", "lot_number": site["bolt"], "item_name": "Bolt M8",
        "sku": "BOLT", "expiry": "2027-01-31", "produced_on": "2026-06-01"}
    assert counter(db) == 2


def test_a_pallet_label_for_a_given_sscc_draws_none_and_counts_that_pallet(db, site):
    with db.write() as s:
        again = labels.label_data(s, "pallet", site["pallet"], sscc=PALLET)
        counted = labels.label_data(s, "pallet", site["pallet"], sscc=PALLET, count=7)
    assert (again["sscc"], again["count"], again["lot_number"]) == (PALLET, "12", site["pallet"])
    assert counted["count"] == "7"
    assert counter(db) == 0


def test_a_pallet_label_refuses_an_sscc_of_another_lot_a_bad_sscc_and_a_bad_count(db, site):
    with db.write() as s:
        with pytest.raises(Conflict, match=f"pallet of lot {site['pallet']}") as other:
            labels.label_data(s, "pallet", site["bolt"], sscc=PALLET)
        assert other.value.code == "sscc_other_lot"
        with pytest.raises(DomainError, match="not valid") as bad:
            labels.label_data(s, "pallet", site["bolt"], sscc="376130321109103421")
        assert bad.value.code == "invalid_sscc"
        for count in (0, -1, 2.5, True, "3"):
            with pytest.raises(labels.LabelParameterError, match="whole number above 0") as caught:
                labels.label_data(s, "pallet", site["bolt"], count=count)
            assert caught.value.code == "invalid_pallet_count"
    assert counter(db) == 0


def test_a_pallet_label_of_an_empty_lot_is_refused_before_an_sscc_is_drawn(db, site):
    from station.services import catalog, stock

    with db.write() as s:
        lot = catalog.lot_by_number(s, site["milk"])
        stock.adjust(s, lot, catalog.location_by_code(s, "A-01"), -6, "spilt")
    with db.write() as s:
        with pytest.raises(labels.LabelNotPossible, match="nothing on hand") as caught:
            labels.label_data(s, "pallet", site["milk"])
    assert caught.value.code == "nothing_on_hand" and caught.value.status == 422
    assert counter(db) == 0
    with db.write() as s:  # the count of what is really on the pallet makes it possible
        assert labels.label_data(s, "pallet", site["milk"], count=5)["count"] == "5"


def test_a_pallet_label_needs_a_content_gtin_and_a_gs1_lot_number_before_an_sscc_is_drawn(db, site):
    with db.write() as s:
        with pytest.raises(labels.LabelNotPossible, match="Item CAKE has no GTIN") as no_gtin:
            labels.label_data(s, "pallet", site["cake"])
        item = catalog.item_by_sku(s, "MILK")
        numbering.set_scheme(s, "MILK {seq:03} ÄÖ", SequenceReset.NEVER, item)
        odd = received_lot(s, "MILK", 2).lot_number
    assert no_gtin.value.code == "pallet_needs_gtin"
    with db.write() as s:
        with pytest.raises(labels.LabelNotPossible, match="cannot be a GS1 batch/lot") as not_gs1:
            labels.label_data(s, "pallet", odd)
        assert labels.label_data(s, "lot", odd)["lot_number"] == "MILK 001 ÄÖ"  # a lot label is fine
    assert not_gs1.value.code == "pallet_lot_not_gs1"
    assert counter(db) == 0


def test_location_badge_and_commands_data(db, site):
    with db.write() as s:
        catalog.create_location(s, code="B-07", kind="storage", name="Cold room B", barcode="LOC:B-07")
        catalog.create_location(s, code="OLD-1", kind="storage", barcode="0001234")
    with db.read() as s:
        assert labels.label_data(s, "location", "B-07")["barcode"] == "LOC:B-07"
        assert labels.label_data(s, "location", "OLD-1")["barcode"] == "0001234"  # as it already scans
        location = labels.label_data(s, "location", "A-01")
        badge = labels.label_data(s, "badge", "OP-7")
        commands = labels.label_data(s, "commands")
    assert location == {"code": "A-01", "name": "", "kind": "storage", "barcode": None}  # LOC:A-01 on the label
    assert badge == {"badge": "OP-7", "name": "Grace Hopper", "role": "Line operator"}
    assert [c["label"] for c in commands["commands"]] == ["Confirm", "Cancel", "Undo", "Next", "Reprint"]
    # each code is one Station's scanner reads as that command
    assert [split_station_code(c["code"]) for c in commands["commands"]] == [("CMD:", c.value) for c in Command]


@pytest.mark.parametrize("template, key, error, code, words", [
    ("lot", "NOPE", NotFound, "unknown_lot", "No lot 'NOPE'"),
    ("pallet", "NOPE", NotFound, "unknown_lot", "No lot 'NOPE'"),
    ("location", "Z-99", NotFound, "unknown_location", "No location 'Z-99'"),
    ("badge", "OP-404", NotFound, "unknown_operator", "No operator with badge 'OP-404'"),
    ("badge", "OP-8", labels.LabelNotPossible, "operator_inactive", "deactivated"),
    ("lot", "", labels.LabelParameterError, "label_key_required", "needs a lot number"),
    ("location", None, labels.LabelParameterError, "label_key_required", "needs a location code"),
    ("invoice", "X", labels.LabelParameterError, "unknown_template", "no label template 'invoice'"),
    (None, "X", labels.LabelParameterError, "unknown_template", "no label template None"),
])
def test_unknown_things_are_clear_refusals(db, site, template, key, error, code, words):
    with db.read() as s:
        with pytest.raises(error, match=words) as caught:
            labels.label_data(s, template, key)
    assert isinstance(caught.value, DomainError) and caught.value.code == code
    assert caught.value.status == {NotFound: 404, labels.LabelNotPossible: 422,
                                   labels.LabelParameterError: 400}[error]


# --- size and density ------------------------------------------------------------------------


def test_the_format_is_the_stations_printer_then_the_first_printer_then_4x6_at_203(db, site):
    from station.models import StationDevice

    with db.read() as s:
        assert labels.label_format(s) == ("4x6", 203)
    with db.write() as s:
        printer(s, "off", "2x1", 600, active=False)
        printer(s, "first", "4x3", 300)
        line = printer(s, "line", "4x2", 203)
        s.add(StationDevice(name="Line PC", printer_id=line.id))
        s.add(StationDevice(name="Handheld"))
    with db.read() as s:
        assert labels.label_format(s) == ("4x3", 300)
        assert labels.label_format(s, "Line PC") == ("4x2", 203)
        assert labels.label_format(s, "Handheld") == ("4x3", 300)  # no printer of its own
        with pytest.raises(labels.LabelParameterError, match="No station 'Dock'") as caught:
            labels.label_format(s, "Dock")
    assert caught.value.code == "unknown_station"


def test_a_printer_set_to_a_size_without_layouts_is_named(db):
    with db.write() as s:
        printer(s, "odd", "5x5", 203)
    with db.read() as s:
        with pytest.raises(labels.LabelNotPossible, match="Printer odd is set to 5x5 labels") as caught:
            labels.label_format(s)
    assert caught.value.code == "printer_format_unsupported"


# --- rendering -------------------------------------------------------------------------------


def test_a_lot_label_renders_to_zpl_with_copies(db, site):
    with db.read() as s:
        data = labels.label_data(s, "lot", site["bolt"])
    once = labels.render_zpl("lot", data, "4x6", 203)
    three = labels.render_zpl("lot", data, "4x6", 203, copies=3)
    assert once.startswith(b"^XA") and once.endswith(b"^PQ1^XZ") and three.endswith(b"^PQ3^XZ")
    assert b"^PW812^LL1218" in once
    assert f"(01){BOLT_GTIN14}(17)270131(10){site['bolt']}".encode() in once  # the barcode's text line
    assert site["bolt"].encode() in once and b"ACME-77" in once


def test_a_lot_label_preview_decodes_to_its_gs1_data(db, site):
    with db.read() as s:
        data = labels.label_data(s, "lot", site["bolt"])
    png = labels.render_png("lot", data, "4x3", 300)
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and image.size == (1200, 900)
    assert round(image.info["dpi"][0]) == 300
    gs1_128 = next(code for code in decode(png) if code.startswith("]C1"))
    message = biip.parse(gs1_128).gs1_message
    assert message.element_strings.get(ai="01").gtin.value == BOLT_GTIN14
    assert message.element_strings.get(ai="17").date == dt.date(2027, 1, 31)
    assert message.element_strings.get(ai="10").value == site["bolt"]


@pytest.mark.parametrize("args, code, words", [
    (("invoice", "4x6", 203, 1), "unknown_template", "no label template 'invoice'"),
    (("lot", "5x5", 203, 1), "unknown_label_size", "no label size '5x5'; use one of 4x6"),
    (("lot", "4x6", 204, 1), "unsupported_dpi", "203, 300, 600 dpi, not 204"),
    (("lot", "4x6", "203", 1), "unsupported_dpi", "not '203'"),
    (("lot", "4x6", 203, 0), "invalid_copies", "from 1 to 1000, not 0"),
    (("lot", "4x6", 203, 1001), "invalid_copies", "not 1001"),
    (("lot", "4x6", 203, True), "invalid_copies", "not True"),
])
def test_bad_render_parameters_are_400_refusals(args, code, words):
    data = {"lot_number": "L1", "item_name": "x", "sku": "X"}
    template, size, dpi, copies = args
    with pytest.raises(labels.LabelParameterError, match=words) as caught:
        labels.render_zpl(template, data, size, dpi, copies)
    assert (caught.value.code, caught.value.status) == (code, 400)
    if copies == 1 and copies is not True:  # the preview has no copies
        with pytest.raises(labels.LabelParameterError, match=words):
            labels.render_png(template, data, size, dpi)


@pytest.mark.parametrize("data, code, words", [
    ({"item_name": "x"}, "label_not_possible", "lot label from this data: .*'lot_number'"),
    ({"lot_number": "L1", "gtin": "123"}, "label_not_possible", "lot label from this data: .*'gtin'.*'123'"),
    ({"lot_number": "L1", "expiry": "31/01/2027"}, "label_not_possible", "'expiry'"),
    (["not", "a", "dict"], "label_not_possible", "not list"),
])
def test_data_a_template_cannot_take_is_a_422_refusal_not_a_crash(data, code, words):
    for render in (lambda: labels.render_zpl("lot", data, "4x6", 203), lambda: labels.render_png("lot", data, "4x6", 203)):
        with pytest.raises(labels.LabelNotPossible, match=words) as caught:
            render()
        assert (caught.value.code, caught.value.status) == (code, 422)


# --- every template, from the database to a preview that scans -------------------------------


def test_every_template_renders_from_its_data_and_its_preview_scans_back(db, site):
    with db.write() as s:
        pallet = labels.label_data(s, "pallet", site["pallet"], sscc=PALLET)
        location = labels.label_data(s, "location", "A-01")
        badge = labels.label_data(s, "badge", "OP-7")
        commands = labels.label_data(s, "commands")
    found = decode(labels.render_png("pallet", pallet, "4x6", 203))
    messages = [biip.parse(code).gs1_message for code in found if code[:3] in ("]C1", "]d2")]
    values = {e.ai.ai: e.value for m in messages for e in m.element_strings}
    assert values == {"00": PALLET, "02": BOLT_GTIN14, "37": "12", "10": site["pallet"]}
    assert "]C0LOC:A-01" in decode(labels.render_png("location", location, "4x3", 203))
    assert "]C0OPR:OP-7" in decode(labels.render_png("badge", badge, "4x3", 203))
    assert {code[3:] for code in decode(labels.render_png("commands", commands, "4x6", 203))} >= {
        "CMD:CONFIRM", "CMD:CANCEL", "CMD:UNDO", "CMD:NEXT", "CMD:REPRINT"}
    for template, data in (("pallet", pallet), ("location", location), ("badge", badge), ("commands", commands)):
        zpl = labels.render_zpl(template, data, "4x6", 203)
        assert zpl.startswith(b"^XA") and zpl.endswith(b"^PQ1^XZ"), template
    assert f"(00){PALLET}".encode() in labels.render_zpl("pallet", pallet, "4x6", 203)


@pytest.mark.parametrize("size", ["4x6", "4x3", "4x2", "2x1"])
@pytest.mark.parametrize("dpi", [203, 300, 600])
def test_every_template_at_every_size_renders_or_says_why_not(db, site, size, dpi):
    with db.write() as s:
        every = {"lot": labels.label_data(s, "lot", site["bolt"]),
                 "pallet": labels.label_data(s, "pallet", site["pallet"], sscc=PALLET),
                 "location": labels.label_data(s, "location", "LINE-1"),
                 "badge": labels.label_data(s, "badge", "OP-7"),
                 "commands": labels.label_data(s, "commands")}
    for template, data in every.items():
        try:
            zpl = labels.render_zpl(template, data, size, dpi)
        except labels.LabelNotPossible as exc:  # a template may not fit a size; never anything else
            assert exc.status == 422 and size in exc.message, (template, exc.message)
            continue
        assert zpl.startswith(b"^XA"), template
        assert labels.render_png(template, data, size, dpi)[:8] == b"\x89PNG\r\n\x1a\n", template
