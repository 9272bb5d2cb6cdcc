"""Decimal quantities in real Chromium against a real server, at 1280 px and 360 px: a receiver receives
flour counted in kg to 3 decimals by the keypad with its decimal key (12.35 -> "12.350 kg" on the receipt),
moves part of it by the keypad on the put-away page ("2.5" -> "Moving 2.500 kg"), and the lot card shows
what is where in kg to the gram. A whole-number item's keypad has no separator key. Glove-sized targets,
no sideways scroll; screenshots of each step in test-artifacts/."""
from __future__ import annotations

import uuid
from decimal import Decimal

from sqlalchemy import func, select

from browser_support import HANDHELD, TABLET, check_layout, screenshot, station_cookie, wedge
from factories import assert_books_balance, basic_site, printer
from station.models import Lot, Stock, StationDevice
from station.services import catalog

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture then skips, or fails under CI=true
    expect = None


def check_layout_at(page, where: str = "") -> None:
    check_layout(page, where, targets="main button, main a.button, main input:not([type=hidden]), main select, "
                                      "main summary")


def make_site(db) -> None:
    basic_site(db)
    with db.write() as s:
        zebra = printer(s, "dock-zebra", url=f"sim://dec-{uuid.uuid4().hex[:8]}")
        s.add(StationDevice(name="Dock 1", location_id=catalog.location_by_code(s, "DOCK").id, printer_id=zebra.id))
        flour = catalog.create_item(s, sku="FLOUR", name="Flour T55", unit="kg", qty_decimals=3)
        flour.supplier_id = catalog.supplier_by_code(s, "ACME").id


def tap(page, where: str, keys: str) -> None:
    for key in keys:
        page.locator(f'{where} [data-key="{key}"]').click()


def test_flour_in_kg_is_received_and_moved_on_the_keypad_with_its_decimal_key(
        sqlite_app, live_server, browser, signed_in_page):
    db = sqlite_app.extensions["station.db"]
    make_site(db)
    numbers = {}
    for size, viewport in (("1280", TABLET), ("360", HANDHELD)):
        context = browser.new_context(viewport=viewport)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        signed_in_page(page, live_server.url, sqlite_app, "receiver", name=f"Rita {size}")
        page.context.add_cookies([{"name": "station", "value": station_cookie(sqlite_app, "Dock 1"),
                                   "url": live_server.url}])

        # Receiving: the item chosen by hand, the weight on the keypad with its decimal key.
        page.goto(f"{live_server.url}/receive")
        expect(page.locator("#scan-ready")).to_be_visible()
        page.locator("#receive-q").fill("flour")
        page.locator(".receive-items__item").filter(has_text="FLOUR").click()
        expect(page.locator(".receive-item__chosen")).to_contain_text("FLOUR Flour T55")
        separator = page.locator(".receive-keypad .receive-key--sep")
        expect(separator).to_have_text(".")
        tap(page, ".receive-keypad", "12..35")  # a second separator is not taken
        expect(page.locator("#receive-qty")).to_have_value("12.35")
        page.locator("#receive-supplier-lot").fill(f"F-{size}")  # each width its own lot
        check_layout_at(page, f"receive form {size}")
        screenshot(page, f"decimal-receive-form-{size}")
        page.locator(".receive-confirm").click()
        done = page.locator(".receive-done")
        expect(done).to_be_visible()
        expect(done.locator(".receive-done__what")).to_contain_text("12.350 kg · FLOUR Flour T55")
        number = numbers[size] = done.get_attribute("data-lot")
        check_layout_at(page, f"receive done {size}")
        screenshot(page, f"decimal-receive-done-{size}")

        # Put-away: part of it, typed on the keypad with the decimal key, then the destination scanned.
        page.goto(f"{live_server.url}/move")
        expect(page.locator("#scan-current .banner__message")).to_have_text("Scan a pallet or a lot")
        wedge(page, f"LOT:{number}")
        expect(page.locator(".move-qty__label")).to_contain_text("at most 12.350 kg")
        keypad = page.locator(".move-keypad")
        expect(keypad.locator(".keypad__key--sep")).to_have_text(".")
        tap(page, ".move-keypad", "2.5")
        expect(page.locator("#move-qty")).to_have_value("2.5")
        check_layout_at(page, f"move keypad {size}")
        screenshot(page, f"decimal-move-keypad-{size}")
        keypad.locator(".keypad__key--ok").click()
        expect(page.locator(".move-goods__plan")).to_contain_text("Moving 2.500 kg from DOCK")
        wedge(page, "LOC:A-01")
        expect(page.locator("#scan-current .banner--ok .banner__message")).to_have_text(
            f"Moved: 2.500 kg of FLOUR, lot {number}, DOCK → A-01.")

        # The lot card: on hand and each place, in kg to the gram.
        page.goto(f"{live_server.url}/lots/{number}")
        expect(page.locator(".fact__big").first).to_have_text("12.350 kg")
        stock = page.locator("#stock-h + table")
        expect(stock).to_contain_text("2.500 kg")
        expect(stock).to_contain_text("9.850 kg")
        check_layout_at(page, f"lot card {size}")
        screenshot(page, f"decimal-lot-card-{size}")

        # A whole-number item: no separator key on its keypad.
        page.goto(f"{live_server.url}/receive")
        page.locator("#receive-q").fill("bolt")
        page.locator(".receive-items__item").filter(has_text="BOLT").click()
        expect(page.locator(".receive-item__chosen")).to_contain_text("BOLT Bolt M8")
        expect(page.locator(".receive-keypad [data-key]")).to_have_count(12)
        expect(page.locator(".receive-keypad .receive-key--sep")).to_have_count(0)
        page.locator(".receive-cancel").click()  # the dock's receipt is the station's: leave it empty
        expect(page.locator("#receive-q")).to_be_visible()
        context.close()
        assert not errors, errors

    with db.read() as s:
        for number in numbers.values():
            lot = catalog.lot_by_number(s, number)
            places = dict(s.execute(select(catalog.Location.code, func.sum(Stock.qty)).join(catalog.Location)
                                    .where(Stock.lot_id == lot.id, Stock.qty > 0)
                                    .group_by(catalog.Location.code)).all())
            assert (lot.on_hand, places) == (Decimal("12.35"), {"DOCK": Decimal("9.85"), "A-01": Decimal("2.5")})
        assert len(s.scalars(select(Lot)).all()) == 2
        assert_books_balance(s)
