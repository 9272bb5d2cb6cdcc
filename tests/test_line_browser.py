"""Put-away and the line in real Chromium against a real server and a running print worker: sign in,
move a pallet to the line by two wedge scans, start a run, scan two component lots (quantities on the
keypad, confirmed by tap and by CMD:CONFIRM), finish, see the label job sent, print again.
Screenshots at 360 px and 1280 px wide."""
from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

from sqlalchemy import select

from browser_support import HANDHELD, TABLET, check_layout, screenshot, station_cookie, wedge
from factories import basic_site, printer, received_lot
from station import clock
from station.models import HandlingUnit, Lot, LotLink, PrintJob, ProductionRun, RunStatus, StationDevice
from station.processes.print_worker import PrintWorker
from station.services import catalog
from station.services.stock import move

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture then skips, or fails under CI=true
    expect = None

DOCS = Path(__file__).resolve().parent.parent / "docs"
PALLETS = {"1280": "376130321109103420", "360": "376130321109103437"}


def make_site(db) -> dict:
    basic_site(db)
    today = clock.today()
    with db.write() as s:
        zebra = printer(s, "line-zebra", url=f"sim://line-{uuid.uuid4().hex[:8]}")
        line = catalog.location_by_code(s, "LINE-1")
        s.add(StationDevice(name="Line 1 PC", location_id=line.id, printer_id=zebra.id))
        lots = {}
        for size, sscc in PALLETS.items():
            bolts = received_lot(s, "BOLT", 120, location="DOCK", sscc=sscc, on=today)
            milk = received_lot(s, "MILK", 60, location="A-01", on=today)
            move(s, milk, 30, catalog.location_by_code(s, "A-01"), line)
            lots[size] = {"bolts": bolts.lot_number, "milk": milk.lot_number, "sscc": sscc}
        return lots


def keypad(page, scope: str, digits: str) -> None:
    for key in digits:
        page.locator(f'{scope} [data-key="{key}"]').click()


def test_move_a_pallet_then_make_a_lot_on_the_line_and_print_its_labels(
        sqlite_app, live_server, browser, signed_in_page, tmp_path):
    db = sqlite_app.extensions["station.db"]
    lots = make_site(db)
    worker = PrintWorker(db, threads=1, poll_s=0.05, status_every=0.5, spool_root=tmp_path / "spool")
    shots, made = {}, {}
    try:
        worker.start()
        for size, viewport in (("1280", TABLET), ("360", HANDHELD)):
            mine = lots[size]
            context = browser.new_context(viewport=viewport)
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            # As /setup sets it (signed with the app's key).
            page.context.add_cookies([{"name": "station", "value": station_cookie(sqlite_app, "Line 1 PC"),
                                       "url": live_server.url}])

            # --- put-away: the pallet to the line, two scans --------------------------------------
            signed_in_page(page, live_server.url, sqlite_app, "picker", name="Pat Picker")
            page.goto(f"{live_server.url}/move")
            expect(page.locator("#scan-current .banner__message")).to_have_text("Scan a pallet or a lot")
            shots[f"move-ready-{size}"] = screenshot(page, f"move-ready-{size}")
            check_layout(page)
            wedge(page, mine["sscc"])
            expect(page.locator("#scan-current .banner--ok")).to_contain_text(
                f"Pallet {mine['sscc']}: 120 ea of BOLT, lot {mine['bolts']} at DOCK.")
            expect(page.locator("#scan-current .move-next__say")).to_have_text("Scan the destination location")
            assert page.evaluate("document.body.dataset.scanSound") == "ok"
            shots[f"move-pallet-{size}"] = screenshot(page, f"move-pallet-{size}")
            check_layout(page)
            wedge(page, "LOC:LINE-1")
            expect(page.locator("#scan-current .banner--ok")).to_contain_text(
                f"Moved: 120 ea of BOLT, lot {mine['bolts']}, DOCK → LINE-1.")
            shots[f"move-done-{size}"] = screenshot(page, f"move-done-{size}")
            check_layout(page)
            wedge(page, "LOC:A-02")  # a location with nothing chosen: red, in words
            expect(page.locator("#scan-current .banner--error")).to_contain_text("scan what to move first")
            assert page.evaluate("document.body.dataset.scanSound") == "bad"
            expect(page.locator("#scan-history .scan-result")).to_have_count(2)  # earlier answers, without their steps

            # --- the line: start, two components, finish ------------------------------------------
            signed_in_page(page, live_server.url, sqlite_app, "line_operator", name="Lee Line")
            page.goto(f"{live_server.url}/line")
            expect(page.locator("#scan-current .banner__message")).to_have_text("Line LINE-1: start a run")
            shots[f"line-start-{size}"] = screenshot(page, f"line-start-{size}")
            check_layout(page)
            page.locator(".line-item").filter(has_text="CAKE").click()
            expect(page.locator("#scan-current .banner--ok")).to_contain_text("started: CAKE Cake on LINE-1.")

            wedge(page, f"LOT:{mine['milk']}")
            expect(page.locator("#scan-current .banner--ok")).to_contain_text(f"Lot {mine['milk']}: MILK Milk 1 L, 30 ea")
            keypad(page, ".line-pending", "19")
            page.locator('.line-pending [data-key="back"]').click()
            keypad(page, ".line-pending", "5")
            expect(page.locator("#line-qty")).to_have_value("15")
            page.locator(".line-pending .keypad__key--ok").click()  # OK by tap
            expect(page.locator("#scan-current .banner--ok")).to_contain_text(f"Added: 15 ea of lot {mine['milk']}")

            wedge(page, mine["bolts"])  # the pallet just moved: now at the line
            expect(page.locator("#scan-current .banner--ok")).to_contain_text("120 ea at LINE-1")
            keypad(page, ".line-pending", "40")
            wedge(page, "CMD:CONFIRM")  # OK by the command barcode
            expect(page.locator("#scan-current .banner--ok")).to_contain_text(f"Added: 40 ea of lot {mine['bolts']}")
            expect(page.locator(".line-part")).to_have_count(2)

            keypad(page, ".line-finish", "12")
            expect(page.locator("#line-made")).to_have_value("12")
            page.locator("#line-copies .line-copies__chip").filter(has_text="2").click()
            expect(page.locator('#line-copies input[value="2"]')).to_be_checked()
            shots[f"line-{size}"] = screenshot(page, f"line-{size}")
            check_layout(page)
            page.locator(".line-finish__go").click()

            # --- the run's page: the lot and its label job, sent by the worker --------------------
            expect(page.locator("#scan-current .banner--ok")).to_contain_text("finished: lot")
            expect(page.locator("#scan-current")).to_contain_text("2 labels sent to line-zebra.")
            number = page.locator(".line-run__number").inner_text()
            job = page.locator(".line-jobs .jobstatus").first
            expect(job).to_contain_text("line-zebra")
            expect(job).to_have_attribute("data-status", "printed", timeout=10_000)  # polled live (sim: spooled)
            shots[f"line-done-{size}"] = screenshot(page, f"line-done-{size}")
            check_layout(page)
            wedge(page, "CMD:REPRINT")
            expect(page.locator("#scan-current .banner--ok")).to_contain_text("Printing again: job")
            expect(page.locator(".line-jobs .jobstatus")).to_have_count(2)
            made[size] = number
            context.close()
            assert not errors, errors
    finally:
        worker.stop()

    with db.read() as s:
        for size, mine in lots.items():
            unit = s.scalar(select(HandlingUnit).where(HandlingUnit.sscc == mine["sscc"]))
            assert unit.location.code == "LINE-1"
            lot = s.scalar(select(Lot).where(Lot.lot_number == made[size]))
            links = {(s.get(Lot, link.component_lot_id).lot_number, link.qty)
                     for link in s.scalars(select(LotLink).where(LotLink.output_lot_id == lot.id))}
            assert links == {(mine["milk"], 15), (mine["bolts"], 40)}
            assert [(j.copies, j.reprint_of_id is not None) for j in s.scalars(
                select(PrintJob).where(PrintJob.lot_id == lot.id).order_by(PrintJob.id))] == [(2, False), (2, True)]
        assert {r.status for r in s.scalars(select(ProductionRun))} == {RunStatus.FINISHED}
    if os.environ.get("STATION_UPDATE_DOCS"):  # the README's screenshot, refreshed on request only
        shutil.copyfile(shots["line-1280"], DOCS / "line.png")


def test_the_line_stations_own_scanner_drives_the_line_page_each_scan_applied_once(
        sqlite_app, live_server, browser, signed_in_page, live_site, monkeypatch):
    """A line station with a sim:// scanner: with the line page open, the scanner's lot is applied to the
    line's step on the server (resolved once, no re-POST), the page fetches and shows the answer with the
    keypad; CMD:CONFIRM from the scanner presses the page's OK, and the component joins the run once."""
    from devices.scanners import sim
    from station.models import ProductionRunComponent, Scan, ScanApplication
    from station.processes.scanner_service import ScannerService
    from station.services import scans

    resolved: list = []
    real = scans.resolve
    monkeypatch.setattr(scans, "resolve", lambda s, raw, context=None: resolved.append(raw) or real(s, raw, context))
    name = f"line-{uuid.uuid4().hex[:8]}"
    site = live_site
    site.lot("milk", "MILK", 60, location="A-01")
    site.move("milk", 30, "A-01", "LINE-1")
    site.printer("line-zebra", url=f"sim://zebra-{uuid.uuid4().hex[:8]}")
    site.station("Line 1 PC", location="LINE-1", printer="line-zebra", scanner_url=f"sim://{name}")
    context = browser.new_context(viewport=TABLET)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    signed_in_page(page, live_server.url, sqlite_app, "line_operator", name="Lee Line")
    page.context.add_cookies([{"name": "station", "value": station_cookie(sqlite_app, "Line 1 PC"),
                               "url": live_server.url}])
    page.goto(f"{live_server.url}/line")
    page.locator(".line-item").filter(has_text="CAKE").click()
    expect(page.locator("#scan-current .banner--ok")).to_contain_text("started: CAKE Cake on LINE-1.")
    page.wait_for_function("() => !!document.body.dataset.stationFeed")
    with ScannerService(site.db, refresh_s=0):
        sim.inject(name, f"LOT:{site['milk']}")
        expect(page.locator("#scan-current .banner--ok")).to_contain_text(
            f"Lot {site['milk']}: MILK Milk 1 L, 30 ea at LINE-1.")
        assert page.evaluate("document.body.dataset.scanSound") == "ok"
        keypad(page, ".line-pending", "12")
        sim.inject(name, "CMD:CONFIRM")
        expect(page.locator("#scan-current .banner--ok")).to_contain_text(f"Added: 12 ea of lot {site['milk']}")
        expect(page.locator(".line-part")).to_have_count(1)
    with site.read() as s:
        logged = s.execute(select(Scan.raw, Scan.source, ScanApplication.workflow)
                           .outerjoin(ScanApplication, ScanApplication.scan_id == Scan.id).order_by(Scan.id)).all()
        assert [(raw.decode(), workflow) for raw, _, workflow in logged] == [
            (f"LOT:{site['milk']}", "line"), ("CMD:CONFIRM", None)]  # the command: pressed by the page
        assert {source for _, source, _ in logged} == {f"sim://{name}"}
        assert [c.qty for c in s.scalars(select(ProductionRunComponent))] == [12]
    assert len(resolved) == 2  # each scan resolved once, by the intake
    context.close()
    assert not errors, errors
