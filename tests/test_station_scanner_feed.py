"""A station's own scanner (serial, simulated) drives the workflow page open at that station.

The scanner service logs its scans (services.scans.ingest, source = the scanner URL). The page polls
GET /scan/station-feed for them and sends each to its own scan URL with the client id
"logged:<scan id>"; the page's handler applies the logged scan once and logs nothing new: the row is
claimed, so a retry, a second tab or a racing process gets the first answer (retried). Through the
test client on SQLite and PostgreSQL; the browser end to end is in test_station_scanner_feed_browser
below (a sim:// scanner driving the receiving and picking pages)."""
from __future__ import annotations

import html
import re
import threading
import uuid

import pytest
from sqlalchemy import func, select

from factories import basic_site, received_lot
from station.models import Movement, Scan, ScanApplication, StationDevice
from station.services import catalog, scans

HX = {"HX-Request": "true"}
SIM = "sim://dock-feed-test"


@pytest.fixture
def database(app):
    return app.extensions["station.db"]


@pytest.fixture
def site(database) -> dict:
    basic_site(database)
    with database.write() as s:
        lot = received_lot(s, "BOLT", 40, location="A-01")
        dock = catalog.location_by_code(s, "DOCK")
        station = StationDevice(name="Dock tablet", location_id=dock.id, scanner_url=SIM)
        other = StationDevice(name="Line 1 PC")
        s.add_all([station, other])
        s.flush()
        return {"lot": lot.lot_number, "station": station.id, "other": other.id}


@pytest.fixture
def mover(client, site, signed_in, bound_station):
    signed_in(client, "receiver")
    bound_station(client, "Dock tablet")
    return client


def from_scanner(database, site, code: str, station: str = "station") -> int:
    """What the scanner service does with a scan of the station's scanner."""
    return scans.ingest(database, code, source=SIM, station_id=site[station]).scan_id


def scan_rows(database) -> int:
    with database.read() as s:
        return s.scalar(select(func.count()).select_from(Scan))


def feed(client, after: int = 0):
    return client.get("/scan/station-feed", query_string={"station": "Dock tablet", "after": after})


def apply(client, scan_id: int, code: str, path: str = "/move/scan"):
    return client.post(path, data={"code": code, "client_id": scans.logged_client_id(scan_id), "source": "wedge"},
                       headers=HX)


def test_the_feed_lists_the_scanners_new_scans_only(mover, database, site):
    assert feed(mover).status_code == 204
    mover.post("/move/scan", data={"code": "LOC:A-02", "client_id": uuid.uuid4().hex}, headers=HX)  # a wedge scan
    first = from_scanner(database, site, f"LOT:{site['lot']}")
    from_scanner(database, site, f"LOT:{site['lot']}")  # the trigger bounced: logged, ignored
    from_scanner(database, site, "LOC:A-02", station="other")  # another station's scanner
    second = from_scanner(database, site, "]C1\x1d0104000000000011")
    answer = feed(mover).get_json()
    assert answer["scans"] == [{"id": first, "code": f"LOT:{site['lot']}"},
                               {"id": second, "code": "]C1\x1d0104000000000011"}]
    assert answer["last"] == second
    assert feed(mover, after=first).get_json()["scans"] == [{"id": second, "code": "]C1\x1d0104000000000011"}]
    assert feed(mover, after=second).status_code == 204
    assert feed(mover).headers["Cache-Control"] == "no-store"


def test_the_feed_refuses_a_bad_cursor_or_station_in_words(client, site):
    response = client.get("/scan/station-feed", query_string={"station": "Dock tablet", "after": "x"})
    assert response.status_code == 400 and "after must be a scan id" in response.text
    response = client.get("/scan/station-feed", query_string={"station": "Nowhere", "after": 0})
    assert response.status_code == 404 and "No such station" in response.text


def test_a_workflow_page_of_a_station_with_a_scanner_polls_its_feed(mover, database, site):
    before = from_scanner(database, site, "LOC:A-02")
    page = mover.get("/move").text
    assert 'data-station-feed="/scan/station-feed?station=Dock+tablet"' in page
    assert f'data-station-feed-after="{before}"' in page  # only scans made from now on
    with database.write() as s:
        s.get(StationDevice, site["station"]).scanner_url = None
    assert "data-station-feed" not in mover.get("/move").text  # a keyboard scanner: nothing to poll


def test_a_scanner_scan_sent_by_the_page_acts_once_and_is_logged_once(mover, database, site):
    scan_id = from_scanner(database, site, f"LOT:{site['lot']}")
    rows = scan_rows(database)
    first = apply(mover, scan_id, f"LOT:{site['lot']}")
    assert first.status_code == 200 and f"Lot {site['lot']}: 40 ea of BOLT at A-01." in first.text
    assert f'data-scan-id="{scan_id}"' in first.text
    assert scan_rows(database) == rows  # nothing new in the log
    with database.read() as s:
        row, applied = s.get(Scan, scan_id), s.get(ScanApplication, scan_id)
        assert applied.client_id == f"logged:{scan_id}" and applied.operator_id is not None and row.source == SIM
    assert feed(mover).status_code == 200 and feed(mover).get_json()["scans"] == []  # applied: not offered again

    mover.post("/move/qty", data={"qty": "5"})
    dest = from_scanner(database, site, "LOC:A-02")
    assert "Moved: 5 ea of BOLT" in apply(mover, dest, "LOC:A-02").text
    again = apply(mover, dest, "LOC:A-02")  # the answer was lost and the page sends it again
    assert again.status_code == 200 and "Moved" not in again.text
    with database.read() as s:
        assert s.scalar(select(func.count()).select_from(Movement).where(Movement.kind == "move")) == 1
    assert scan_rows(database) == rows + 1


def test_only_this_stations_scanner_scans_can_be_sent_this_way(mover, database, site):
    elsewhere = from_scanner(database, site, f"LOT:{site['lot']}", station="other")
    response = apply(mover, elsewhere, f"LOT:{site['lot']}")
    assert response.status_code == 400 and "not made at this station's scanner" in html.unescape(response.text)
    wedge = mover.post("/move/scan", data={"code": "LOC:A-02", "client_id": uuid.uuid4().hex}, headers=HX)
    wedge_id = int(re.search(r'data-scan-id="(\d+)"', wedge.text).group(1))
    response = apply(mover, wedge_id, "LOC:A-02")
    assert response.status_code == 400 and "own scanner" in html.unescape(response.text)
    response = apply(mover, 999999, "LOC:A-02")
    assert response.status_code == 400 and "scan it again" in response.text
    with database.read() as s:
        assert s.get(ScanApplication, elsewhere) is None  # nothing claimed


def test_racing_claims_of_one_scanner_scan_act_once(database, site):
    scan_id = from_scanner(database, site, f"LOT:{site['lot']}")
    outcomes, errors = [], []
    start = threading.Barrier(4)

    def claim():
        try:
            start.wait()
            outcomes.append(scans.ingest(database, f"LOT:{site['lot']}", source="wedge", station_id=site["station"],
                                         client_id=scans.logged_client_id(scan_id)))
        except Exception as exc:  # noqa: BLE001 — reported below
            errors.append(exc)

    threads = [threading.Thread(target=claim) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert sorted(o.retried for o in outcomes) == [False, True, True, True]
    assert {o.scan_id for o in outcomes} == {scan_id}
    assert scan_rows(database) == 1


# --- end to end: a sim:// scanner drives the receiving and picking pages in Chromium ----------------


def _browser_page(browser, viewport=None):
    from browser_support import TABLET

    context = browser.new_context(viewport=viewport or TABLET)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return context, page, errors


@pytest.fixture
def sim_site(sqlite_app) -> dict:
    from factories import gtin13, printer

    db = sqlite_app.extensions["station.db"]
    sim = f"dock-{uuid.uuid4().hex[:8]}"
    basic_site(db)
    with db.write() as s:
        zebra = printer(s, "dock-zebra", url=f"sim://feed-{uuid.uuid4().hex[:8]}")
        dock = catalog.location_by_code(s, "DOCK")
        s.add(StationDevice(name="Dock 1", location_id=dock.id, printer_id=zebra.id, scanner_url=f"sim://{sim}"))
        bolt = received_lot(s, "BOLT", 40, location="A-01")
        from factories import order

        order(s, "SO-9", [("BOLT", 4)])
    return {"db": db, "sim": sim, "bolt": bolt.lot_number, "gtin": gtin13("400000000001").zfill(14)}


def _signed(app, name: str) -> str:
    """The station cookie's value as set-up writes it: the name signed with the app's key."""
    from station.views.floor import station_cookie_value

    with app.test_request_context():
        return station_cookie_value(name)


def _open(page, live_server, sqlite_app, signed_in_page, role, path):
    signed_in_page(page, live_server.url, sqlite_app, role)
    page.context.add_cookies([{"name": "station", "value": _signed(sqlite_app, "Dock 1"), "url": live_server.url}])
    page.goto(f"{live_server.url}{path}")
    page.wait_for_function("() => !!document.body.dataset.stationFeed")


def _logged(db) -> list[tuple[str, str, str | None]]:
    with db.read() as s:
        return [(raw.decode(), source, client_id) for raw, source, client_id in
                s.execute(select(Scan.raw, Scan.source, ScanApplication.client_id)
                          .outerjoin(ScanApplication, ScanApplication.scan_id == Scan.id).order_by(Scan.id))]


def test_a_pallet_scanned_on_the_stations_sim_scanner_fills_the_receiving_page(
        sqlite_app, live_server, browser, signed_in_page, sim_site):
    from playwright.sync_api import expect

    from browser_support import screenshot
    from devices.scanners import sim
    from station.scanner_service import ScannerService

    context, page, errors = _browser_page(browser)
    _open(page, live_server, sqlite_app, signed_in_page, "receiver", "/receive")
    label = f"]C100376130321109103420\x1d02{sim_site['gtin']}10S-77\x1d3712"
    with ScannerService(sim_site["db"], refresh_s=0):
        sim.inject(sim_site["sim"], label)
        banner = page.locator("#scan-current .banner--ok")
        expect(banner).to_contain_text("BOLT Bolt M8, lot S-77 — filled from the label.")
        expect(page.locator("#receive-qty")).to_have_value("12")
        assert page.evaluate("document.body.dataset.scanSound") == "ok"
        screenshot(page, "station-scanner-receive-1280")
        sim.inject(sim_site["sim"], "CMD:CONFIRM")  # the command barcode, from the scanner: Confirm
        expect(page.locator(".receive-done")).to_be_visible()
        page.wait_for_timeout(400)  # any second application would have come by now
    rows = _logged(sim_site["db"])
    sim_url = f"sim://{sim_site['sim']}"
    assert [(raw, source) for raw, source, _ in rows] == [(label, sim_url), ("CMD:CONFIRM", sim_url)]
    assert rows[0][2] and rows[0][2].startswith("logged:")  # applied by the page, logged once
    with sim_site["db"].read() as s:
        assert s.scalar(select(func.count()).select_from(Movement).where(Movement.kind == "receive")) == 2
    context.close()
    assert not errors, errors


def test_a_lot_scanned_on_the_stations_sim_scanner_is_picked_on_the_pick_page(
        sqlite_app, live_server, browser, signed_in_page, sim_site):
    from playwright.sync_api import expect

    from browser_support import HANDHELD, screenshot
    from devices.scanners import sim
    from station.scanner_service import ScannerService

    context, page, errors = _browser_page(browser, HANDHELD)
    _open(page, live_server, sqlite_app, signed_in_page, "picker", "/pick/SO-9")
    with ScannerService(sim_site["db"], refresh_s=0):
        sim.inject(sim_site["sim"], f"LOT:{sim_site['bolt']}")
        expect(page.locator("#scan-current .banner--ok")).to_be_visible()
        expect(page.locator("#scan-current")).to_contain_text(sim_site["bolt"])
        page.wait_for_timeout(400)
        screenshot(page, "station-scanner-pick-360")
        # A second tab of the same station gets the same feed: the scan is not picked twice.
        other = context.new_page()
        other.goto(f"{live_server.url}/pick/SO-9")
        sim.inject(sim_site["sim"], "LOC:NOWHERE-9")
        expect(page.locator("#scan-current .banner--error")).to_be_visible()
        page.wait_for_timeout(400)
    with sim_site["db"].read() as s:
        picks = s.execute(select(Movement.qty).where(Movement.kind == "pick")).all()
    assert [qty for (qty,) in picks] == [4]
    assert [raw for raw, _, _ in _logged(sim_site["db"])] == [f"LOT:{sim_site['bolt']}", "LOC:NOWHERE-9"]
    context.close()
    assert not errors, errors


def test_a_badge_scanned_on_the_stations_scanner_signs_in_from_the_sign_in_page(
        sqlite_app, live_server, browser, sim_site):
    from playwright.sync_api import expect

    from devices.scanners import sim
    from factories import operator as make_operator
    from station.scanner_service import ScannerService

    with sim_site["db"].write() as s:
        make_operator(s, badge="OP-77", name="Rita Receiver", role="receiver")
    context, page, errors = _browser_page(browser)
    page.context.add_cookies([{"name": "station", "value": _signed(sqlite_app, "Dock 1"), "url": live_server.url}])
    page.goto(f"{live_server.url}/signin")
    page.wait_for_function("() => !!document.body.dataset.stationFeed")
    with ScannerService(sim_site["db"], refresh_s=0):
        sim.inject(sim_site["sim"], "]C0OPR:OP-77")
        page.wait_for_url(f"{live_server.url}/")
        expect(page.locator("[data-floor-operator]")).to_contain_text("Rita Receiver")
        page.wait_for_function("() => !!document.body.dataset.stationFeed")
        sim.inject(sim_site["sim"], f"LOT:{sim_site['bolt']}")  # home takes badges only
        expect(page.locator("#floor-banner .banner--error")).to_contain_text("This screen takes badges only")
        assert page.evaluate("document.body.dataset.scanSound") == "bad"
    context.close()
    assert not errors, errors


def test_a_scanner_scan_applied_on_the_pick_page_picks_once_inside_its_transaction(mover, database, site,
                                                                                   signed_in):
    """The pick page ingests inside its own write transaction (a Session): the claim joins it."""
    from factories import order

    with database.write() as s:
        order(s, "SO-5", [("BOLT", 3)])
    signed_in(mover, "picker")
    scan_id = from_scanner(database, site, f"LOT:{site['lot']}")
    first = apply(mover, scan_id, f"LOT:{site['lot']}", path="/pick/SO-5/scan")
    again = apply(mover, scan_id, f"LOT:{site['lot']}", path="/pick/SO-5/scan")
    assert first.status_code == again.status_code == 200
    assert "already handled" in html.unescape(again.text) and "already handled" not in html.unescape(first.text)
    with database.read() as s:
        assert [qty for (qty,) in s.execute(select(Movement.qty).where(Movement.kind == "pick"))] == [3]
        assert s.get(ScanApplication, scan_id).client_id == f"logged:{scan_id}"
    assert scan_rows(database) == 1


def test_a_scan_from_the_stations_scanner_agent_drives_its_page_once(client, database, signed_in,
                                                                   bound_station):
    """A station whose scanners an agent reads (scanner agent:// on the server): the agent's scan,
    logged through POST /api/v1/scans with the station's agent token and the agent's own client id, is
    in the station's feed and is applied by the page once."""
    from station.agent import AGENT_SCANNER_URL
    from station.models import TokenRole
    from station.services.tokens import create_token

    basic_site(database)
    with database.write() as s:
        lot = received_lot(s, "BOLT", 10, location="A-01").lot_number
        s.add(StationDevice(name="Line PC", location_id=catalog.location_by_code(s, "LINE-1").id,
                            scanner_url=AGENT_SCANNER_URL))
        s.flush()
        token = create_token(s, "line agent", TokenRole.AGENT, station="Line PC")
    sent = client.post("/api/v1/scans", json={"station": "Line PC", "client_id": "agent-" + "1" * 32,
                                              "code": f"LOT:{lot}", "source": "serial:///dev/ttyACM0"},
                       headers={"Authorization": f"Bearer {token}"})
    assert sent.status_code == 201, sent.json
    scan_id = sent.json["scan_id"]
    signed_in(client, "receiver")
    bound_station(client, "Line PC")
    listed = client.get("/scan/station-feed", query_string={"station": "Line PC", "after": 0})
    assert [s["id"] for s in listed.json["scans"]] == [scan_id]
    rows = scan_rows(database)
    first = apply(client, scan_id, f"LOT:{lot}")
    assert first.status_code == 200 and f"Lot {lot}: 10 ea of BOLT at A-01." in first.text
    assert apply(client, scan_id, f"LOT:{lot}").status_code == 200  # a retry: answered, not applied again
    assert scan_rows(database) == rows  # nothing new in the log
    with database.read() as s:
        row = s.get(Scan, scan_id)
        assert row.client_id == "agent-" + "1" * 32
        assert s.get(ScanApplication, scan_id).client_id == f"logged:{scan_id}"
    assert client.get("/scan/station-feed", query_string={"station": "Line PC", "after": 0}).json["scans"] == []
    # The server's scanner service leaves an agent:// station alone.
    from station.scanner_service import ScannerService
    service = ScannerService(database, refresh_s=0)
    service.refresh()
    assert service.status() == []


def test_signed_out_the_feed_gives_badge_scans_only(client, database, site, bound_station):
    """The sign-in page of a station with a scanner reads the badge scanned on it from the feed; the
    rest of what was scanned there is not for someone who is not signed in."""
    bound_station(client, "Dock tablet")  # the device set up as that station (a signed cookie)
    lot_scan = from_scanner(database, site, f"LOT:{site['lot']}")
    badge_scan = from_scanner(database, site, "OPR:OP-9999")
    listed = feed(client)
    assert listed.status_code == 200
    assert [s["id"] for s in listed.get_json()["scans"]] == [badge_scan]
    assert lot_scan < listed.get_json()["last"]
