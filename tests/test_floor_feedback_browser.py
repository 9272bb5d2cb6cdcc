"""Sounds for answers to taps, in real Chromium against a real server: a banner that arrives as the answer
to an htmx request started by a tap (or by a CMD: barcode pressing a button) plays the same chirp or buzz
as a scan answer of its kind — ok chirps, a refusal buzzes, info is silent — and a scan's answer is heard
once, even where the scan also refreshes part of the page by htmx. station.js records every sound it
plays (window.stationSoundLog, "ok:tap", "bad:scan", ...) while really playing it through WebAudio."""
from __future__ import annotations

import datetime as dt
import uuid

import pytest

import factories as f
from browser_support import HANDHELD, TABLET, screenshot, station_cookie, wedge
from station import clock
from station.models import StationDevice
from station.services import catalog

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture then skips, or fails under CI=true
    expect = None

BOLT_GTIN = f.gtin13("400000000001").zfill(14)
EXPIRY = (clock.today() + dt.timedelta(days=400)).strftime("%y%m%d")


def sounds(page) -> list[str]:
    return page.evaluate("window.stationSoundLog.slice()")


def wait_sounds(page, n: int) -> list[str]:
    try:
        page.wait_for_function("n => window.stationSoundLog.length >= n", arg=n)
    except Exception as exc:  # say what was heard, and what a command barcode pressed last
        raise AssertionError(f"waited for {n} sounds, heard {sounds(page)}; last command: "
                             f"{page.evaluate('document.body.dataset.floorCommand')!r}") from exc
    page.wait_for_timeout(150)  # and nothing more comes after it
    return sounds(page)


@pytest.fixture
def site(sqlite_app, live_site):
    sqlite_app.config["FLOOR_PIN_ROLES"] = ()  # supervisors sign in by badge alone here
    live_site.printer("dock-zebra", url=f"sim://fb-{uuid.uuid4().hex[:8]}")
    live_site.station("Dock 1", location="DOCK", printer="dock-zebra")
    live_site.lot("bolt", "BOLT", 40, location="A-01")
    live_site.order("SO-7", [("BOLT", 4)])
    return live_site


def open_page(browser, live_server, sqlite_app, signed_in_page, role, path, viewport=TABLET):
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    signed_in_page(page, live_server.url, sqlite_app, role)
    page.context.add_cookies([{"name": "station", "value": station_cookie(sqlite_app, "Dock 1"), "url": live_server.url}])
    page.goto(f"{live_server.url}{path}")
    return context, page, errors


def test_lot_action_taps_chirp_on_ok_buzz_on_refusal_and_stay_silent_on_opening_a_panel(
        sqlite_app, live_server, browser, signed_in_page, site):
    for size, viewport in (("1280", TABLET), ("360", HANDHELD)):
        context, page, errors = open_page(browser, live_server, sqlite_app, signed_in_page, "supervisor",
                                          f"/lots/{site['bolt']}", viewport)
        expect(page.locator("#lot-card [data-status]")).to_have_text("Available" if size == "1280" else "On hold")
        assert sounds(page) == []
        action = "hold" if size == "1280" else "release"
        page.locator(f'[data-lot-action="{action}"]').click()  # opens the reason panel: no banner, no sound
        expect(page.locator(".lot-action-title")).to_be_visible()
        page.wait_for_timeout(200)
        assert sounds(page) == []
        page.locator(".lot-action-confirm").click()  # no reason: refused in red
        expect(page.locator(".lot-action-banner .banner--error")).to_contain_text("Pick a reason")
        assert wait_sounds(page, 1) == ["bad:tap"]
        preset = "QA check" if size == "1280" else "QA passed"
        page.locator(".lot-action-preset", has_text=preset).click()
        expect(page.locator(".lot-action-preset", has_text=preset)).to_have_attribute("aria-pressed", "true")
        wedge(page, "CMD:CONFIRM")  # the command barcode presses Confirm: its answer is a tap's
        expect(page.locator(".lot-action-banner .banner--ok")).to_be_visible()
        assert wait_sounds(page, 2) == ["bad:tap", "ok:tap"]
        assert page.evaluate("document.body.dataset.scanSound") == "ok"
        screenshot(page, f"floor-feedback-lot-action-{size}")
        context.close()
        assert not errors, errors


def test_a_command_barcode_that_reaches_the_lookup_field_as_typed_text_presses_confirm_with_a_chirp(
        sqlite_app, live_server, browser, signed_in_page, site):
    """Keys that did not come as a burst (a slow sender, a person typing the code) go into the lookup
    field; its Enter asks the server, which answers with the event that presses the open form's Confirm
    (views/lots.py card): the answer is a tap's, heard once."""
    context, page, errors = open_page(browser, live_server, sqlite_app, signed_in_page, "supervisor",
                                      f"/lots/{site['bolt']}")
    page.locator('[data-lot-action="hold"]').click()
    page.locator(".lot-action-preset", has_text="QA check").click()
    expect(page.locator(".lot-action-preset", has_text="QA check")).to_have_attribute("aria-pressed", "true")
    page.locator("#lot").fill("CMD:CONFIRM")
    page.locator("#lot").press("Enter")
    expect(page.locator(".lot-action-banner .banner--ok")).to_be_visible()
    assert wait_sounds(page, 1) == ["ok:tap"]
    expect(page.locator("#lot-card [data-status]")).to_have_text("On hold")
    context.close()
    assert not errors, errors


def test_receiving_confirm_tap_chirps_once_and_the_scan_before_it_once(
        sqlite_app, live_server, browser, signed_in_page, site):
    context, page, errors = open_page(browser, live_server, sqlite_app, signed_in_page, "receiver", "/receive")
    expect(page.locator("#scan-ready")).to_be_visible()
    page.locator(".receive-bar").click()
    wedge(page, f"]C100376130321109103420 02{BOLT_GTIN}10S-77|17{EXPIRY}".replace(" ", ""))
    expect(page.locator("#scan-current .banner--ok")).to_contain_text("filled from the label")
    assert wait_sounds(page, 1) == ["ok:scan"]
    for key in ("1", "2"):
        page.locator(f'.receive-keypad [data-key="{key}"]').click()
    page.locator(".receive-confirm").click()  # a tap
    expect(page.locator(".receive-done")).to_be_visible()
    expect(page.locator("#scan-current .banner--ok")).to_contain_text("Received — lot")
    assert wait_sounds(page, 2) == ["ok:scan", "ok:tap"]
    page.wait_for_timeout(600)  # the label job's status polls in meanwhile: polling is silent
    assert sounds(page) == ["ok:scan", "ok:tap"]
    context.close()
    assert not errors, errors


def test_a_pick_scan_is_heard_once_though_it_also_refreshes_the_list_by_htmx(
        sqlite_app, live_server, browser, signed_in_page, site):
    context, page, errors = open_page(browser, live_server, sqlite_app, signed_in_page, "picker", "/pick/SO-7")
    wedge(page, "LOT:NOPE-1")
    expect(page.locator("#scan-current .banner--error")).to_be_visible()
    assert wait_sounds(page, 1) == ["bad:scan"]
    wedge(page, f"LOT:{site['bolt']}")
    expect(page.locator("#scan-current .banner--ok")).to_be_visible()
    page.wait_for_timeout(500)  # the pick list refreshed (hx-trigger station:scan-result) meanwhile
    assert sounds(page) == ["bad:scan", "ok:scan"]
    context.close()
    assert not errors, errors


def test_an_info_banner_answer_is_silent_and_a_tap_that_fails_buzzes(
        sqlite_app, live_server, browser, signed_in_page, site):
    context, page, errors = open_page(browser, live_server, sqlite_app, signed_in_page, "receiver", "/receive")
    expect(page.locator("#scan-ready")).to_be_visible()
    page.locator(".receive-bar").click()
    wedge(page, f"]C100376130321109103437 02{BOLT_GTIN}10S-78|17{EXPIRY}".replace(" ", ""))
    assert wait_sounds(page, 1) == ["ok:scan"]
    page.locator(".receive-cancel").click()  # "Receipt cleared": an info banner, no sound
    expect(page.locator("#scan-current .banner--info")).to_contain_text("Receipt cleared")
    page.wait_for_timeout(300)
    assert sounds(page) == ["ok:scan"]
    # The server fails a tap (the network drops it): station.js's red banner, and the buzz.
    wedge(page, f"]C100376130321109103444 02{BOLT_GTIN}10S-79|17{EXPIRY}".replace(" ", ""))
    expect(page.locator("#scan-current .banner--ok")).to_contain_text("filled from the label")
    page.route("**/receive/confirm", lambda route: route.abort("connectionreset"))
    for key in ("3",):
        page.locator(f'.receive-keypad [data-key="{key}"]').click()
    before = len(sounds(page))
    page.locator(".receive-confirm").click()
    page.wait_for_function("n => window.stationSoundLog.length > n", arg=before)
    assert sounds(page)[before:] == ["bad:tap"]
    context.close()
    assert not errors, errors


# --- the lookup page takes wedge scans; set-up changes a station (screens at 360 and 1280 px) -------


def layout_problems(page) -> list:
    """Sideways scrolling, and visible touch targets under 48 px."""
    return page.evaluate("""() => {
        const problems = [];
        const doc = document.documentElement;
        if (doc.scrollWidth > doc.clientWidth + 1) problems.push(['scrolls sideways', doc.scrollWidth, doc.clientWidth]);
        for (const el of document.querySelectorAll('main button, main a, main summary, main input, main select')) {
            const r = el.getBoundingClientRect();
            if (!r.width || !r.height) continue;
            if (r.height < 47.5 || r.width < 47.5) problems.push([el.outerHTML.slice(0, 80), r.width, r.height]);
        }
        return problems;
    }""")


def test_wedge_scans_on_the_lookup_page_show_a_location_an_item_and_a_lot(
        sqlite_app, live_server, browser, signed_in_page, site):
    for size, viewport in (("1280", TABLET), ("360", HANDHELD)):
        context, page, errors = open_page(browser, live_server, sqlite_app, signed_in_page, "picker", "/lots",
                                          viewport)
        wedge(page, "LOC:A-01")
        result = page.locator("#lot-result .scan-result")
        expect(result.locator(".banner--ok")).to_contain_text("Location A-01")
        expect(result.locator(".lot-list__row")).to_have_count(1)
        assert layout_problems(page) == []
        screenshot(page, f"lookup-location-{size}")
        wedge(page, BOLT_GTIN)  # the item's barcode: its lots
        expect(result.locator(".banner--ok")).to_contain_text("Item BOLT — Bolt M8")
        result.locator(".lot-list__row").first.click()  # a tap opens the lot's card
        expect(page.locator("#lot-card .lot__number")).to_have_text(site["bolt"])
        wedge(page, f"LOT:{site['bolt']}")
        expect(page.locator("#lot-result .banner--ok")).to_contain_text(f"Lot {site['bolt']}: BOLT Bolt M8")
        expect(page.locator("#lot-result #lot-card")).to_be_visible()
        assert page.url == f"{live_server.url}/lots/{site['bolt']}"  # reload and bookmark show this lot
        assert page.locator("#lot").input_value() == site["bolt"]  # the field shows the lot scanned
        wedge(page, "NOPE-NOPE-1")
        expect(page.locator("#lot-result .banner--error")).to_be_visible()
        assert sounds(page)[-2:] == ["ok:scan", "bad:scan"]
        assert layout_problems(page) == []
        screenshot(page, f"lookup-refused-{size}")
        context.close()
        assert not errors, errors


def test_a_supervisor_changes_the_stations_printer_in_set_up(sqlite_app, live_server, browser, signed_in_page,
                                                              site):
    for size, viewport in (("1280", TABLET), ("360", HANDHELD)):
        context, page, errors = open_page(browser, live_server, sqlite_app, signed_in_page, "supervisor", "/setup",
                                          viewport)
        edit = page.locator('[data-station-edit="Dock 1"]')
        edit.locator("summary").click()
        edit.locator("select[name=location_id]").select_option(label="A-01 (storage)")
        expect(edit).to_contain_text("only an admin changes it")
        assert layout_problems(page) == []
        screenshot(page, f"setup-edit-{size}")
        edit.locator("button[type=submit]").click()
        expect(page.locator(".banner--ok")).to_contain_text("Station Dock 1 changed.")
        context.close()
        assert not errors, errors
    with site["db"].read() as s:
        station = s.scalar(__import__("sqlalchemy").select(StationDevice).where(StationDevice.name == "Dock 1"))
        assert station.location_id == catalog.location_by_code(s, "A-01").id
