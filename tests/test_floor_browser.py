"""Signing in and out in real Chromium against a real server, driven like a keyboard-wedge scanner:
badge scans, the PIN keypad, command barcodes, station set-up; layout at 360 px and 1280 px."""
from __future__ import annotations

import pytest

from browser_support import HANDHELD, TABLET, check_layout, screenshot, wedge
from station.models import LocationKind, Operator, Printer, Role
from station.services import catalog
from station.services.pins import hash_pin

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture then skips, or fails under CI=true
    expect = None


def check_layout_at(page, where: str = "") -> None:
    check_layout(page, where, targets="a, button, input:not([type=hidden]), select, summary, .tile")


@pytest.fixture
def floor_site(sqlite_app) -> dict:
    with sqlite_app.extensions["station.db"].write() as s:
        s.add_all([Operator(badge="OP-1002", name="Marek Nowak", role=Role.PICKER),
                   Operator(badge="OP-1005", name="Priya Natarajan", role=Role.SUPERVISOR,
                            pin_hash=hash_pin("1234"))])
        catalog.create_location(s, code="DOCK-1", kind=LocationKind.DOCK)
        s.add(Printer(name="dock-zebra", url="sim://dock-zebra"))
    return {}


def tile_titles(page) -> list[str]:
    return page.locator(".tile__title").all_inner_texts()


def test_sign_in_by_badge_scan_see_own_tiles_and_sign_out_by_scanning_again(live_server, browser_page, floor_site):
    page = browser_page
    page.goto(f"{live_server.url}/")
    expect(page.locator(".signin-cta")).to_be_visible()
    assert tile_titles(page) == []  # signed out, no workflow: only the sign-in prompt
    page.locator(".signin-cta").click()
    page.wait_for_url(f"{live_server.url}/signin")
    page.locator("h1").click()  # the focus anywhere: the scan still lands
    wedge(page, "OPR:OP-1002")
    page.wait_for_url(f"{live_server.url}/")
    expect(page.locator(".banner--ok")).to_contain_text("Signed in: Marek Nowak, picker.")
    expect(page.locator("[data-floor-operator]")).to_contain_text("Marek Nowak")
    assert tile_titles(page) == ["Put-away", "Picking", "Lot lookup", "Scan", "Printers", "Count"]

    wedge(page, "OPR:OP-1002")  # the own badge again
    page.wait_for_url(f"{live_server.url}/signin")
    expect(page.locator(".banner--ok")).to_contain_text("Signed out: Marek Nowak.")
    expect(page.locator("[data-floor-operator]")).to_have_count(0)


def test_supervisor_signs_in_with_pin_on_the_keypad_and_binds_the_station(live_server, browser_page, floor_site):
    page = browser_page
    page.goto(f"{live_server.url}/setup")
    page.wait_for_url(f"{live_server.url}/signin?next=/setup")
    wedge(page, "]C0OPR:OP-1005")  # with the scanner's symbology identifier
    page.wait_for_url(f"{live_server.url}/signin/pin?next=/setup")
    expect(page.locator("h1")).to_have_text("Badge OP-1005: your PIN")  # whose badge it is: never said here
    for key in "1299":
        page.locator(f'.keypad [data-key="{key}"]').click()
    page.locator('.keypad [data-key="back"]').click()
    page.locator('.keypad [data-key="back"]').click()
    assert page.locator("#pin").input_value() == "12"
    for key in "34":
        page.locator(f'.keypad [data-key="{key}"]').click()
    wedge(page, "CMD:CONFIRM")  # the command barcode presses OK
    page.wait_for_url(f"{live_server.url}/setup")
    expect(page.locator(".setup__title")).to_have_text("This device is no station yet")
    page.locator(".setup__new").evaluate("d => { d.open = true; }")
    page.fill("input[name=name]", "Dock tablet 2")
    page.select_option("select[name=location_id]", label="DOCK-1 (dock)")
    page.select_option("select[name=printer_id]", label="dock-zebra")
    page.locator(".setup-form button[type=submit]").click()
    page.wait_for_url(f"{live_server.url}/")
    expect(page.locator("[data-floor-station]")).to_contain_text("Dock tablet 2")
    assert "Station set-up" in tile_titles(page) and "Receiving" in tile_titles(page)
    page.locator("[data-signout]").click()
    page.wait_for_url(f"{live_server.url}/signin")
    expect(page.locator("[data-floor-station]")).to_contain_text("Dock tablet 2")  # the device stays bound


def test_wrong_pins_lock_in_words(live_server, browser_page, floor_site):
    page = browser_page
    page.goto(f"{live_server.url}/signin")
    wedge(page, "OPR:OP-1005")
    page.wait_for_url("**/signin/pin")
    for pin, said in (("1111", "Wrong PIN — 2 tries left."), ("2222", "Wrong PIN — 1 try left."),
                      ("3333", "badge OP-1005 is locked for 1 minute")):
        page.fill("#pin", pin)
        page.locator(".keypad__key--ok").click()
        expect(page.locator(".banner--error")).to_contain_text(said)


def test_command_barcodes_press_the_marked_button_or_say_there_is_nothing(live_server, browser_page, floor_site):
    page = browser_page
    page.goto(f"{live_server.url}/signin")
    wedge(page, "OPR:OP-1005")
    page.wait_for_url("**/signin/pin")
    wedge(page, "cmd:cancel")  # any case: presses "Not your badge? Cancel"
    page.wait_for_url(f"{live_server.url}/signin")
    page.goto(f"{live_server.url}/")
    wedge(page, "CMD:UNDO")
    expect(page.locator("#floor-banner .banner--error")).to_have_text("Nothing to undo on this screen")
    assert page.evaluate("document.body.dataset.scanSound") == "bad"
    wedge(page, "LOT:240611-003")  # not a badge: this screen says so
    expect(page.locator("#floor-banner .banner--error")).to_contain_text("This screen takes badges only")


def test_a_page_can_take_a_command_itself(live_server, browser_page, floor_site):
    page = browser_page
    page.goto(f"{live_server.url}/")
    page.evaluate("""() => document.body.addEventListener("station:command", e => {
        document.body.dataset.took = e.detail.command; e.preventDefault(); })""")
    wedge(page, "CMD:REPRINT")
    page.wait_for_function("() => document.body.dataset.took === 'reprint'")
    expect(page.locator("#floor-banner .banner")).to_have_count(0)


@pytest.mark.parametrize("size", [TABLET, HANDHELD], ids=["1280x800", "360x740"])
def test_floor_screens_fit_with_big_targets_and_screenshots(live_server, browser, floor_site, size):
    context = browser.new_context(viewport=size)
    page = context.new_page()
    tag = f"{size['width']}x{size['height']}"
    try:
        page.goto(f"{live_server.url}/")
        check_layout_at(page, "home signed out")
        screenshot(page, f"floor-home-signed-out-{tag}")
        page.goto(f"{live_server.url}/signin")
        check_layout_at(page, "sign-in")
        screenshot(page, f"floor-signin-{tag}")
        wedge(page, "OPR:OP-1005")
        page.wait_for_url("**/signin/pin")
        page.fill("#pin", "0000")
        page.locator(".keypad__key--ok").click()
        expect(page.locator(".banner--error")).to_be_visible()
        check_layout_at(page, "PIN")
        screenshot(page, f"floor-pin-{tag}")
        page.fill("#pin", "1234")
        page.locator(".keypad__key--ok").click()
        page.wait_for_url(f"{live_server.url}/")
        page.goto(f"{live_server.url}/setup")
        page.locator(".setup__new").evaluate("d => { d.open = true; }")
        check_layout_at(page, "set-up")
        screenshot(page, f"floor-setup-{tag}")
        page.fill("input[name=name]", "Handheld 7")
        page.locator(".setup-form button[type=submit]").click()
        page.wait_for_url(f"{live_server.url}/")
        check_layout_at(page, "home signed in")
        screenshot(page, f"floor-home-supervisor-{tag}")
        wedge(page, "OPR:OP-1002")  # hand over to the picker
        page.wait_for_url(f"{live_server.url}/")
        expect(page.locator("[data-floor-operator]")).to_contain_text("Marek Nowak")
        page.goto(f"{live_server.url}/setup")
        expect(page.locator(".banner--error")).to_contain_text("Station set-up is for supervisors")
        check_layout_at(page, "refused")
        screenshot(page, f"floor-refused-{tag}")
        wedge(page, "CMD:CONFIRM")
        expect(page.locator("#floor-banner .banner--error")).to_have_text("Nothing to confirm on this screen")
        screenshot(page, f"floor-nothing-to-confirm-{tag}")
    finally:
        context.close()
