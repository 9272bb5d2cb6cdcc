"""The supervisor's /orders and /customers pages in real Chromium against a real server, at 360 px and
1280 px: add a customer, enter an order by hand with line rows added and removed by htmx, a wrong
quantity refused in words, cancel an order with a reason; then a picker sees /pick by priority. No
sideways scrolling, 48 px targets; screenshots in test-artifacts/."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from browser_support import HANDHELD, TABLET, check_layout, screenshot
from station.models import Order, OrderStatus
from station.services import orders
from station.services.orders import OrderLineIn

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture then skips, or fails under CI=true
    expect = None


def check_layout_at(page, where: str = "") -> None:
    check_layout(page, where, targets=(
        "main .button, main .setup-form__input, main summary, main .orders-show__tab, .topbar__home"))


@pytest.fixture
def site(sqlite_app, live_site):
    sqlite_app.config["FLOOR_PIN_ROLES"] = ()  # sign in by badge alone, as signed_in_page does
    with live_site.write() as s:
        orders.enter_order(s, number="SO-LATER", customer_code="SHOP", lines=[OrderLineIn("BOLT", 4)], priority=7)
    return live_site


@pytest.mark.parametrize("size", [TABLET, HANDHELD], ids=["1280x800", "360x740"])
def test_customers_and_orders_by_hand(live_server, browser, sqlite_app, site, signed_in_page, size):
    context = browser.new_context(viewport=size)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    tag, base = f"{size['width']}", live_server.url
    try:
        signed_in_page(page, base, sqlite_app, "supervisor", name="Priya Natarajan")
        page.goto(f"{base}/customers")
        form = page.locator("[data-customer-form]")
        form.locator("input[name=code]").fill("FRESH")
        form.locator("input[name=name]").fill("FreshMart Centrum, a customer with a rather long name indeed")
        form.locator("input[name=min_shelf_life_days]").fill("30")
        form.locator("button[type=submit]").click()
        expect(page.locator(".banner--ok")).to_contain_text("added.")
        row = page.locator('tr[data-customer="FRESH"]')
        expect(row).to_contain_text("30 days")
        check_layout_at(page, "customers")
        screenshot(page, f"customers-{tag}")
        row.locator("summary").click()
        row.locator("input[name=min_shelf_life_days]").fill("21")
        row.locator("[data-save=FRESH]").click()
        expect(page.locator(".banner--ok")).to_contain_text("saved.")
        expect(page.locator('tr[data-customer="FRESH"]')).to_contain_text("21 days")
        screenshot(page, f"customers-edit-{tag}")

        page.goto(f"{base}/orders")
        order_form = page.locator("[data-order-form]")
        order_form.locator("select[name=customer]").select_option("FRESH")
        order_form.locator("input[name=number]").fill("HAND-77")
        order_form.locator("select[name=priority]").select_option("1")
        lines = page.locator("#order-lines .order-line")
        expect(lines).to_have_count(3)
        page.locator("[data-add-line]").click()
        expect(lines).to_have_count(4)
        lines.nth(0).locator("input[name=sku]").fill("MILK")
        lines.nth(0).locator("input[name=qty]").fill("twelve")
        lines.nth(3).locator("input[name=sku]").fill("BOLT")
        lines.nth(3).locator("input[name=qty]").fill("3")
        lines.nth(1).locator(".order-line__remove").click()
        expect(lines).to_have_count(3)
        expect(lines.nth(2).locator(".order-line__label").first).to_have_text("SKU")  # the label's "Line 3 ·" is CSS
        check_layout_at(page, "order form")
        screenshot(page, f"orders-form-{tag}")
        page.locator(".orders-form__save").click()
        expect(page.locator(".banner--error")).to_contain_text(
            "Line 1 (MILK): the quantity must be a number like 12 or 12.5 (got 'twelve'). Nothing was saved.")
        screenshot(page, f"orders-refused-{tag}")
        with sqlite_app.extensions["station.db"].read() as s:
            assert s.scalar(select(Order.id).where(Order.number == "HAND-77")) is None
        page.locator("#order-lines .order-line").nth(0).locator("input[name=qty]").fill("12")
        page.locator(".orders-form__save").click()
        expect(page.locator(".banner--ok")).to_contain_text("Order HAND-77 for FreshMart Centrum")
        expect(page.locator('tr[data-order="HAND-77"]')).to_contain_text("MILK × 12")
        check_layout_at(page, "orders")
        screenshot(page, f"orders-{tag}")

        later = page.locator('tr[data-order="SO-LATER"]')
        later.locator("summary").click()
        later.locator("input[name=reason]").fill("Customer rang: not needed")
        later.locator("[data-cancel=SO-LATER]").click()
        expect(page.locator(".banner--ok")).to_contain_text("Order SO-LATER is cancelled")
        expect(page.locator('tr[data-order="SO-LATER"]')).to_have_count(0)
        with sqlite_app.extensions["station.db"].read() as s:
            assert s.scalar(select(Order.status).where(Order.number == "SO-LATER")) is OrderStatus.CANCELLED
        page.locator(".orders-show__tab", has_text="Cancelled").click()
        expect(page.locator('tr[data-order="SO-LATER"]')).to_contain_text("Customer rang: not needed")

        page.goto(f"{base}/pick")
        expect(page.locator(".pick-order").first).to_contain_text("HAND-77")
        expect(page.locator(".pick-order", has_text="SO-LATER")).to_have_count(0)
        screenshot(page, f"pick-orders-priority-{tag}")
    finally:
        context.close()
    assert not errors, errors
