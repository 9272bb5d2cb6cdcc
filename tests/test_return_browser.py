"""Customer returns and the lot card in real Chromium against a real server.

A receiver at a dock station books a return by a keyboard-wedge scan of the lot label, the keypad, a tap on
the customer who received it and a tap on a reason — at 1280 px and 360 px, with no sideways scroll and
glove-sized targets at every step. The lot card of a lot with a long movement reference (no spaces to
break at) and its split and adjust forms fit 360 px. Screenshots of each step in test-artifacts/."""
from __future__ import annotations

from sqlalchemy import select

from browser_support import HANDHELD, TABLET, check_layout, screenshot, station_cookie, wedge
from factories import assert_books_balance, received_lot
from station import clock
from station.models import LocationKind, Lot, LotStatus, Movement, MovementKind, Order, OrderLine, StationDevice
from station.services import catalog, picking, returns

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture then skips, or fails under CI=true
    expect = None

LONG_REF = "RMA/2026/CORNER-SHOP/DELIVERY-NOTE-000012345678/DAMAGED-IN-TRANSIT-PALLET-03"


def check_layout_at(page, where: str = "") -> None:
    check_layout(page, where, targets=(
        "main button, main input:not([type=hidden]):not([type=radio]), main select, main summary"))


def _ship(s, lot: Lot, qty: int, number: str) -> None:
    shop = s.scalar(select(catalog.Customer).where(catalog.Customer.code == "SHOP"))
    o = Order(number=number, customer_id=shop.id)
    s.add(o)
    s.flush()
    line = OrderLine(order_id=o.id, line_no=1, item_id=lot.item_id, qty=qty)
    s.add(line)
    s.flush()
    picking.pick(s, lot=lot, location=catalog.location_by_code(s, "A-01"), qty=qty, line=line)
    picking.ship(s, o)


def make_site(db) -> dict:
    """A dock station, a quarantine place, customer BIG (who got nothing); per width a lot of 40 BOLT
    with 10 shipped to SHOP; a lot with a long movement reference (a return's RMA number)."""
    today = clock.today()
    with db.write() as s:
        s.add(StationDevice(name="Dock PC", location_id=catalog.location_by_code(s, "DOCK").id))
        catalog.create_customer(s, code="BIG", name="Big Co")
        catalog.create_location(s, code="Q-DOCK", kind=LocationKind.QUARANTINE)
        lots = {}
        for n, size in enumerate(("1280", "360")):
            lot = received_lot(s, "BOLT", 40, on=today)
            _ship(s, lot, 10, f"SO-{n}")
            lots[size] = lot.lot_number
        long = received_lot(s, "MILK", 30, on=today)
        _ship(s, long, 5, "SO-9")
        returns.book_return(s, lot=long, qty=2, customer=s.scalar(select(catalog.Customer).where(
            catalog.Customer.code == "SHOP")), reason="Damaged in transit", reference=LONG_REF)
        lots["long"] = long.lot_number
        return lots


def banner(page, kind: str):
    return page.locator(f"#scan-current .banner--{kind} .banner__message")


def test_a_receiver_books_a_return_by_wedge_keypad_and_taps(sqlite_app, live_server, browser, signed_in_page,
                                                           live_site):
    db = sqlite_app.extensions["station.db"]
    lots = make_site(db)
    for size, viewport in (("1280", TABLET), ("360", HANDHELD)):
        number = lots[size]
        context = browser.new_context(viewport=viewport)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.context.add_cookies([{"name": "station", "value": station_cookie(sqlite_app, "Dock PC"),
                                   "url": live_server.url}])
        signed_in_page(page, live_server.url, sqlite_app, "receiver", name=f"Rita {size}")

        def shot(name: str) -> None:
            screenshot(page, f"return-{name}-{size}")
            check_layout_at(page)

        page.goto(f"{live_server.url}/return")
        expect(page.locator("#scan-current .banner__message")).to_have_text("Scan the returned lot or pallet")
        shot("ready")
        wedge(page, f"LOT:{number}")
        expect(banner(page, "ok")).to_have_text(f"Lot {number}: BOLT Bolt M8.")
        assert page.evaluate("document.body.dataset.scanSound") == "ok"
        shot("qty")
        for key in "12":
            page.locator(f'.move-qty [data-key="{key}"]').click()
        page.locator(".move-qty .keypad__key--ok").click()
        expect(page.locator("#scan-current .banner__message")).to_have_text(
            f"Which customer sent back 12 ea of lot {number}?")
        shot("customer")
        page.locator(".return-customer", has_text="Corner Shop").click()
        expect(banner(page, "error")).to_have_text(
            f"Corner Shop can send back at most 10 of lot {number} (received 10, 0 back already) — not 12.")
        # back to the quantity: a new scan of the same lot starts the return again
        wedge(page, f"LOT:{number}")
        expect(banner(page, "ok")).to_have_text(f"Lot {number}: BOLT Bolt M8.")
        page.locator('.move-qty [data-key="4"]').click()
        wedge(page, "CMD:CONFIRM")  # OK by the command barcode
        expect(page.locator("#scan-current .banner__message")).to_have_text(
            f"Which customer sent back 4 ea of lot {number}?")
        page.locator(".return-customer", has_text="Corner Shop").click()
        expect(page.locator("#scan-current .banner__message")).to_have_text("Why did Corner Shop send it back?")
        shot("reason")
        page.locator(".return-reason__preset", has_text="Damaged").click()
        expect(banner(page, "ok")).to_have_text(
            f"Returned: 4 ea of BOLT, lot {number}, from Corner Shop → Q-DOCK.")
        shot("booked")
        assert errors == []
        context.close()
        with db.read() as s:
            lot = s.scalar(select(Lot).where(Lot.lot_number == number))
            row = s.scalar(select(Movement).where(Movement.kind == MovementKind.RETURN, Movement.lot_id == lot.id))
            assert (lot.status, row.qty, row.reason, row.raw_scan is None) == \
                (LotStatus.QUARANTINE, 4, "Damaged", True)
            assert_books_balance(s)


def test_the_lot_card_with_a_long_reference_and_its_forms_fit_360_px(sqlite_app, live_server, browser,
                                                                     signed_in_page, live_site):
    db = sqlite_app.extensions["station.db"]
    sqlite_app.config["FLOOR_PIN_ROLES"] = ()  # supervisors sign in by badge alone, as signed_in_page does
    lots = make_site(db)
    for size, viewport in (("360", HANDHELD), ("1280", TABLET)):
        context = browser.new_context(viewport=viewport)
        page = context.new_page()
        signed_in_page(page, live_server.url, sqlite_app, "supervisor", name=f"Sam {size}")
        page.goto(f"{live_server.url}/lots/{lots['long']}")
        expect(page.locator("#lot-card")).to_contain_text(LONG_REF)
        screenshot(page, f"lot-card-long-reference-{size}")
        width = page.evaluate("() => [document.scrollingElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1], width
        page.locator('[data-lot-change="adjust"]').click()
        expect(page.locator(".lot-change-form--adjust")).to_be_visible()
        screenshot(page, f"lot-card-adjust-{size}")
        check_layout_at(page)
        page.locator(".lot-action-cancel").click()
        expect(page.locator('[data-lot-change="adjust"]')).to_be_visible()
        page.goto(f"{live_server.url}/lots/{lots['1280']}")
        page.locator('[data-lot-change="split"]').click()
        expect(page.locator(".lot-change-form--split")).to_be_visible()
        page.fill("#lot-change-qty", "5")
        page.locator("#lot-change-printer").select_option("")
        screenshot(page, f"lot-card-split-{size}")
        check_layout_at(page)
        page.locator(".lot-change-form--split .lot-action-confirm").click()
        expect(page.locator(".lot-action-banner .banner--ok")).to_contain_text(f"5 ea of lot {lots['1280']} is now lot")
        screenshot(page, f"lot-card-split-done-{size}")
        width = page.evaluate("() => [document.scrollingElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1], width
        context.close()
