"""Counting stock in real Chromium against a real server, driven by a keyboard-wedge scanner: scan a
location, lots and a pallet, key quantities on the keypad, DONE, answer for the pallet not scanned,
give reasons, finish — booked at once (1280 px) or, above the threshold, waiting for a supervisor who
approves it on /count/pending (360 px). Screenshots of each step at both widths."""
from __future__ import annotations

from sqlalchemy import select

from browser_support import HANDHELD, TABLET, check_layout, screenshot, station_cookie, wedge
from factories import assert_books_balance, received_lot
from station import clock
from station.models import Count, CountStatus, Movement, MovementKind, StationDevice
from station.services import catalog

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture then skips, or fails under CI=true
    expect = None

# One location per width, so the two counts do not meet.
PLACES = {"1280": ("A-01", "376130321109103420"), "360": ("A-02", "376130321109103437")}


def make_site(db) -> dict:
    today = clock.today()
    with db.write() as s:
        s.add(StationDevice(name="Aisle PC", location_id=catalog.location_by_code(s, "A-01").id))
        lots = {}
        for size, (where, sscc) in PLACES.items():
            milk = received_lot(s, "MILK", 40, location=where, on=today)
            pallet = received_lot(s, "BOLT", 120, location=where, sscc=sscc, on=today)
            cake = received_lot(s, "CAKE", 12, location="DOCK", on=today)
            lots[size] = {"where": where, "sscc": sscc, "milk": milk.lot_number, "pallet": pallet.lot_number,
                          "cake": cake.lot_number}
        return lots


def keypad(page, digits: str) -> None:
    for key in digits:
        page.locator(f'.move-qty [data-key="{key}"]').click()


def banner(page, kind: str):
    return page.locator(f"#scan-current .banner--{kind} .banner__message")


def test_count_a_location_by_scans_and_taps_then_a_supervisor_approves_a_big_difference(
        sqlite_app, live_server, browser, signed_in_page, live_site):
    db = sqlite_app.extensions["station.db"]
    sqlite_app.config["FLOOR_PIN_ROLES"] = ()  # supervisors sign in by badge alone, as signed_in_page does
    lots = make_site(db)
    shots = []
    for size, viewport in (("1280", TABLET), ("360", HANDHELD)):
        mine, where = lots[size], lots[size]["where"]
        context = browser.new_context(viewport=viewport)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.context.add_cookies([{"name": "station", "value": station_cookie(sqlite_app, "Aisle PC"),
                                   "url": live_server.url}])
        signed_in_page(page, live_server.url, sqlite_app, "picker", name=f"Pat {size}")

        def shot(name: str) -> None:
            shots.append(screenshot(page, f"count-{name}-{size}"))
            check_layout(page)

        page.goto(f"{live_server.url}/count")
        expect(page.locator("#scan-current .banner__message")).to_have_text("Scan the location to count")
        shot("ready")
        wedge(page, f"LOC:{where}")
        expect(banner(page, "ok")).to_have_text(f"Counting {where}: 2 lots or pallets on the books there.")
        assert page.evaluate("document.body.dataset.scanSound") == "ok"
        shot("counting")

        # a lot on the books: keyed on the keypad, OK tapped
        wedge(page, f"LOT:{mine['milk']}")
        expect(banner(page, "ok")).to_have_text(f"Lot {mine['milk']}: MILK Milk 1 L.")
        shot("lot")
        keypad(page, "36" if size == "1280" else "20")
        page.locator(".move-qty .keypad__key--ok").click()
        diff = "-4" if size == "1280" else "-20"
        expect(banner(page, "ok")).to_have_text(
            f"Lot {mine['milk']}: {36 if size == '1280' else 20} ea counted ({diff} against the books).")

        # a lot that is not on the books here: OK by the command barcode
        wedge(page, f"LOT:{mine['cake']}")
        expect(page.locator("#scan-current .banner__detail")).to_contain_text(f"Not on the books at {where}.")
        keypad(page, "2")
        wedge(page, "CMD:CONFIRM")
        expect(banner(page, "ok")).to_have_text(f"Lot {mine['cake']}: 2 ea counted (+2 against the books).")

        # DONE: the pallet not scanned is asked about; found, its books confirmed with CMD:CONFIRM
        wedge(page, "CMD:DONE")
        expect(banner(page, "warn")).to_have_text(
            f"Pallet {mine['sscc']} (lot {mine['pallet']}) — 120 ea on the books: not here?")
        shot("ask")
        page.locator(".count-answers button", has_text="Found it").click()
        expect(page.locator(".count-confirm")).to_have_text("Confirm 120 ea on it")
        shot("pallet")
        wedge(page, "CMD:CONFIRM")
        expect(banner(page, "ok")).to_have_text(f"Pallet {mine['sscc']}: 120 ea counted — as the books say.")

        # reasons: one tapped, one typed
        expect(page.locator("#scan-current .banner__detail")).to_contain_text(f"Why is lot {mine['milk']} (MILK)")
        shot("reason")
        page.locator(".move-choice", has_text="Damaged").click()
        expect(page.locator("#scan-current .banner__message")).to_contain_text(f"Why is lot {mine['cake']} (CAKE)")
        page.fill("#count-other", "behind the racking")
        page.locator("#count-other ~ button").click()
        expect(page.locator(".count-finish")).to_be_visible()
        shot("finish")
        wedge(page, "CMD:CONFIRM")
        if size == "1280":
            expect(banner(page, "ok")).to_contain_text(f"of {where} booked: {mine['milk']} 40 → 36, {mine['cake']} 0 → 2.")
        else:
            expect(banner(page, "warn")).to_contain_text(f"of {where} waits for a supervisor: {mine['milk']} 40 → 20")
        shot("done")
        context.close()
        assert not errors, errors

    # a supervisor approves the 360 px count (the picker may not: the page is a supervisor's)
    with db.read() as s:
        pending = s.scalar(select(Count.id).where(Count.status == CountStatus.PENDING))
        assert pending is not None
    for size, viewport in (("360", HANDHELD), ("1280", TABLET)):
        context = browser.new_context(viewport=viewport)
        page = context.new_page()
        signed_in_page(page, live_server.url, sqlite_app, "supervisor", name=f"Sam {size}")
        page.goto(f"{live_server.url}/count/pending")
        expect(page.locator(".count-pending")).to_have_count(1)
        expect(page.locator(".count-pending")).to_contain_text("40 → 20 ea")
        shots.append(screenshot(page, f"count-pending-{size}"))
        check_layout(page)
        if size == "1280":
            page.locator(".count-pending button", has_text="Approve").click()
            expect(page.locator(".banner--ok")).to_have_text(
                f"Count {pending} of A-02 approved — its differences are booked.")
            expect(page.locator(".count-pending")).to_have_count(0)
            shots.append(screenshot(page, f"count-approved-{size}"))
        context.close()

    with db.read() as s:
        assert {c.status for c in s.scalars(select(Count))} == {CountStatus.BOOKED}
        reasons = sorted(m.reason for m in s.scalars(select(Movement).where(Movement.kind == MovementKind.COUNT)))
        assert len(reasons) == 4 and any(r.endswith("40 → 20, Damaged; approved by Sam 1280") for r in reasons)
        assert any(r.endswith("0 → 2, behind the racking") for r in reasons)
        assert_books_balance(s)
    assert all(path.exists() for path in shots)
