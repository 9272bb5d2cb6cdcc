"""A new site goes live from an empty database with nothing but `station init`, `station import` and the
pages: its people, suppliers, customers, locations, items, opening stock, an order and an expected receipt
come from CSV files; then a receiver books the announced pallet at the dock and a picker picks and ships the
order, in Chromium against a real server."""
from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from browser_support import TABLET, LiveServer, screenshot, wedge
from station import clock, create_app
from station.models import (ExpectedReceipt, ExpectedStatus, Lot, Movement, Operator, Order,
                            OrderStatus, Stock)

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture then skips, or fails under CI=true
    expect = None

STATION = str(Path(sys.executable).with_name("station"))
SSCC = "340123450001234565"  # announced in the expected receipt (ASN); check digit 5
SOON = (clock.today() + dt.timedelta(days=200)).isoformat()
LATER = (clock.today() + dt.timedelta(days=300)).isoformat()
DUE = (clock.today() + dt.timedelta(days=2)).isoformat()

FILES = {  # in the order the README's "Going live" imports them
    "suppliers": "code,name,gln\nHOFM,Hofmühle Getreide GmbH,4012345000016\n",
    "customers": "code,name,gln,min_shelf_life_days\nGREEN,Green Basket Supermarkets,,30\n",
    "locations": ("code,kind,name,barcode\nDOCK-1,dock,Dock door 1,\nA-01-02,storage,Rack A bay 01 level 02,\n"
                  "SHIP-1,shipping,Shipping lane 1,\nQ-1,quarantine,Quarantine cage,\n"),
    "operators": ("badge,name,role\nOP-3001,Rita Receiver,receiver\nOP-3002,Pia Picker,picker\n"),
    "items": ("sku,name,gtins,unit,shelf_life_days,removal_strategy,lot_pattern,lot_reset,supplier,"
              "labels_per_receipt,refuse_younger_lots\n"
              "FLOUR-25,\"Wheat flour type 550, 25 kg sack\",4012345100013,sack,365,FEFO,,,HOFM,0,no\n"),
    "opening": ("sku,lot,supplier,supplier_lot,qty,location,expiry,produced,sscc\n"
                f"FLOUR-25,,HOFM,M-OLD,30,A-01-02,{SOON},,\n"),
    "orders": f"number,customer,due_on,priority,sku,qty\nSO-1001,GREEN,{DUE},3,FLOUR-25,20\n",
    "expected": ("supplier,reference,expected_on,sku,gtin,qty,supplier_lot,ssccs\n"
                 f"HOFM,PO-4711,{DUE},FLOUR-25,,40,M-NEW,{SSCC}\n"),
}


def station(env: dict, *args: str) -> subprocess.CompletedProcess:
    done = subprocess.run([STATION, *args], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done


@pytest.fixture
def new_site(tmp_path, monkeypatch):
    """An empty instance made by `station init`, filled by `station import` from the CSV files above."""
    instance = tmp_path / "instance"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STATION_", "DATABASE_URL"))}
    env["STATION_INSTANCE"] = str(instance)
    station(env, "init")
    for kind, text in FILES.items():
        path = tmp_path / f"{kind}.csv"
        path.write_text(text, encoding="utf-8")
        station(env, "import", kind, str(path))
    monkeypatch.setenv("STATION_INSTANCE", str(instance))
    app = create_app({"TESTING": True})
    yield app
    app.extensions["station.db"].dispose()


def sign_in(page, url: str, badge: str) -> None:
    page.goto(f"{url}/signin")
    page.fill("#badge", badge)
    page.click("form.signin__form button[type=submit]")
    page.wait_for_url(f"{url}/")


def banner(page):
    return page.locator("#scan-current .banner__message").last


def test_a_new_site_goes_live_from_csv_files_and_receives_picks_and_ships_through_the_pages(new_site, browser):
    db = new_site.extensions["station.db"]
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Operator)) == 2
        opening_lot = s.scalars(select(Lot.lot_number)).one()
    context = browser.new_context(viewport=TABLET)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        with LiveServer(new_site) as server:
            # The dock: the announced pallet's SSCC alone fills the receipt from the expected receipt.
            sign_in(page, server.url, "OP-3001")
            page.goto(f"{server.url}/receive")
            expect(page.locator("#scan-ready")).to_be_visible()
            wedge(page, f"]C100{SSCC}")
            expect(page.locator("#main")).to_contain_text("Expected: PO-4711 from Hofmühle Getreide GmbH")
            expect(page.locator("#receive-qty")).to_have_value("40")
            wedge(page, "CMD:CONFIRM")
            done = page.locator(".receive-done")
            expect(done).to_be_visible()
            received_lot = done.get_attribute("data-lot")
            screenshot(page, "going-live-received")
            context.clear_cookies()

            # The picker: the order from the file, the opening stock's lot suggested (FEFO: it expires first).
            sign_in(page, server.url, "OP-3002")
            page.goto(f"{server.url}/pick")
            page.locator(".pick-order", has_text="SO-1001").click()
            page.wait_for_url(f"{server.url}/pick/SO-1001")
            expect(banner(page)).to_contain_text(f"scan lot {opening_lot} at A-01-02")
            wedge(page, f"LOT:{opening_lot}")
            expect(banner(page)).to_contain_text(f"Picked 20 sack of lot {opening_lot} from A-01-02")
            expect(page.locator(".pick-ship__button")).to_be_enabled()
            wedge(page, "CMD:CONFIRM")
            expect(banner(page)).to_contain_text("Order SO-1001 shipped to Green Basket Supermarkets")
            screenshot(page, "going-live-shipped")
    finally:
        context.close()
    assert errors == []

    with db.read() as s:
        assert s.scalar(select(Order.status).where(Order.number == "SO-1001")) is OrderStatus.SHIPPED
        assert s.scalar(select(ExpectedReceipt.status)) is ExpectedStatus.RECEIVED
        on_hand = dict(s.execute(select(Lot.lot_number, Lot.on_hand)).all())
        assert on_hand == {opening_lot: 10, received_lot: 40}
        kinds = sorted(k.value for k in s.scalars(select(Movement.kind)))
        assert kinds == ["opening", "pick", "receive", "ship"]
        # The ledger still equals the stock: every movement into a place minus every one out of it.
        ledger = {}
        for lot_id, qty, src, dst in s.execute(select(Movement.lot_id, Movement.qty, Movement.from_location_id,
                                                      Movement.to_location_id)):
            for place, sign in ((src, -1), (dst, 1)):
                if place is not None:
                    ledger[(lot_id, place)] = ledger.get((lot_id, place), 0) + sign * qty
        stock = {}
        for lot_id, place, qty in s.execute(select(Stock.lot_id, Stock.location_id, Stock.qty)):
            stock[(lot_id, place)] = stock.get((lot_id, place), 0) + qty
        assert {k: v for k, v in ledger.items() if v} == {k: v for k, v in stock.items() if v}
