"""Scans through a Wi-Fi dead spot, in real Chromium against a real server.

The pick page's scan POSTs are cut off (page.route aborts them): wedge scans are kept, the page says
"Offline — N scans waiting" in big letters, a reload keeps them (and the note), a lot is put on hold
meanwhile; once the connection is back every kept scan is applied exactly once (one scan-log row per
client id, ledger rows), in the order scanned, the held lot's scan is refused with its reason in the
history (marked as sent late), and the note counts down ("Sending — 2 scans waiting", …) and goes
away. A scan kept on the pick page and replayed after the worker moved to the put-away page still goes
to the pick page's scan URL. Screenshots of the offline state at 1280 and 360 px."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from browser_support import HANDHELD, TABLET, screenshot, wedge
from station import clock
from station.models import Lot, Movement, MovementKind, Order, OrderLine, Scan
from station.services import holds

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture then skips, or fails under CI=true
    expect = None

WAIT_MS = 20_000  # the queue retries with a back-off of up to 4 s


@pytest.fixture
def site(live_site):
    today, days = clock.today(), dt.timedelta
    live_site.lot("soon", "MILK", 6, location="A-01", expiry=today + days(5))
    live_site.lot("later", "MILK", 50, location="A-02", expiry=today + days(20))
    live_site.lot("bolt", "BOLT", 40, location="A-01")
    live_site.order("SO-1", [("MILK", 10), ("BOLT", 4)])
    return live_site


def kept_scans(page) -> list[dict]:
    """The send queue station.js keeps in localStorage (one key per station)."""
    return page.evaluate("""() => {
        const out = [];
        for (let i = 0; i < localStorage.length; i++) {
            const key = localStorage.key(i);
            if (key.startsWith('station.scanQueue:')) out.push(...JSON.parse(localStorage.getItem(key)));
        }
        return out;
    }""")


def scans_by_client_id(db, client_ids: list[str]) -> list[tuple[int, str]]:
    with db.read() as s:
        return [tuple(row) for row in s.execute(select(Scan.id, Scan.client_id).where(Scan.client_id.in_(client_ids))
                              .order_by(Scan.id))]


def picks(db) -> list[tuple[str, int]]:
    with db.read() as s:
        return [tuple(row) for row in s.execute(select(Lot.lot_number, Movement.qty).join(Lot, Lot.id == Movement.lot_id)
                              .where(Movement.kind == MovementKind.PICK).order_by(Movement.id))]


def picked(db) -> list[int]:
    with db.read() as s:
        return list(s.scalars(select(OrderLine.picked_qty).join(Order).where(Order.number == "SO-1")
                              .order_by(OrderLine.line_no)))


def no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth + 1")


def test_scans_kept_offline_survive_a_reload_and_are_applied_once_in_order(live_server, browser, sqlite_app,
                                                                          site, signed_in_page):
    db = site["db"]
    context = browser.new_context(viewport=TABLET)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        signed_in_page(page, live_server.url, sqlite_app, "picker", badge="OP-PICK", name="Pia Picker")
        page.goto(f"{live_server.url}/pick/SO-1")
        note = page.locator("#scan-queue")
        expect(note).to_be_hidden()

        page.route("**/pick/SO-1/scan", lambda route: route.abort())  # the dead spot
        wedge(page, f"LOT:{site['soon']}")
        expect(note).to_be_visible()
        expect(note).to_contain_text("Offline — 1 scan waiting")
        wedge(page, f"LOT:{site['later']}")
        expect(note).to_contain_text("Offline — 2 scans waiting")
        expect(note).to_have_attribute("data-count", "2")
        screenshot(page, "offline-pick-1280")
        # Big and at the top: readable at arm's length.
        box = note.bounding_box()
        assert box["y"] < 200 and box["height"] >= 60, box
        size = page.evaluate("parseFloat(getComputedStyle(document.querySelector('.scan-queue__count')).fontSize)")
        assert size >= 24, size

        # A reload while still offline: the scans and the note come back.
        page.reload()
        expect(note).to_be_visible()
        expect(note).to_contain_text("Offline — 2 scans waiting")
        page.set_viewport_size(HANDHELD)
        wedge(page, f"LOT:{site['bolt']}")
        expect(note).to_contain_text("Offline — 3 scans waiting")
        assert no_sideways_scroll(page)
        screenshot(page, "offline-pick-360")
        kept = kept_scans(page)
        assert [k["code"] for k in kept] == [f"LOT:{site[n]}" for n in ("soon", "later", "bolt")]
        assert all(k["url"] == "/pick/SO-1/scan" for k in kept), kept
        client_ids = [k["client_id"] for k in kept]
        assert scans_by_client_id(db, client_ids) == [] and picks(db) == []  # nothing reached the server

        with db.write() as s:  # meanwhile a supervisor puts the second lot on hold
            holds.hold(s, s.scalar(select(Lot).where(Lot.lot_number == site["later"])), "Seal check after alarm")

        page.evaluate("""() => {  // what the note says from now on, each change once
            window.__noteSaid = [];
            const note = document.getElementById('scan-queue');
            const record = () => {
                const said = note.hidden ? 'hidden' : note.querySelector('.scan-queue__count').textContent;
                if (window.__noteSaid[window.__noteSaid.length - 1] !== said) window.__noteSaid.push(said);
            };
            new MutationObserver(record).observe(note, {attributes: true, childList: true, subtree: true});
        }""")
        page.unroute("**/pick/SO-1/scan")  # the connection is back
        expect(note).to_be_hidden(timeout=WAIT_MS)
        # It counted down as the kept scans went out, then went away.
        said = [text for text in page.evaluate("window.__noteSaid") if not text.startswith("Offline")]
        assert said == ["Sending — 2 scans waiting", "Sending — 1 scan waiting", "hidden"], said
        assert kept_scans(page) == []

        # Each kept scan applied exactly once, in the order scanned.
        logged = scans_by_client_id(db, client_ids)
        assert [cid for _, cid in logged] == client_ids
        assert picks(db) == [(site["soon"], 6), (site["bolt"], 4)]
        assert picked(db) == [6, 4]

        # The held lot's scan: refused with the reason, kept in the history, marked as sent late.
        refused = page.locator("#scan-history .scan-result--late", has_text=site["later"])
        expect(refused).to_have_count(1)
        expect(refused.locator(".banner--error")).to_contain_text(f"Lot {site['later']} is on hold")
        expect(refused.locator(".scan-result__late")).to_contain_text("Sent late")
        expect(page.locator("#scan-current .scan-result--late .banner--ok")).to_contain_text(
            f"Picked 4 ea of lot {site['bolt']}")
        expect(page.locator("#scan-history .scan-result--late")).to_have_count(2)
        expect(page.locator('.pick-line[data-line="1"] .pick-line__qty')).to_contain_text("6 / 10")
        expect(page.locator('.pick-line[data-line="2"] .pick-line__qty')).to_contain_text("4 / 4")
        screenshot(page, "offline-pick-replayed-360")
        assert not errors, errors
    finally:
        context.close()


def test_a_scan_kept_on_the_pick_page_goes_to_the_pick_page_after_moving_to_another_page(
        live_server, browser, sqlite_app, site, signed_in_page):
    db = site["db"]
    context = browser.new_context(viewport=TABLET)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url.split("://", 1)[1].split("/", 1)[1]) if r.method == "POST" else None)
    try:
        signed_in_page(page, live_server.url, sqlite_app, "picker", badge="OP-PICK")
        page.goto(f"{live_server.url}/pick/SO-1")
        page.route("**/scan", lambda route: route.abort())  # every scan URL is cut off
        wedge(page, f"LOT:{site['soon']}")
        expect(page.locator("#scan-queue")).to_contain_text("Offline — 1 scan waiting")

        page.goto(f"{live_server.url}/move")  # the worker goes on to put-away, still offline
        note = page.locator("#scan-queue")
        expect(note).to_be_visible()
        expect(note).to_contain_text("Offline — 1 scan waiting")
        screenshot(page, "offline-move-1280")
        page.unroute("**/scan")
        expect(note).to_be_hidden(timeout=WAIT_MS)

        assert "move/scan" not in posts, posts
        assert posts.count("pick/SO-1/scan") >= 2  # tried offline, then sent
        assert picks(db) == [(site["soon"], 6)]
        answer = page.locator("#scan-current .scan-result--late")
        expect(answer).to_contain_text(f"Picked 6 ea of lot {site['soon']}")
        expect(answer.locator(".scan-result__late")).to_contain_text("on /pick/SO-1")
        assert not errors, errors
    finally:
        context.close()


def test_kept_scans_of_one_code_keep_their_spacing_a_bounce_stays_a_bounce(live_server, browser, sqlite_app, site,
                                                                            signed_in_page):
    """The server takes the same code again within SCAN_BOUNCE_MS (500) for a trigger bounce. Kept scans go
    out back to back, so a deliberate second scan of one code must still not look like a bounce — and a
    real bounce made offline must still be one."""
    db = site["db"]
    context = browser.new_context(viewport=TABLET)
    page = context.new_page()
    try:
        signed_in_page(page, live_server.url, sqlite_app, "picker", badge="OP-PICK")
        page.goto(f"{live_server.url}/pick/SO-1")
        page.route("**/pick/SO-1/scan", lambda route: route.abort())
        code = f"LOT:{site['bolt']}"
        t = wedge(page, code)
        # The trigger fired twice: a bounce, stamped 50 ms after the first read — and passed on to the page
        # 700 ms late, as a busy machine does: the scan's own time decides, not when the page got to it.
        page.wait_for_timeout(700)
        wedge(page, code, at=t + 0.05)
        expect(page.locator("#scan-queue")).to_contain_text("Offline — 2 scans waiting")
        page.wait_for_timeout(900)  # the picker scans it again on purpose, later
        wedge(page, code)
        expect(page.locator("#scan-queue")).to_contain_text("Offline — 3 scans waiting")
        client_ids = [k["client_id"] for k in kept_scans(page)]
        page.unroute("**/pick/SO-1/scan")
        expect(page.locator("#scan-queue")).to_be_hidden(timeout=WAIT_MS)

        with db.read() as s:
            rows = s.execute(select(Scan.client_id, Scan.ignored).where(Scan.client_id.in_(client_ids))
                             .order_by(Scan.id)).all()
        assert [(cid, ignored) for cid, ignored in rows] == list(zip(client_ids, [False, True, False]))
        assert picks(db) == [(site["bolt"], 4)]  # picked once; the deliberate repeat is refused in words
        expect(page.locator("#scan-current .banner__message")).to_contain_text("already picked in full")
    finally:
        context.close()


def test_kept_scans_wait_for_a_sign_in_when_the_operator_was_signed_out_meanwhile(live_server, browser,
                                                                                    sqlite_app, site,
                                                                                    signed_in_page):
    """Signed out while offline (timed out, badge deactivated): the kept scan is not lost. The page goes
    to the sign-in page, which says the scans wait for a sign-in; after it they are sent."""
    from station.models import Operator, Role

    db = site["db"]
    context = browser.new_context(viewport=HANDHELD)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        first = signed_in_page(page, live_server.url, sqlite_app, "picker", badge="OP-PIA")
        page.goto(f"{live_server.url}/pick/SO-1")
        page.route("**/pick/SO-1/scan", lambda route: route.abort())
        wedge(page, f"LOT:{site['soon']}")
        note = page.locator("#scan-queue")
        expect(note).to_contain_text("Offline — 1 scan waiting")
        with db.write() as s:
            s.get(Operator, first.id).active = False  # signed out on the server meanwhile
            s.add(Operator(badge="OP-PAUL", name="Paul Picker", role=Role.PICKER))

        page.unroute("**/pick/SO-1/scan")
        page.wait_for_url("**/signin**", timeout=WAIT_MS)
        expect(note).to_contain_text("Sign in — 1 scan waiting")
        screenshot(page, "offline-signin-360")
        assert picks(db) == []

        page.fill("#badge", "OP-PAUL")
        page.click("form.signin__form button[type=submit]")
        page.wait_for_url(f"{live_server.url}/pick/SO-1")
        expect(note).to_be_hidden(timeout=WAIT_MS)
        assert picks(db) == [(site["soon"], 6)]
        expect(page.locator("#scan-current .scan-result--late")).to_contain_text(f"Picked 6 ea of lot {site['soon']}")
        assert kept_scans(page) == []
        assert not errors, errors
    finally:
        context.close()
