"""The scan page, its POST and feed, and the scan log, through the Flask test client on both backends."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from station.models import Scan, StationDevice
from station import auth as floor

HX = {"HX-Request": "true"}


@pytest.fixture
def client(client, signed_in):
    """Every page needs a signed-in operator (station/auth/ require_signed_in): a picker's client,
    whose role may use the lookup and the scan page."""
    signed_in(client, "picker")
    return client


@pytest.fixture
def db(app):
    return app.extensions["station.db"]


@pytest.fixture
def stations(db) -> dict[str, int]:
    with db.write() as s:
        dock = StationDevice(name="Dock tablet", scanner_url="sim://dock-scanner")
        line = StationDevice(name="Line 1 PC")
        s.add_all([dock, line])
        s.flush()
        return {"Dock tablet": dock.id, "Line 1 PC": line.id}


def count(db) -> int:
    with db.read() as s:
        return s.scalar(select(func.count()).select_from(Scan))


def ids_in(body: str) -> list[int]:
    return [int(n) for n in re.findall(r'data-scan-id="(\d+)"', body)]


def test_the_scan_page_asks_which_station_first_then_remembers_it(client, stations):
    first = client.get("/scan")
    assert first.status_code == 200 and "which station is this?" in first.text
    assert 'href="/scan?station=Dock+tablet"' in first.text
    chosen = client.get("/scan?station=Dock+tablet")
    assert chosen.status_code == 200
    assert 'data-scan-url="/scan"' in chosen.text and 'data-scan-station="Dock tablet"' in chosen.text
    with client.application.test_request_context():  # remembered in the signed station cookie
        signed = floor.station_cookie_value("Dock tablet")
    assert f"station={signed};" in chosen.headers["Set-Cookie"]
    again = client.get("/scan")
    assert 'data-scan-station="Dock tablet"' in again.text
    assert "which station" in client.get("/scan?choose=1").text


def test_an_unknown_station_shows_the_picker_with_a_red_banner_and_forgets_the_cookie(client, stations):
    client.get("/scan?station=Dock+tablet")
    response = client.get("/scan?station=Nope")
    assert response.status_code == 404
    assert "No station called" in response.text and "banner--error" in response.text
    assert "station=;" in response.headers["Set-Cookie"]


def test_the_scan_page_has_no_inline_script(client, stations):
    body = client.get("/scan?station=Dock+tablet").text
    assert "<script>" not in body and "onclick" not in body and "hx-on" not in body
    assert re.findall(r"<script[^>]*>", body) == [
        '<script src="/vendor/htmx.min.js" defer>', '<script src="/static/station.js" defer>']


def test_post_scan_logs_it_and_answers_with_the_result_partial(client, db, stations):
    response = client.post("/scan", data={"code": "LOC:NOWHERE", "client_id": "page-test-0001",
                                          "station": "Dock tablet"}, headers=HX)
    assert response.status_code == 200
    [scan_id] = ids_in(response.text)
    assert response.headers["X-Scan-Id"] == str(scan_id)
    assert response.text.lstrip().startswith("<section") and "<html" not in response.text
    assert "banner--scan" in response.text
    with db.read() as s:
        row = s.get(Scan, scan_id)
        assert (row.source, row.station_id, row.raw, row.client_id) == (
            "wedge", stations["Dock tablet"], b"LOC:NOWHERE", "page-test-0001")


def test_a_retried_post_returns_the_same_scan_and_logs_once(client, db, stations):
    form = {"code": "LOC:NOWHERE", "client_id": "page-test-retry", "station": "Dock tablet"}
    first = client.post("/scan", data=form, headers=HX)
    second = client.post("/scan", data=form, headers=HX)
    assert ids_in(first.text) == ids_in(second.text)
    assert count(db) == 1


def test_json_in_and_json_out(client, db, stations):
    response = client.post("/scan", json={"code": "LOC:NOWHERE", "client_id": "json-test-0001",
                                          "station": "Line 1 PC"},
                           headers={"Accept": "application/json"})
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"scan_id", "retried", "ignored", "duplicate_of", "resolution"}
    assert body["resolution"]["ok"] is False and body["resolution"]["kind"]
    with db.read() as s:
        assert s.get(Scan, body["scan_id"]).source == "api"


def test_a_post_without_javascript_gets_the_whole_page_with_the_answer(client, stations):
    response = client.post("/scan", data={"code": "LOC:NOWHERE", "station": "Dock tablet", "source": "manual"})
    assert response.status_code == 200
    assert "<html" in response.text and "scan-result" in response.text


@pytest.mark.parametrize("form, error", [
    ({"code": ""}, "Nothing scanned"),
    ({"code": "\r\n"}, "Nothing scanned"),
    ({"code": "LOC:X", "station": "Nope"}, "No station called"),
    ({"code": "LOC:X", "client_id": "bad id!"}, "client_id must be"),
    ({"code": "LOC:X", "source": "serial:///dev/ttyS0"}, "Unknown source"),
    ({"code": "x" * 20_000}, "far too long"),
])
def test_requests_that_are_not_a_scan_are_refused_and_not_logged(client, db, stations, form, error):
    response = client.post("/scan", data=form, headers=HX)
    assert response.status_code == 400
    assert error in response.text and "banner--error" in response.text
    assert count(db) == 0


def test_json_fields_of_the_wrong_type_are_refused(client, db, stations):
    for body in ({"code": "LOC:X", "client_id": 12345678}, {"code": "LOC:X", "station": ["Dock tablet"]},
                 {"code": 42}, ["LOC:X"]):
        assert client.post("/scan", json=body, headers=HX).status_code == 400, body
    assert count(db) == 0


def test_the_feed_gives_a_stations_new_scans_in_order_and_204_when_there_are_none(client, stations):
    assert client.get("/scan/feed?station=Dock+tablet&after=0").status_code == 204
    posted = [ids_in(client.post("/scan", data={"code": f"LOC:{n}", "station": station}, headers=HX).text)[0]
              for n, station in enumerate(["Dock tablet", "Line 1 PC", "Dock tablet"])]
    feed = client.get("/scan/feed?station=Dock+tablet&after=0", headers=HX)
    assert feed.status_code == 200 and feed.headers["Cache-Control"] == "no-store"
    assert ids_in(feed.text) == [posted[0], posted[2]]
    assert feed.headers["X-Scan-Last"] == str(posted[2])
    assert feed.text.count("scan-result__details") <= 1  # only the newest carries details
    assert client.get(f"/scan/feed?station=Dock+tablet&after={posted[2]}").status_code == 204
    assert client.get("/scan/feed?station=Nope&after=0").status_code == 404
    assert client.get("/scan/feed?station=Dock+tablet").status_code == 400


def test_the_page_starts_its_cursor_after_the_stations_last_scan_and_lists_recent_ones(client, stations):
    for n in range(3):
        client.post("/scan", data={"code": f"LOC:{n}", "station": "Dock tablet"}, headers=HX)
    body = client.get("/scan?station=Dock+tablet").text
    shown = ids_in(body)
    assert f'data-scan-cursor="{max(shown)}"' in body
    assert shown == sorted(shown, reverse=True) and len(shown) == 3
    assert "Ready — scan a barcode" in body


def test_the_scan_log_shows_raw_bytes_safely_and_filters_by_station(client, db, stations):
    from station.services.scans import ingest

    ingest(db, b"]C1010950110153000310ABC\x1d17240630\r", source="sim://dock-scanner",
           station_id=stations["Dock tablet"])
    ingest(db, b"<script>alert(1)</script>", source="api", station_id=stations["Line 1 PC"])
    page = client.get("/scans")
    assert page.status_code == 200
    assert "1d 31 37" in page.text  # the GS byte in the hex dump
    assert 'title="control character GS (0x1D)"' in page.text
    assert "<script>alert" not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "\x1d" not in page.text
    only_dock = client.get("/scans?station=Dock+tablet")
    assert "sim://dock-scanner" in only_dock.text and "&lt;script&gt;" not in only_dock.text
    rows = client.get("/scans?station=Dock+tablet", headers=HX)
    assert rows.text.lstrip().startswith("<tbody") and 'hx-trigger="every 2s"' in rows.text
    assert client.get("/scans?station=Nope").status_code == 404


def test_home_links_to_the_scan_page_and_the_scan_log(client, signed_in):
    signed_in(client, "supervisor")  # the scan log is a set-up tool: supervisors and admins see its tile
    body = client.get("/").text
    assert 'href="/scan"' in body and 'href="/scans"' in body


def test_a_held_lot_found_by_a_scan_shows_an_amber_banner_not_a_green_one(client, db, stations):
    from factories import TODAY, basic_site
    from station.services import catalog, holds, receiving

    basic_site(db)
    with db.write() as s:
        lot = receiving.receive(s, item=catalog.item_by_sku(s, "BOLT"), qty=5,
                                location=catalog.location_by_code(s, "DOCK"), on=TODAY)
        good = receiving.receive(s, item=catalog.item_by_sku(s, "BOLT"), qty=5,
                                 location=catalog.location_by_code(s, "DOCK"), on=TODAY).lot_number
        holds.hold(s, lot, "lab test pending")
        held = lot.lot_number
    answers = [client.post("/scan", data={"code": f"LOT:{number}", "client_id": f"amber-test-{n:04d}",
                                          "station": "Dock tablet"}, headers=HX).text
               for n, number in enumerate((held, good))]
    assert 'data-blocked="hold"' in answers[0] and "banner--warn" in answers[0]
    assert "banner--ok" not in answers[0].split("scan-result__meta")[0]
    assert "data-blocked" not in answers[1] and "banner--ok" in answers[1]


def test_a_scan_of_the_stations_own_scanner_on_the_lookup_page_is_answered_like_a_wedge_scan(
        client, db, stations, bound_station):
    """The lookup page open at a station: a sim:// scan there is looked up on the server, and
    /floor/answer/<scan id> draws it as the page's scan POST draws a wedge scan (banner and card)."""
    from factories import TODAY, basic_site
    from station.services import catalog, receiving
    from station.workflows.intake import ScanIn, take

    basic_site(db)
    with db.write() as s:
        number = receiving.receive(s, item=catalog.item_by_sku(s, "BOLT"), qty=5,
                                   location=catalog.location_by_code(s, "DOCK"), on=TODAY).lot_number
    bound_station(client, "Dock tablet")
    assert client.get("/lots").status_code == 200
    for code in (f"LOT:{number}", "NOPE-NOPE-42"):
        taken = take(db, ScanIn(code=code, source="sim://dock-scanner", station_id=stations["Dock tablet"]))
        assert taken.workflow == "lookup"
        device = client.get(f"/floor/answer/{taken.scan_id}", headers=HX)
        wedge = client.post("/lots/scan", data={"code": code, "source": "wedge"}, headers=HX)
        assert device.status_code == wedge.status_code == 200
        assert device.text.replace(f'data-scan-id="{taken.scan_id}"', "") == \
            wedge.text.replace(f'data-scan-id="{wedge.headers.get("X-Scan-Id") or ids_in(wedge.text)[0]}"', "")
