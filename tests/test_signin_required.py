"""Every page needs a signed-in operator (station/auth/ require_signed_in), on SQLite and PostgreSQL.

Every GET and POST rule of the app outside floor.OPEN_ENDPOINTS / OPEN_BLUEPRINTS is asked by a
signed-out browser three ways — a full page (the sign-in page, with ?next= for a GET), htmx /
station.js (401 + HX-Redirect and a red banner in words), a JSON client (401 JSON in words) — and a
POST changes nothing in the database. Then each exemption is shown to answer signed out."""
from __future__ import annotations

import datetime as dt
import html
import re
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select, update

from factories import TODAY
from station.models import Base, FloorSession, Scan
from station import auth as floor

HX = {"HX-Request": "true"}
JSON = {"Accept": "application/json"}
METHODS = ("GET", "POST")


@pytest.fixture
def site(site):
    """The small site with a real lot, so the lot pages asked for exist (and would answer if let through)."""
    site.lot("lot", "BOLT", 5, on=TODAY)
    return site


def _fill(rule: str, lot: str) -> str:
    """A concrete path for a Flask rule: ints are 1, a lot number the real lot, anything else a code."""
    def value(match: re.Match) -> str:
        converter, args, name = match.group(1) or "", match.group(2) or "", match.group(3)
        if converter == "int":
            return "1"
        if converter == "any":
            return args.split(",")[0].strip().strip("'\"")
        return lot if name == "lot_number" else "NOPE-1"
    return re.sub(r"<(?:(\w+)(?:\(([^)]*)\))?:)?(\w+)>", value, rule)


def _exempt(rule) -> bool:
    return rule.endpoint in floor.OPEN_ENDPOINTS or rule.endpoint.split(".")[0] in floor.OPEN_BLUEPRINTS


def _guarded(app, lot: str) -> list[tuple[str, str, str]]:
    """(method, path, endpoint) of every page rule a signed-out browser must not reach."""
    found = []
    for rule in app.url_map.iter_rules():
        if _exempt(rule):
            continue
        for method in METHODS:
            if method in rule.methods:
                found.append((method, _fill(rule.rule, lot), rule.endpoint))
    return sorted(found)


def _counts(app) -> dict[str, int]:
    """Rows in every table: a refused POST must leave them all as they were."""
    with app.extensions["station.db"].read() as s:
        return {t.name: s.execute(select(func.count()).select_from(t)).scalar_one()
                for t in Base.metadata.sorted_tables}


# A form that would do something on most pages if it got through: a scan, a lot, a quantity, a name.
def _form(lot: str) -> dict[str, str]:
    return {"code": f"LOT:{lot}", "client_id": uuid.uuid4().hex, "source": "wedge", "lot": lot, "qty": "1",
            "reason": "Supplier notice", "name": "Signed-out tablet", "sku": "BOLT", "location": "A-01"}


def test_the_guard_covers_every_page_rule(app, site):
    routes = _guarded(app, site["lot"])
    endpoints = {e for _, _, e in routes}
    assert len(routes) >= 85
    # the pages the issue named, and ones without a workflow of their own
    for endpoint in ("lots.index", "lots.show", "lots.card", "lots.scan", "lots.label_png", "scan.page",
                     "scan.submit", "scan.feed", "scan.log", "printers.index",
                     "printers.preview", "receiving.index", "picking.scan", "setup.page"):
        assert endpoint in endpoints, endpoint
    # every exemption is a real endpoint (a renamed view must not leave a stale hole in the list)
    assert set(floor.OPEN_ENDPOINTS) <= set(app.view_functions)


def test_signed_out_pages_go_to_the_sign_in_page_and_change_nothing(app, client, site):
    before = _counts(app)
    for method, path, endpoint in _guarded(app, site["lot"]):
        where = f"{method} {path} ({endpoint})"
        data = _form(site["lot"]) if method == "POST" else None
        answer = client.open(path, method=method, data=data)
        assert answer.status_code == 302, where
        target = urlsplit(answer.headers["Location"])
        assert target.path == "/signin", where
        if method == "GET":  # signed in, the worker comes back to the page asked for
            assert parse_qs(target.query)["next"] == [path], where
    assert _counts(app) == before


def test_signed_out_htmx_and_station_js_get_401_and_a_redirect_to_sign_in(app, client, site):
    before = _counts(app)
    for method, path, endpoint in _guarded(app, site["lot"]):
        where = f"{method} {path} ({endpoint})"
        data = _form(site["lot"]) if method == "POST" else None
        answer = client.open(path, method=method, data=data,
                             headers={**HX, "HX-Current-URL": "http://localhost/lots?lot=X"})
        assert answer.status_code == 401, where
        assert answer.headers["HX-Redirect"] == "/signin?next=/lots?lot%3DX", where
        assert "Sign in first — scan your badge." in html.unescape(answer.text), where
    assert _counts(app) == before


def test_signed_out_json_clients_get_401_in_words(app, client, site):
    before = _counts(app)
    for method, path, endpoint in _guarded(app, site["lot"]):
        where = f"{method} {path} ({endpoint})"
        if method == "POST":
            answer = client.post(path, json={"code": f"LOT:{site['lot']}", "client_id": uuid.uuid4().hex},
                                 headers=JSON)
        else:
            answer = client.get(path, headers=JSON)
        assert answer.status_code == 401, where
        assert answer.json == {"error": "signed_out", "message": "Sign in first — scan your badge."}, where
        assert urlsplit(answer.headers["Location"]).path == "/signin", where
    assert _counts(app) == before


def test_a_scan_posted_signed_out_is_not_logged(app, client, site):
    r = client.post("/scan", data={"code": f"LOT:{site['lot']}", "client_id": uuid.uuid4().hex}, headers=HX)
    assert r.status_code == 401 and r.headers["HX-Redirect"] == "/signin"
    r = client.post("/scan", json={"code": f"LOT:{site['lot']}", "source": "api"})  # a JSON body, any Accept
    assert r.status_code == 401 and r.json["error"] == "signed_out"
    with app.extensions["station.db"].read() as s:
        assert s.scalar(select(func.count()).select_from(Scan)) == 0


def test_timed_out_the_words_say_so(app, client, signed_in, site):
    import time

    op = signed_in(client, "picker")
    with app.app_context():
        idle = floor.idle_seconds()
    with app.extensions["station.db"].write() as s:  # the session's last activity, idle + 5 s ago
        s.execute(update(FloorSession).where(FloorSession.operator_id == op.id)
                  .values(last_seen_at=dt.datetime.fromtimestamp(time.time() - idle - 5, dt.timezone.utc)))
    r = client.get("/lots/card", query_string={"lot": site["lot"]}, headers=HX)
    assert r.status_code == 401 and "signed out after a while without use" in html.unescape(r.text)
    assert r.headers["HX-Redirect"].startswith("/signin?") and "timeout=1" in r.headers["HX-Redirect"]


def test_signed_in_the_guard_lets_the_page_through(client, signed_in, site):
    signed_in(client, "picker")
    assert client.get(f"/lots/{site['lot']}").status_code == 200
    assert client.get("/scan", query_string={"station": ""}).status_code == 200
    # the workflow roles still decide: a picker is signed in but not a receiver
    assert client.get("/receive").status_code == 403


# --- the exemptions answer signed out ---------------------------------------------------------------


def test_every_exemption_passes_the_guard(app):
    for rule in app.url_map.iter_rules():
        if not _exempt(rule):
            continue
        for method in METHODS:
            if method in rule.methods:
                with app.test_request_context(_fill(rule.rule, "L-1"), method=method):
                    assert floor.require_signed_in() is None, (method, rule.rule)


def test_the_home_page_signed_out_is_only_a_sign_in_prompt(client):
    r = client.get("/")
    assert r.status_code == 200
    assert "Scan your badge to sign in" in r.text and 'href="/signin"' in r.text
    assert "class=\"tile" not in r.text and "href=\"/lots\"" not in r.text and "href=\"/scan\"" not in r.text
    assert 'data-scan-url="/floor/scan"' in r.text  # a badge scanned on it signs in


def test_the_sign_in_flow_answers_signed_out(app, client):
    with app.extensions["station.db"].write() as s:
        from factories import operator
        operator(s, badge="OP-9", name="Pat Picker", role="picker")
    assert client.get("/signin").status_code == 200
    assert client.get("/signin?next=/lots").status_code == 200
    typed = client.post("/signin", data={"badge": "OP-9", "next": "/lots"})
    assert (typed.status_code, typed.headers["Location"]) == (303, "/lots")
    assert client.get("/lots").status_code == 200
    out = client.post("/signout")
    assert out.status_code == 303 and client.get("/lots").status_code == 302
    # a badge scanned on the sign-in page (wedge) or on any page (OPR: -> /floor/badge)
    scanned = client.post("/floor/scan", data={"code": "OPR:OP-9"}, headers={**HX, "HX-Current-URL": "http://localhost/signin"})
    assert scanned.status_code < 400 and scanned.headers.get("HX-Redirect"), scanned.text
    client.post("/signout")
    badge = client.post("/floor/badge", data={"code": "OPR:OP-9"}, headers={**HX, "HX-Current-URL": "http://localhost/signin?next=/lots"})
    assert badge.status_code < 400 and badge.headers.get("HX-Redirect") == "/lots", badge.text
    assert client.get("/lots").status_code == 200


def test_files_htmx_the_api_and_the_scanner_feed_answer_signed_out(app, client, bound_station):
    with client.get("/static/station.css") as css:
        assert css.status_code == 200
    with client.get("/vendor/htmx.min.js") as htmx:
        assert htmx.status_code == 200
    assert client.get("/api/v1/openapi.json").status_code == 200  # how to authenticate: public
    api = client.get("/api/v1/items")
    assert api.status_code == 401 and "Location" not in api.headers  # the API's own token check
    with app.extensions["station.db"].write() as s:
        from station.models import StationDevice
        s.add(StationDevice(name="Dock tablet", scanner_url="sim://dock"))
    feed = client.get("/scan/station-feed", query_string={"station": "Dock tablet", "after": 0})
    assert feed.status_code == 403  # only a device set up as that station reads its scanner
    bound_station(client, "Dock tablet")
    feed = client.get("/scan/station-feed", query_string={"station": "Dock tablet", "after": 0})
    assert feed.status_code == 204  # the sign-in page of a station with a scanner reads badges from it
