"""The Operators page in real Chromium against a real server: an admin adds a supervisor and a picker,
disables the picker (whose badge is then refused), and the new supervisor chooses a PIN at first
sign-in on the keypad; layout at 1280 px and 360 px."""
from __future__ import annotations

import pytest

from browser_support import HANDHELD, check_layout, screenshot, wedge
from station.models import Operator, Printer, Role
from station.services.pins import check_pin, hash_pin

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture then skips, or fails under CI=true
    expect = None


def check_layout_at(page, where: str = "") -> None:
    check_layout(page, where, targets="a, button, input:not([type=hidden]), select, summary")


@pytest.fixture
def ops_site(sqlite_app) -> dict:
    with sqlite_app.extensions["station.db"].write() as s:
        s.add(Operator(badge="ADM-1", name="Ann Admin", role=Role.ADMIN, pin_hash=hash_pin("1357")))
        s.add(Printer(name="office-zebra", url="sim://office-zebra", label_size="4x2"))
    return {}


def keypad(page, digits: str) -> None:
    for key in digits:
        page.locator(f'.keypad [data-key="{key}"]').click()


def sign_in_with_pin(page, url: str, badge: str, pin: str) -> None:
    page.goto(f"{url}/signin")
    wedge(page, f"OPR:{badge}")
    page.wait_for_url(f"{url}/signin/pin")
    keypad(page, pin)
    page.locator('.keypad [data-command="confirm"]').click()
    page.wait_for_url(f"{url}/")


def test_add_disable_and_first_pin(live_server, browser, browser_page, ops_site, sqlite_app):
    url, page = live_server.url, browser_page
    sign_in_with_pin(page, url, "ADM-1", "1357")
    page.goto(f"{url}/operators")

    form = page.locator("[data-operator-add]")
    form.locator('[name="badge"]').fill("SUP-7")
    form.locator('[name="name"]').fill("Sara Super")
    form.locator('[name="role"]').select_option("supervisor")
    form.locator('button[type="submit"]').click()
    expect(page.locator(".banner--ok")).to_contain_text("Added Sara Super (SUP-7) as supervisor: they choose "
                                                        "their PIN at their first sign-in.")
    form = page.locator("[data-operator-add]")
    form.locator('[name="badge"]').fill("SUP-7")  # the same badge again: refused, the form kept
    form.locator('[name="name"]').fill("Sam Second")
    form.locator('button[type="submit"]').click()
    expect(page.locator(".banner--error")).to_contain_text("Badge 'SUP-7' already belongs to Sara Super")
    expect(page.locator('[data-operator-add] [name="name"]')).to_have_value("Sam Second")
    form = page.locator("[data-operator-add]")
    form.locator('[name="badge"]').fill("PK-5")
    form.locator('[name="name"]').fill("Paul Picker")
    form.locator('[name="role"]').select_option("picker")
    form.locator('button[type="submit"]').click()
    expect(page.locator(".banner--ok")).to_contain_text("Added Paul Picker (PK-5) as picker.")

    # Paul signs in on a handheld; the admin disables him; his handheld is signed out, his badge refused.
    paul_context = browser.new_context(viewport=HANDHELD)
    paul = paul_context.new_page()
    paul.goto(f"{url}/signin")
    wedge(paul, "OPR:PK-5")
    paul.wait_for_url(f"{url}/")
    expect(paul.locator("[data-floor-operator]")).to_contain_text("Paul Picker")
    page.locator('[data-disable="PK-5"]').click()
    expect(page.locator(".banner--ok")).to_contain_text("Paul Picker (PK-5) is disabled: the badge no longer "
                                                        "signs in, and 1 session ended.")
    expect(page.locator('tr[data-operator="PK-5"]')).to_contain_text("disabled")
    paul.reload()
    expect(paul.locator("[data-floor-operator]")).to_have_count(0)
    paul.goto(f"{url}/signin")
    wedge(paul, "OPR:PK-5")
    expect(paul.locator(".banner--error")).to_contain_text("Paul Picker's badge is no longer active")
    paul_context.close()

    check_layout_at(page, "operators at 1280")
    screenshot(page, "operators-1280")
    page.set_viewport_size(HANDHELD)
    page.reload()
    check_layout_at(page, "operators at 360")
    screenshot(page, "operators-360")

    # Sara's first sign-in: she chooses her PIN on the keypad, typed twice.
    sara_context = browser.new_context(viewport=HANDHELD)
    sara = sara_context.new_page()
    sara.goto(f"{url}/signin")
    wedge(sara, "OPR:SUP-7")
    sara.wait_for_url(f"{url}/signin/pin")
    expect(sara.locator("h1")).to_have_text("Badge SUP-7: choose your PIN")
    check_layout_at(sara, "first PIN at 360")
    screenshot(sara, "first-pin-360")
    keypad(sara, "4711")
    sara.locator('.keypad [data-command="confirm"]').click()  # OK with the second field empty: go on to it
    expect(sara.locator("#pin_again")).to_be_focused()
    keypad(sara, "4712")
    sara.locator('.keypad [data-command="confirm"]').click()
    expect(sara.locator(".banner--error")).to_contain_text("The two PINs differ — type the same PIN twice. "
                                                          "2 tries left.")
    with sqlite_app.extensions["station.db"].read() as s:
        assert s.query(Operator).filter_by(badge="SUP-7").one().pin_hash is None
    keypad(sara, "4711")
    sara.locator('.keypad [data-command="confirm"]').click()
    keypad(sara, "4711")
    sara.locator('.keypad [data-command="confirm"]').click()
    sara.wait_for_url(f"{url}/")
    expect(sara.locator("[data-floor-operator]")).to_contain_text("Sara Super")
    with sqlite_app.extensions["station.db"].read() as s:
        assert check_pin(s.query(Operator).filter_by(badge="SUP-7").one().pin_hash, "4711")
    sara_context.close()
