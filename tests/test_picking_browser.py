"""Picking in real Chromium against a real server: sign in, open an order, pick by wedge scans (the
suggested lot with one scan, a wrong item, a held and an expired lot refused, a younger lot with a
tapped reason), ship with CMD:CONFIRM; a younger lot refused outright on an item whose policy says
oldest first, and a pick taken back by scanning CMD:UNDO; screenshots at 1280 and 360 px, targets and
scrolling checked."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

import factories as f
from browser_support import HANDHELD, TABLET, screenshot, wedge
from station import clock
from station.models import Movement, MovementKind, Order, OrderLine, OrderStatus
from station.services import catalog, holds

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture then skips, or fails under CI=true
    expect = None

@pytest.fixture
def site(live_site):
    today, days = clock.today(), dt.timedelta
    with live_site.write() as s:
        catalog.create_item(s, sku="JAM", name="Strawberry jam 450 g jar")
        soon = f.received_lot(s, "MILK", 6, location="A-01", expiry=today + days(5), on=today)
        later = f.received_lot(s, "MILK", 50, location="A-02", expiry=today + days(20), on=today)
        held = f.received_lot(s, "MILK", 10, location="A-01", expiry=today + days(3), on=today)
        holds.hold(s, held, "Seal check after cold-chain alarm")
        expired = f.received_lot(s, "MILK", 10, location="A-02", expiry=today - days(1),
                                 produced=today - days(20), on=today - days(20))
        bolt = f.received_lot(s, "BOLT", 40, location="A-01", on=today)
        jam = f.received_lot(s, "JAM", 12, location="A-02", on=today)
        f.order(s, "SO-1", [("MILK", 10), ("BOLT", 4)])
        f.order(s, "SO-2", [("BOLT", 30)])
        lots = {k: v.lot_number for k, v in dict(soon=soon, later=later, held=held, expired=expired,
                                                  bolt=bolt, jam=jam).items()}
    live_site.update(lots)
    return live_site


def new_page(browser, viewport):
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return context, page, errors


def watch_answers(page) -> None:
    """Time from each scan's Enter to its banner in #scan-current (window.__answers, ms)."""
    page.evaluate("""() => {
        window.__answers = [];
        let enter = null;
        // station.js swallows a scan's Enter keydown; its keyup still comes (a few ms later at most)
        window.addEventListener('keyup', e => { if (e.key === 'Enter') enter = e.timeStamp; }, true);
        new MutationObserver(() => {
            if (enter !== null) { window.__answers.push(performance.now() - enter); enter = null; }
        }).observe(document.getElementById('scan-current'), {childList: true, subtree: true});
    }""")


def banner(page):
    return page.locator("#scan-current .banner__message").last


def layout_problems(page) -> list:
    """Horizontal scrolling, and visible touch targets under 48 px."""
    return page.evaluate("""() => {
        const problems = [];
        const doc = document.documentElement;
        if (doc.scrollWidth > doc.clientWidth + 1) problems.push(['scrolls sideways', doc.scrollWidth, doc.clientWidth]);
        for (const el of document.querySelectorAll('main button, main a, main summary, main input')) {
            const r = el.getBoundingClientRect();
            if (!r.width || !r.height || el.closest('.pick-line__picks')) continue;
            if (r.height < 47.5 || r.width < 47.5) problems.push([el.outerHTML.slice(0, 80), r.width, r.height]);
        }
        return problems;
    }""")


def test_pick_an_order_by_scanning_and_ship_it_with_confirm(live_server, browser, sqlite_app, site,
                                                            signed_in_page):
    db = site["db"]
    context, page, errors = new_page(browser, TABLET)
    try:
        signed_in_page(page, live_server.url, sqlite_app, "picker", badge="OP-PICK", name="Pia Picker")
        page.goto(f"{live_server.url}/pick")
        screenshot(page, "pick-orders-1280")
        page.locator(".pick-order", has_text="SO-1").click()
        page.wait_for_url(f"{live_server.url}/pick/SO-1")
        current = page.locator(".pick-current")
        expect(current).to_contain_text(site["soon"])
        expect(current).to_contain_text("A-01")
        expect(banner(page)).to_have_text(f"Line 1: scan lot {site['soon']} at A-01.")
        assert layout_problems(page) == []
        screenshot(page, "pick-list-1280")  # docs/picking.png is a copy of it
        watch_answers(page)

        # the suggested lot: one scan, no tap
        wedge(page, f"LOT:{site['soon']}")
        expect(banner(page)).to_have_text(
            f"Picked 6 ea of lot {site['soon']} from A-01. 4 ea more: lot {site['later']} at A-02.")
        expect(page.locator("#scan-current .banner--ok")).to_be_visible()
        assert page.evaluate("document.body.dataset.scanSound") == "ok"
        expect(page.locator('.pick-line[data-line="1"] .pick-line__qty')).to_contain_text("6 / 10")
        expect(current).to_contain_text(site["later"])  # the rest from the next lot

        # a wrong item, a held lot and an expired lot: refused in words, with the refusal sound
        for code, words in [(f"LOT:{site['jam']}", f"Wrong item: lot {site['jam']} is JAM"),
                            (f"LOT:{site['held']}", f"Lot {site['held']} is on hold — QA release needed"),
                            (f"LOT:{site['expired']}", f"Lot {site['expired']} expired on")]:
            wedge(page, code)
            expect(banner(page)).to_contain_text(words)
            expect(page.locator("#scan-current .banner--error")).to_be_visible()
            assert page.evaluate("document.body.dataset.scanSound") == "bad"
        screenshot(page, "pick-refused-1280")
        expect(page.locator('.pick-line[data-line="1"] .pick-line__qty')).to_contain_text("6 / 10")

        # a younger lot than suggested: warned, the older lot's place shown, a reason tapped
        with db.write() as s:  # another 4 of the first lot turn up at A-01, so `later` is younger again
            f.received_lot(s, "MILK", 4, location="A-01", expiry=clock.today() + dt.timedelta(days=5))
        answers = page.evaluate("window.__answers")
        page.reload()
        watch_answers(page)
        wedge(page, f"LOT:{site['later']}")
        expect(banner(page)).to_contain_text(f"Lot {site['later']} expires later than the suggested lot")
        expect(page.locator("#scan-current .banner--warn")).to_be_visible()
        override = page.locator(".pick-override")
        expect(override).to_be_visible()
        screenshot(page, "pick-override-1280")
        override.get_by_role("button", name="Suggested lot on a high level, no reach truck free").click()
        expect(banner(page)).to_contain_text(f"Picked 4 ea of lot {site['later']} from A-02 (instead of the older lot")
        expect(override).to_have_count(0)

        # line 2, then CMD:CONFIRM presses Ship
        wedge(page, f"LOT:{site['bolt']}")
        expect(banner(page)).to_have_text(f"Picked 4 ea of lot {site['bolt']} from A-01. Line 2 done — every line is picked.")
        expect(page.locator(".pick-ship__button")).to_be_enabled()
        screenshot(page, "pick-ready-1280")
        wedge(page, "CMD:CONFIRM")
        expect(banner(page)).to_have_text("Order SO-1 shipped to Corner Shop: 14 units from 3 lots.")
        expect(page.locator(".pick-done")).to_be_visible()
        screenshot(page, "pick-shipped-1280")
        with db.read() as s:
            assert s.scalar(select(Order.status).where(Order.number == "SO-1")) is OrderStatus.SHIPPED
            assert len(s.scalars(select(Movement.id).where(Movement.kind == MovementKind.SHIP)).all()) == 3
        answers += page.evaluate("window.__answers")
        assert answers  # every scan was answered on the page (how fast is for a benchmark, not a test)
        assert errors == []
    finally:
        context.close()


def test_handheld_360_pick_list_is_usable_without_sideways_scrolling(live_server, browser, sqlite_app, site,
                                                                     signed_in_page):
    context, page, errors = new_page(browser, HANDHELD)
    try:
        signed_in_page(page, live_server.url, sqlite_app, "picker", badge="OP-PICK", name="Pia Picker")
        page.goto(f"{live_server.url}/pick")
        assert layout_problems(page) == []
        screenshot(page, "pick-orders-360")
        page.goto(f"{live_server.url}/pick/SO-1")
        assert layout_problems(page) == []
        screenshot(page, "pick-list-360")
        wedge(page, f"LOT:{site['held']}")
        expect(banner(page)).to_contain_text("is on hold — QA release needed")
        screenshot(page, "pick-refused-360")
        wedge(page, f"LOT:{site['later']}")
        expect(page.locator(".pick-override")).to_be_visible()
        assert layout_problems(page) == []
        screenshot(page, "pick-override-360")
        wedge(page, "CMD:CANCEL")
        expect(page.locator(".pick-override")).to_have_count(0)
        wedge(page, "CMD:NEXT")
        expect(page.locator('.pick-line--current[data-line="2"]')).to_be_visible()
        page.locator(".pick-more > summary").click()
        assert layout_problems(page) == []
        screenshot(page, "pick-short-360")
        assert errors == []
    finally:
        context.close()


@pytest.mark.parametrize("viewport, width", [(TABLET, 1280), (HANDHELD, 360)])
def test_a_refusing_item_refuses_a_younger_lot_and_cmd_undo_takes_a_pick_back(live_server, browser, sqlite_app,
                                                                             site, signed_in_page, viewport, width):
    db = site["db"]
    with db.write() as s:  # the supervisor has switched MILK to "oldest first, no exceptions"
        catalog.item_by_sku(s, "MILK").refuse_younger_lots = True
    context, page, errors = new_page(browser, viewport)
    try:
        signed_in_page(page, live_server.url, sqlite_app, "picker", badge="OP-PICK", name="Pia Picker")
        page.goto(f"{live_server.url}/pick/SO-1")
        expect(page.locator(".pick-current__policy")).to_contain_text("Oldest lot first")
        expect(page.locator(".pick-last")).to_have_count(0)

        # a younger lot: refused in red, with the lot to take and where; no reason panel to tap
        wedge(page, f"LOT:{site['later']}")
        expect(banner(page)).to_have_text(
            f"Lot {site['later']} expires later than lot {site['soon']} — take {site['soon']} from A-01; "
            f"this item must go soonest-expiring first.")
        expect(page.locator("#scan-current .banner--error")).to_be_visible()
        assert page.evaluate("document.body.dataset.scanSound") == "bad"
        expect(page.locator(".pick-override")).to_have_count(0)
        assert layout_problems(page) == []
        screenshot(page, f"pick-younger-refused-{width}")

        # the suggested lot, then CMD:UNDO takes that pick back
        wedge(page, f"LOT:{site['soon']}")
        expect(banner(page)).to_contain_text(f"Picked 6 ea of lot {site['soon']} from A-01.")
        undo = page.locator('.pick-last button[data-command="undo"]')
        expect(undo).to_have_text("Undo last pick")
        expect(page.locator(".pick-last")).to_contain_text(site["soon"])
        expect(page.locator('.pick-line[data-line="1"] .pick-line__qty')).to_contain_text("6 / 10")
        assert layout_problems(page) == []
        screenshot(page, f"pick-undo-offered-{width}")
        wedge(page, "CMD:UNDO")
        expect(banner(page)).to_have_text(
            f"Pick taken back: 6 ea of lot {site['soon']} — take it from SHIP and put it back at A-01.")
        expect(page.locator("#scan-current .banner--ok")).to_be_visible()
        assert page.evaluate("document.body.dataset.floorCommand") == "undo"
        expect(page.locator(".pick-last")).to_have_count(0)
        expect(page.locator('.pick-line[data-line="1"] .pick-line__qty')).to_contain_text("0 / 10")
        expect(page.locator(".pick-undone-note")).to_have_text("— taken back")
        expect(page.locator(".pick-current")).to_contain_text(site["soon"])  # suggested again
        assert layout_problems(page) == []
        screenshot(page, f"pick-undone-{width}")
        with db.read() as s:
            rows = s.execute(select(Movement.kind, Movement.qty).where(Movement.kind.in_(
                [MovementKind.PICK, MovementKind.UNPICK])).order_by(Movement.id)).all()
            assert rows == [(MovementKind.PICK, 6), (MovementKind.UNPICK, 6)]
            assert s.scalar(select(OrderLine.picked_qty).where(OrderLine.line_no == 1)
                            .join(Order).where(Order.number == "SO-1")) == 0
        # nothing more to take back: the command says so in red
        wedge(page, "CMD:UNDO")
        expect(page.locator("#scan-current .banner__message").last).to_have_text("Nothing to undo on this screen")
        assert errors == []
    finally:
        context.close()


@pytest.mark.parametrize("viewport, width", [(TABLET, 1280), (HANDHELD, 360)])
def test_a_short_line_shows_its_quantity_and_reason_before_and_after_shipping(live_server, browser, sqlite_app,
                                                                            site, signed_in_page, viewport, width):
    context, page, errors = new_page(browser, viewport)
    try:
        signed_in_page(page, live_server.url, sqlite_app, "picker", badge="OP-PICK", name="Pia Picker")
        page.goto(f"{live_server.url}/pick/SO-1")
        wedge(page, f"LOT:{site['soon']}")
        expect(banner(page)).to_contain_text(f"Picked 6 ea of lot {site['soon']}")
        # the banner comes first, the list is drawn again after it: open the fold on the new list
        expect(page.locator(".pick-target__fact--lot dd.mono")).to_have_text(site["later"])
        # the next lot is not at its place: short, with a tapped reason
        page.locator(".pick-more > summary").click()
        page.get_by_role("button", name="Not at the location").click()
        expect(banner(page)).to_contain_text(f"Short recorded: 50 ea of lot {site['later']} at A-02")
        wedge(page, f"LOT:{site['bolt']}")
        expect(page.locator(".pick-ship__button")).to_be_enabled()
        short = page.locator(".pick-ship .pick-short__line")
        expect(short).to_have_count(1)
        expect(short).to_contain_text("Line 1")
        expect(short).to_contain_text("4 ea short")
        expect(short).to_contain_text("Not at the location")
        assert layout_problems(page) == []
        screenshot(page, f"pick-ship-short-{width}")
        wedge(page, "CMD:CONFIRM")
        expect(banner(page)).to_have_text("Order SO-1 shipped to Corner Shop: 10 units (4 short) from 2 lots.")
        done = page.locator(".pick-done .pick-short__line")
        expect(done).to_contain_text("4 ea short")
        expect(done).to_contain_text("Not at the location")
        assert layout_problems(page) == []
        screenshot(page, f"pick-shipped-short-{width}")
        assert errors == []
    finally:
        context.close()
