"""The trace page in real Chromium against a real server: a supervisor scans a lot (keyboard wedge) and
lands on its backward trace, taps Forward, sees the picture and every lot; no sideways scrolling and
48 px targets at 1280 and 360 px (screenshots in test-artifacts/); hostile supplier text stays text."""
from __future__ import annotations

from urllib.parse import quote

import pytest

from browser_support import HANDHELD, TABLET, check_layout, screenshot, wedge
from station.models import Operator, Role
from station.services.pins import hash_pin
from test_trace import build_genealogy
from test_trace_page import EVIL_LOT, EVIL_PART, EVIL_SUPPLIER_LOT, hostile_genealogy


def sign_in_supervisor(page, base_url: str, app, badge: str = "SUP-77") -> None:
    """A supervisor's badge scanned at the sign-in page, then their PIN on the keypad (supervisors need one)."""
    with app.extensions["station.db"].write() as s:
        s.add(Operator(badge=badge, name="Sam Supervisor", role=Role.SUPERVISOR, pin_hash=hash_pin("2468")))
    page.goto(f"{base_url}/signin")
    wedge(page, f"OPR:{badge}")
    page.wait_for_url("**/signin/pin")
    for key in "2468":
        page.locator(f'.keypad [data-key="{key}"]').click()
    wedge(page, "CMD:CONFIRM")
    page.wait_for_url(f"{base_url}/")


def check_layout_at(page, where: str) -> None:
    """The trace's buttons and links fit a gloved finger, and no card's table spills out of its card."""
    check_layout(page, where, targets=".trace-scan button, .trace-scan input:not([type=hidden]), .trace-head a, "
                                      ".trace-table a")
    spill = page.evaluate("""() => Array.from(document.querySelectorAll('main .card'))
        .filter(el => el.scrollWidth > el.clientWidth + 1)
        .map(el => [el.className, el.scrollWidth, el.clientWidth,
                    Array.from(el.querySelectorAll('th, td')).slice(0, 9).map(c => Math.round(c.getBoundingClientRect().width))])""")
    assert not spill, (where, spill)


@pytest.mark.parametrize("size", [TABLET, HANDHELD], ids=["1280x800", "360x740"])
def test_supervisor_scans_a_lot_and_traces_it_both_ways(live_server, browser, sqlite_app, size):
    site = build_genealogy(sqlite_app.extensions["station.db"])
    context = browser.new_context(viewport=size)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    tag, width = f"{size['width']}x{size['height']}", size["width"]
    try:
        sign_in_supervisor(page, live_server.url, sqlite_app)
        page.goto(f"{live_server.url}/trace")
        wedge(page, site.pie_part)
        page.wait_for_url(f"**/trace/{site.pie_part}?direction=backward")
        rows = page.locator("tr.trace-row")
        assert sorted(rows.evaluate_all("els => els.map(e => e.dataset.lot)")) == sorted(
            [site.pie_part, site.pie, site.flour, site.sugar])
        assert page.locator("svg.trace-graph__svg [data-key='supplier:ACME']").count() == 1
        check_layout_at(page, f"backward {tag}")
        # Backward, the traced lot is the right-most box: a picture wider than the screen opens on it.
        start = page.locator(f"svg.trace-graph__svg [data-key='lot:{site.pie_part}'] rect").bounding_box()
        assert 0 <= start["x"] and start["x"] + start["width"] <= width, start
        screenshot(page, f"trace-backward-{tag}")

        page.locator(".trace-directions a", has_text="Forward").click()
        page.wait_for_url(f"**/trace/{site.pie_part}?direction=forward")
        page.goto(f"{live_server.url}/trace/{site.flour}?direction=forward")
        assert sorted(page.locator("tr.trace-row").evaluate_all("els => els.map(e => e.dataset.lot)")) == sorted(
            [site.flour, site.pie, site.cookie, site.pie_part])
        assert sorted(page.locator("tr.trace-shipment").evaluate_all("els => els.map(e => e.dataset.lot)")) == \
            sorted([site.pie, site.pie_part, site.cookie])
        graph = page.locator("svg.trace-graph__svg")
        assert graph.is_visible()
        assert graph.locator("[data-key='customer:SHOP'], [data-key='customer:BIG']").count() == 2
        # The picture is readable on a phone: it scrolls in its own box and keeps its size.
        assert graph.bounding_box()["width"] >= min(700, width - 60)
        check_layout_at(page, f"forward {tag}")
        screenshot(page, f"trace-forward-{tag}")

        # A box in the picture opens that lot's trace.
        graph.locator(f"a[href*='/trace/{site.cookie}']").first.click()
        page.wait_for_url(f"**/trace/{site.cookie}?direction=forward")

        # An unknown scan: a red banner, the page stays.
        wedge(page, "NOPE-404")
        banner = page.locator("#scan-current .banner--error")
        banner.wait_for()
        assert "NOPE-404" in banner.inner_text() or "not" in banner.inner_text().lower()
        assert f"/trace/{site.cookie}" in page.url
    finally:
        context.close()
    assert not errors, errors


def test_hostile_lot_numbers_show_as_text(live_server, browser, sqlite_app):
    site = hostile_genealogy(sqlite_app.extensions["station.db"])
    context = browser.new_context(viewport=TABLET)
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    try:
        sign_in_supervisor(page, live_server.url, sqlite_app)
        page.goto(f"{live_server.url}/trace/{quote(site.pie_part, safe='')}?direction=backward")
        table = page.locator(".trace-lots").inner_text()
        assert EVIL_LOT in table and EVIL_PART in table and EVIL_SUPPLIER_LOT in table
        assert page.locator("img[src='x']").count() == 0
        assert page.locator("main script").evaluate_all("els => els.map(e => e.getAttribute('src'))") == ["/static/trace.js"]
        check_layout_at(page, "hostile, long lot numbers")
        svg_text = page.locator("svg.trace-graph__svg").text_content()
        assert "<script>alert(3)" in svg_text  # shown as characters, cut to the box
        screenshot(page, "trace-hostile-1280x800")
        page.goto(f"{live_server.url}/trace/{quote(site.flour, safe='')}?direction=forward")
        assert "-2+3 <b>Shop</b>" in page.locator(".trace-moves").inner_text()
        assert page.locator("b", has_text="Shop").count() == 0
    finally:
        context.close()
    assert dialogs == []


def test_a_large_trace_shows_a_summarised_picture_and_every_lot(live_server, browser, sqlite_app):
    from factories import TODAY
    from station.services import catalog, splits

    db = sqlite_app.extensions["station.db"]
    site = build_genealogy(db)
    with db.write() as s:
        cookie = catalog.lot_by_number(s, site.cookie)
        line = catalog.location_by_code(s, "LINE-1")
        parts = [splits.split_lot(s, cookie, 1, line, on=TODAY) for _ in range(30)]
        for part in parts[:30]:
            splits.split_lot(s, part, 1, line, on=TODAY)
    context = browser.new_context(viewport=TABLET)
    page = context.new_page()
    try:
        sign_in_supervisor(page, live_server.url, sqlite_app)
        page.goto(f"{live_server.url}/trace/{site.flour}?direction=forward")
        assert "The picture is summarised: 64 lots are drawn as 6 groups" in page.locator(".trace-graph").inner_text()
        assert page.locator("tr.trace-row").count() == 64
        check_layout_at(page, "summarised")
        screenshot(page, "trace-summarised-1280x800")
    finally:
        context.close()
