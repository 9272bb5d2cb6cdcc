"""Printer settings (/printers/settings), on SQLite and PostgreSQL: an admin adds a printer and changes its
address, dpi, label size and whether it is in use; each address is parsed by devices.printers without
being opened; bad input is refused in words and changes nothing; other roles see no settings and get
403 if they post. Then the page in real Chromium at 360 px and 1280 px (screenshots in test-artifacts/)."""
from __future__ import annotations

import socket

import pytest
from sqlalchemy import select

from browser_support import check_layout, screenshot
from factories import printer
from station.models import Printer, Role
from station.netpolicy import parse_networks
from actions import text_of

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture then skips, or fails under CI=true
    expect = None

FORM = {"url": "sim://new-zebra", "dpi": "300", "label_size": "4x6", "active": "1"}


def check_layout_at(page, where: str = "") -> None:
    check_layout(page, where, targets="main a, button, input:not([type=hidden]), select, summary")


def _row(app, name: str) -> Printer | None:
    with app.extensions["station.db"].read() as s:
        row = s.scalar(select(Printer).where(Printer.name == name))
        if row is not None:
            s.expunge(row)
        return row


@pytest.fixture
def admin(app, signed_in):
    client = app.test_client()
    signed_in(client, "admin", name="Ada Admin")
    return client


def test_an_admin_sees_the_settings_and_others_do_not(app, admin, signed_in):
    assert "Printer settings" in admin.get("/printers").text
    page = admin.get("/printers/settings")
    assert page.status_code == 200 and "Add a printer" in page.text
    for role in (r for r in Role if r is not Role.ADMIN):
        other = app.test_client()
        signed_in(other, role)
        assert "Printer settings" not in other.get("/printers").text, role
        refused = other.get("/printers/settings")
        assert refused.status_code == 403, role
        assert "Printer settings is for admins" in text_of(refused.text)


def test_an_admin_adds_a_printer(app, admin):
    answer = admin.post("/printers/settings/new", data={**FORM, "name": "  Dock   printer "})
    assert answer.status_code == 303
    assert "Printer Dock printer added." in text_of(admin.get(answer.headers["Location"]).text)
    row = _row(app, "Dock printer")
    assert (row.url, row.dpi, row.label_size, row.active) == ("sim://new-zebra", 300, "4x6", True)
    assert "Dock printer" in admin.get("/printers").text


def test_an_admin_changes_a_printer(app, admin):
    with app.extensions["station.db"].write() as s:
        printer_id = printer(s, "dock", url="sim://dock").id
    form = {"url": "file:///dev/usb/lp0", "dpi": "600", "label_size": "4x6", "active": "0"}
    answer = admin.post(f"/printers/settings/{printer_id}", data=form)
    assert answer.status_code == 303
    row = _row(app, "dock")
    assert (row.url, row.dpi, row.label_size, row.active) == ("file:///dev/usb/lp0", 600, "4x6", False)
    assert row.state == "unknown"  # what was read was about the old address
    page = text_of(admin.get("/printers").text)
    assert "Not in use" in page


@pytest.mark.parametrize("change, words", [
    ({"url": "ftp://printer/queue"}, "is not one Station can print to — nothing was changed. unknown printer URL"),
    ({"url": "tcp://printer:notaport"}, "bad port"),
    ({"url": ""}, "Give the printer's address"),
    ({"dpi": "250"}, "Choose the printer's dots per inch: 203, 300, 600."),
    ({"dpi": "<b>"}, "Choose the printer's dots per inch"),
    ({"label_size": "A4"}, "Choose a label size"),
])
def test_bad_settings_are_refused_in_words_and_change_nothing(app, admin, change, words):
    with app.extensions["station.db"].write() as s:
        printer_id = printer(s, "dock", url="sim://dock").id
    answer = admin.post(f"/printers/settings/{printer_id}", data={**FORM, **change})
    assert answer.status_code == 400
    assert words in text_of(answer.text)
    row = _row(app, "dock")
    assert (row.url, row.dpi, row.active) == ("sim://dock", 203, True)
    added = admin.post("/printers/settings/new", data={**FORM, **change, "name": "Another"})
    assert added.status_code == 400 and words in text_of(added.text)
    assert _row(app, "Another") is None


def test_a_new_printer_needs_a_free_name(app, admin):
    with app.extensions["station.db"].write() as s:
        printer(s, "dock")
    answer = admin.post("/printers/settings/new", data={**FORM, "name": "dock"})
    assert answer.status_code == 409 and "There is already a printer called 'dock'" in text_of(answer.text)
    answer = admin.post("/printers/settings/new", data={**FORM, "name": "   "})
    assert answer.status_code == 400 and "Give the printer a name" in text_of(answer.text)
    assert admin.post("/printers/settings/9999", data=FORM).status_code == 404


def test_the_address_is_parsed_not_opened(app, admin):
    """A tcp:// address is checked for its form only: nothing connects to it when it is saved."""
    app.config["DEVICE_NETWORKS"] = parse_networks("127.0.0.1/32")  # loopback only when named
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.setblocking(False)
    try:
        port = listener.getsockname()[1]
        answer = admin.post("/printers/settings/new", data={**FORM, "name": "net", "url": f"tcp://127.0.0.1:{port}"})
        assert answer.status_code == 303
        with pytest.raises(BlockingIOError):
            listener.accept()
    finally:
        listener.close()


@pytest.mark.parametrize("role", [r for r in Role if r is not Role.ADMIN], ids=lambda r: r.value)
def test_other_roles_get_403_and_nothing_changes(app, signed_in, role):
    with app.extensions["station.db"].write() as s:
        printer_id = printer(s, "dock", url="sim://dock").id
    client = app.test_client()
    signed_in(client, role)
    change = client.post(f"/printers/settings/{printer_id}", data={**FORM, "url": "tcp://203.0.113.9:9100"},
                         headers={"HX-Request": "true"})
    assert change.status_code == 403 and "Printer settings is for admins" in text_of(change.text)
    assert client.post("/printers/settings/new", data={**FORM, "name": "Mine"}).status_code == 403
    assert _row(app, "dock").url == "sim://dock" and _row(app, "Mine") is None
    # Printing itself stays open to every floor role.
    assert client.post(f"/printers/{printer_id}/test").status_code == 303


def test_printing_needs_someone_signed_in(app, client):
    with app.extensions["station.db"].write() as s:
        printer_id = printer(s, "dock").id
    answer = client.post(f"/printers/{printer_id}/test")
    assert answer.status_code == 302 and answer.headers["Location"].startswith("/signin")


# --- in the browser -----------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [{"width": 1280, "height": 800}, {"width": 360, "height": 740}],
                         ids=["1280x800", "360x740"])
def test_printer_settings_in_the_browser(live_server, browser, sqlite_app, signed_in_page, size):
    sqlite_app.config["FLOOR_PIN_ROLES"] = ()  # the admin signs in by badge alone here
    with sqlite_app.extensions["station.db"].write() as s:
        printer(s, "dock-zebra", url="tcp://10.20.0.15:9100")
    context = browser.new_context(viewport=size)
    page = context.new_page()
    tag = f"{size['width']}x{size['height']}"
    base = live_server.url
    try:
        signed_in_page(page, base, sqlite_app, "admin", name="Ada Admin")
        page.goto(f"{base}/printers")
        page.locator("[data-printer-settings]").click()
        page.wait_for_url("**/printers/settings*")
        page.locator(".setup__new > summary").click()
        page.fill("[data-printer-new] input[name=name]", "Line printer")
        page.fill("[data-printer-new] input[name=url]", "tcp://10.20.0.16:9100")
        page.select_option("[data-printer-new] select[name=dpi]", "300")
        check_layout_at(page, "settings, adding")
        screenshot(page, f"printer-settings-add-{tag}")
        page.locator("[data-printer-new] button[type=submit]").click()
        expect(page.locator(".banner--ok")).to_contain_text("Printer Line printer added.")
        page.locator("[data-printer-edit='dock-zebra'] > summary").click()
        page.fill("[data-printer-edit='dock-zebra'] input[name=url]", "ftp://nowhere")
        page.locator("[data-printer-edit='dock-zebra'] button[type=submit]").click()
        expect(page.locator(".banner--error")).to_contain_text("is not one Station can print to")
        expect(page.locator("[data-printer-edit='dock-zebra'] input[name=url]")).to_have_value("ftp://nowhere")
        check_layout_at(page, "settings, refused")
        screenshot(page, f"printer-settings-refused-{tag}")
        page.goto(f"{base}/printers")
        check_layout_at(page, "printers, admin")
        screenshot(page, f"printers-admin-{tag}")
    finally:
        context.close()
