"""The supervisors' expected deliveries page (/expected): the open ones with what came in, entering one by
hand, closing one short; refusals in words that change nothing; who may. The test client on SQLite and
PostgreSQL, and Chromium at 360 and 1280 px."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

import actions
from factories import basic_site, received_lot
from labels import gs1
from station.models import ExpectedReceipt, ExpectedStatus
from station.services import catalog, expected
from station.services.expected import ExpectedLineIn

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture then skips, or fails under CI=true
    expect = None

P1 = gs1.sscc(0, "4000001", 301)


def receipts(site) -> list[tuple]:
    with site.read() as s:
        return [(r.reference, r.status.value, [(ln.item.sku, ln.qty) for ln in r.lines])
                for r in s.scalars(select(ExpectedReceipt).order_by(ExpectedReceipt.id))]


def enter(client, **form):
    data = {"supplier": "ACME", "reference": "PO-7", "expected_on": "2026-12-09",
            "sku": ["BOLT", "MILK", ""], "qty": ["40", "12", ""], "supplier_lot": ["S-77", "", ""],
            "ssccs": [P1, "", ""]}
    data.update(form)
    return client.post("/expected", data=data)


def test_a_supervisor_enters_one_and_sees_it_with_what_came_in(client, site):
    actions.sign_in(client, "supervisor")
    response = enter(client)
    assert response.status_code == 303
    page = client.get("/expected").get_data(as_text=True)
    assert "Expected from Acme Foods: PO-7, 2 lines." in page
    assert 'data-expected="PO-7"' in page and "0 of 40 ea" in page and "0 of 1 pallets" in page
    assert receipts(site) == [("PO-7", "open", [("BOLT", 40), ("MILK", 12)])]
    again = client.get("/expected") and enter(client)  # the same form twice (a double tap): nothing new
    assert again.status_code == 303
    assert "was already entered just like this" in client.get("/expected").get_data(as_text=True)
    with site.write() as s:
        line = s.scalars(select(ExpectedReceipt)).one().lines[0]
        received_lot(s, "BOLT", 52, supplier="ACME", sscc=P1)
        expected.book_against(s, line, 52, P1)
    page = client.get("/expected").get_data(as_text=True)
    assert "52 of 40 ea" in page and "12 over" in page and "1 of 1 pallets" in page
    assert len(receipts(site)) == 1


@pytest.mark.parametrize("form, words", [
    ({"supplier": ""}, "No supplier &#39;&#39;"),
    ({"reference": ""}, "The reference (the PO or ASN number) is required."),
    ({"sku": ["NOPE", "", ""]}, "No item with SKU &#39;NOPE&#39;"),
    ({"qty": ["4x", "12", ""]}, "Line 1 (BOLT): the quantity must be a number like 12 or 12.5"),
    ({"ssccs": ["123", "", ""]}, "SSCC &#39;123&#39; is not valid"),
    ({"expected_on": "9.12."}, "is not a date"),
    ({"sku": ["", "", ""], "qty": ["", "", ""], "supplier_lot": ["", "", ""], "ssccs": ["", "", ""]},
     "needs at least one line"),
])
def test_a_bad_form_is_drawn_again_in_words_and_nothing_is_saved(client, site, form, words):
    actions.sign_in(client, "supervisor")
    response = enter(client, **form)
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and words in html and "Nothing was saved." in html, html
    assert "banner--error" in html and "Traceback" not in html
    assert receipts(site) == []


def test_the_form_drawn_again_keeps_what_was_typed(client, site):
    actions.sign_in(client, "supervisor")
    html = enter(client, sku=["BOLT", "NOPE", ""]).get_data(as_text=True)
    assert 'value="PO-7"' in html and 'value="NOPE"' in html and f'value="{P1}"' in html


def test_closing_short_needs_a_reason(client, site):
    with site.write() as s:
        rid = expected.enter_expected_receipt(s, supplier_code="ACME", reference="PO-8",
                                              lines=[ExpectedLineIn(qty=5, sku="BOLT")])[0].id
    actions.sign_in(client, "supervisor")
    refused = client.post(f"/expected/{rid}/close", data={"reason": "  "})
    assert refused.status_code == 422 and "the reason is required" in refused.get_data(as_text=True)
    assert receipts(site)[0][1] == "open"
    assert client.post(f"/expected/{rid}/close", data={"reason": "Supplier out of stock"}).status_code == 303
    page = client.get("/expected").get_data(as_text=True)
    assert "PO-8 from Acme Foods is closed" in page and 'data-expected="PO-8"' not in page
    with site.read() as s:
        row = s.get(ExpectedReceipt, rid)
        assert (row.status, row.close_reason) == (ExpectedStatus.CLOSED, "Supplier out of stock")
    again = client.post(f"/expected/{rid}/close", data={"reason": "again"})
    assert again.status_code == 409 and "already closed" in again.get_data(as_text=True)
    assert client.post("/expected/999999/close", data={"reason": "x"}).status_code == 404


@pytest.mark.parametrize("role", ["receiver", "picker", "line_operator"])
def test_only_supervisors_and_admins_may(client, site, role):
    assert client.get("/expected").status_code == 302  # signed out: to the sign-in page
    actions.sign_in(client, role)
    assert client.get("/expected").status_code == 403
    assert enter(client).status_code == 403
    assert receipts(site) == []
    actions.sign_in(client, "admin")
    assert client.get("/expected").status_code == 200


def test_the_page_in_chromium_at_360_and_1280(sqlite_app, live_server, browser, signed_in_page):
    from browser_support import HANDHELD, TABLET, screenshot

    sqlite_app.config["FLOOR_PIN_ROLES"] = ()  # sign in by badge alone, as signed_in_page does
    db = sqlite_app.extensions["station.db"]
    basic_site(db)
    with db.write() as s:
        catalog.create_supplier(s, code="NORTH", name="Northern Flour Mill and Grain Cooperative")
        expected.enter_expected_receipt(s, supplier_code="NORTH", reference="ASN-2026-000123456789",
                                        lines=[ExpectedLineIn(qty=400, sku="BOLT", ssccs=(P1,)),
                                               ExpectedLineIn(qty=12, sku="MILK")])
    for size, viewport in (("1280", TABLET), ("360", HANDHELD)):
        context = browser.new_context(viewport=viewport)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        signed_in_page(page, live_server.url, sqlite_app, "supervisor")
        page.goto(f"{live_server.url}/expected")
        expect(page.locator('[data-expected="ASN-2026-000123456789"]')).to_contain_text("0 of 400 ea")
        page.locator("button", has_text="+ Add a line").click()
        expect(page.locator(".expected-line")).to_have_count(4)
        page.locator(".expected-line").nth(3).locator("button", has_text="Remove").click()
        expect(page.locator(".expected-line")).to_have_count(3)
        assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
        screenshot(page, f"expected-{size}")
        # Enter one by hand.
        page.select_option('select[name="supplier"]', "ACME")
        page.fill('input[name="reference"]', f"PO-{size}")
        page.locator('input[name="sku"]').first.fill("MILK")
        page.locator('input[name="qty"]').first.fill("24")
        page.locator("button", has_text="Enter the delivery").click()
        expect(page.locator(".banner--ok")).to_contain_text(f"Expected from Acme Foods: PO-{size}, 1 line.")
        expect(page.locator(f'[data-expected="PO-{size}"]')).to_contain_text("0 of 24 ea")
        # Close it short.
        row = page.locator(f'[data-expected="PO-{size}"]')
        row.locator("summary", has_text="Close short").click()
        row.locator('input[name="reason"]').fill("Supplier out of stock")
        row.locator("button", has_text=f"Close PO-{size}").click()
        expect(page.locator(".banner--ok")).to_contain_text(f"PO-{size} from Acme Foods is closed")
        expect(page.locator(f'[data-expected="PO-{size}"]')).to_have_count(0)
        assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
        screenshot(page, f"expected-closed-{size}")
        context.close()
        assert not errors, errors
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(ExpectedReceipt)
                        .where(ExpectedReceipt.status == ExpectedStatus.CLOSED)) == 2
