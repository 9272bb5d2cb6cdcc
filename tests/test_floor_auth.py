"""The floor framework through the Flask test client, on SQLite and PostgreSQL: sign in by badge (typed,
scanned), PINs and their throttle, role x workflow access, idle timeout, sign out, station binding."""
from __future__ import annotations

import datetime as dt
import hashlib
import html
import re

import pytest
from flask import Blueprint, jsonify
from sqlalchemy import select, update

from station.models import FloorSession, Operator, Printer, Role, StationDevice
from station.services.pins import hash_pin
from station import auth as floor
from actions import text_of

HX = {"HX-Request": "true"}


@pytest.fixture
def app(app):
    """The app with one guarded test page per workflow, and a page that shows the actor."""
    bp = Blueprint("floor_test", __name__)
    for workflow in floor.WORKFLOWS:
        bp.add_url_rule(f"/_test/{workflow}", f"wf_{workflow}",
                        floor.requires(workflow)(lambda workflow=workflow: f"in {workflow}"),
                        methods=["GET", "POST"])

    @bp.get("/_test/actor")
    def who():
        a = floor.actor("OPR:X")
        return jsonify(operator_id=a.operator_id, station_id=a.station_id, raw_scan=a.raw_scan,
                       can_pick=floor.can("picking"))

    app.register_blueprint(bp)
    return app


@pytest.fixture
def people(app) -> dict[str, int]:
    """One operator per role; the supervisor and the admin have PIN 2580; one badge is inactive."""
    pin = hash_pin("2580")
    rows = [Operator(badge="B-REC", name="Rita Receiver", role=Role.RECEIVER),
            Operator(badge="B-PICK", name="Pete Picker", role=Role.PICKER),
            Operator(badge="B-LINE", name="Lena Line", role=Role.LINE_OPERATOR),
            Operator(badge="B-SUP", name="Sam Super", role=Role.SUPERVISOR, pin_hash=pin),
            Operator(badge="B-ADM", name="Ada Admin", role=Role.ADMIN, pin_hash=pin),
            Operator(badge="B-NOPIN", name="Nina Nopin", role=Role.SUPERVISOR),
            Operator(badge="B-GONE", name="Gus Gone", role=Role.PICKER, active=False)]
    with app.extensions["station.db"].write() as s:
        s.add_all(rows)
        s.flush()
        return {op.badge: op.id for op in rows}


def signed_in_as(client) -> int | None:
    """The operator whose open floor session this client's cookie names (None: no cookie, or ended)."""
    with client.session_transaction() as session:
        state = session.get(floor.SESSION_KEY)
    if not state:
        return None
    with client.application.extensions["station.db"].read() as s:
        return s.scalar(select(FloorSession.operator_id).where(
            FloorSession.secret_hash == hashlib.sha256(state["s"].encode()).hexdigest(),
            FloorSession.ended_at.is_(None)))


# --- signing in ------------------------------------------------------------------------------------


def test_typed_badge_signs_a_picker_in_with_a_safe_session_cookie(client, people):
    response = client.post("/signin", data={"badge": "B-PICK", "next": "/_test/picking"})
    assert response.status_code == 303 and response.headers["Location"] == "/_test/picking"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert signed_in_as(client) == people["B-PICK"]
    page = text_of(client.get("/").text)
    assert "Signed in: Pete Picker, picker." in page
    assert "Pete Picker" in page and "Sign out" in page


def test_scanned_badge_with_aim_prefix_signs_in_and_goes_back_to_the_page(client, people):
    response = client.post("/floor/badge", data={"code": "]C0OPR:B-REC"},
                           headers={**HX, "HX-Current-URL": "http://localhost/signin?next=/_test/receiving"})
    assert response.headers["HX-Redirect"] == "/_test/receiving"
    assert signed_in_as(client) == people["B-REC"]
    assert client.get("/_test/receiving").text == "in receiving"


def test_a_bare_badge_number_scanned_on_the_sign_in_page_signs_in(client, people):
    response = client.post("/floor/scan", data={"code": "B-LINE\r"},
                           headers={**HX, "HX-Current-URL": "http://localhost/signin"})
    assert response.headers["HX-Redirect"] == "/"
    assert signed_in_as(client) == people["B-LINE"]


def test_unknown_inactive_and_non_badge_scans_are_refused_in_words(client, people):
    r = client.post("/signin", data={"badge": "B-NOBODY"})  # the PIN step, as for a supervisor's badge
    assert r.status_code == 303 and r.headers["Location"] == "/signin/pin"
    r = client.post("/signin/pin", data={"pin": "1234"})
    assert r.status_code == 401 and "Wrong PIN — 2 tries left." in text_of(r.text)
    r = client.post("/signin", data={"badge": "OPR:B-GONE"})
    assert r.status_code == 403 and "Gus Gone's badge is no longer active" in text_of(r.text)
    r = client.post("/floor/scan", data={"code": "LOT:240611-003"},
                    headers={**HX, "HX-Current-URL": "http://localhost/signin"})
    assert r.status_code == 400 and "That is not a badge" in r.text and "HX-Redirect" not in r.headers
    r = client.post("/floor/scan", data={"code": "LOT:240611-003"}, headers={**HX, "HX-Current-URL": "http://localhost/"})
    assert "This screen takes badges only" in r.text
    assert signed_in_as(client) is None


def test_next_never_leaves_the_site(client, people):
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        r = client.post("/signin", data={"badge": "B-PICK", "next": target})
        assert r.headers["Location"] == "/", target


# --- PINs ------------------------------------------------------------------------------------------


def test_a_supervisor_needs_the_pin_after_the_badge(client, people):
    r = client.post("/signin", data={"badge": "B-SUP", "next": "/setup"})
    assert r.status_code == 303 and r.headers["Location"] == "/signin/pin?next=/setup"
    assert signed_in_as(client) is None
    assert client.get("/_test/supervisor").status_code == 302  # the badge alone is not enough
    page = client.get("/signin/pin?next=/setup")
    assert page.status_code == 200 and "Badge B-SUP: your PIN" in text_of(page.text)
    r = client.post("/signin/pin", data={"pin": "2580", "next": "/setup"})
    assert r.status_code == 303 and r.headers["Location"] == "/setup"
    assert signed_in_as(client) == people["B-SUP"]


def test_a_supervisor_scanned_on_a_page_goes_to_the_pin_step(client, people):
    r = client.post("/floor/badge", data={"code": "OPR:B-ADM"},
                    headers={**HX, "HX-Current-URL": "http://localhost/_test/setup"})
    assert r.headers["HX-Redirect"] == "/signin/pin?next=/_test/setup"


def _pin_of(app, op_id: int) -> str | None:
    with app.extensions["station.db"].read() as s:
        return s.get(Operator, op_id).pin_hash


def test_a_supervisor_without_a_pin_chooses_one_at_first_sign_in(app, client, people):
    client.post("/signin", data={"badge": "B-NOPIN", "next": "/setup"})
    page = client.get("/signin/pin?next=/setup")
    assert "Badge B-NOPIN: choose your PIN" in text_of(page.text) and 'name="pin_again"' in page.text
    r = client.post("/signin/pin", data={"pin": "4711", "pin_again": "4711", "next": "/setup"})
    assert r.status_code == 303 and r.headers["Location"] == "/setup"
    assert signed_in_as(client) == people["B-NOPIN"]
    assert floor.check_pin(_pin_of(app, people["B-NOPIN"]), "4711")
    # From now on it is the PIN she signs in with; nobody chooses it again.
    other = app.test_client()
    other.post("/signin", data={"badge": "B-NOPIN"})
    page = other.get("/signin/pin")
    assert "Badge B-NOPIN: your PIN" in text_of(page.text) and "pin_again" not in page.text
    r = other.post("/signin/pin", data={"pin": "1234", "pin_again": "1234"})
    assert r.status_code == 401 and "Wrong PIN" in text_of(r.text)
    assert floor.check_pin(_pin_of(app, people["B-NOPIN"]), "4711")
    assert other.post("/signin/pin", data={"pin": "4711"}).status_code == 303


@pytest.mark.parametrize("pin, again, words", [
    ("4711", "4712", "The two PINs differ — type the same PIN twice. 2 tries left."),
    ("12", "12", "A PIN is 4 to 12 digits, nothing else. 2 tries left."),
    ("47a1", "47a1", "A PIN is 4 to 12 digits"),
    ("", "", "Choose a PIN of 4 to 12 digits. 2 tries left."),
])
def test_a_first_pin_mistyped_is_refused_and_stores_nothing(app, client, people, pin, again, words):
    client.post("/signin", data={"badge": "B-NOPIN"})
    r = client.post("/signin/pin", data={"pin": pin, "pin_again": again})
    assert r.status_code == 401 and words in text_of(r.text)
    assert _pin_of(app, people["B-NOPIN"]) is None and signed_in_as(client) is None
    assert "choose your PIN" in text_of(r.text)


def test_choosing_a_first_pin_is_throttled_like_a_pin(app, client, people, monkeypatch):
    now = [1_000_000.0]
    monkeypatch.setattr(floor.sessions, "now_seconds", lambda: now[0])
    client.post("/signin", data={"badge": "B-NOPIN"})
    for _ in range(2):
        client.post("/signin/pin", data={"pin": "1111", "pin_again": "2222"})
    r = client.post("/signin/pin", data={"pin": "1111", "pin_again": "2222"})
    assert r.status_code == 429 and "Badge B-NOPIN is locked for 1 minute" in text_of(r.text)
    r = client.post("/signin/pin", data={"pin": "4711", "pin_again": "4711"})  # even a good pair waits
    assert r.status_code == 429 and "Too many wrong PINs for badge B-NOPIN — wait 1 minute" in text_of(r.text)
    assert _pin_of(app, people["B-NOPIN"]) is None and signed_in_as(client) is None
    now[0] += 61
    client.post("/signin", data={"badge": "B-NOPIN"})
    assert client.post("/signin/pin", data={"pin": "4711", "pin_again": "4711"}).status_code == 303
    with app.extensions["station.db"].read() as s:
        assert s.get(Operator, people["B-NOPIN"]).pin_failures == 0  # the right one starts the count over


def test_a_pin_set_meanwhile_is_not_overwritten(app, client, people):
    client.post("/signin", data={"badge": "B-NOPIN"})
    assert "choose your PIN" in text_of(client.get("/signin/pin").text)
    with app.extensions["station.db"].write() as s:  # an admin sets it from a shell meanwhile
        s.get(Operator, people["B-NOPIN"]).pin_hash = hash_pin("9999")
    r = client.post("/signin/pin", data={"pin": "4711", "pin_again": "4711"})
    assert r.status_code == 401 and signed_in_as(client) is None
    assert floor.check_pin(_pin_of(app, people["B-NOPIN"]), "9999")
    # And at the last instant too: the one UPDATE only sets a PIN where there is none.
    from station.services.operators import set_first_pin
    with app.extensions["station.db"].write() as s:
        assert set_first_pin(s, people["B-NOPIN"], "4711") is False
        assert set_first_pin(s, people["B-GONE"], "4711") is False  # disabled: no PIN chosen either
    assert floor.check_pin(_pin_of(app, people["B-NOPIN"]), "9999") and _pin_of(app, people["B-GONE"]) is None


def test_a_badge_nobody_has_is_never_offered_a_first_pin(client, people):
    client.post("/signin", data={"badge": "B-NOBODY"})
    page = client.get("/signin/pin")
    assert "Badge B-NOBODY: your PIN" in text_of(page.text) and "pin_again" not in page.text
    r = client.post("/signin/pin", data={"pin": "4711", "pin_again": "4711"})
    assert r.status_code == 401 and signed_in_as(client) is None


def test_a_disabled_operator_cannot_sign_in_nor_stay_signed_in(app, client, people):
    from station.services import operators

    client.post("/signin", data={"badge": "B-PICK"})
    assert signed_in_as(client) == people["B-PICK"]
    other = app.test_client()
    other.post("/signin", data={"badge": "B-NOPIN"})  # waiting at the PIN step when disabled
    with app.extensions["station.db"].write() as s:
        operators.disable(s, s.get(Operator, people["B-PICK"]))
        operators.disable(s, s.get(Operator, people["B-NOPIN"]))
    assert signed_in_as(client) is None  # the session ended with the disabling, not at its next use
    r = client.post("/signin", data={"badge": "B-PICK"})
    assert r.status_code == 403 and "Pete Picker's badge is no longer active" in text_of(r.text)
    r = client.post("/floor/badge", data={"code": "OPR:B-PICK"}, headers=HX)
    assert r.status_code == 403 and signed_in_as(client) is None
    r = other.post("/signin/pin", data={"pin": "4711", "pin_again": "4711"})
    assert r.status_code == 401 and signed_in_as(other) is None and _pin_of(app, people["B-NOPIN"]) is None


def test_wrong_pins_lock_the_badge_for_a_while(client, people, monkeypatch):
    now = [1_000_000.0]
    monkeypatch.setattr(floor.sessions, "now_seconds", lambda: now[0])
    client.post("/signin", data={"badge": "B-SUP"})
    r = client.post("/signin/pin", data={"pin": "1111"})
    assert r.status_code == 401 and "Wrong PIN — 2 tries left." in text_of(r.text)
    r = client.post("/signin/pin", data={"pin": "2222"})
    assert "Wrong PIN — 1 try left." in text_of(r.text)
    r = client.post("/signin/pin", data={"pin": "3333"})
    assert r.status_code == 429 and "badge B-SUP is locked for 1 minute" in text_of(r.text)
    now[0] += 30
    r = client.post("/signin/pin", data={"pin": "2580"})  # even the right PIN waits
    assert r.status_code == 429 and "Too many wrong PINs for badge B-SUP — wait 30 seconds" in text_of(r.text)
    assert signed_in_as(client) is None
    now[0] += 31
    client.post("/signin", data={"badge": "B-SUP"})  # scan the badge again
    r = client.post("/signin/pin", data={"pin": "2580"})
    assert r.status_code == 303 and signed_in_as(client) == people["B-SUP"]


def test_the_lock_is_per_badge(client, people):
    client.post("/signin", data={"badge": "B-SUP"})
    for _ in range(3):
        client.post("/signin/pin", data={"pin": "9999"})
    client.post("/signin", data={"badge": "B-ADM"})
    r = client.post("/signin/pin", data={"pin": "2580"})
    assert r.status_code == 303 and signed_in_as(client) == people["B-ADM"]


def test_pin_roles_come_from_config(app, client, people):
    app.config["FLOOR_PIN_ROLES"] = ("picker",)
    r = client.post("/signin", data={"badge": "B-PICK"})
    assert r.headers["Location"] == "/signin/pin"
    r = client.post("/signin", data={"badge": "B-SUP"})  # has a PIN set: still asked for it
    assert r.headers["Location"] == "/signin/pin"


def test_set_pin_command(app, people):
    runner = app.test_cli_runner()
    with app.app_context():
        result = runner.invoke(args=["operator", "set-pin", "B-NOPIN"], input="4711\n4711\n")
        assert result.exit_code == 0, result.output
        assert "PIN set for Nina Nopin (B-NOPIN)." in result.output
        assert runner.invoke(args=["operator", "set-pin", "B-NOPIN", "--pin", "12"]).exit_code != 0
        assert "No operator has badge" in runner.invoke(args=["operator", "set-pin", "NOPE", "--pin", "1234"]).output
    with app.extensions["station.db"].read() as s:
        assert "4711" not in s.get(Operator, people["B-NOPIN"]).pin_hash
    client = app.test_client()
    client.post("/signin", data={"badge": "B-NOPIN"})
    assert client.post("/signin/pin", data={"pin": "4711"}).status_code == 303


# --- who may do what -------------------------------------------------------------------------------

ALLOWED = {
    Role.RECEIVER: {"receiving", "putaway", "lookup", "printing", "count", "returns"},
    Role.PICKER: {"putaway", "picking", "lookup", "count"},
    Role.LINE_OPERATOR: {"line", "lookup", "printing", "count"},  # printing: cancel and reprint any label job
    # printer settings, people, bulk imports and webhook subscriptions: admins only
    Role.SUPERVISOR: set(floor.WORKFLOWS) - {"printers", "operators", "imports", "webhooks"},
    Role.ADMIN: set(floor.WORKFLOWS),
}


@pytest.mark.parametrize("role", list(Role), ids=[r.value for r in Role])
def test_each_role_gets_exactly_its_workflows(client, signed_in, role):
    signed_in(client, role)
    for workflow in floor.WORKFLOWS:
        page = client.get(f"/_test/{workflow}")
        fragment = client.post(f"/_test/{workflow}", headers=HX)
        if workflow in ALLOWED[role]:
            assert page.status_code == 200 and page.text == f"in {workflow}", workflow
            assert fragment.status_code == 200
        else:
            assert page.status_code == 403, workflow
            assert f"{floor.refusal(workflow)}" in html.unescape(page.text)
            assert "<html" in page.text and "Sign out and use another badge" in page.text
            assert fragment.status_code == 403 and "<html" not in fragment.text
            assert 'class="banner banner--error' in fragment.text


def test_the_refusal_names_who_may(client, signed_in):
    signed_in(client, "picker", name="Pete Picker")
    page = text_of(client.get("/_test/receiving").text)
    assert "Receiving is for receivers and supervisors — sign in with such a badge" in page
    assert "You are signed in as Pete Picker, picker." in page


def test_signed_out_goes_to_sign_in_and_comes_back(client, people):
    r = client.get("/_test/picking?order=7")
    assert r.status_code == 302 and r.headers["Location"] == "/signin?next=/_test/picking?order%3D7"
    r = client.post("/_test/picking", headers={**HX, "HX-Current-URL": "http://localhost/_test/picking?order=7"})
    assert r.status_code == 401 and r.headers["HX-Redirect"] == "/signin?next=/_test/picking?order%3D7"
    assert "Sign in first" in r.text
    r = client.post("/signin", data={"badge": "B-PICK", "next": "/_test/picking?order=7"})
    assert r.headers["Location"] == "/_test/picking?order=7"


def test_home_shows_only_the_tiles_of_the_role(client, signed_in):
    signed_in(client, "picker")
    page = text_of(client.get("/").text)
    assert "Picking" in page and "Put-away" in page and "Lot lookup" in page
    assert "Receiving" not in page and "Supervisor" not in page and "Station set-up" not in page
    assert client.get("/_test/actor").json["can_pick"] is True


# --- timeout and signing out -----------------------------------------------------------------------


def _age_session(client, seconds: int) -> None:
    """The floor session's last activity, `seconds` earlier (on the server: the cookie holds no time)."""
    with client.session_transaction() as session:
        secret = session[floor.SESSION_KEY]["s"]
    with client.application.extensions["station.db"].write() as s:
        row = s.scalar(select(FloorSession).where(
            FloorSession.secret_hash == hashlib.sha256(secret.encode()).hexdigest()))
        last = row.last_seen_at if row.last_seen_at.tzinfo else row.last_seen_at.replace(tzinfo=dt.timezone.utc)
        s.execute(update(FloorSession).where(FloorSession.id == row.id)
                  .values(last_seen_at=last - dt.timedelta(seconds=seconds)))


def test_idle_operators_are_signed_out(app, client, signed_in):
    signed_in(client, "picker")
    _age_session(client, 31 * 60)
    r = client.get("/_test/picking")
    assert r.status_code == 302 and r.headers["Location"] == "/signin?next=/_test/picking&timeout=1"
    assert signed_in_as(client) is None
    assert "You were signed out after a while without use" in text_of(client.get(r.headers["Location"]).text)


def test_activity_keeps_the_operator_signed_in(app, client, signed_in):
    app.config["FLOOR_IDLE_MINUTES"] = 10
    signed_in(client, "picker")
    _age_session(client, 9 * 60)
    assert client.get("/_test/picking").status_code == 200  # refreshes the activity time
    _age_session(client, 9 * 60)
    assert client.get("/_test/picking").status_code == 200
    _age_session(client, 11 * 60)
    assert client.get("/_test/picking").status_code == 302


def test_the_page_of_a_signed_in_operator_knows_the_idle_time(app, client, signed_in):
    assert "data-floor-idle-s" not in client.get("/").text
    signed_in(client, "picker")
    assert 'data-floor-idle-s="1800"' in client.get("/").text


def test_scanning_the_own_badge_again_signs_out(client, people):
    client.post("/signin", data={"badge": "B-PICK"})
    r = client.post("/floor/badge", data={"code": "OPR:B-PICK"},
                    headers={**HX, "HX-Current-URL": "http://localhost/_test/picking"})
    assert r.headers["HX-Redirect"] == "/signin"
    assert signed_in_as(client) is None
    assert "Signed out: Pete Picker." in text_of(client.get("/signin").text)


def test_scanning_another_badge_hands_over(client, people):
    client.post("/signin", data={"badge": "B-PICK"})
    r = client.post("/floor/badge", data={"code": "OPR:B-REC"},
                    headers={**HX, "HX-Current-URL": "http://localhost/_test/putaway"})
    assert r.headers["HX-Redirect"] == "/_test/putaway"
    assert signed_in_as(client) == people["B-REC"]


def test_the_sign_out_button(client, people):
    client.post("/signin", data={"badge": "B-LINE"})
    r = client.post("/signout")
    assert r.status_code == 303 and r.headers["Location"] == "/signin"
    assert signed_in_as(client) is None
    assert client.get("/_test/line").status_code == 302


def test_a_deactivated_operator_is_signed_out_at_the_next_request(app, client, people):
    client.post("/signin", data={"badge": "B-PICK"})
    with app.extensions["station.db"].write() as s:
        s.get(Operator, people["B-PICK"]).active = False
    assert client.get("/_test/picking").status_code == 302


# --- the station -----------------------------------------------------------------------------------


def test_a_supervisor_creates_a_station_and_the_device_remembers_it(app, client, signed_in):
    with app.extensions["station.db"].write() as s:
        printer = Printer(name="dock-zebra", url="sim://dock-zebra")
        s.add(printer)
        s.flush()
        printer_id = printer.id
    op = signed_in(client, "supervisor")
    assert client.get("/setup").status_code == 200
    r = client.post("/setup/new", data={"name": "  Dock   tablet 2 ", "printer_id": str(printer_id)})
    assert r.status_code == 303
    cookie = r.headers["Set-Cookie"]
    with app.test_request_context():
        signed = floor.station_cookie_value("Dock tablet 2")  # the name, signed with the app's key
    assert cookie.startswith(f"station={signed};") and "HttpOnly" in cookie and "Max-Age=31536000" in cookie
    with app.extensions["station.db"].read() as s:
        station = s.query(StationDevice).filter_by(name="Dock tablet 2").one()
        assert station.printer_id == printer_id
        station_id = station.id
    home = text_of(client.get("/").text)
    assert "Station Dock tablet 2" in home and "Station Dock tablet 2 created; this device is now Dock tablet 2." in home
    assert client.get("/_test/actor").json == {"operator_id": op.id, "station_id": station_id,
                                               "raw_scan": "OPR:X", "can_pick": True}
    r = client.post("/setup/new", data={"name": "Dock tablet 2"})
    assert r.status_code == 409 and "already a station called" in text_of(r.text)


def test_binding_to_an_existing_station_and_forgetting_it(app, client, signed_in, bound_station):
    other = bound_station(client, "Line 1 PC")
    signed_in(client, "admin")
    assert "Station Line 1 PC" in text_of(client.get("/").text)
    with app.extensions["station.db"].write() as s:
        s.add(StationDevice(name="Handheld 1"))
    page = client.get("/setup").text
    assert "This device is Line 1 PC" in text_of(page) and 'data-station="Handheld 1"' in page
    hid = int(re.search(r'name="station_id" value="(\d+)">\s*<button class="tile tile--station" type="submit"\s*'
                        r'data-station="Handheld 1"', page).group(1))
    client.post("/setup/bind", data={"station_id": str(hid)})
    assert client.get("/_test/actor").json["station_id"] == hid != other
    assert client.post("/setup/bind", data={"station_id": "99999"}).status_code == 404
    client.post("/setup/forget")
    assert client.get("/_test/actor").json["station_id"] is None


def test_only_supervisors_and_admins_set_up_stations(client, signed_in):
    signed_in(client, "line_operator")
    r = client.post("/setup/new", data={"name": "Sneaky"})
    assert r.status_code == 403 and "Station set-up is for supervisors" in html.unescape(r.text)


def test_the_actor_is_nobody_nowhere_when_signed_out(app, client):
    # Signed out, no page answers (station/auth/ require_signed_in), so ask floor.actor() directly.
    assert client.get("/_test/actor").status_code == 302
    with app.test_request_context("/"):
        a = floor.actor("OPR:X")
        assert (a.operator_id, a.station_id, a.raw_scan, floor.can("picking")) == (None, None, "OPR:X", False)
