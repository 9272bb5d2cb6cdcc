"""The station cookie is signed, cookies get Secure over HTTPS, and next= cannot break a header (issue 13,
points 5 and 6), on SQLite and PostgreSQL.

A device is a station only when set-up (or the scan page) wrote its station cookie: the name signed
with the app's key. A cookie typed in by hand, or signed with another key, is no station: the floor
sees none, and the station's scanner feed (open to the signed-out sign-in page, for badges) answers
only a device bound to that very station. STATION_COOKIE_SECURE=auto (the default) marks the session
and station cookies Secure when the request came over HTTPS — behind a proxy, as told by
X-Forwarded-Proto when STATION_PROXY_FIX trusts it. A next= with CR/LF or other control characters is
dropped (home), never a 500."""
from __future__ import annotations

import pytest
from itsdangerous import URLSafeSerializer

from station import create_app
from station.config import ConfigError
from station.models import Operator, Role, StationDevice
from station.services import scans
from station import auth as floor


@pytest.fixture
def site(app) -> dict:
    db = app.extensions["station.db"]
    with db.write() as s:
        dock = StationDevice(name="Dock 1", scanner_url="sim://dock-1")
        s.add_all([dock, StationDevice(name="Line 1 PC"), Operator(badge="B-PICK", name="Pete Picker", role=Role.PICKER)])
        s.flush()
        dock_id = dock.id

    return {"db": db, "dock": dock_id}


def where(client) -> str | None:
    """The station floor.current_station() sees for this client's station cookie."""
    cookie = client.get_cookie(floor.STATION_COOKIE)
    headers = {"Cookie": f"{floor.STATION_COOKIE}={cookie.value}"} if cookie else {}
    with client.application.test_request_context("/", headers=headers):
        station = floor.current_station()
        return station.name if station else None


def feed(client, station: str = "Dock 1"):
    return client.get("/scan/station-feed", query_string={"station": station, "after": 0})


def test_a_hand_written_station_cookie_is_no_station(client, site):
    client.set_cookie(floor.STATION_COOKIE, "Dock 1")  # what any device could write before
    assert where(client) is None
    client.set_cookie(floor.STATION_COOKIE, '"Dock 1"')
    assert where(client) is None
    assert feed(client).status_code == 403


def test_a_station_cookie_signed_with_another_key_is_no_station(client, site):
    for key in ("dev-only-change-me", "x" * 48):
        forged = URLSafeSerializer(key, salt="station.station-cookie").dumps("Dock 1")
        client.set_cookie(floor.STATION_COOKIE, forged)
        assert where(client) is None
        assert feed(client).status_code == 403


def test_the_cookie_set_up_writes_makes_the_device_that_station(app, client, site, signed_in):
    signed_in(client, "supervisor")
    answer = client.post("/setup/bind", data={"station_id": str(site["dock"])})
    assert answer.status_code == 303
    value = client.get_cookie(floor.STATION_COOKIE).value
    assert value != "Dock 1" and "Dock 1" not in value  # signed (base64 and a signature), not the bare name
    assert where(client) == "Dock 1"
    client.post("/signout")
    scans.ingest(site["db"], "OPR:B-PICK", source="sim://dock-1", station_id=site["dock"])
    answer = feed(client)  # signed out, the bound device's sign-in page reads badges from its scanner
    assert answer.status_code == 200 and [s["code"] for s in answer.json["scans"]] == ["OPR:B-PICK"]
    assert feed(client, "Line 1 PC").status_code == 403  # another station's feed: not for this device


def test_a_feed_for_a_device_that_is_not_bound_is_refused_in_words(client, site):
    scans.ingest(site["db"], "OPR:B-PICK", source="sim://dock-1", station_id=site["dock"])
    answer = feed(client)
    assert answer.status_code == 403
    assert "This device is not set up as that station" in answer.get_data(as_text=True)


# --- Secure ---------------------------------------------------------------------------------------------


def _cookies(response) -> dict[str, str]:
    return {h.split("=", 1)[0]: h for h in response.headers.getlist("Set-Cookie")}


def _sign_in_and_bind(app, base_url: str, headers: dict | None = None) -> dict[str, str]:
    client = app.test_client()
    with app.extensions["station.db"].write() as s:
        s.add(Operator(badge="B-ADM-S", name="Ada Admin", role=Role.ADMIN))
    app.config["FLOOR_PIN_ROLES"] = ()
    origin = {"Origin": base_url}
    signin = client.post("/signin", data={"badge": "B-ADM-S"}, base_url=base_url, headers={**origin, **(headers or {})})
    assert signin.status_code == 303, signin.text
    with app.extensions["station.db"].read() as s:
        station_id = s.query(StationDevice.id).filter_by(name="Dock 1").scalar()
    bind = client.post("/setup/bind", data={"station_id": str(station_id)}, base_url=base_url,
                       headers={**origin, **(headers or {})})
    assert bind.status_code == 303, bind.text
    return {**_cookies(signin), **_cookies(bind)}


def test_over_plain_http_the_cookies_are_not_secure(app, site):
    cookies = _sign_in_and_bind(app, "http://localhost")
    assert "Secure" not in cookies["session"] and "Secure" not in cookies["station"]


def test_over_https_both_cookies_are_secure(app, site):
    cookies = _sign_in_and_bind(app, "https://localhost")
    assert "; Secure" in cookies["session"] and "; Secure" in cookies["station"]


def test_behind_a_proxy_x_forwarded_proto_counts_only_when_trusted(db_url, tmp_path, monkeypatch):
    monkeypatch.setenv("STATION_INSTANCE", str(tmp_path / "instance"))
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "station.example.com"}
    for hops, secure in (("0", False), ("1", True)):
        monkeypatch.setenv("STATION_PROXY_FIX", hops)
        app = create_app({"TESTING": True, "DATABASE_URL": db_url})
        try:
            # The browser sees https://station.example.com; the proxy talks plain HTTP to Station.
            base = "https://station.example.com" if secure else "http://localhost"
            client = app.test_client()
            app.config["FLOOR_PIN_ROLES"] = ()
            with app.extensions["station.db"].write() as s:
                s.add(Operator(badge=f"B-PROXY-{hops}", name="Ada Admin", role=Role.ADMIN))
            answer = client.post("/signin", data={"badge": f"B-PROXY-{hops}"}, base_url="http://localhost",
                                 headers={**forwarded, "Origin": base})
            assert answer.status_code == 303, answer.text
            assert ("; Secure" in _cookies(answer)["session"]) is secure, (hops, _cookies(answer))
        finally:
            app.extensions["station.db"].dispose()


def test_cookie_secure_always_and_never(app, site, monkeypatch):
    app.config["COOKIE_SECURE"] = "always"
    cookies = _sign_in_and_bind(app, "http://localhost")
    assert "; Secure" in cookies["session"] and "; Secure" in cookies["station"]
    monkeypatch.setenv("STATION_COOKIE_SECURE", "sometimes")
    with pytest.raises(ConfigError, match="STATION_COOKIE_SECURE must be auto, true or false"):
        from station.config import cookie_secure_setting

        cookie_secure_setting()
    monkeypatch.setenv("STATION_PROXY_FIX", "many")
    with pytest.raises(ConfigError, match="STATION_PROXY_FIX must be the number"):
        from station.config import proxy_fix_setting

        proxy_fix_setting()


# --- next= -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["/lots\r\nSet-Cookie: x=1", "/lots\nX: y", "/lots\x00", "/lots\x7f",
                                    "/lots\x85", "/lots\rLocation: https://evil.example/"])
def test_next_with_control_characters_is_dropped_not_a_500(app, client, site, target):
    app.config["FLOOR_PIN_ROLES"] = ()
    answer = client.post("/signin", data={"badge": "B-PICK", "next": target})
    assert answer.status_code == 303 and answer.headers["Location"] == "/"
    page = client.get("/signin", query_string={"next": target})
    assert page.status_code == 200 and 'name="next" value="/"' in page.text
    with app.extensions["station.db"].write() as s:
        s.add(Operator(badge=f"B-SUP-{abs(hash(target))}", name="Sam", role=Role.SUPERVISOR))
    client.post("/signout")
    answer = client.post("/signin", data={"badge": f"B-SUP-{abs(hash(target))}", "next": target})
    assert answer.status_code == 303 and "\n" not in answer.headers["Location"] and "\r" not in answer.headers["Location"]
