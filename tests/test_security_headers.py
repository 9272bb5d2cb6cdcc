"""Security headers on every answer (station/security.py), cookie flags, and — in real Chromium — every
GET page of the app opened by a signed-in admin at a bound station with no Content-Security-Policy
violation and no console error."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from browser_support import TABLET, screenshot
from factories import basic_site, received_lot
from station import create_app
from station.config import settings
from station.models import Operator, Role, StationDevice
from station.security import CONTENT_SECURITY_POLICY, FILE_POLICY, HEADERS, normalise_origin
from test_xss_browser import bind_browser, page_urls, plain, seed_site, settle

TRACE_SVG_POLICY = "default-src 'none'; style-src 'unsafe-inline'"


def assert_security_headers(response, csp: str = CONTENT_SECURITY_POLICY) -> None:
    expected = dict(HEADERS, **{"Content-Security-Policy": csp})
    got = {name: response.headers.get(name) for name in expected}
    assert got == expected, got


def test_the_policy_is_the_one_asked_for():
    assert CONTENT_SECURITY_POLICY == (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; "
        "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY and "unsafe-eval" not in CONTENT_SECURITY_POLICY
    assert HEADERS["Permissions-Policy"] == "camera=(), microphone=(), geolocation=()"


@pytest.mark.parametrize("path", ["/signin", "/", "/no-such-page"])
def test_every_page_gets_the_headers(client, path):
    response = client.get(path)
    assert response.status_code in (200, 404) and response.mimetype == "text/html", (path, response.status_code)
    assert_security_headers(response)


@pytest.mark.parametrize("path", ["/static/station.js", "/static/station.css", "/vendor/htmx.min.js",
                                  "/api/v1/openapi.json", "/api/v1/items"])
def test_every_other_answer_gets_them_with_the_policy_for_files(client, path):
    with client.get(path) as response:  # a file answer is closed after
        assert response.status_code in (200, 401), (path, response.status_code)
        assert_security_headers(response, csp=FILE_POLICY)


def test_api_refusals_get_them_too(client):
    assert_security_headers(client.post("/api/v1/items", json={}), csp=FILE_POLICY)


def test_the_policy_for_files_lets_nothing_load_or_run():
    directives = dict(d.strip().split(" ", 1) for d in FILE_POLICY.split(";"))
    assert directives["default-src"] == "'none'" and directives["frame-ancestors"] == "'none'"
    assert "script-src" not in directives and "unsafe-eval" not in FILE_POLICY


def test_the_trace_svg_keeps_its_own_stricter_policy(app, client, signed_in):
    db = app.extensions["station.db"]
    basic_site(db)
    with db.write() as s:
        lot = received_lot(s, "BOLT", 5).lot_number
    signed_in(client, "supervisor")
    svg = client.get(f"/trace/{lot}.svg")
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
    assert_security_headers(svg, csp=TRACE_SVG_POLICY)
    page = client.get(f"/trace/{lot}")
    assert_security_headers(page)


def test_signed_in_html_is_not_cached_and_a_views_own_cache_control_stays(app, client, signed_in):
    assert "Cache-Control" not in client.get("/").headers  # signed out (the sign-in prompt): nothing to hide
    signed_in(client, "admin")
    home = client.get("/")
    assert home.status_code == 200 and home.mimetype == "text/html"
    assert home.headers["Cache-Control"] == "no-store"
    assert client.get("/lots").headers["Cache-Control"] == "no-store"
    with client.get("/vendor/htmx.min.js") as vendor:  # not HTML: its own one-day caching stays
        assert vendor.status_code == 200 and "max-age=86400" in vendor.headers["Cache-Control"]
    with client.get("/static/station.css") as css:
        assert "no-store" not in css.headers.get("Cache-Control", "")


def _set_cookie(response, name: str) -> str:
    [header] = [h for h in response.headers.getlist("Set-Cookie") if h.startswith(name + "=")]
    return header


def test_the_session_cookie_is_httponly_and_samesite_lax(app, client):
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True and app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    app.config["FLOOR_PIN_ROLES"] = ()
    with app.extensions["station.db"].write() as s:
        s.add(Operator(badge="OP-COOKIE", name="Cora Cookie", role=Role.PICKER))
    response = client.post("/signin", data={"badge": "OP-COOKIE"})
    assert response.status_code in (302, 303), response.status_code
    header = _set_cookie(response, app.config.get("SESSION_COOKIE_NAME", "session"))
    assert "HttpOnly" in header and "SameSite=Lax" in header, header


def test_the_station_cookie_is_httponly_and_samesite_lax_from_set_up_and_the_scan_page(app, client, signed_in):
    with app.extensions["station.db"].write() as s:
        s.add(StationDevice(name="Dock 1"))
        s.flush()
        station_id = s.scalar(select(StationDevice.id).where(StationDevice.name == "Dock 1"))
    signed_in(client, "admin")
    bound = client.post("/setup/bind", data={"station_id": station_id})
    assert bound.status_code == 303
    header = _set_cookie(bound, "station")
    assert "HttpOnly" in header and "SameSite=Lax" in header, header
    scan_page = client.get("/scan?station=Dock+1")
    header = _set_cookie(scan_page, "station")
    assert "HttpOnly" in header and "SameSite=Lax" in header, header


def test_trusted_origins_come_from_the_environment_and_a_bad_one_stops_the_start(monkeypatch, tmp_path):
    monkeypatch.setenv("STATION_TRUSTED_ORIGINS", "https://station.example.com, http://10.0.0.5:8080")
    assert settings(str(tmp_path))["TRUSTED_ORIGINS"] == ("https://station.example.com", "http://10.0.0.5:8080")
    monkeypatch.setenv("STATION_TRUSTED_ORIGINS", "station.example.com")
    monkeypatch.setenv("STATION_INSTANCE", str(tmp_path / "instance"))
    with pytest.raises(ValueError, match="STATION_TRUSTED_ORIGINS"):
        create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"})


@pytest.mark.parametrize("value, origin", [
    ("http://localhost", "http://localhost"), ("HTTP://LocalHost:80/", "http://localhost"),
    ("https://a.example:443/x?y", "https://a.example"), ("https://a.example:8443", "https://a.example:8443"),
    ("http://[::1]:5000", "http://[::1]:5000"), ("null", None), ("", None), ("file:///etc/passwd", None),
    ("javascript:alert(1)", None), ("http://a.example:99999", None), ("//a.example", None),
])
def test_origins_are_compared_in_one_spelling(value, origin):
    assert normalise_origin(value) == origin


# --- every GET page in Chromium: no CSP violation, no console error ----------------------------

RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', e => window.__csp.push(
  [e.violatedDirective, e.blockedURI, (e.sourceFile || '') + ':' + e.lineNumber, e.sample].join(' | ')));
"""


def test_no_page_violates_the_content_security_policy(browser, live_server, sqlite_app, signed_in_page):
    sqlite_app.config["FLOOR_PIN_ROLES"] = ()
    context = browser.new_context(viewport=TABLET)
    context.add_init_script(RECORD_VIOLATIONS)
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    # The station has no favicon: Chromium's own request for /favicon.ico is the one 404 left aside.
    page.on("console", lambda msg: problems.append(f"{page.url}: console {msg.type}: {msg.text} ({msg.location})")
            if msg.type == "error" and not msg.location.get("url", "").endswith("/favicon.ico") else None)
    base = live_server.url
    try:
        op = signed_in_page(page, base, sqlite_app, "admin", name="Ada Admin")
        site = seed_site(sqlite_app, op.id, plain)
        bind_browser(context, base, site.station, sqlite_app)
        urls = page_urls(sqlite_app, site)
        assert len(urls) > 30, urls
        seen = {}
        for name, url in sorted(urls.items()):
            try:
                response = page.goto(base + url)
                assert response is not None and response.status < 400, (url, response and response.status)
                settle(page)
                seen[name] = page.evaluate("window.__csp")
                if response.headers.get("content-type", "").startswith("text/html"):
                    assert response.headers.get("content-security-policy") == CONTENT_SECURITY_POLICY
            except Exception as exc:
                exc.add_note(f"while opening {name}: {url}")
                raise
        violations = {name: found for name, found in seen.items() if found}
        assert not violations, violations
        assert not problems, problems
        page.goto(f"{base}/lots/{site.lot_api}")
        screenshot(page, "csp-lot-card-1280")
        # The recorder hears a violation: a style attribute put in by a script is refused and reported.
        page.evaluate("""document.body.insertAdjacentHTML('beforeend', '<p style="color: red">inline</p>')""")
        page.wait_for_function("() => window.__csp.length > 0")  # a function: a string expression needs eval
        assert page.evaluate("window.__csp")[0].startswith("style-src-attr")
    finally:
        context.close()
