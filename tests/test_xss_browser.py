"""XSS with real payloads, in real Chromium: script, attribute-breaking, javascript: and </textarea>
payloads go into every field a supplier label or a user fills — supplier lot (a GS1 label's AI 10 and
the API's field), item, customer, supplier and location names, hold / release / override / recall
reasons, notes, the operator's, station's and printer's names, a scanned code — through the real
services, the JSON API and the page's own forms; then every page that shows them is opened.

The browser context ignores the Content-Security-Policy (bypass_csp): the test is about escaping,
so a payload that got into the markup would run and set window.__xss instead of being stopped by
the CSP. On every page: window.__xss is undefined, the DOM holds no element or attribute a payload
could have made, and the payload is visible as plain text.

`seed_site(app, operator_id, text)` builds the site (also used with plain names by the CSP crawl in
test_security_headers.py).
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Callable
from urllib.parse import quote

import pytest
from sqlalchemy import select
from werkzeug.http import dump_cookie

from browser_support import TABLET, screenshot
from factories import gtin13
from station import clock
from station.models import LocationKind, Order, OrderLine, Printer, Role, StationDevice
from station.services import catalog, holds, picking, production_runs, printing, recalls, receiving, webhooks
from station.services.actor import Actor
from station.services.tokens import create_token
from station.auth import STATION_COOKIE, station_cookie_value

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture then skips, or fails under CI=true
    expect = None

PAYLOADS = ("<script>window.__xss=1</script>",
            '"><img src=x onerror="window.__xss=1">',
            "javascript:window.__xss=1",
            "</textarea><svg onload=window.__xss=1>")
# GS1 AI 10 carries at most 20 characters of GS1 character set 82 (no space): this one still runs
# (a global assignment in an event handler) if it ever lands in the markup.
AI10_PAYLOAD = "<svg/onload=__xss=1>"
GTIN = gtin13("590000000001").zfill(14)


def hostile(field: str, limit: int = 200) -> str:
    """The field's name (to tell where a text shows) and as many payloads as the column holds."""
    value = field
    for payload in PAYLOADS:
        if len(value) + 1 + len(payload) <= limit:
            value += " " + payload
    return value


def plain(field: str, limit: int = 200) -> str:
    return {"supplier_lot_gs1": "SL-GS1-1", "supplier_lot_api": "SL-API-2"}.get(field, f"Plain {field}")[:limit]


@dataclass
class Site:
    text: Callable[[str, int], str]
    lot_old: str        # received ten days ago (a component of the run)
    lot_gs1: str        # received by the API from a scanned GS1 label (supplier lot from AI 10)
    lot_api: str        # received by the API with supplier_lot, picked with an override, shipped, recalled
    lot_made: str       # made by the production run
    order_shipped: str
    order_open: str
    recall: str
    printer_id: int
    job_id: int
    run_id: int
    station: str
    applied_scan: int  # a scan applied to the station's put-away workflow (its answer names the hostile item)
    sub_id: int  # a webhook subscription with a hostile name, whose receiver answered with a hostile error


def seed_site(app, operator_id: int, text: Callable[[str, int], str] = hostile) -> Site:
    """A site whose every user- and supplier-filled text is `text(field, max_length)`, built through the
    services (as the operator) and the JSON API (receipts, scans)."""
    db = app.extensions["station.db"]
    today = clock.today()
    with db.write() as s:
        item = catalog.create_item(s, sku="JAM-1", name=text("item", 200), gtins=[GTIN], shelf_life_days=60)
        catalog.create_supplier(s, code="ACME", name=text("supplier", 200))
        catalog.create_customer(s, code="SHOP", name=text("customer", 200))
        dock = catalog.create_location(s, code="DOCK", kind=LocationKind.DOCK, name=text("location", 120))
        catalog.create_location(s, code="A-01", kind=LocationKind.STORAGE, name=text("storage", 120))
        line = catalog.create_location(s, code="LINE-1", kind=LocationKind.LINE, name=text("line", 120))
        catalog.create_location(s, code="SHIP", kind=LocationKind.SHIPPING)
        zebra = Printer(name=text("printer", 60), url="sim://xss-zebra", label_size="4x6", dpi=203)
        s.add(zebra)
        s.flush()
        # agent:// — its scanner agent posts the hostile scan below with the station's agent token.
        station = StationDevice(name=text("station", 60), location_id=dock.id, printer_id=zebra.id,
                                scanner_url="agent://")
        s.add(station)
        s.flush()
        secret = create_token(s, "xss-test", Role.ADMIN)
        agent_secret = create_token(s, "xss-agent", "agent", station=station.id)
        by = Actor(operator_id=operator_id, station_id=station.id)
        lot_old = receiving.receive(s, item=item, qty=50, location=dock, by=by, on=today - dt.timedelta(days=10),
                                    supplier=catalog.supplier_by_code(s, "ACME"),
                                    supplier_lot=text("supplier_lot_service", 40)).lot_number
        ids = {"printer": zebra.id, "station": station.name, "item": item.id, "dock": dock.id, "line": line.id}

    client = app.test_client()

    def api(path: str, body: dict, token: str = secret) -> dict:
        response = client.post(f"/api/v1/{path}", json=body, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code in (200, 201), (path, response.get_json())
        return response.get_json()

    expiry = today + dt.timedelta(days=10)  # on the expiry board
    gs1 = f"]C101{GTIN}17{expiry:%y%m%d}10{text('supplier_lot_gs1', 20)}"
    lot_gs1 = api("receipts", {"code": gs1, "qty": 30, "supplier": "ACME", "station": ids["station"],
                               "labels": {}})["lot_number"]
    received = api("receipts", {"sku": "JAM-1", "qty": 40, "supplier": "ACME",
                                "supplier_lot": text("supplier_lot_api", 40), "station": ids["station"],
                                "labels": {"printer": text("printer", 60), "copies": 2}})
    lot_api, job_id = received["lot_number"], received["print_jobs"][0]["id"]
    api("scans", {"station": ids["station"], "client_id": "xss-scan-0001", "code": text("scan", 200)},
        token=agent_secret)
    from station.workflows import intake

    applied = intake.take(db, intake.ScanIn(f"LOT:{lot_old}", station_id=station.id, operator_id=operator_id),
                          "putaway").scan_id

    with db.write() as s:
        by = Actor(operator_id=operator_id, station_id=None)
        lot = catalog.lot_by_number(s, lot_api)
        holds.hold(s, lot, text("hold reason", 200), by=by)
        holds.release(s, lot, text("release reason", 200), by=by)
        customer = s.scalar(select(catalog.Customer))
        shipped = Order(number="SO-1", customer_id=customer.id)
        open_order = Order(number="SO-2", customer_id=customer.id)
        s.add_all([shipped, open_order])
        s.flush()
        first = OrderLine(order_id=shipped.id, line_no=1, item_id=ids["item"], qty=5)
        s.add_all([first, OrderLine(order_id=open_order.id, line_no=1, item_id=ids["item"], qty=3)])
        s.flush()
        # lot_api is younger than lot_old: picking it needs the override reason
        picking.pick_line(s, line=first, lot=lot, qty=5, override_reason=text("override reason", 200), by=by)
        picking.ship(s, shipped, by=by)
        run = production_runs.start(s, item=s.get(catalog.Item, ids["item"]), location=s.get(catalog.Location, ids["line"]),
                                    by=by)
        production_runs.add_component(s, run, catalog.lot_by_number(s, lot_old), 4,
                                      location=s.get(catalog.Location, ids["dock"]), by=by)
        made = production_runs.finish(s, run, 8, by=by)
        printing.request_labels(s, made.lot_number, printer=text("printer", 60), copies=1, request_id="xss-run")
        recall = recalls.open_recall(s, reason=text("recall reason", 200), lot=lot, by=by)
        recalls.mark_notified(s, recall, customer, by=by, note=text("notified note", 200))
        sub = webhooks.create(s, name=text("webhook name", 80), url="https://93.184.216.34/in?x=<b>").subscription
        sub.last_error, sub.last_error_at = text("receiver error", 500), clock.now()
        s.flush()
        site = Site(text=text, lot_old=lot_old, lot_gs1=lot_gs1, lot_api=lot_api, lot_made=made.lot_number,
                    order_shipped="SO-1", order_open="SO-2", recall=recall.number, printer_id=ids["printer"],
                    job_id=job_id, run_id=run.id, station=ids["station"], applied_scan=applied,
                    sub_id=sub.id)
    return site


def bind_browser(context, base_url: str, station_name: str, app) -> None:
    """The station cookie as the server writes it: the name signed with the app's key (set-up's cookie)."""
    with app.test_request_context():
        header = dump_cookie(STATION_COOKIE, station_cookie_value(station_name))
    value = header.split(";", 1)[0].split("=", 1)[1]
    context.add_cookies([{"name": STATION_COOKIE, "value": value, "url": base_url}])


# --- every GET page route, with its parameters from the seeded site --------------------------

SKIPPED = {"static", "vendor"}  # files, not pages (test_security_headers.py checks their headers)
DOWNLOADS = (".csv", ".pdf")    # a browser saves these instead of showing them


def page_urls(app, site) -> dict[str, str]:
    """Every GET page route of the app with its path parameters filled from the seeded site."""
    values = {"lot_number": site.lot_api, "run_id": str(site.run_id), "sub_id": str(site.sub_id), "job_id": str(site.job_id), "action": "hold",
              "scan_id": str(site.applied_scan), "change": "split"}
    by_endpoint = {"recalls.show": {"number": site.recall}, "recalls.export": {"number": site.recall}}
    query = {
        "lots.card": f"?lot={site.lot_api}", "lots.action_panel": f"?lot={site.lot_api}",
        "recalls.preview": f"?lot={site.lot_old}", "printers.lot_form": f"?lot={site.lot_api}",
        "scan.feed": "?after=0", "scan.station_feed": "?after=0", "receiving.items": "?q=JAM",
        "trace.show": "?direction=forward", "lots.change_panel": f"?lot={site.lot_api}",
    }
    urls = {}
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint in SKIPPED or rule.rule.startswith("/api/"):
            continue
        if rule.rule.endswith(DOWNLOADS):
            continue
        params = {**values, "number": site.order_open, **by_endpoint.get(rule.endpoint, {})}
        missing = set(rule.arguments) - set(params)
        assert not missing, f"{rule.rule}: no value for {missing} — add one to page_urls"
        path = re.sub(r"<(?:[^:>]+:)?(\w+)>", lambda m: params[m.group(1)], rule.rule)
        extra = query.get(rule.endpoint, "")
        if rule.endpoint in ("scan.feed", "scan.station_feed"):
            extra += "&station=" + quote(site.station)
        urls[f"{rule.endpoint} {rule.rule}"] = path + extra
    return urls


# --- the checks -------------------------------------------------------------------------------

INJECTED = """() => ({
  xss: typeof window.__xss,
  handlers: Array.from(document.querySelectorAll('*')).flatMap(el => Array.from(el.attributes)
      .filter(a => /^on/i.test(a.name)).map(a => el.tagName + ' ' + a.name)),
  inline_scripts: Array.from(document.scripts).filter(s => !s.src).map(s => s.textContent.slice(0, 60)),
  js_urls: Array.from(document.querySelectorAll('[href],[src],[action],[formaction]'))
      .map(el => el.getAttribute('href') || el.getAttribute('src') || el.getAttribute('action')
                 || el.getAttribute('formaction'))
      .filter(v => /^\\s*javascript:/i.test(v)),
  stray: document.querySelectorAll('img[src="x"], svg[onload], textarea ~ svg').length,
})"""


def settle(page) -> None:
    """The page loaded and its load-time htmx requests answered (polling pages never go network-idle)."""
    page.wait_for_load_state("load")
    page.wait_for_function("() => document.readyState === 'complete' && !document.querySelector('.htmx-request')")


def assert_clean(page, where: str) -> None:
    found = page.evaluate(INJECTED)
    assert found == {"xss": "undefined", "handlers": [], "inline_scripts": [], "js_urls": [], "stray": 0}, \
        (where, found)


def visible(page, value: str, where: str) -> None:
    body = page.locator("body").inner_text()
    assert " ".join(value.split()) in " ".join(body.split()), f"{where}: {value!r} not shown as text"


@pytest.fixture
def xss_page(browser, live_server):
    # bypass_csp: a payload that got into the markup must run here, not be stopped by the CSP.
    context = browser.new_context(viewport=TABLET, bypass_csp=True)
    page = context.new_page()
    errors: list[str] = []
    dialogs: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    yield page
    context.close()
    assert not errors, errors
    assert not dialogs, dialogs


def test_payloads_in_every_field_show_as_text_on_every_page(xss_page, live_server, sqlite_app, signed_in_page):
    page, base = xss_page, live_server.url
    sqlite_app.config["FLOOR_PIN_ROLES"] = ()  # the admin signs in by badge alone, as signed_in_page does
    op = signed_in_page(page, base, sqlite_app, "admin", name=hostile("operator", 120))
    site = seed_site(sqlite_app, op.id)
    bind_browser(page.context, base, site.station, sqlite_app)
    t = site.text

    # A user types a hostile note into the hold and release forms of the lot card (real form, real tap).
    page.goto(f"{base}/lots/{site.lot_gs1}")
    assert_clean(page, "lot card before the hold")
    for action in ("hold", "release"):
        page.locator(f'[data-lot-action="{action}"]').click()
        page.locator("#lot-action-note").fill(hostile(f"typed {action} note", 150))
        page.locator(".lot-action-confirm").click()
        expect(page.locator(".lot-action-banner .banner")).to_contain_text(f"typed {action} note")
        assert_clean(page, f"after the {action} tap")
        visible(page, hostile(f"typed {action} note", 150), f"{action} banner")

    pages = {
        "home": ("/", [hostile("operator", 120), t("station", 60)]),
        "lot card (GS1 label, AI 10)": (f"/lots/{site.lot_gs1}",
                                        [t("supplier_lot_gs1", 20), t("item", 200), hostile("typed hold note", 150)]),
        "lot card and history (API)": (f"/lots/{site.lot_api}",
                                       [t("supplier_lot_api", 40), t("hold reason", 200), t("release reason", 200),
                                        hostile("operator", 120)]),
        "lot card (service)": (f"/lots/{site.lot_old}", [t("supplier_lot_service", 40)]),
        "trace forward": (f"/trace/{site.lot_api}?direction=forward", [t("customer", 200)]),
        "trace backward": (f"/trace/{site.lot_made}?direction=backward", [t("supplier_lot_service", 40)]),
        "recall": (f"/recalls/{site.recall}", [t("recall reason", 200), t("customer", 200), t("notified note", 200)]),
        "recalls": ("/recalls", [t("recall reason", 200)]),
        "audit ledger": ("/audit", [hostile("operator", 120), t("station", 60)]),
        "audit events": ("/audit?tab=events", [t("hold reason", 200), t("release reason", 200),
                                               t("recall reason", 200), t("override reason", 200)]),
        "expiry": ("/expiry", [t("item", 200)]),
        "scan log": ("/scans", [t("scan", 200)]),
        "pick page": (f"/pick/{site.order_open}", [t("item", 200), t("customer", 200)]),
        "pick orders": ("/pick", [t("customer", 200)]),
        "overrides report": ("/reports/overrides", [t("override reason", 200)]),
        "printers": ("/printers", [t("printer", 60)]),
        "print job": (f"/printers/jobs/{site.job_id}", [t("printer", 60)]),
        "line run": (f"/line/runs/{site.run_id}", [t("item", 200)]),
        "set-up": ("/setup", [t("station", 60)]),
        "scan page": ("/scan", [t("station", 60)]),
        "webhooks": ("/webhooks", [t("webhook name", 80), t("receiver error", 500)]),
    }
    for where, (path, texts) in pages.items():
        response = page.goto(base + path)
        assert response.status < 400, (where, response.status)
        settle(page)
        assert_clean(page, where)
        for value in texts:
            visible(page, value, where)
    screenshot(page, "xss-scan-page-1280")

    # Location names show in set-up's location choices (an <option>'s text, not the page's innerText).
    page.goto(base + "/setup")
    options = page.evaluate("() => Array.from(document.querySelectorAll('option')).map(o => o.textContent)")
    for value in (t("location", 120), t("line", 120)):
        assert any(" ".join(value.split()) in " ".join(o.split()) for o in options), (value, options)

    # And every other GET page of the app, with the same hostile site behind it: nothing runs anywhere.
    for where, path in sorted(page_urls(sqlite_app, site).items()):
        response = page.goto(base + path)
        assert response.status < 400, (where, response.status)
        settle(page)
        if response.headers.get("content-type", "").startswith(("text/html", "image/svg")):
            assert_clean(page, where)

    # The trace picture on its own: an SVG document, where an onload would run at once.
    response = page.goto(f"{base}/trace/{site.lot_api}.svg?direction=forward")
    assert response.status == 200 and response.headers["content-type"].startswith("image/svg+xml")
    assert_clean(page, "trace SVG")
    text = " ".join(page.evaluate("document.documentElement.textContent").split())
    # The picture's boxes shorten long names with "…"; the start of each is there as text.
    for value in (t("customer", 200), t("item", 200)):
        assert value[:18] in text, (value, text)

    # Signed out: the sign-in page, then the PIN step naming the badge typed (never whose it is).
    page.goto(base + "/")
    with page.expect_navigation():
        page.locator("[data-signout]").click()
    page.goto(base + "/signin")
    assert_clean(page, "sign-in page")
    sqlite_app.config["FLOOR_PIN_ROLES"] = ("admin",)
    page.fill("#badge", op.badge)
    page.click("form.signin__form button[type=submit]")
    page.wait_for_url("**/signin/pin**")
    assert_clean(page, "PIN step")
    visible(page, f"Badge {op.badge}: choose your PIN", "PIN step")  # no PIN yet: chosen now
    screenshot(page, "xss-pin-step-1280")

    # The checks can fail: with the CSP bypassed, a payload that does get into the markup runs.
    page.evaluate("html => document.body.insertAdjacentHTML('beforeend', html)", PAYLOADS[1])
    page.wait_for_function("() => window.__xss === 1")
    with pytest.raises(AssertionError):
        assert_clean(page, "payload put in on purpose")
