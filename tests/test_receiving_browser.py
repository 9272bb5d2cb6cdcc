"""Receiving in real Chromium against a real server and a running print worker: sign in, scan a GS1
pallet label as a wedge burst, complete the quantity on the keypad, confirm by scanning CMD:CONFIRM,
see the lot and its label job sent; a pallet scanned again is refused in red. Screenshots at 360 px
and 1280 px wide."""
from __future__ import annotations

import datetime as dt
import os
import shutil
import uuid
from pathlib import Path

from sqlalchemy import select

from browser_support import HANDHELD, TABLET, check_layout, screenshot, station_cookie, wedge
from test_expected_receipts import usual_supplier
from factories import basic_site, gtin13, printer
from station import clock
from station.models import Lot, Movement, PrintJob, StationDevice
from station.processes.print_worker import PrintWorker
from station.services import catalog

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture then skips, or fails under CI=true
    expect = None

BOLT_GTIN = gtin13("400000000001").zfill(14)
SSCC = "376130321109103420"
EXPIRY = (clock.today() + dt.timedelta(days=400)).strftime("%y%m%d")
DOCS = Path(__file__).resolve().parent.parent / "docs"


def check_layout_at(page, where: str = "") -> None:
    check_layout(page, where, targets="main button, main a.button, main input:not([type=hidden]), main select, "
                                      "main summary")


def make_site(db) -> None:
    basic_site(db)
    with db.write() as s:
        zebra = printer(s, "dock-zebra", url=f"sim://rcv-{uuid.uuid4().hex[:8]}")
        dock = catalog.location_by_code(s, "DOCK")
        s.add(StationDevice(name="Dock 1", location_id=dock.id, printer_id=zebra.id))
        catalog.item_by_sku(s, "BOLT").labels_per_receipt = 2
        usual_supplier(s)


def open_receiving(page, live_server, sqlite_app, signed_in_page, role="receiver"):
    signed_in_page(page, live_server.url, sqlite_app, role, name="Rita Receiver")
    page.context.add_cookies([{"name": "station", "value": station_cookie(sqlite_app, "Dock 1"), "url": live_server.url}])
    page.goto(f"{live_server.url}/receive")
    expect(page.locator("#scan-ready")).to_be_visible()


def test_receive_a_gs1_pallet_by_scans_and_keypad_and_see_its_label_job(
        sqlite_app, live_server, browser, signed_in_page, tmp_path):
    db = sqlite_app.extensions["station.db"]
    make_site(db)
    worker = PrintWorker(db, threads=1, poll_s=0.05, status_every=0.5, spool_root=tmp_path / "spool")
    shots = {}
    try:
        worker.start()
        for size, viewport in (("1280", TABLET), ("360", HANDHELD)):
            context = browser.new_context(viewport=viewport)
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            open_receiving(page, live_server, sqlite_app, signed_in_page)
            sscc = SSCC if size == "1280" else "376130321109103437"
            # The supplier's label: SSCC, content GTIN, lot, expiry — no count; the wedge sends | for FNC1.
            page.locator(".receive-bar").click()
            wedge(page, f"]C100{sscc}02{BOLT_GTIN}10S-77|17{EXPIRY}")
            banner = page.locator("#scan-current .banner--ok")
            expect(banner).to_contain_text("BOLT Bolt M8, lot S-77 — filled from the label.")
            expect(page.locator("#scan-current")).to_contain_text("Now enter the quantity.")
            expect(page.locator("#receive-qty")).to_have_value("")
            expect(page.locator("#receive-expiry")).to_have_value(
                dt.datetime.strptime(EXPIRY, "%y%m%d").date().isoformat())
            assert page.evaluate("document.body.dataset.scanSound") == "ok"
            # Gloves: the keypad.
            for key in ("4", "5", "back", "0"):
                page.locator(f'.receive-keypad [data-key="{key}"]').click()
            expect(page.locator("#receive-qty")).to_have_value("40")
            check_layout_at(page)
            shots[f"form-{size}"] = screenshot(page, f"receiving-form-{size}")

            wedge(page, "CMD:CONFIRM")
            done = page.locator(".receive-done")
            expect(done).to_be_visible(timeout=5000)
            lot_number = done.get_attribute("data-lot")
            expect(page.locator("#scan-current .banner--ok")).to_contain_text(f"Received — lot {lot_number}")
            job = done.locator(".jobstatus")
            expect(job).to_contain_text("dock-zebra")
            expect(job).to_have_attribute("data-status", "printed", timeout=10_000)  # polled live (sim: spooled)
            check_layout_at(page)
            shots[f"done-{size}"] = screenshot(page, f"receiving-done-{size}")

            # The same pallet again: refused in red, with who and when.
            wedge(page, f"]C100{sscc}02{BOLT_GTIN}10S-77|17{EXPIRY}")
            refused = page.locator("#scan-current .banner--error")
            expect(refused).to_contain_text(f"Pallet {sscc} was already received on")
            expect(refused).to_contain_text("by Rita Receiver")
            assert page.evaluate("document.body.dataset.scanSound") == "bad"
            shots[f"refused-{size}"] = screenshot(page, f"receiving-refused-{size}")
            context.close()
            assert not errors, errors
    finally:
        worker.stop()

    with db.read() as s:
        lots = s.scalars(select(Lot)).all()
        # No supplier on the label (412): BOLT's usual supplier; the same supplier lot and expiry is one lot.
        assert [(lot.on_hand, lot.supplier_lot, lot.supplier.code) for lot in lots] == [(80, "S-77", "ACME")]
        assert len(s.scalars(select(Movement)).all()) == 2
        assert [(j.copies, j.status.value) for j in s.scalars(select(PrintJob))] == [(2, "printed"), (2, "printed")]
    if os.environ.get("STATION_UPDATE_DOCS"):  # the README's screenshot, refreshed on request only
        shutil.copyfile(shots["form-1280"], DOCS / "receiving.png")


def test_receive_by_hand_without_a_label_at_handheld_size(sqlite_app, live_server, browser, signed_in_page):
    db = sqlite_app.extensions["station.db"]
    make_site(db)
    context = browser.new_context(viewport=HANDHELD)
    page = context.new_page()
    open_receiving(page, live_server, sqlite_app, signed_in_page)
    page.locator("#receive-q").fill("milk")
    page.locator(".receive-items__item").filter(has_text="MILK").click()
    expect(page.locator(".receive-item__chosen")).to_contain_text("MILK Milk 1 L")
    for key in ("1", "2"):
        page.locator(f'.receive-keypad [data-key="{key}"]').click()
    page.locator(".receive-confirm").click()
    expect(page.locator(".receive-done")).to_be_visible()
    check_layout_at(page)
    screenshot(page, "receiving-hand-360")
    with db.read() as s:
        lot = s.scalars(select(Lot)).one()
        assert (lot.item.sku, lot.on_hand) == ("MILK", 12)
    context.close()


def test_receive_against_an_expected_delivery_and_expired_goods_on_a_device_without_a_station(
        sqlite_app, live_server, browser, signed_in_page):
    from station.services import expected

    db = sqlite_app.extensions["station.db"]
    make_site(db)
    pallets = {"1280": "376130321109103451", "360": "376130321109103468"}
    with db.write() as s:
        printer(s, "office-laser")
        catalog.item_by_sku(s, "MILK").supplier_id = None  # goods of no known supplier: the receiver picks
        for size, sscc in pallets.items():
            expected.enter_expected_receipt(s, supplier_code="ACME", reference=f"PO-{size}",
                                            lines=[expected.ExpectedLineIn(qty=40, sku="BOLT", ssccs=(sscc,))])
    for size, viewport in (("1280", TABLET), ("360", HANDHELD)):
        context = browser.new_context(viewport=viewport)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        signed_in_page(page, live_server.url, sqlite_app, "receiver")  # no station cookie: no station
        page.goto(f"{live_server.url}/receive")
        expect(page.locator(".receive-bar")).to_contain_text("labels on the printer chosen below")
        page.locator(".receive-bar").click()
        wedge(page, f"]C100{pallets[size]}")  # the SSCC alone: the ASN says the rest
        expect(page.locator("#scan-current .banner--ok")).to_contain_text(f"Expected: PO-{size} from Acme Foods")
        expect(page.locator("#receive-qty")).to_have_value("40")
        expect(page.locator(".receive-facts")).to_contain_text("Acme Foods (as expected)")
        page.select_option("#receive-printer", "office-laser")
        check_layout_at(page)
        screenshot(page, f"receiving-expected-{size}")
        wedge(page, "CMD:CONFIRM")
        done = page.locator(".receive-done")
        expect(done).to_contain_text(f"Against PO-{size} from Acme Foods — everything expected is in.")
        expect(done.locator(".jobstatus")).to_contain_text("office-laser")

        # By hand, goods of no known supplier and past their expiry: the supplier picked, into quarantine.
        page.locator("#receive-q").fill("milk")
        page.locator(".receive-items__item").filter(has_text="MILK").click()
        expect(page.locator("#receive-supplier")).to_be_visible()
        page.select_option("#receive-supplier", "ACME")
        for key in ("5",):
            page.locator(f'.receive-keypad [data-key="{key}"]').click()
        page.fill("#receive-expiry", "2020-01-01")
        page.locator(".receive-confirm").click()
        alarm = page.locator("#scan-current .banner--error")
        expect(alarm).to_contain_text("Expired on 2020-01-01")
        expect(page.locator(".receive-done .banner--error").first).to_contain_text("is in quarantine")
        if size == "1280":  # Acme still owes PO-360, which is all BOLT: MILK is not expected from them
            expect(page.locator(".receive-done")).to_contain_text("Not expected from Acme Foods: MILK Milk 1 L.")
        check_layout_at(page)
        screenshot(page, f"receiving-quarantine-{size}")
        context.close()
        assert not errors, errors
    with db.read() as s:
        milk = [lot for lot in s.scalars(select(Lot)) if lot.item.sku == "MILK"]
        assert [(lot.status.value, lot.on_hand, lot.supplier.code) for lot in milk] == [("quarantine", 5, "ACME")] * 2
