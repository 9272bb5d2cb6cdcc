"""Cross-site request forgery with real payloads in real Chromium: a supervisor is signed in at the station
(127.0.0.1:<port>) and, in the same browser, opens an attacker's page served by a second local server.
The page's auto-submitting forms post to the station's hold and receive URLs. Whether the attacker's
origin is same-site (127.0.0.1 on another port: the SameSite=Lax cookie IS sent along) or cross-site
(localhost: it is not), the station refuses with its 403 sentence and the database is unchanged. The
very same forms submitted from the station's own origin work.
"""
from __future__ import annotations

import html
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from browser_support import HANDHELD, TABLET, screenshot
from factories import basic_site, received_lot
from station.models import LotStatus, StationDevice
from station.security import REFUSED
from station.services import catalog
from test_csrf import snapshot
from test_xss_browser import bind_browser

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture then skips, or fails under CI=true
    expect = None


class AttackerSite:
    """Another origin: a tiny http.server on 127.0.0.1 and its own port, serving fixed pages."""

    def __init__(self) -> None:
        self.pages: dict[str, str] = {}
        pages = self.pages

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                body = pages.get(self.path.split("?")[0])
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.end_headers()
                self.wfile.write((body or "not here").encode())

            def log_message(self, *args):  # quiet test output
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


def hidden_form(form_id: str, action: str, fields: dict, target: str = "_self") -> str:
    inputs = "".join(f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(str(v))}">'
                     for k, v in fields.items())
    return f'<form id="{form_id}" method="post" action="{html.escape(action)}" target="{target}">{inputs}</form>'


def auto_submit_page(action: str, fields: dict) -> str:
    """The classic forged form: posts itself as soon as the page loads (top-level navigation)."""
    return ("<!doctype html><title>Win a prize</title>" + hidden_form("f", action, fields) +
            "<script>document.getElementById('f').submit()</script>")


def two_step_page(steps: list[tuple[str, dict]]) -> str:
    """Forms posted one after another into hidden frames (the receipt needs the item, then Confirm); the
    title says "done" when the last answer has come back."""
    forms = "".join(hidden_form(f"f{i}", action, fields, target=f"t{i}") + f'<iframe name="t{i}"></iframe>'
                    for i, (action, fields) in enumerate(steps))
    script = f"""<script>
      const n = {len(steps)};
      function send(i) {{
        if (i === n) {{ document.title = 'done'; return; }}
        const frame = document.getElementsByName('t' + i)[0];
        frame.addEventListener('load', () => send(i + 1), {{once: true}});
        document.getElementById('f' + i).submit();
      }}
      send(0);
    </script>"""
    return "<!doctype html><title>Loading</title>" + forms + script


@pytest.fixture
def victim(browser, live_server, sqlite_app, signed_in_page):
    """A supervisor signed in at the station (bound to a dock station) in a fresh browser context."""
    sqlite_app.config["FLOOR_PIN_ROLES"] = ()
    db = sqlite_app.extensions["station.db"]
    basic_site(db)
    with db.write() as s:
        lot = received_lot(s, "BOLT", 30).lot_number
        s.add(StationDevice(name="Dock 1", location_id=catalog.location_by_code(s, "DOCK").id))
    context = browser.new_context(viewport=TABLET)
    page = context.new_page()
    signed_in_page(page, live_server.url, sqlite_app, "supervisor", name="Vic Victim")
    bind_browser(context, live_server.url, "Dock 1", sqlite_app)
    page.lot = lot
    page.db = db
    yield page
    context.close()


def lot_status(db, number):
    with db.read() as s:
        return catalog.lot_by_number(s, number).status


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"], ids=["same-site-other-port", "cross-site"])
def test_a_forged_hold_from_another_origin_is_refused(victim, live_server, host):
    page, db = victim, victim.db
    before = snapshot(db)
    with AttackerSite() as evil:
        evil.pages["/prize"] = auto_submit_page(f"{live_server.url}/lots/actions/hold",
                                                {"lot": page.lot, "reason": "Attacker was here"})
        with page.expect_response(f"{live_server.url}/lots/actions/hold") as answer:
            page.goto(f"http://{host}:{evil.port}/prize")
        assert answer.value.status == 403
        expect(page.locator(".banner--error")).to_contain_text(REFUSED)
        screenshot(page, f"csrf-refused-{host}-1280")
        page.set_viewport_size(HANDHELD)  # the refusal reads on a handheld too, without sideways scrolling
        assert page.evaluate("document.documentElement.scrollWidth") <= HANDHELD["width"]
        screenshot(page, f"csrf-refused-{host}-360")
    assert snapshot(db) == before
    assert lot_status(db, page.lot) is LotStatus.AVAILABLE


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"], ids=["same-site-other-port", "cross-site"])
def test_a_forged_receipt_from_another_origin_books_nothing(victim, live_server, host):
    page, db = victim, victim.db
    before = snapshot(db)
    steps = [(f"{live_server.url}/receive/item", {"sku": "BOLT"}),
             (f"{live_server.url}/receive/confirm", {"qty": "999"})]
    with AttackerSite() as evil:
        evil.pages["/free-pallets"] = two_step_page(steps)
        statuses = []
        page.on("response", lambda r: statuses.append(r.status) if "/receive/" in r.url else None)
        page.goto(f"http://{host}:{evil.port}/free-pallets")
        expect(page).to_have_title("done")
    assert statuses == [403, 403]
    assert snapshot(db) == before


def submit_from_here(page, action: str, fields: dict) -> None:
    """The same hidden form, put into a page of the station itself and submitted there."""
    page.evaluate("""([action, fields]) => {
        const form = document.createElement('form');
        form.method = 'post'; form.action = action;
        for (const [name, value] of Object.entries(fields)) {
          const input = document.createElement('input');
          input.type = 'hidden'; input.name = name; input.value = value; form.appendChild(input);
        }
        document.body.appendChild(form); setTimeout(() => form.submit());  // after evaluate returns
    }""", [action, fields])


def test_the_same_forms_from_the_stations_own_origin_work(victim, live_server):
    page, db = victim, victim.db
    base = live_server.url
    page.goto(f"{base}/lots/{page.lot}")
    with page.expect_navigation() as answer:
        submit_from_here(page, f"{base}/lots/actions/hold", {"lot": page.lot, "reason": "Attacker was here"})
    assert answer.value.status == 200
    assert lot_status(db, page.lot) is LotStatus.HOLD

    before = snapshot(db)
    page.goto(f"{base}/receive")
    for action, fields in [("/receive/item", {"sku": "BOLT"}), ("/receive/confirm", {"qty": "999"})]:
        with page.expect_navigation() as answer:
            submit_from_here(page, base + action, fields)
        assert answer.value.status == 200, (action, answer.value.status)
    screenshot(page, "csrf-own-origin-receipt-1280")
    after = snapshot(db)
    assert after["lots"] == before["lots"] + 1 and after["stock"] == before["stock"] + 999
