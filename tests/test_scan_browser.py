"""The scan page in real Chromium against a real server: wedge bursts wherever focus is, typing left
alone, retries answered once, serial/simulated scans pushed onto the page, and screenshots."""
from __future__ import annotations

import re
import statistics
import time
import uuid

import pytest
from sqlalchemy import select

from browser_support import HANDHELD, TABLET, screenshot, wedge
from station import clock
from station.models import LocationKind, Operator, Role, Scan, StationDevice
from station.processes.scanner_service import ScannerService
from station.services import catalog, holds, receiving
from station.services.actor import Actor

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture then skips, or fails under CI=true
    expect = None

STATION = "Dock tablet"


@pytest.fixture
def site(sqlite_app) -> dict:
    """A small site: two lots (one on hold), a location, and the dock station with a sim scanner."""
    sim_name = f"dock-{uuid.uuid4().hex[:8]}"
    db = sqlite_app.extensions["station.db"]
    with db.write() as s:
        qa = Operator(badge="OP-7", name="Maria Keller", role=Role.SUPERVISOR)
        s.add(qa)
        s.flush()
        yoghurt = catalog.create_item(s, sku="YOG-500", name="Greek yoghurt 500 g", unit="cup",
                                      shelf_life_days=21)
        flour = catalog.create_item(s, sku="FLR-25", name="Wheat flour type 550, 25 kg sack", unit="sack")
        dock = catalog.create_location(s, code="DOCK-1", kind=LocationKind.DOCK)
        catalog.create_location(s, code="A-01-02", kind=LocationKind.STORAGE)
        held = receiving.receive(s, item=yoghurt, qty=480, location=dock, supplier_lot="ND-7781",
                                 produced=clock.today(), by=Actor(qa.id))
        holds.hold(s, held, "Lid seal check after cold-chain alarm", by=Actor(qa.id))
        fine = receiving.receive(s, item=flour, qty=40, location=dock, by=Actor(qa.id))
        station = StationDevice(name=STATION, location_id=dock.id, scanner_url=f"sim://{sim_name}")
        s.add_all([station, StationDevice(name="Line 1 PC")])
        s.flush()
        return {"db": db, "held": held.lot_number, "fine": fine.lot_number, "sim": sim_name,
                "station_id": station.id}


@pytest.fixture
def browser_page(browser_page, live_server, sqlite_app, signed_in_page):
    """A tablet tab signed in as a picker: every page needs a signed-in operator (station/auth/)."""
    signed_in_page(browser_page, live_server.url, sqlite_app, "picker")
    return browser_page


def logged(db) -> list[tuple[str, str, bool]]:
    """(raw text, source, ignored) of every scan in the log, in order."""
    with db.read() as s:
        return [(raw.decode("utf-8", "replace"), source, ignored) for raw, source, ignored in
                s.execute(select(Scan.raw, Scan.source, Scan.ignored).order_by(Scan.id))]


def wait_for_rows(db, n: int, timeout: float = 10.0) -> list:
    deadline = time.monotonic() + timeout
    while len(rows := logged(db)) < n:
        assert time.monotonic() < deadline, f"only {len(rows)} of {n} scans logged: {rows}"
        time.sleep(0.02)
    return rows


def wait_queue_empty(page) -> None:
    """The page's send queue (kept in localStorage until each scan is answered) is empty: every scan
    captured has been posted and answered, so nothing more can reach the log."""
    page.wait_for_function("""() => Object.keys(localStorage).filter(k => k.startsWith('station.scanQueue:'))
        .every(k => JSON.parse(localStorage.getItem(k) || '[]').length === 0)""")


def shown_codes(page) -> list[str]:
    """Codes of the results on the page, oldest first (the current one is the newest)."""
    return page.evaluate("""() => Array.from(document.querySelectorAll(
        '#scan-history .scan-result, #scan-current .scan-result')).map(el => [
            +el.dataset.scanId, el.querySelector('.scan-result__code').textContent])
        .sort((a, b) => a[0] - b[0]).map(pair => pair[1])""")


def open_scan_page(page, live_server) -> None:
    page.goto(f"{live_server.url}/scan?station={STATION.replace(' ', '+')}")
    expect(page.locator("#scan-ready")).to_be_visible()


def test_ten_wedge_scans_back_to_back_with_focus_anywhere_each_resolve_once_in_order(
        live_server, browser_page, site):
    page = browser_page
    open_scan_page(page, live_server)
    manual = page.locator("#manual-code")
    codes = [f"LOT:{site['fine']}", "LOC:A-01-02", f"LOT:{site['held']}", "NOPE-0004",
             "LOC:DOCK-1", "WHAT-0006", f"LOT:{site['fine']}X", "4006381333931", "LOC:NOWHERE", "ZZ-0010"]

    page.locator(".scanbar__station strong").click()  # focus on nothing in particular (the body)
    started = time.perf_counter()
    for code in codes[:4]:
        wedge(page, code)
    manual.click()
    page.keyboard.type("ab", delay=150)  # a person had started typing here
    for code in codes[4:7]:
        wedge(page, code)
    page.locator(".scanbar__manual button").focus()
    for code in codes[7:]:
        wedge(page, code)
    typing = time.perf_counter() - started - 0.3  # less the person's two keys
    print(f"\n10 wedge scans typed in {typing:.2f} s ({10 / typing:.1f} scans/s)")

    rows = wait_for_rows(site["db"], 10)
    expect(page.locator("#scan-current .scan-result__code")).to_have_text(codes[-1], timeout=5000)
    wait_queue_empty(page)  # nothing left to send: anything doubled is in the log now
    assert logged(site["db"]) == [(code, "wedge", False) for code in codes]
    assert shown_codes(page) == codes
    assert manual.input_value() == "ab"  # the bursts that landed in the field were taken out again
    assert rows == logged(site["db"])


def test_twenty_scans_at_full_wedge_speed_arrive_whole_once_and_in_order(live_server, browser_page, site):
    page = browser_page
    open_scan_page(page, live_server)
    codes = [f"LOC:BIN-{n:04d}" for n in range(20)]
    started = time.perf_counter()
    for code in codes:
        wedge(page, code, gap_ms=1)  # a fast scanner's keys, 1 ms apart, sent as fast as the browser takes them
    rate = len(codes) / (time.perf_counter() - started)
    print(f"\n20 scans typed at {rate:.1f} scans/s")
    rows = wait_for_rows(site["db"], 20)
    expect(page.locator("#scan-current .scan-result__code")).to_have_text(codes[-1], timeout=10000)
    wait_queue_empty(page)
    assert logged(site["db"]) == rows == [(code, "wedge", False) for code in codes]
    assert shown_codes(page) == codes


def test_a_person_typing_slowly_is_not_a_scan_and_enter_sends_it_as_typed(live_server, browser_page, site):
    page = browser_page
    open_scan_page(page, live_server)
    manual = page.locator("#manual-code")
    manual.click()
    page.keyboard.type("A-01-02", delay=110)  # a quick typist, still ~100 ms per key
    page.wait_for_timeout(400)
    assert manual.input_value() == "A-01-02"
    assert logged(site["db"]) == []
    page.keyboard.press("Backspace")
    page.keyboard.type("2", delay=110)
    page.keyboard.press("Enter")  # the person sends it: a manual scan, not a wedge one
    assert wait_for_rows(site["db"], 1) == [("A-01-02", "manual", False)]
    expect(page.locator("#scan-current .banner--ok")).to_be_visible()
    assert manual.input_value() == ""


@pytest.mark.parametrize("freeze_after_ms", [0, 12, 40])
def test_a_page_frozen_in_the_middle_of_a_scan_still_gets_it_whole(live_server, browser_page, site,
                                                                   freeze_after_ms):
    """Rendering a big result, a garbage collection or a starved CPU can hold the page up mid-scan."""
    page = browser_page
    open_scan_page(page, live_server)
    page.evaluate("""ms => setTimeout(() => {
        const end = performance.now() + 1500;
        while (performance.now() < end) { /* frozen */ }
    }, ms)""", freeze_after_ms)
    wedge(page, "LOC:A-01-02")
    wedge(page, "LOC:DOCK-1")
    assert [raw for raw, _, _ in wait_for_rows(site["db"], 2)] == ["LOC:A-01-02", "LOC:DOCK-1"]


def test_a_scanner_that_stalls_mid_scan_still_gives_one_whole_scan(live_server, browser_page, site):
    """Keys held up before the burst, a burst that pauses, an Enter that comes late: one scan each."""
    page = browser_page
    open_scan_page(page, live_server)
    # Each key stamped with the time it stands for (browser_support.wedge): the stalls are exactly these.
    t = wedge(page, "L", enter=False)
    t = wedge(page, "O", enter=False, at=t + 0.06)
    wedge(page, "C:A-01-02", at=t + 0.2)
    t = wedge(page, "LOC:DO", enter=False)
    wedge(page, "CK-1", at=t + 0.6)
    t = wedge(page, f"LOT:{site['fine']}", enter=False)
    wedge(page, "", at=t + 0.5)  # the Enter comes late
    rows = wait_for_rows(site["db"], 3)
    assert [raw for raw, _, _ in rows] == ["LOC:A-01-02", "LOC:DOCK-1", f"LOT:{site['fine']}"]


def test_keys_that_reach_the_page_late_but_stamped_as_one_burst_make_one_scan(live_server, browser_page, site):
    """A starved machine passes a scan's last keys on more than endGapMs late; their stamps say they
    came on time, and with nothing focused there is no field to give the first keys back to."""
    page = browser_page
    open_scan_page(page, live_server)
    page.evaluate("""() => window.addEventListener('keydown', () => { window.__lastKeyAt = performance.now(); },
                                                   true)""")
    t = wedge(page, "]C1010950110153000310XYZ\x1d1724", enter=False)
    # The sender is held up, not the scanner: the page has seen no key for longer than its end gap (1 s)
    # by its own clock when the rest arrives, stamped 5 ms after the first part.
    page.wait_for_function("() => performance.now() - window.__lastKeyAt > 1200")
    wedge(page, "0630", at=t + 0.005)
    wedge(page, "LOC:DOCK-1")
    assert [raw for raw, _, _ in wait_for_rows(site["db"], 2)] == [
        "]C1010950110153000310XYZ\x1d17240630", "LOC:DOCK-1"]


def test_a_burst_given_back_to_a_field_for_want_of_its_last_keys_is_taken_back_when_they_come_late(
        live_server, browser_page, site):
    """The test process (the sender) stalls mid-scan on a busy machine while the focus is in a text field
    holding a person's text: the page gives the burst back as typing after its end gap, then the rest
    arrives stamped 5 ms after the first part. One scan, and the field holds only the person's text."""
    page = browser_page
    open_scan_page(page, live_server)
    page.evaluate("""() => window.addEventListener('keydown', () => { window.__lastKeyAt = performance.now(); },
                                                   true)""")
    manual = page.locator("#manual-code")
    manual.click()
    page.keyboard.type("ab", delay=150)  # a person had started typing here
    t = wedge(page, "LOC:DOC", enter=False)
    expect(manual).to_have_value("abLOC:DOC")  # given back: it looked like typing that stopped
    page.wait_for_function("() => performance.now() - window.__lastKeyAt > 1200")
    wedge(page, "K-1", at=t + 0.005)
    assert wait_for_rows(site["db"], 1) == [("LOC:DOCK-1", "wedge", False)]
    assert manual.input_value() == "ab"
    wedge(page, "LOC:A-01-02")  # and the page goes on taking scans
    assert wait_for_rows(site["db"], 2)[1] == ("LOC:A-01-02", "wedge", False)
    assert manual.input_value() == "ab"


def test_a_scan_right_after_a_person_typed_in_the_field_leaves_their_text_alone(
        live_server, browser_page, site):
    page = browser_page
    open_scan_page(page, live_server)
    manual = page.locator("#manual-code")
    manual.click()
    page.keyboard.type("A-0", delay=120)
    wedge(page, "LOC:DOCK-1", at=time.time() + 0.2)  # the scan comes 200 ms after the last key typed
    assert [raw for raw, _, _ in wait_for_rows(site["db"], 1)] == ["LOC:DOCK-1"]
    assert manual.input_value() == "A-0"


def test_gs_substitute_and_ctrl_bracket_become_gs(live_server, browser_page, site):
    page = browser_page
    open_scan_page(page, live_server)
    wedge(page, "]C1010950110153000310ABC123|17240630")
    wedge(page, "]C1010950110153000310XYZ\x1d17240630")  # GS typed as Ctrl+]
    rows = wait_for_rows(site["db"], 2)
    assert [raw for raw, _, _ in rows] == ["]C1010950110153000310ABC123\x1d17240630",
                                           "]C1010950110153000310XYZ\x1d17240630"]


def test_ok_and_refused_scans_get_green_and_red_banners_and_their_sounds(live_server, browser_page, site):
    page = browser_page
    open_scan_page(page, live_server)
    wedge(page, f"LOT:{site['fine']}")
    assert wait_for_rows(site["db"], 1) == [(f"LOT:{site['fine']}", "wedge", False)]
    current = page.locator("#scan-current .scan-result")
    expect(current.locator(".banner--ok")).to_be_visible()
    expect(current.locator("#lot-card .lot__number")).to_have_text(site["fine"])
    assert page.evaluate("document.body.dataset.scanSound") == "ok"
    assert page.evaluate("getComputedStyle(document.querySelector('#scan-current .banner')).backgroundColor") \
        == "rgb(11, 107, 44)"

    wedge(page, "NOPE-42-NOPE")
    expect(current.locator(".banner--error")).to_be_visible()
    assert page.evaluate("document.body.dataset.scanSound") == "bad"
    assert page.evaluate("document.body.dataset.scanSounds") == "2"
    assert page.evaluate("getComputedStyle(document.querySelector('#scan-current .banner')).backgroundColor") \
        == "rgb(176, 0, 26)"
    font = page.evaluate("parseFloat(getComputedStyle(document.querySelector("
                         "'#scan-current .banner__message')).fontSize)")
    assert font >= 40, font
    assert page.locator("#lot-card").count() == 0  # the earlier lot card went with its result


def test_a_double_read_is_shown_as_ignored_without_a_second_beep(live_server, browser_page, site):
    page = browser_page
    open_scan_page(page, live_server)
    wedge(page, "LOC:A-01-02")
    wedge(page, "LOC:A-01-02")  # the trigger bounced: the same code again within 500 ms
    assert wait_for_rows(site["db"], 2) == [("LOC:A-01-02", "wedge", False), ("LOC:A-01-02", "wedge", True)]
    expect(page.locator("#scan-history .scan-result--ignored")).to_contain_text("trigger bounce")
    expect(page.locator("#scan-current .banner--ok")).to_be_visible()
    assert page.evaluate("document.body.dataset.scanSounds") == "1"


def test_a_lost_answer_is_retried_with_the_same_client_id_and_logged_once(live_server, browser_page, site):
    """The server got the scan but the answer never came back, twice: the queue sends it again."""
    page = browser_page
    sent: list[str] = []

    def flaky(route):
        sent.append(route.request.post_data)
        if len(sent) <= 2:
            route.fetch()  # the server receives and logs it ...
            route.abort("connectionreset")  # ... and the answer is lost on the way back
        else:
            route.continue_()

    page.route("**/scan", lambda route: flaky(route) if route.request.method == "POST" else route.continue_())
    open_scan_page(page, live_server)
    wedge(page, f"LOT:{site['fine']}")
    wedge(page, "LOC:A-01-02")
    expect(page.locator("#scan-current .scan-result__code")).to_have_text("LOC:A-01-02", timeout=10000)
    assert logged(site["db"]) == [(f"LOT:{site['fine']}", "wedge", False), ("LOC:A-01-02", "wedge", False)]
    assert len(sent) == 4 and sent[0] == sent[1] == sent[2]  # the same body, client id included
    assert "client_id=" in sent[0]
    assert shown_codes(page) == [f"LOT:{site['fine']}", "LOC:A-01-02"]


def test_a_scan_made_while_the_server_is_down_is_kept_and_sent_when_it_is_back(
        live_server, browser_page, site):
    page = browser_page
    blocked = {"on": True}
    page.route("**/scan", lambda route: route.abort("connectionrefused")
               if blocked["on"] and route.request.method == "POST" else route.continue_())
    open_scan_page(page, live_server)
    wedge(page, "LOC:A-01-02")
    wedge(page, "LOC:DOCK-1")
    expect(page.locator("#scan-queue")).to_contain_text("Offline")
    expect(page.locator("#scan-queue")).to_contain_text("2 scans")
    assert logged(site["db"]) == []
    blocked["on"] = False
    expect(page.locator("#scan-current .scan-result__code")).to_have_text("LOC:DOCK-1", timeout=10000)
    expect(page.locator("#scan-queue")).to_be_hidden()
    assert [raw for raw, _, _ in logged(site["db"])] == ["LOC:A-01-02", "LOC:DOCK-1"]


def test_a_sim_scanner_scan_appears_on_the_station_page_within_300_ms(live_server, browser_page, site):
    from devices.scanners import sim

    page = browser_page
    open_scan_page(page, live_server)
    timings = []
    with ScannerService(site["db"], refresh_s=0):
        for n in range(6):
            code = "LOC:A-01-02" if n % 2 else "LOC:DOCK-1"
            page.wait_for_timeout(200)
            start = time.perf_counter()
            sim.inject(site["sim"], code)
            page.wait_for_function(
                "n => document.querySelectorAll('#scan-current .scan-result, #scan-history .scan-result')"
                ".length === n", arg=n + 1, polling=5)
            timings.append(time.perf_counter() - start)
    median, worst = statistics.median(timings), max(timings)
    print(f"\nsim scan -> on the page: median {median * 1000:.0f} ms, worst {worst * 1000:.0f} ms "
          f"over {len(timings)} scans (poll every 150 ms)")
    assert worst < 1.0, timings
    rows = logged(site["db"])
    assert [source for _, source, _ in rows] == [f"sim://{site['sim']}"] * 6
    assert shown_codes(page) == [raw for raw, _, _ in rows]


def test_typed_and_scanner_scans_merge_in_log_order_each_once(live_server, browser_page, site):
    from devices.scanners import sim

    page = browser_page
    open_scan_page(page, live_server)
    with ScannerService(site["db"], refresh_s=0):
        wedge(page, "LOC:A-01-02")
        sim.inject(site["sim"], "LOC:DOCK-1")
        wedge(page, f"LOT:{site['fine']}")
        sim.inject(site["sim"], f"LOT:{site['held']}")
        rows = wait_for_rows(site["db"], 4)
        page.wait_for_function("() => document.querySelectorAll('.scan-result[data-scan-id]').length >= 4")
        page.wait_for_timeout(400)
    assert shown_codes(page) == [raw for raw, _, _ in rows]
    assert len(rows) == 4


def test_the_page_remembers_its_station_and_offers_the_others(live_server, browser_page, site):
    page = browser_page
    page.goto(f"{live_server.url}/scan")
    expect(page.locator(".tile--station")).to_have_count(3)  # two stations and "no station"
    page.locator(".tile--station", has_text=STATION).click()
    expect(page.locator(".scanbar__station strong")).to_have_text(STATION)
    page.goto(f"{live_server.url}/scan")
    expect(page.locator(".scanbar__station strong")).to_have_text(STATION)


@pytest.mark.parametrize("size", [TABLET, HANDHELD], ids=["tablet", "handheld"])
def test_scan_page_fits_the_screen_with_big_targets_and_screenshots(live_server, browser, sqlite_app, signed_in_page,
                                                                   site, size):
    context = browser.new_context(viewport=size)
    page = context.new_page()
    tag = f"{size['width']}x{size['height']}"
    try:
        signed_in_page(page, live_server.url, sqlite_app, "picker")
        open_scan_page(page, live_server)
        screenshot(page, f"scan-ready-{tag}")
        wedge(page, f"LOT:{site['held']}")
        expect(page.locator("#lot-card")).to_be_visible()
        wedge(page, "LOC:A-01-02")
        expect(page.locator("#scan-current .scan-result__code")).to_have_text("LOC:A-01-02")
        wedge(page, f"LOT:{site['fine']}")
        expect(page.locator("#lot-card .lot__number")).to_have_text(site["fine"])
        screenshot(page, f"scan-lot-{tag}")
        wedge(page, "]C1010950110153000310ABC123|17240632")
        expect(page.locator("#scan-current .banner--error")).to_be_visible()
        screenshot(page, f"scan-refused-{tag}")
        assert page.evaluate("document.documentElement.scrollWidth") <= size["width"]
        targets = page.locator(".scanbar a, .scanbar button, .scanbar input:not([type=hidden]), "
                               ".scan-history a")
        for i in range(targets.count()):
            box = targets.nth(i).bounding_box()
            assert box["height"] >= 48 and box["width"] >= 48, (i, box)
        page.goto(f"{live_server.url}/scans")
        expect(page.locator("#scan-rows tr")).to_have_count(4)
        screenshot(page, f"scan-log-{tag}")
    finally:
        context.close()


def test_signed_out_meanwhile_the_scan_page_goes_to_sign_in_instead_of_polling_into_errors(
        live_server, browser_page, site):
    page = browser_page
    open_scan_page(page, live_server)
    polls: list[int] = []
    page.on("response", lambda r: polls.append(r.status) if "/scan/feed" in r.url else None)
    page.context.request.post(f"{live_server.url}/signout")  # another tab of this browser signs out
    page.wait_for_url(re.compile(r"/signin\?next="))
    # signed in again, the worker comes back to the scan page (not to the feed the poll asked for)
    assert page.url == f"{live_server.url}/signin?next=/scan?station%3DDock%2Btablet", page.url
    expect(page.locator("#badge")).to_be_visible()
    settled = len(polls)
    page.wait_for_timeout(600)  # four poll intervals: the sign-in page does not poll the scan feed
    assert polls.count(401) <= 1 and len(polls) == settled, polls
