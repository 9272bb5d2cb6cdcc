"""Cross-site request forgery, header by header, through the test client on both backends: a signed-in
supervisor's hold of a lot (POST /lots/actions/hold) is refused with 403 and a sentence, changing
nothing, whenever the headers say another site's page sent it; it passes from this site and without
any browser header (curl, scripts). The API is left to its bearer token."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from factories import basic_site, received_lot
from station.models import Base, LotEvent, LotStatus, Role, Stock
from station.security import REFUSED
from station.services import catalog
from station.services.tokens import create_token

OWN = "http://localhost"  # the test client's scheme://host


@pytest.fixture
def lot(app, client, signed_in, bound_station) -> str:
    db = app.extensions["station.db"]
    basic_site(db)
    with db.write() as s:
        number = received_lot(s, "BOLT", 12).lot_number
    signed_in(client, "supervisor")
    bound_station(client)
    return number


def snapshot(db) -> dict:
    with db.read() as s:
        counts = {t.name: s.scalar(select(func.count()).select_from(t)) for t in Base.metadata.sorted_tables}
        counts["stock"] = s.scalar(select(func.coalesce(func.sum(Stock.qty), 0)))
        counts["statuses"] = sorted(str(st) for st in s.scalars(select(catalog.Lot.status)))
    return counts


def status(app, number: str) -> LotStatus:
    with app.extensions["station.db"].read() as s:
        return catalog.lot_by_number(s, number).status


def hold(client, lot: str, headers: dict):
    return client.post("/lots/actions/hold", data={"lot": lot, "reason": "QA check"}, headers=headers)


REFUSED_CASES = {
    "Sec-Fetch-Site cross-site": {"Sec-Fetch-Site": "cross-site"},
    "cross-site even with our Origin": {"Sec-Fetch-Site": "cross-site", "Origin": OWN},
    "another site's Origin": {"Origin": "https://evil.example"},
    "another site's Origin, same-site fetch": {"Sec-Fetch-Site": "same-site", "Origin": "http://evil.localhost"},
    "our host on another port": {"Origin": "http://localhost:8081"},
    "our host over https": {"Origin": "https://localhost"},
    "Origin null (sandboxed frame, data: page)": {"Origin": "null", "Sec-Fetch-Site": "cross-site"},
    "Origin null alone": {"Origin": "null"},
    "garbage Origin": {"Origin": "not an origin"},
    "no Origin, another site's Referer": {"Referer": "https://evil.example/attack.html"},
    "no Origin, Referer of our host on another port": {"Referer": "http://localhost:9999/lots"},
    "same-site without Origin or Referer": {"Sec-Fetch-Site": "same-site"},
    "Origin wins over a matching Referer": {"Origin": "https://evil.example", "Referer": f"{OWN}/lots"},
}

ALLOWED_CASES = {
    "no browser headers (curl, scripts)": {},
    "same-origin fetch with our Origin": {"Sec-Fetch-Site": "same-origin", "Origin": OWN},
    "our Origin alone (older browser)": {"Origin": OWN},
    "our Origin with the default port": {"Origin": "http://localhost:80"},
    "Sec-Fetch-Site none (typed, bookmark)": {"Sec-Fetch-Site": "none"},
    "no Origin, our Referer": {"Referer": f"{OWN}/lots/x"},
    "same-site with our Origin": {"Sec-Fetch-Site": "same-site", "Origin": OWN},
}


@pytest.mark.parametrize("headers", REFUSED_CASES.values(), ids=REFUSED_CASES.keys())
def test_a_forged_hold_is_refused_and_changes_nothing(app, client, lot, headers):
    db = app.extensions["station.db"]
    before = snapshot(db)
    response = hold(client, lot, headers)
    assert response.status_code == 403, response.status_code
    assert REFUSED in response.get_data(as_text=True)
    assert "<!doctype html>" in response.get_data(as_text=True).lower()  # a page of its own, in words
    assert snapshot(db) == before
    assert status(app, lot) is LotStatus.AVAILABLE


@pytest.mark.parametrize("headers", ALLOWED_CASES.values(), ids=ALLOWED_CASES.keys())
def test_a_hold_from_this_site_passes(app, client, lot, headers):
    response = hold(client, lot, headers)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert status(app, lot) is LotStatus.HOLD


def test_an_htmx_request_from_another_site_gets_the_red_banner(app, client, lot):
    before = snapshot(app.extensions["station.db"])
    response = hold(client, lot, {"HX-Request": "true", "Origin": "https://evil.example"})
    body = response.get_data(as_text=True)
    assert response.status_code == 403
    assert 'class="scan-result scan-result--bad floor-banner"' in body and REFUSED in body
    assert "<!doctype" not in body.lower()
    assert snapshot(app.extensions["station.db"]) == before


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_every_state_changing_method_is_checked_even_on_unknown_paths(client, method):
    response = client.open("/lots/actions/hold", method=method, headers={"Sec-Fetch-Site": "cross-site"})
    assert response.status_code == 403
    assert client.open("/no-such-form", method=method, headers={"Origin": "https://evil.example"}).status_code == 403


def test_reading_from_another_site_is_not_refused(client, lot):
    # A link from another site to a lot is fine: GET changes nothing.
    response = client.get(f"/lots/{lot}", headers={"Sec-Fetch-Site": "cross-site", "Referer": "https://mail.example/"})
    assert response.status_code == 200


def test_signing_out_from_another_site_is_refused_too(app, client, lot):
    response = client.post("/signout", headers={"Origin": "https://evil.example"})
    assert response.status_code == 403
    assert client.get("/").status_code == 200 and "Sign out" in client.get("/").get_data(as_text=True)


def test_a_trusted_origin_of_a_reverse_proxy_passes(app, client, lot):
    app.config["TRUSTED_ORIGINS"] = "https://station.example.com, https://10.1.2.3:8443"
    assert hold(client, lot, {"Origin": "https://station.example.com:443", "Sec-Fetch-Site": "same-origin"}
                ).status_code == 200
    assert status(app, lot) is LotStatus.HOLD
    refused = client.post("/lots/actions/release", data={"lot": lot, "reason": "QA passed"},
                          headers={"Origin": "https://other.example.com"})
    assert refused.status_code == 403 and status(app, lot) is LotStatus.HOLD
    released = client.post("/lots/actions/release", data={"lot": lot, "reason": "QA passed"},
                           headers={"Referer": "https://10.1.2.3:8443/lots/x"})
    assert released.status_code == 200 and status(app, lot) is LotStatus.AVAILABLE


def test_the_api_is_left_to_its_bearer_token(app, client):
    db = app.extensions["station.db"]
    basic_site(db)
    with db.write() as s:
        secret = create_token(s, "erp", Role.SUPERVISOR)
        number = received_lot(s, "BOLT", 3).lot_number
    cross = {"Origin": "https://erp.example", "Sec-Fetch-Site": "cross-site"}
    without = client.post(f"/api/v1/lots/{number}/hold", json={"reason": "QA"}, headers=cross)
    assert without.status_code == 401  # the token decides, not the CSRF check
    response = client.post(f"/api/v1/lots/{number}/hold", json={"reason": "QA"},
                           headers=dict(cross, Authorization=f"Bearer {secret}"))
    assert response.status_code == 200, response.get_json()
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(LotEvent)) == 1
