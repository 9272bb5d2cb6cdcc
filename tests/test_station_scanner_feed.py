"""A station's own scanner (serial, simulated, the agent) drives the workflow page open at that station.

The scanner service (or POST /api/v1/scans for an agent) takes each scan through the one intake
(station/workflows/intake.py): logged, resolved once and applied to the workflow open at the station, as
the operator signed in on that page, in one transaction. The page polls GET /scan/station-feed and, for
each applied scan, fetches its answer from /floor/answer/<scan id>: nothing is posted or resolved again.
Commands and badges are left to the page. Through the test client on SQLite and PostgreSQL; the browser
end to end is below (a sim:// scanner driving the receiving and picking pages in Chromium)."""
from __future__ import annotations

import threading
import uuid

import pytest
from sqlalchemy import func, select

from factories import TODAY, basic_site, received_lot
from station.models import Movement, Scan, ScanApplication, StationDevice
from station.services import catalog, scans
from station.workflows import intake

HX = {"HX-Request": "true"}
SIM = "sim://dock-feed-test"


@pytest.fixture
def site(site):
    """The small site, a BOLT lot at A-01, the dock station with its sim:// scanner and another station."""
    site.lot("lot", "BOLT", 40, location="A-01", on=TODAY)
    site["station"] = site.station("Dock tablet", location="DOCK", scanner_url=SIM)
    site["other"] = site.station("Line 1 PC")
    return site


@pytest.fixture
def mover(client, site, signed_in, bound_station):
    """A receiver's tablet bound to the station, with the put-away page open (its GET opens the workflow)."""
    signed_in(client, "receiver")
    bound_station(client, "Dock tablet")
    assert client.get("/move").status_code == 200
    return client


@pytest.fixture
def resolves(monkeypatch) -> list:
    """Every resolution of a scan (services.scans is the only caller of scanning.resolve)."""
    calls = []
    real = scans.resolve

    def counting(session, raw, context=None):
        calls.append(raw)
        return real(session, raw, context)

    monkeypatch.setattr(scans, "resolve", counting)
    return calls


def from_scanner(database, site, code: str, station: str = "station", **scan) -> intake.Taken:
    """What the scanner service does with a scan of the station's scanner."""
    return intake.take(database, intake.ScanIn(code, source=SIM, station_id=site[station], **scan))


def scan_rows(database) -> int:
    with database.read() as s:
        return s.scalar(select(func.count()).select_from(Scan))


def moves(database) -> list[int]:
    with database.read() as s:
        return [qty for (qty,) in s.execute(select(Movement.qty).where(Movement.kind == "move"))]


def feed(client, after: int = 0):
    return client.get("/scan/station-feed", query_string={"station": "Dock tablet", "after": after})


def test_the_feed_lists_applied_scans_and_leaves_commands_and_badges_to_the_page(mover, database, site):
    assert feed(mover).status_code == 204
    mover.post("/move/scan", data={"code": "LOC:A-02", "client_id": uuid.uuid4().hex}, headers=HX)  # a wedge scan
    first = from_scanner(database, site, f"LOT:{site['lot']}").scan_id
    from_scanner(database, site, f"LOT:{site['lot']}")  # the trigger bounced: logged, ignored
    from_scanner(database, site, "LOC:A-02", station="other")  # another station's scanner
    command = from_scanner(database, site, "]C0CMD:CANCEL").scan_id
    badge = from_scanner(database, site, "OPR:OP-9999").scan_id
    answer = feed(mover).get_json()
    assert answer["applied"] == [{"id": first, "workflow": "putaway", "answer_url": f"/floor/answer/{first}"}]
    assert answer["scans"] == [{"id": command, "code": "]C0CMD:CANCEL"}, {"id": badge, "code": "OPR:OP-9999"}]
    assert answer["last"] == badge
    assert feed(mover, after=first).get_json()["applied"] == []
    assert feed(mover, after=badge).status_code == 204
    assert feed(mover).headers["Cache-Control"] == "no-store"
    with database.read() as s:  # neither the command nor the badge reached the workflow
        assert s.get(ScanApplication, command) is None and s.get(ScanApplication, badge) is None


def test_the_feed_refuses_a_bad_cursor_or_station_in_words(client, site):
    response = client.get("/scan/station-feed", query_string={"station": "Dock tablet", "after": "x"})
    assert response.status_code == 400 and "after must be a scan id" in response.text
    response = client.get("/scan/station-feed", query_string={"station": "Nowhere", "after": 0})
    assert response.status_code == 404 and "No such station" in response.text


def test_a_workflow_page_of_a_station_with_a_scanner_polls_its_feed(mover, database, site):
    before = from_scanner(database, site, "LOC:A-02").scan_id
    page = mover.get("/move").text
    assert 'data-station-feed="/scan/station-feed?station=Dock+tablet"' in page
    assert f'data-station-feed-after="{before}"' in page  # only scans made from now on
    with database.write() as s:
        s.get(StationDevice, site["station"]).scanner_url = None
    assert "data-station-feed" not in mover.get("/move").text  # a keyboard scanner: nothing to poll


def test_a_scanner_scan_is_applied_once_on_the_server_and_resolved_once(mover, database, site, resolves):
    taken = from_scanner(database, site, f"LOT:{site['lot']}")
    assert taken.workflow == "putaway" and taken.answer is not None
    rows = scan_rows(database)
    [applied] = feed(mover).get_json()["applied"]
    shown = mover.get(applied["answer_url"], headers=HX)
    assert shown.status_code == 200 and f"Lot {site['lot']}: 40 ea of BOLT at A-01." in shown.text
    assert f'data-scan-id="{taken.scan_id}"' in shown.text
    assert mover.get(applied["answer_url"], headers=HX).text == shown.text  # shown again: done nothing again
    assert len(resolves) == 1  # the scanner's scan was resolved once, and the page resolved nothing
    assert scan_rows(database) == rows  # nothing new in the log
    with database.read() as s:
        application = s.get(ScanApplication, taken.scan_id)
        assert application.workflow == "putaway" and application.operator_id is not None

    mover.post("/move/qty", data={"qty": "5"})
    dest = from_scanner(database, site, "LOC:A-02")
    assert "Moved: 5 ea of BOLT" in mover.get(f"/floor/answer/{dest.scan_id}", headers=HX).text
    assert moves(database) == [5] and len(resolves) == 2
    # The scanner service's call failed after the commit and is made again with the same client id:
    again = from_scanner(database, site, "LOC:A-02", client_id=f"retry-{dest.scan_id:08d}")
    retried = from_scanner(database, site, "LOC:A-02", client_id=f"retry-{dest.scan_id:08d}")
    assert retried.outcome.retried and retried.answer == again.answer and moves(database) == [5]


def test_answers_are_only_for_the_station_that_scanned(mover, database, site):
    elsewhere = from_scanner(database, site, f"LOT:{site['lot']}", station="other")
    assert mover.get(f"/floor/answer/{elsewhere.scan_id}", headers=HX).status_code == 404
    assert mover.get("/floor/answer/999999", headers=HX).status_code == 404
    not_applied = from_scanner(database, site, "OPR:OP-9999")  # a badge: left to the page
    assert mover.get(f"/floor/answer/{not_applied.scan_id}", headers=HX).status_code == 404


def test_leaving_the_workflow_page_stops_applying_its_scanners_scans(mover, database, site, signed_in):
    assert mover.get("/").status_code == 200  # home: a page that takes no workflow scans
    taken = from_scanner(database, site, f"LOT:{site['lot']}")
    assert taken.workflow is None and taken.answer is None
    assert feed(mover).get_json()["scans"] == [{"id": taken.scan_id, "code": f"LOT:{site['lot']}"}]
    assert mover.get("/move").status_code == 200  # back on the page: applied again
    assert from_scanner(database, site, "LOC:A-02").workflow == "putaway"


def test_a_signed_out_operators_page_applies_nothing(mover, database, site):
    mover.post("/signout")
    taken = from_scanner(database, site, f"LOT:{site['lot']}")
    assert taken.workflow is None and taken.answer is None
    with database.read() as s:
        assert s.get(ScanApplication, taken.scan_id) is None


def test_racing_resends_of_one_agent_scan_apply_it_once(mover, database, site):
    outcomes, errors = [], []
    start = threading.Barrier(4)

    def send():
        try:
            start.wait()
            outcomes.append(from_scanner(database, site, f"LOT:{site['lot']}", client_id="agent-race-0001"))
        except Exception as exc:  # noqa: BLE001 — reported below
            errors.append(exc)

    threads = [threading.Thread(target=send) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert sorted(o.outcome.retried for o in outcomes) == [False, True, True, True]
    assert len({o.scan_id for o in outcomes}) == 1 and all(o.answer == outcomes[0].answer for o in outcomes)
    with database.read() as s:
        assert s.scalar(select(func.count()).select_from(ScanApplication)) == 1
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
    from station.auth import station_cookie_value

    with app.test_request_context():
        return station_cookie_value(name)


def _open(page, live_server, sqlite_app, signed_in_page, role, path):
    signed_in_page(page, live_server.url, sqlite_app, role)
    page.context.add_cookies([{"name": "station", "value": _signed(sqlite_app, "Dock 1"), "url": live_server.url}])
    page.goto(f"{live_server.url}{path}")
    page.wait_for_function("() => !!document.body.dataset.stationFeed")


def _logged(db) -> list[tuple[str, str, str | None]]:
    """(code, source, the workflow it was applied to) for each logged scan."""
    with db.read() as s:
        return [(raw.decode(), source, workflow) for raw, source, workflow in
                s.execute(select(Scan.raw, Scan.source, ScanApplication.workflow)
                          .outerjoin(ScanApplication, ScanApplication.scan_id == Scan.id).order_by(Scan.id))]


def test_a_pallet_scanned_on_the_stations_sim_scanner_fills_the_receiving_page(
        sqlite_app, live_server, browser, signed_in_page, sim_site, resolves):
    from playwright.sync_api import expect

    from browser_support import screenshot
    from devices.scanners import sim
    from station.processes.scanner_service import ScannerService

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
    assert [workflow for _, _, workflow in rows] == ["receiving", None]  # applied on the server; the command
    assert len(resolves) == 2  # by the page: each scan resolved once, by the intake, and never again
    with sim_site["db"].read() as s:
        assert s.scalar(select(func.count()).select_from(Movement).where(Movement.kind == "receive")) == 2
    context.close()
    assert not errors, errors


def test_a_lot_scanned_on_the_stations_sim_scanner_is_picked_on_the_pick_page(
        sqlite_app, live_server, browser, signed_in_page, sim_site):
    from playwright.sync_api import expect

    from browser_support import HANDHELD, screenshot
    from devices.scanners import sim
    from station.processes.scanner_service import ScannerService

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
    from station.processes.scanner_service import ScannerService

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


def test_a_scanner_scan_on_the_pick_page_picks_once_with_its_log_row(mover, database, site, signed_in):
    """The pick is made in the transaction that logs the scan: one scan, one pick, one log row."""
    from factories import order

    with database.write() as s:
        order(s, "SO-5", [("BOLT", 3)])
    signed_in(mover, "picker")
    assert mover.get("/pick/SO-5").status_code == 200
    taken = from_scanner(database, site, f"LOT:{site['lot']}")
    assert taken.workflow == "picking" and taken.answer.kind == "ok", taken.answer
    first = mover.get(f"/floor/answer/{taken.scan_id}", headers=HX)
    again = mover.get(f"/floor/answer/{taken.scan_id}", headers=HX)
    assert first.status_code == again.status_code == 200
    with database.read() as s:
        assert [qty for (qty,) in s.execute(select(Movement.qty).where(Movement.kind == "pick"))] == [3]
        assert s.get(ScanApplication, taken.scan_id).workflow == "picking"
    assert scan_rows(database) == 1


def test_a_scan_from_the_stations_scanner_agent_drives_its_page_once(client, database, signed_in,
                                                                   bound_station, resolves):
    """A station whose scanners an agent reads (scanner agent:// on the server): the agent's scan,
    posted to POST /api/v1/scans with the station's agent token and the agent's own client id, is
    applied on the server to the page open at the station, once; the page shows the answer."""
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
    signed_in(client, "receiver")
    bound_station(client, "Line PC")
    assert client.get("/move").status_code == 200

    def post():
        return client.post("/api/v1/scans", json={"station": "Line PC", "client_id": "agent-" + "1" * 32,
                                                  "code": f"LOT:{lot}", "source": "serial:///dev/ttyACM0"},
                           headers={"Authorization": f"Bearer {token}"})

    sent = post()
    assert sent.status_code == 201, sent.json
    scan_id = sent.json["scan_id"]
    assert post().json["retried"] is True  # the agent resent it: answered, not applied again
    listed = client.get("/scan/station-feed", query_string={"station": "Line PC", "after": 0})
    assert [s["id"] for s in listed.json["applied"]] == [scan_id]
    shown = client.get(listed.json["applied"][0]["answer_url"], headers=HX)
    assert shown.status_code == 200 and f"Lot {lot}: 10 ea of BOLT at A-01." in shown.text
    assert len(resolves) == 1 and scan_rows(database) == 1
    with database.read() as s:
        assert s.get(Scan, scan_id).client_id == "agent-" + "1" * 32
        assert s.get(ScanApplication, scan_id).workflow == "putaway"
    # The server's scanner service leaves an agent:// station alone.
    from station.processes.scanner_service import ScannerService
    service = ScannerService(database, refresh_s=0)
    service.refresh()
    assert service.status() == []


def test_signed_out_the_feed_gives_badge_scans_only(client, database, site, bound_station):
    """The sign-in page of a station with a scanner reads the badge scanned on it from the feed; the
    rest of what was scanned there is not for someone who is not signed in."""
    bound_station(client, "Dock tablet")  # the device set up as that station (a signed cookie)
    lot_scan = from_scanner(database, site, f"LOT:{site['lot']}").scan_id
    badge_scan = from_scanner(database, site, "OPR:OP-9999").scan_id
    listed = feed(client)
    assert listed.status_code == 200
    assert [s["id"] for s in listed.get_json()["scans"]] == [badge_scan]
    assert lot_scan < listed.get_json()["last"]
