"""The recall flow in real Chromium against a real server: a supervisor (badge + PIN) scans a lot label on
/recalls, sees what the recall would stop, writes why and confirms by a wedge-scanned CMD:CONFIRM, then
records a retrieval and the customers' notifications and closes the recall. At 1280 px and 360 px, with
screenshots in test-artifacts/ and no sideways scrolling."""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from browser_support import HANDHELD, TABLET, check_layout, screenshot, wedge
from station.models import Lot, LotStatus, Operator, Role
from station.services.pins import hash_pin

from test_recalls import build_site

DOCS = Path(__file__).resolve().parent.parent / "docs"

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture then skips, or fails under CI=true
    expect = None


def check_layout_at(page, where: str = "") -> None:
    check_layout(page, where, targets=(
        "main .button, main button, main input:not([type=hidden]):not([type=checkbox]), main select, main .recall-row__lot"))


@pytest.fixture
def recall_site(sqlite_app):
    site = build_site(sqlite_app.extensions["station.db"])
    with sqlite_app.extensions["station.db"].write() as s:
        s.add(Operator(badge="OP-2001", name="Rosa Quality", role=Role.SUPERVISOR, pin_hash=hash_pin("2468")))
    return site


@pytest.mark.parametrize("size", [TABLET, HANDHELD], ids=["1280x800", "360x740"])
def test_a_recall_from_a_scanned_lot_to_its_close(live_server, browser, sqlite_app, recall_site, size):
    site, w = recall_site, size["width"]
    tag = f"{size['width']}x{size['height']}"
    context = browser.new_context(viewport=size)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        # Signing in by badge scan is the floor's own test; here the badge is typed, the PIN tapped.
        page.goto(f"{live_server.url}/signin")
        page.fill("#badge", "OP-2001")
        page.click("form.signin__form button[type=submit]")
        page.wait_for_url("**/signin/pin")
        for key in "2468":
            page.locator(f'.keypad [data-key="{key}"]').click()
        page.locator(".keypad__key--ok").click()
        page.wait_for_url(f"{live_server.url}/")

        page.goto(f"{live_server.url}/recalls")
        expect(page.locator("#recall-open-h + .empty")).to_have_text("No open recall.")
        check_layout_at(page, "list")
        screenshot(page, f"recall-list-empty-{tag}")

        # The lot label, scanned by the wedge (nothing has the focus): the preview of its recall.
        page.locator("h2#recall-start-h").click()
        wedge(page, site.a)
        page.wait_for_url(re.compile(r"/recalls/new\?lot="))
        expect(page.locator(".recall-banner .banner__message")).to_have_text(f"A recall of lot {site.a} stops 5 lots")
        expect(page.locator('[data-fact="stopped"]')).to_have_text("5")
        expect(page.locator('[data-fact="stock"]')).to_have_text("68")
        expect(page.locator('[data-fact="customers"]')).to_have_text("2")
        expect(page.locator(f'.recall-row[data-lot="{site.c}"]')).to_contain_text("0 ea on site")
        check_layout_at(page, "preview")
        screenshot(page, f"recall-preview-{tag}")
        if os.environ.get("STATION_UPDATE_DOCS") and w == TABLET["width"]:  # the README's picture, on request
            page.screenshot(path=str(DOCS / "recall.png"))

        # CMD:CONFIRM without a reason: refused in words, nothing stopped.
        wedge(page, "CMD:CONFIRM")
        expect(page.locator(".recall-banner .banner--error")).to_contain_text("Write why")
        with sqlite_app.extensions["station.db"].read() as s:
            assert s.scalar(select(Lot.status).where(Lot.lot_number == site.p)) is LotStatus.AVAILABLE

        page.locator("#recall-reason").fill("Customer complaint: metal fragment")
        wedge(page, "CMD:CONFIRM")  # the cursor is still in the reason field: the scan is no typing
        page.wait_for_url(re.compile(r"/recalls/R-\d{4}-\d{4}$"))
        number = page.url.rsplit("/", 1)[1]
        expect(page.locator(".recall-banner .banner--ok")).to_contain_text(f"Recall {number} started: 5 lots stopped")
        expect(page.locator(".recall-head__reason")).to_have_text("Customer complaint: metal fragment")
        with sqlite_app.extensions["station.db"].read() as s:
            assert s.scalar(select(Lot.status).where(Lot.lot_number == site.q)) is LotStatus.RECALLED
        check_layout_at(page, "report")
        screenshot(page, f"recall-report-{tag}")

        # Gathering stock: scan the lot's label, type how many, confirm by CMD:CONFIRM.
        page.locator("#recall-h").click()
        wedge(page, site.a)
        page.wait_for_url(re.compile(r"\?lot="))
        lot_a = page.locator(f'.recall-lot--focus[data-lot="{site.a}"]')
        expect(lot_a.locator('input[name="qty"]')).to_be_focused()
        page.keyboard.type("50", delay=150)  # a person's typing, not a scanner's burst
        lot_a.locator('input[name="note"]').fill("put aside in A-02")
        check_layout_at(page, "retrieving")
        screenshot(page, f"recall-retrieving-{tag}")
        wedge(page, "CMD:CONFIRM")
        expect(page.locator(".recall-banner .banner--ok .banner__message")).to_have_text(
            f"Lot {site.a}: 50 more retrieved")
        expect(page.locator(".recall-banner .banner--ok")).to_contain_text("Booked into the quarantine place.")
        expect(page.locator(f'.recall-lot[data-lot="{site.a}"] .recall-row__got')).to_contain_text("Retrieved 50 of 62")

        shop = page.locator('.recall-customer[data-customer="SHOP"]')
        shop.locator('input[name="note"]').fill("Phoned Ann at Corner Shop")
        shop.locator("button", has_text="Notified").click()
        expect(page.locator('.recall-customer[data-customer="SHOP"] .recall-customer__told')).to_contain_text(
            "by Rosa Quality: Phoned Ann at Corner Shop")

        # Big Co not told yet: closing is refused unless ticked on purpose.
        page.locator("#close-reason").fill("All stock destroyed")
        page.locator(".recall-close__go").click()
        expect(page.locator(".recall-banner .banner--error")).to_contain_text("1 customer has not been marked notified: Big Co")
        check_layout_at(page, "close refused")
        screenshot(page, f"recall-close-refused-{tag}")
        page.locator('.recall-customer[data-customer="BIG"] button', has_text="Notified").click()
        expect(page.locator('.recall-customer[data-customer="BIG"] .pill')).to_have_text("notified")
        page.locator("#close-reason").fill("All stock destroyed, both customers told")
        page.locator(".recall-close__go").click()
        expect(page.locator(".recall-banner .banner--ok .banner__message")).to_have_text(f"Recall {number} closed")
        expect(page.locator(".recall-banner .banner__detail")).to_have_text(
            "Its lots stay recalled: they cannot be picked, used or shipped.")
        expect(page.locator(".recall-head [data-status]")).to_have_text("Closed")
        expect(page.locator(".recall-event__what")).to_have_text(["Opened", "Retrieved", "Notified", "Notified", "Closed"])
        check_layout_at(page, "closed")
        screenshot(page, f"recall-closed-{tag}")

        page.goto(f"{live_server.url}/recalls")
        expect(page.locator('#recall-closed-h ~ .recall-list .recall-item__number')).to_have_text([number])
        screenshot(page, f"recall-list-{tag}")
    finally:
        context.close()
    assert not errors, errors
