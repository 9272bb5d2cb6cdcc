"""Holding a lot from its card in real Chromium against a real server: a supervisor signed in with badge
and PIN opens the lot, taps Hold, taps a preset reason and confirms by a wedge-scanned CMD:CONFIRM;
layout at 360 px and 1280 px (screenshots in test-artifacts/)."""
from __future__ import annotations

import pytest

from browser_support import HANDHELD, TABLET, check_layout, screenshot, wedge
from station import clock
from station.models import LocationKind, Operator, Role
from station.services import catalog, receiving
from station.services.pins import hash_pin

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture then skips, or fails under CI=true
    expect = None


def check_layout_at(page, where: str = "") -> None:
    check_layout(page, where, targets="#lot-action button, #lot-action input:not([type=hidden])")


@pytest.fixture
def lot_site(sqlite_app) -> str:
    with sqlite_app.extensions["station.db"].write() as s:
        s.add(Operator(badge="OP-1005", name="Priya Natarajan", role=Role.SUPERVISOR, pin_hash=hash_pin("1234")))
        item = catalog.create_item(s, sku="YOG-500", name="Greek yoghurt 500 g", unit="cup", shelf_life_days=20)
        dock = catalog.create_location(s, code="DOCK-1", kind=LocationKind.DOCK)
        return receiving.receive(s, item=item, qty=120, location=dock, produced=clock.today()).lot_number


@pytest.mark.parametrize("size", [TABLET, HANDHELD], ids=["1280x800", "360x740"])
def test_supervisor_holds_a_lot_with_a_preset_reason_confirmed_by_scan(live_server, browser, lot_site, size):
    context = browser.new_context(viewport=size)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    tag, lot = f"{size['width']}x{size['height']}", lot_site
    try:
        page.goto(f"{live_server.url}/signin")
        wedge(page, "OPR:OP-1005")
        page.wait_for_url("**/signin/pin")
        for key in "1234":
            page.locator(f'.keypad [data-key="{key}"]').click()
        wedge(page, "CMD:CONFIRM")
        page.wait_for_url(f"{live_server.url}/")

        page.goto(f"{live_server.url}/lots/{lot}")
        expect(page.locator("#lot-card [data-status]")).to_have_text("Available")
        check_layout_at(page, "card with actions")
        screenshot(page, f"lot-actions-card-{tag}")

        page.locator('[data-lot-action="hold"]').click()
        expect(page.locator(".lot-action-title")).to_contain_text(f"Hold lot {lot} — why?")
        page.locator(".lot-action-preset", has_text="QA check").click()
        expect(page.locator('.lot-action-preset[aria-pressed="true"]')).to_have_text("QA check")
        check_layout_at(page, "reason form")
        screenshot(page, f"lot-actions-reason-{tag}")

        wedge(page, "CMD:CONFIRM")  # the command barcode confirms; no tap on the screen
        banner = page.locator(".lot-action-banner .banner--ok")
        expect(banner).to_have_text(f"Lot {lot} is on hold — QA check")
        expect(page.locator("#lot-card [data-status]")).to_have_text("On hold")
        expect(page.locator("#events-h + table tbody tr").first).to_contain_text("Priya Natarajan")
        expect(page.locator("#events-h + table tbody tr").first).to_contain_text("QA check")
        assert page.locator("#lot-action [data-lot-action]").evaluate_all(
            "els => els.map(e => e.dataset.lotAction)") == ["quarantine", "release"]
        check_layout_at(page, "held")
        screenshot(page, f"lot-actions-held-{tag}")

        # A release without a reason is refused in words and keeps asking; a tap on Confirm does it.
        page.locator('[data-lot-action="release"]').click()
        page.locator(".lot-action-confirm").click()
        expect(page.locator(".lot-action-banner .banner--error")).to_contain_text("Pick a reason for the release")
        expect(page.locator("#lot-card [data-status]")).to_have_text("On hold")
        screenshot(page, f"lot-actions-refused-{tag}")
        page.locator(".lot-action-preset", has_text="QA passed").click()
        page.locator(".lot-action-confirm").click()
        expect(page.locator(".lot-action-banner .banner--ok")).to_have_text(
            f"Lot {lot} is released and available again — QA passed")
        expect(page.locator("#lot-card [data-status]")).to_have_text("Available")
    finally:
        context.close()
    assert not errors, errors
