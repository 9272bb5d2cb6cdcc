"""GET/POST/PATCH /api/v1/operators on SQLite and PostgreSQL: add, rename, change role, set or clear the
PIN, disable (their floor sessions end) and enable, list in keyset pages; admin tokens only; never a
PIN or its hash in an answer; refusals in words that change nothing."""
from __future__ import annotations

import logging

import pytest
from sqlalchemy import func, select

from station.auth.sessions import start_session
from station.models import FloorSession, Operator, Role
from station.services.pins import check_pin, hash_pin
from station.services.tokens import create_token


@pytest.fixture
def db(app):
    return app.extensions["station.db"]


@pytest.fixture
def tokens(db):
    with db.write() as s:
        s.add(Operator(badge="A-1", name="Ann Admin", role=Role.ADMIN, active=True))
        return {role: create_token(s, role.value, role) for role in (Role.ADMIN, Role.SUPERVISOR, Role.PICKER)}


@pytest.fixture
def api(client, tokens):
    def call(method: str, path: str, body=None, role: Role = Role.ADMIN):
        return client.open("/api/v1" + path, method=method, json=body,
                           headers={"Authorization": f"Bearer {tokens[role]}"})
    return call


def operators(db) -> list[tuple]:
    with db.read() as s:
        return s.execute(select(Operator.badge, Operator.name, Operator.role, Operator.active, Operator.pin_hash)
                         .order_by(Operator.badge)).all()


def one(db, badge: str) -> Operator:
    with db.read() as s:
        op = s.scalar(select(Operator).where(Operator.badge == badge))
        s.expunge(op)
        return op


def refused(response, status: int, code: str) -> str:
    assert response.status_code == status, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == code, error
    return error["message"]


def test_add_an_operator(api, db):
    made = api("POST", "/operators", {"badge": "1042", "name": "Ada Lovelace", "role": "receiver"})
    assert made.status_code == 201, made.get_json()
    assert made.headers["Location"] == "/api/v1/operators/1042"
    assert made.get_json() == {"badge": "1042", "name": "Ada Lovelace", "role": "receiver", "active": True,
                               "has_pin": False, "pin_locked": False}
    with_pin = api("POST", "/operators", {"badge": "S/7", "name": "Sam Super", "role": "supervisor", "pin": "2580"})
    assert with_pin.status_code == 201 and with_pin.get_json()["has_pin"] is True
    assert with_pin.headers["Location"] == "/api/v1/operators/S%2F7"
    assert "2580" not in with_pin.text and "scrypt" not in with_pin.text and "pin_hash" not in with_pin.text
    assert check_pin(one(db, "S/7").pin_hash, "2580")
    assert api("GET", "/operators/S/7").get_json()["name"] == "Sam Super"


def test_change_only_the_fields_given(api, db, caplog):
    caplog.set_level(logging.INFO, logger="station.operators")
    api("POST", "/operators", {"badge": "P-1", "name": "Pia Picker", "role": "picker"})
    changed = api("PATCH", "/operators/P-1", {"name": "Pia Pick", "role": "supervisor", "pin": "1357"})
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json() == {"badge": "P-1", "name": "Pia Pick", "role": "supervisor", "active": True,
                                  "has_pin": True, "pin_locked": False}
    assert check_pin(one(db, "P-1").pin_hash, "1357")
    cleared = api("PATCH", "/operators/P-1", {"pin": None})
    assert cleared.status_code == 200 and cleared.get_json()["has_pin"] is False and one(db, "P-1").pin_hash is None
    assert api("PATCH", "/operators/P-1", {}).get_json()["name"] == "Pia Pick"  # nothing given: nothing changes
    traces = [r.getMessage() for r in caplog.records if r.name == "station.operators"]
    assert any("operator P-1 (Pia Pick): role changed from picker to supervisor, by API token" in t for t in traces)
    assert any("PIN cleared" in t for t in traces)


def test_disable_ends_their_sessions_and_enable_lets_them_back(api, db):
    api("POST", "/operators", {"badge": "P-1", "name": "Pia Picker", "role": "picker"})
    pia = one(db, "P-1")
    start_session(db, pia.id)
    start_session(db, pia.id)
    off = api("PATCH", "/operators/P-1", {"active": False})
    assert off.status_code == 200 and off.get_json()["active"] is False
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(FloorSession)
                        .where(FloorSession.operator_id == pia.id, FloorSession.ended_at.is_(None))) == 0
        assert set(s.scalars(select(FloorSession.end_reason))) == {"disabled"}
    # Never deleted: still there, still by name.
    assert api("GET", "/operators/P-1").get_json()["name"] == "Pia Picker"
    on = api("PATCH", "/operators/P-1", {"active": True})
    assert on.status_code == 200 and on.get_json()["active"] is True


def test_list_in_keyset_pages_and_by_activity(api):
    for badge in ("B1", "B2", "B3", "B4"):
        assert api("POST", "/operators", {"badge": badge, "name": f"Op {badge}", "role": "picker"}).status_code == 201
    api("PATCH", "/operators/B2", {"active": False})
    seen, after = [], None
    while True:
        page = api("GET", "/operators?limit=2" + (f"&after={after}" if after else "")).get_json()
        seen += [o["badge"] for o in page["data"]]
        assert all(set(o) == {"badge", "name", "role", "active", "has_pin", "pin_locked"} for o in page["data"])
        after = page["next_after"]
        if after is None:
            break
    assert seen == ["A-1", "B1", "B2", "B3", "B4"]
    assert [o["badge"] for o in api("GET", "/operators?active=false").get_json()["data"]] == ["B2"]
    refused(api("GET", "/operators?limit=0"), 422, "invalid")


@pytest.mark.parametrize("body, status, code, words", [
    ({"badge": "A-1", "name": "X", "role": "picker"}, 409, "badge_taken", "Badge 'A-1' already belongs to Ann Admin"),
    ({"badge": "a-1", "name": "X", "role": "picker"}, 409, "badge_taken", "already belongs to Ann Admin"),
    ({"badge": "OPR:5", "name": "X", "role": "picker"}, 422, "invalid_badge", "cannot start with 'OPR:'"),
    ({"badge": "   ", "name": "X", "role": "picker"}, 422, "invalid_badge", "Type or scan the badge number"),
    ({"badge": "B" * 41, "name": "X", "role": "picker"}, 422, "invalid", "badge"),
    ({"badge": "B\t1", "name": "X", "role": "picker"}, 422, "invalid", "control characters"),
    ({"badge": "B-9", "name": "  ", "role": "picker"}, 422, "invalid_name", "Type the operator's name"),
    ({"badge": "B-9", "name": "X", "role": "boss"}, 422, "invalid", "role"),
    ({"badge": "B-9", "name": "X", "role": "picker", "pin": "12"}, 422, "invalid", "must be 4 to 12 digits"),
    ({"badge": "B-9", "name": "X", "role": "picker", "pin": 1234}, 422, "invalid", "pin"),
    ({"badge": "B-9", "name": "X", "role": "picker", "pin_hash": "x"}, 422, "invalid", "pin_hash"),
    ({"badge": "B-9", "name": "X"}, 422, "invalid", "role"),
])
def test_add_refusals_change_nothing(api, db, body, status, code, words):
    before = operators(db)
    message = refused(api("POST", "/operators", body), status, code)
    assert words in message
    assert operators(db) == before


@pytest.mark.parametrize("path, body, status, code, words", [
    ("/operators/NOPE", {"name": "X"}, 404, "unknown_operator", "No operator has badge 'NOPE'"),
    ("/operators/P-1", {"name": None}, 422, "invalid_name", "name cannot be null"),
    ("/operators/P-1", {"role": None}, 422, "invalid_role", "role cannot be null"),
    ("/operators/P-1", {"active": None}, 422, "invalid_active", "active cannot be null"),
    ("/operators/P-1", {"pin": "abcd"}, 422, "invalid", "must be 4 to 12 digits"),
    ("/operators/P-1", {"badge": "P-2"}, 422, "invalid", "badge"),  # a badge is never changed
    # Several fields, the last refused: the earlier ones are not kept either.
    ("/operators/A-1", {"name": "Renamed", "pin": "2468", "role": "picker"}, 409, "last_admin",
     "is the last active admin; make someone else admin first"),
    ("/operators/A-1", {"name": "Renamed", "active": False}, 409, "last_admin", "last active admin"),
])
def test_change_refusals_change_nothing(api, db, caplog, path, body, status, code, words):
    api("POST", "/operators", {"badge": "P-1", "name": "Pia Picker", "role": "picker", "pin": "1111"})
    before = operators(db)
    caplog.set_level(logging.INFO, logger="station.operators")
    caplog.clear()
    message = refused(api("PATCH", path, body), status, code)
    assert words in message
    assert operators(db) == before
    assert not [r for r in caplog.records if r.name == "station.operators"]  # no trace of what did not happen


@pytest.mark.parametrize("role", [Role.SUPERVISOR, Role.PICKER])
def test_admin_tokens_only(api, db, role):
    with db.write() as s:
        s.add(Operator(badge="P-1", name="Pia Picker", role=Role.PICKER, active=True, pin_hash=hash_pin("1111")))
    before = operators(db)
    for method, path, body in (("GET", "/operators", None), ("GET", "/operators/P-1", None),
                               ("POST", "/operators", {"badge": "X", "name": "X", "role": "admin"}),
                               ("PATCH", "/operators/P-1", {"role": "admin"})):
        message = refused(api(method, path, body, role=role), 403, "forbidden")
        assert "admin" in message
    assert operators(db) == before
