"""The supervisor's expiry dashboard and audit trail in real Chromium against a real server, at 360 px
and 1280 px: hub -> Expiry (chart, 7-day button), -> Audit (filter by a scanned lot, events tab, an
unknown lot refused, the CSV downloaded); no sideways scrolling, 48 px targets; screenshots in
test-artifacts/."""
from __future__ import annotations

import csv
import datetime as dt

import pytest

from browser_support import HANDHELD, TABLET, check_layout, screenshot
from factories import order, received_lot
from station import clock
from station.services import catalog, holds, picking, stock
from station.services.actor import Actor

D = dt.timedelta

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture then skips, or fails under CI=true
    expect = None


def check_layout_at(page, where: str = "") -> None:
    check_layout(page, where, targets=(
        "main .chip, main .button, main .tile, main .audit-field__input, .topbar__home"))


@pytest.fixture
def site(sqlite_app, live_site):
    sqlite_app.config["FLOOR_PIN_ROLES"] = ()  # sign in by badge alone, as signed_in_page does
    today = clock.today()
    with live_site.write() as s:
        def lot(sku, qty, days, where="A-01"):
            return received_lot(s, sku, qty, location=where, expiry=today + D(days=days), on=today - D(days=60))

        lots = [lot("MILK", 40, -2), lot("CAKE", 6, -9, "A-02"), lot("MILK", 24, 0), lot("MILK", 30, 3),
                lot("CAKE", 12, 5, "DOCK"), lot("MILK", 48, 12), lot("MILK", 18, 26), lot("CAKE", 9, 40),
                lot("MILK", 60, 75)]
        busy = lots[3]
        stock.move(s, busy, 10, catalog.location_by_code(s, "A-01"), catalog.location_by_code(s, "A-02"))
        stock.adjust(s, busy, catalog.location_by_code(s, "A-02"), -1, "=damaged carton")
        holds.hold(s, lots[5], "QA check: temperature log missing")
        o = order(s, "SO-1042", [("MILK", 5)])
        picking.pick_line(s, line=o.lines[0], lot=lots[6], qty=2, override_reason="Suggested lot damaged",
                          by=Actor())
        live_site["busy"] = busy.lot_number
    return live_site


@pytest.mark.parametrize("size", [TABLET, HANDHELD], ids=["1280x800", "360x740"])
def test_expiry_dashboard_and_audit_trail(live_server, browser, sqlite_app, site, signed_in_page, size, tmp_path):
    context = browser.new_context(viewport=size, accept_downloads=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    tag, w, base = f"{size['width']}", size["width"], live_server.url
    try:
        signed_in_page(page, base, sqlite_app, "supervisor", name="Priya Natarajan")
        page.goto(f"{base}/supervisor")
        expect(page.locator('[data-count="expired_in_stock"] .fact__big')).to_have_text("2")
        expect(page.locator('[data-count="expiring_soon"] .fact__big')).to_have_text("3")
        check_layout_at(page, "hub")
        screenshot(page, f"supervisor-hub-{tag}")

        page.locator(".tile", has_text="Expiry").click()
        page.wait_for_url("**/expiry")
        chart = page.locator("svg.expiry-chart__svg")
        expect(chart).to_be_visible()
        assert chart.bounding_box()["width"] <= w
        expect(page.locator('g[data-label="Expired"]')).to_have_attribute("data-lots", "2")
        expect(page.locator('g[data-label="This week"]')).to_have_attribute("data-lots", "3")
        expect(page.locator("#soon-h")).to_contain_text("Expiring within 30 days")
        check_layout_at(page, "expiry 30")
        page.locator(".chip", has_text="7 days").click()
        page.wait_for_url("**/expiry?days=7")
        expect(page.locator("#soon-h")).to_contain_text("3 lots")
        check_layout_at(page, "expiry 7")
        screenshot(page, f"expiry-{tag}")

        page.goto(f"{base}/supervisor")
        page.locator(".tile", has_text="Audit trail").click()
        page.wait_for_url("**/audit")
        page.locator("input[name=lot]").fill(site["busy"])
        page.locator("button", has_text="Show").click()
        page.wait_for_url("**/audit?*")
        rows = page.locator("tr.audit-row")
        expect(rows).to_have_count(3)  # received, moved, adjusted
        expect(rows.first).to_contain_text("=damaged carton")  # shown as written on the page
        check_layout_at(page, "audit")
        screenshot(page, f"audit-{tag}")

        with page.expect_download() as download:
            page.locator("a", has_text="Export CSV").click()
        path = tmp_path / "ledger.csv"
        download.value.save_as(path)
        with open(path, newline="") as f:
            exported = list(csv.reader(f))
        assert len(exported) == 4 and exported[1][16] == "'=damaged carton"  # header + 3; formula neutralised

        page.locator(".chip", has_text="Holds, recalls").click()
        page.locator("input[name=lot]").fill("")
        page.locator("button", has_text="Show").click()
        events = page.locator("tr.audit-row")
        expect(events).to_have_count(2)  # the hold and the override pick
        expect(page.locator('tr[data-source="override"]')).to_contain_text("Suggested lot damaged")
        check_layout_at(page, "audit events")
        screenshot(page, f"audit-events-{tag}")

        page.goto(f"{base}/supervisor")
        page.locator(".tile", has_text="Pick overrides").click()
        page.wait_for_url("**/reports/overrides")
        expect(page.locator(".report-reasons")).to_contain_text("Suggested lot damaged")
        expect(page.locator(".report-rows tbody tr")).to_have_count(1)
        check_layout_at(page, "overrides")
        screenshot(page, f"report-overrides-{tag}")

        page.goto(f"{base}/audit?tab=events")
        page.locator("input[name=lot]").fill("NO-SUCH-LOT")
        page.locator("button", has_text="Show").click()
        expect(page.locator(".banner--error")).to_contain_text("There is no lot 'NO-SUCH-LOT'")
        expect(page.locator("tr.audit-row")).to_have_count(0)
        check_layout_at(page, "audit refused")
    finally:
        context.close()
    assert not errors, errors
