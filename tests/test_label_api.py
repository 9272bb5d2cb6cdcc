"""Label endpoints: GET /api/v1/lots/<lot>/label.zpl|png (and locations, badges, the command sheet)
over a real database; ZPL text with every data character escaped, PNG previews that decode back to
their GS1 data, JSON refusals, the OpenAPI document, and the lot card's preview."""
from __future__ import annotations

import datetime as dt
import io
from urllib.parse import quote

import biip
import pytest
import zxingcpp
from biip.sscc import Sscc
from PIL import Image
from sqlalchemy import func, select

from station.models import PrintJob, SequenceReset, SsccCounter, StationDevice
from station.services import catalog, numbering
from station.services.tokens import create_token
from station.models import Role

from factories import TODAY, gtin13, operator, printer, received_lot

BOLT_GTIN14 = "0" + gtin13("400000000001")
PALLET = "376130321109103420"
EXPIRY = dt.date(2027, 1, 31)


@pytest.fixture
def site(site):
    site.lot("bolt", "BOLT", 40, supplier="ACME", supplier_lot="ACME-77", expiry=EXPIRY, on=TODAY)
    site.lot("pallet", "BOLT", 12, supplier="ACME", supplier_lot="ACME-88", sscc=PALLET, on=TODAY)
    with site.write() as s:
        operator(s)
        site["token"] = create_token(s, "labels", Role.SUPERVISOR)
    return site


@pytest.fixture
def get(client, site):
    def get(path: str, **headers):
        headers.setdefault("Authorization", f"Bearer {site['token']}")
        return client.get("/api/v1" + path, headers=headers)
    return get


def assert_error(response, status: int, code: str, *words: str) -> dict:
    assert response.status_code == status, response.data
    assert response.mimetype == "application/json"
    error = response.get_json()["error"]
    assert error["code"] == code, error
    for word in words:
        assert word in error["message"], error
    return error


def decode(png: bytes) -> list[str]:
    image = Image.open(io.BytesIO(png))
    return [r.symbology_identifier + r.text
            for r in zxingcpp.read_barcodes(image, text_mode=zxingcpp.TextMode.Plain)]


def nothing_drawn_or_queued(database) -> bool:
    with database.read() as s:
        return (s.scalar(select(func.count()).select_from(SsccCounter)),
                s.scalar(select(func.count()).select_from(PrintJob))) == (0, 0)


# --- lot labels --------------------------------------------------------------------------------


def test_lot_label_zpl_is_utf8_text_with_the_gs1_data(get, site, database):
    response = get(f"/lots/{site['bolt']}/label.zpl?copies=2")
    assert response.status_code == 200, response.data
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Disposition"] == f'inline; filename="{site["bolt"]}-lot.zpl"'
    zpl = response.data
    assert zpl.startswith(b"^XA") and zpl.endswith(b"^PQ2^XZ") and b"^CI28" in zpl
    assert b"^PW812^LL1218" in zpl  # no printer: 4x6 at 203 dpi
    hri = f"(01){BOLT_GTIN14}(17)270131(10){site['bolt']}".encode()
    assert hri in zpl
    assert f"https://id.gs1.org/01/{BOLT_GTIN14}/10/{site['bolt']}?17=270131".encode() in zpl
    assert b"ACME-77" in zpl and b"Bolt M8" in zpl
    assert nothing_drawn_or_queued(database)


def test_lot_number_and_text_from_data_are_escaped_in_the_zpl(get, site, database):
    with database.write() as s:
        item = catalog.item_by_sku(s, "MILK")
        numbering.set_scheme(s, "M^{seq:03}~XZ", SequenceReset.NEVER, item)
        lot = received_lot(s, "MILK", 3, supplier_lot="^XZ~JA_5E^FS")
        number = lot.lot_number
    assert number == "M^001~XZ"
    response = get(f"/lots/{quote(number)}/label.zpl")
    assert response.status_code == 200, response.data
    zpl = response.data
    assert zpl.count(b"^XA") == 1 and zpl.count(b"^XZ") == 1 and zpl.endswith(b"^XZ")
    assert number.encode() not in zpl and b"~JA" not in zpl
    assert b"M_5E001_7EXZ" in zpl  # ^FH hex escapes: ^ is _5E, ~ is _7E
    assert b"_5EXZ_7EJA_5F5E_5EFS" in zpl  # and _ (the ^FH escape character itself) is _5F
    # A lot number AI 10 cannot carry ("^" is not GS1 character set 82) is Station's LOT: code instead.
    assert b"(10)" not in zpl
    png = get(f"/lots/{quote(number)}/label.png")
    assert png.status_code == 200
    assert "]C0LOT:" + number in decode(png.data)
    # ... and a pallet label, whose lot is always GS1 (10), cannot carry it: refused, not a 500.
    assert_error(get(f"/lots/{quote(number)}/label.png?template=pallet"), 422, "pallet_lot_not_gs1")


def test_lot_label_png_decodes_to_the_gs1_data_and_the_digital_link(get, site):
    response = get(f"/lots/{site['bolt']}/label.png")
    assert response.status_code == 200 and response.mimetype == "image/png"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    image = Image.open(io.BytesIO(response.data))
    assert image.size == (812, 1218)
    found = decode(response.data)
    gs1_128 = next(code for code in found if code.startswith("]C1"))
    message = biip.parse(gs1_128).gs1_message
    assert message.element_strings.get(ai="01").gtin.value == BOLT_GTIN14
    assert message.element_strings.get(ai="17").date == EXPIRY
    assert message.element_strings.get(ai="10").value == site["bolt"]
    link = next(code for code in found if code.startswith("]Q"))
    assert link.endswith(f"https://id.gs1.org/01/{BOLT_GTIN14}/10/{site['bolt']}?17=270131")


def test_size_and_dpi_come_from_the_query_the_station_or_the_first_printer(get, site, database):
    def png_size(query: str) -> tuple[int, int]:
        response = get(f"/lots/{site['bolt']}/label.png{query}")
        assert response.status_code == 200, response.data
        return Image.open(io.BytesIO(response.data)).size

    assert png_size("") == (812, 1218)
    with database.write() as s:
        printer(s, "first", "4x3", 300)
        line = printer(s, "line", "4x2", 203)
        s.add(StationDevice(name="Line PC", printer_id=line.id))
    assert png_size("") == (1200, 900)
    assert png_size("?station=Line%20PC") == (812, 406)
    assert png_size("?station=Line%20PC&dpi=600") == (2400, 1200)
    assert png_size("?size=2x1&dpi=203") == (406, 203)
    zpl = get(f"/lots/{site['bolt']}/label.zpl?station=Line%20PC").data
    assert b"^PW812^LL406" in zpl
    assert_error(get(f"/lots/{site['bolt']}/label.png?station=Dock"), 400, "unknown_station", "Dock")


def test_an_unchanged_label_answers_304_to_its_etag(get, site):
    first = get(f"/lots/{site['bolt']}/label.png")
    assert first.headers["ETag"] and "no-cache" in first.headers["Cache-Control"]
    again = get(f"/lots/{site['bolt']}/label.png", **{"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""


# --- pallet labels: a GET never draws an SSCC --------------------------------------------------


def test_a_pallet_preview_shows_the_placeholder_sscc_and_draws_none(get, site, database, app):
    response = get(f"/lots/{site['bolt']}/label.png?template=pallet")
    assert response.status_code == 200, response.data
    found = decode(response.data)
    sscc = next(biip.parse(code).gs1_message.element_strings.get(ai="00").sscc
                for code in found if code.startswith("]C1") and code[3:5] == "00")
    prefix = app.config["GS1_COMPANY_PREFIX"]
    assert sscc.value[1:1 + len(prefix)] == prefix and sscc.value[1 + len(prefix):17] == "0" * (16 - len(prefix))
    assert nothing_drawn_or_queued(database)


def test_a_pallet_zpl_needs_one_of_the_lots_own_ssccs(get, site, database):
    assert_error(get(f"/lots/{site['bolt']}/label.zpl?template=pallet"), 400, "sscc_required",
                 f"POST /api/v1/lots/{site['bolt']}/labels")
    again = get(f"/lots/{site['pallet']}/label.zpl?template=pallet&sscc={PALLET}")
    assert again.status_code == 200, again.data
    assert f"(00){PALLET}".encode() in again.data
    assert again.headers["Content-Disposition"] == f'inline; filename="{site["pallet"]}-pallet.zpl"'
    assert_error(get(f"/lots/{site['bolt']}/label.zpl?template=pallet&sscc={PALLET}"), 404, "unknown_pallet",
                 f"Lot {site['bolt']} has no pallet with SSCC {PALLET}")
    assert_error(get(f"/lots/{site['pallet']}/label.zpl?template=pallet&sscc=376130321109103421"), 400,
                 "invalid_sscc")
    assert nothing_drawn_or_queued(database)


def test_a_pallet_label_of_a_printed_sscc_can_be_made_again(get, site, database):
    with database.write() as s:
        lot = catalog.lot_by_number(s, site["bolt"])
        zebra = printer(s, "zebra")
        drawn = Sscc.parse("073123450000000014").value
        s.add(PrintJob(printer_id=zebra.id, lot_id=lot.id, template="pallet", sscc=drawn))
    response = get(f"/lots/{site['bolt']}/label.png?template=pallet&sscc={drawn}")
    assert response.status_code == 200, response.data
    assert any(code.startswith(f"]C100{drawn}") for code in decode(response.data))


def test_sscc_is_only_for_pallet_labels(get, site):
    assert_error(get(f"/lots/{site['pallet']}/label.zpl?sscc={PALLET}"), 400, "sscc_not_allowed")


# --- refusals ----------------------------------------------------------------------------------


@pytest.mark.parametrize("query, field, words", [
    ("template=invoice", "template", "must be 'lot' or 'pallet'"),
    ("size=5x5", "size", "must be '4x6', '4x3', '4x2' or '2x1'"),
    ("size=", "size", "must be '4x6'"),
    ("dpi=204", "dpi", "must be 203, 300 or 600"),
    ("dpi=high", "dpi", "valid integer"),
    ("copies=0", "copies", "greater than or equal to 1"),
    ("copies=1001", "copies", "less than or equal to 1000"),
    ("copies=two", "copies", "valid integer"),
    ("sscc=12345", "sscc", "must be an SSCC of 18 digits"),
    ("tempalte=pallet", "tempalte", "is not a field of this request"),
])
def test_bad_parameters_are_400_json_naming_the_field(get, site, query, field, words):
    error = assert_error(get(f"/lots/{site['bolt']}/label.zpl?{query}"), 400, "invalid", field, words)
    assert error["fields"][0]["field"] == field
    if not query.startswith("copies"):
        assert_error(get(f"/lots/{site['bolt']}/label.png?{query}"), 400, "invalid", field)


def test_copies_is_not_a_parameter_of_a_preview(get, site):
    assert_error(get(f"/lots/{site['bolt']}/label.png?copies=2"), 400, "invalid", "copies")


@pytest.mark.parametrize("path, code", [
    ("/lots/NOPE/label.zpl", "unknown_lot"),
    ("/lots/NOPE/label.png", "unknown_lot"),
    ("/lots/NOPE/label.png?template=pallet", "unknown_lot"),
    ("/locations/Z-99/label.zpl", "unknown_location"),
    ("/locations/Z-99/label.png", "unknown_location"),
    ("/operators/OP-404/badge.zpl", "unknown_operator"),
    ("/operators/OP-404/badge.png", "unknown_operator"),
])
def test_unknown_records_are_404_json(get, site, path, code):
    assert_error(get(path), 404, code)


def test_labels_need_a_token(client, site):
    for path in (f"/lots/{site['bolt']}/label.zpl", f"/lots/{site['bolt']}/label.png",
                 "/locations/A-01/label.png", "/operators/OP-7/badge.zpl", "/commands/label.png"):
        assert_error(client.get("/api/v1" + path), 401, "unauthorized")


def test_a_printer_set_to_a_size_without_layouts_is_a_422_naming_it(get, site, database):
    with database.write() as s:
        printer(s, "odd", "5x5", 203)
    assert_error(get(f"/lots/{site['bolt']}/label.zpl"), 422, "printer_format_unsupported", "Printer odd")
    assert get(f"/lots/{site['bolt']}/label.zpl?size=4x6&dpi=203").status_code == 200


# --- locations, badges, commands -------------------------------------------------------------


def test_location_label(get, site):
    zpl = get("/locations/A-01/label.zpl")
    assert zpl.status_code == 200, zpl.data
    assert b"A-01" in zpl.data
    png = get("/locations/A-01/label.png")
    assert png.status_code == 200 and any(code.endswith("LOC:A-01") or code.endswith("A-01")
                                          for code in decode(png.data))


def test_operator_badge(get, site):
    zpl = get("/operators/OP-7/badge.zpl")
    assert zpl.status_code == 200, zpl.data
    assert b"Grace Hopper" in zpl.data
    png = get("/operators/OP-7/badge.png")
    assert png.status_code == 200 and any(code.endswith("OPR:OP-7") for code in decode(png.data))


def test_command_sheet(get, site):
    png = get("/commands/label.png")
    assert png.status_code == 200, png.data
    found = {code[3:] for code in decode(png.data)}
    assert {"CMD:CONFIRM", "CMD:CANCEL", "CMD:UNDO", "CMD:NEXT", "CMD:REPRINT"} <= found


# --- OpenAPI -----------------------------------------------------------------------------------


def test_openapi_documents_the_label_routes(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    paths = doc["paths"]
    for path, media in [("/api/v1/lots/{lot_number}/label.zpl", "text/plain"),
                        ("/api/v1/lots/{lot_number}/label.png", "image/png"),
                        ("/api/v1/locations/{code}/label.zpl", "text/plain"),
                        ("/api/v1/locations/{code}/label.png", "image/png"),
                        ("/api/v1/operators/{badge}/badge.zpl", "text/plain"),
                        ("/api/v1/operators/{badge}/badge.png", "image/png"),
                        ("/api/v1/commands/label.zpl", "text/plain"),
                        ("/api/v1/commands/label.png", "image/png")]:
        op = paths[path]["get"]
        assert list(op["responses"]["200"]["content"]) == [media], path
        assert "400" in op["responses"] and "401" in op["responses"] and "422" in op["responses"]
        assert "query parameter" in op["responses"]["400"]["description"]
        assert op["responses"]["400"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/ErrorOut"}
    op = paths["/api/v1/lots/{lot_number}/label.zpl"]["get"]
    assert set(op["responses"]) == {"200", "400", "401", "404", "409", "422"}
    params = {p["name"]: p for p in op["parameters"]}
    assert set(params) == {"lot_number", "template", "size", "dpi", "station", "copies", "sscc"}
    assert params["template"]["schema"]["enum"] == ["lot", "pallet"]
    assert params["dpi"]["schema"]["anyOf"][0]["enum"] == [203, 300, 600]
    assert "copies" not in {p["name"] for p in paths["/api/v1/lots/{lot_number}/label.png"]["get"]["parameters"]}


# --- the lot card's preview --------------------------------------------------------------------


def test_the_lot_card_offers_a_label_preview_that_needs_no_token(client, signed_in, site, database):
    signed_in(client, "picker")  # no API token: the page's signed-in operator is enough
    page = client.get(f"/lots/{site['bolt']}")
    assert page.status_code == 200
    src = f'src="/lots/{site["bolt"]}/label.png"'
    assert src in page.text and "Label preview" in page.text
    png = client.get(f"/lots/{site['bolt']}/label.png")
    assert png.status_code == 200 and png.mimetype == "image/png"
    assert any(code.startswith("]C1") for code in decode(png.data))
    missing = client.get("/lots/NOPE/label.png")
    assert (missing.status_code, missing.mimetype) == (404, "text/plain") and b"No lot 'NOPE'" in missing.data
    assert nothing_drawn_or_queued(database)
