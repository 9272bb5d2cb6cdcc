"""The lot lookup in real Chromium against a real server: scan, swap, focus, banners, screens."""
from __future__ import annotations

import datetime as dt

import pytest

from browser_support import HANDHELD, TABLET, screenshot, wedge
from station import clock
from station.models import LocationKind, Operator, Role
from station.services import catalog, holds, receiving, stock
from station.services.actor import Actor

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture then skips, or fails under CI=true
    expect = None


@pytest.fixture
def lots(sqlite_app) -> list[str]:
    """Two lots of a realistic little site, seeded through the services."""
    today = clock.today()
    with sqlite_app.extensions["station.db"].write() as s:
        qa = Operator(badge="OP-7", name="Maria Keller", role=Role.SUPERVISOR)
        s.add(qa)
        s.flush()
        yoghurt = catalog.create_item(s, sku="YOG-500", name="Greek yoghurt 500 g", unit="cup",
                                      shelf_life_days=21)
        flour = catalog.create_item(s, sku="FLR-25", name="Wheat flour type 550, 25 kg sack",
                                    unit="sack")
        dairy = catalog.create_supplier(s, code="NORDMILK", name="Nordic Dairy")
        mill = catalog.create_supplier(s, code="MILLCO", name="Rhine Valley Mill")
        dock = catalog.create_location(s, code="DOCK-1", kind=LocationKind.DOCK)
        rack = catalog.create_location(s, code="A-01-02", kind=LocationKind.STORAGE)
        first = receiving.receive(s, item=yoghurt, qty=480, location=dock, supplier=dairy,
                                  supplier_lot="ND-7781", produced=today - dt.timedelta(days=3),
                                  sscc="376123450000000016", by=Actor(qa.id))
        stock.move(s, first, 400, dock, rack, by=Actor(qa.id))
        holds.hold(s, first, "Lid seal check after cold-chain alarm", by=Actor(qa.id))
        second = receiving.receive(s, item=flour, qty=40, location=dock, supplier=mill,
                                   supplier_lot="RVM-22-0915", by=Actor(qa.id))
        return [first.lot_number, second.lot_number]


@pytest.fixture
def browser_page(browser_page, live_server, sqlite_app, signed_in_page):
    """A tablet tab signed in as a picker: every page needs a signed-in operator (station/auth/)."""
    signed_in_page(browser_page, live_server.url, sqlite_app, "picker")
    return browser_page


def scan_input_state(page) -> dict:
    return page.evaluate("""() => {
        const input = document.getElementById("lot");
        return {focused: document.activeElement === input, value: input.value,
                start: input.selectionStart, end: input.selectionEnd};
    }""")


def test_scan_swaps_in_the_lot_card_without_reloading_and_readies_the_next_scan(
        live_server, browser_page, lots):
    page = browser_page
    page.goto(f"{live_server.url}/lots")
    expect(page.locator("#lot")).to_be_focused()
    page.evaluate("window.stationMarker = 'same page'")

    wedge(page, lots[0])
    expect(page.locator("#lot-card .lot__number")).to_have_text(lots[0])
    expect(page.locator("#lot-card .badge")).to_have_text("On hold")
    expect(page.locator("#lot-card")).to_contain_text("Greek yoghurt 500 g")
    assert page.evaluate("window.stationMarker") == "same page"
    assert scan_input_state(page) == {"focused": True, "value": lots[0], "start": 0,
                                      "end": len(lots[0])}
    assert page.url == f"{live_server.url}/lots/{lots[0]}"

    # The next scan replaces the selected text: no clearing by hand.
    wedge(page, lots[1])
    expect(page.locator("#lot-card .lot__number")).to_have_text(lots[1])
    assert scan_input_state(page)["value"] == lots[1]
    assert page.evaluate("window.stationMarker") == "same page"


def test_unknown_lot_shows_the_red_banner(live_server, browser_page, lots):
    page = browser_page
    page.goto(f"{live_server.url}/lots")
    page.evaluate("window.stationMarker = 'same page'")
    wedge(page, "NOPE-42")
    banner = page.locator("#lot-result .banner--error")
    expect(banner).to_contain_text("No lot 'NOPE-42' — check the number or scan the label again")
    assert page.evaluate("getComputedStyle(document.querySelector('.banner--error')).backgroundColor") \
        == "rgb(176, 0, 26)"
    assert page.evaluate("window.stationMarker") == "same page"
    assert scan_input_state(page)["focused"]


def test_empty_scan_gives_a_gentle_message(live_server, browser_page, lots):
    page = browser_page
    page.goto(f"{live_server.url}/lots")
    page.keyboard.press("Enter")
    expect(page.locator("#lot-result .banner--info")).to_contain_text("Nothing scanned yet")


def test_a_scan_after_tapping_the_card_still_lands_in_the_input(live_server, browser_page, lots):
    page = browser_page
    page.goto(f"{live_server.url}/lots/{lots[0]}")
    page.locator("#lot-card h3").first.click()  # focus leaves the input
    assert not scan_input_state(page)["focused"]
    wedge(page, lots[1])
    expect(page.locator("#lot-card .lot__number")).to_have_text(lots[1])


def test_lost_connection_says_the_scan_is_kept_instead_of_nothing(live_server, browser_page, lots):
    page = browser_page
    page.goto(f"{live_server.url}/lots")
    live_server.stop()
    wedge(page, lots[0])
    expect(page.locator("#scan-queue")).to_be_visible()
    expect(page.locator("#scan-queue")).to_contain_text("Offline — 1 scan waiting")


@pytest.mark.parametrize("size", [TABLET, HANDHELD], ids=["tablet", "handheld"])
def test_pages_fit_the_screen_with_big_targets(live_server, browser, sqlite_app, signed_in_page, lots, size):
    context = browser.new_context(viewport=size)
    page = context.new_page()
    try:
        signed_in_page(page, live_server.url, sqlite_app, "picker")
        for path in ("/", f"/lots/{lots[0]}"):
            page.goto(live_server.url + path)
            assert page.evaluate("document.documentElement.scrollWidth") <= size["width"], path
            targets = page.locator("a, button, input, .tile")
            for i in range(targets.count()):
                box = targets.nth(i).bounding_box()
                assert box["height"] >= 48 and box["width"] >= 48, (path, i, box)
        font = page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
        number = page.evaluate("parseFloat(getComputedStyle(document.querySelector('.lot__number')).fontSize)")
        assert font >= 18 and number >= 32
    finally:
        context.close()


@pytest.mark.parametrize("size", [TABLET, HANDHELD], ids=["1280x800", "360x740"])
def test_screenshots(live_server, browser, sqlite_app, signed_in_page, lots, size):
    """Pictures to look at (test-artifacts/, gitignored): home signed out (only the sign-in prompt) and
    signed in, a held lot, an unknown lot."""
    context = browser.new_context(viewport=size)
    page = context.new_page()
    tag = f"{size['width']}x{size['height']}"
    try:
        page.goto(f"{live_server.url}/")
        expect(page.locator(".signin-cta")).to_be_visible()
        expect(page.locator(".tile")).to_have_count(0)
        assert page.evaluate("document.documentElement.scrollWidth") <= size["width"]
        screenshot(page, f"home-signed-out-{tag}")
        page.goto(f"{live_server.url}/lots")  # signed out: the sign-in page, which brings the worker back
        expect(page).to_have_url(f"{live_server.url}/signin?next=/lots")
        signed_in_page(page, live_server.url, sqlite_app, "picker")
        screenshot(page, f"home-{tag}")
        page.goto(f"{live_server.url}/lots")
        wedge(page, lots[0])
        expect(page.locator("#lot-card")).to_be_visible()
        screenshot(page, f"lot-card-{tag}")
        wedge(page, "NOPE-42")
        expect(page.locator(".banner--error")).to_be_visible()
        screenshot(page, f"lot-unknown-{tag}")
    finally:
        context.close()
