"""The Operators page (admins) through the test client, on SQLite and PostgreSQL: add an operator,
change a role, reset a PIN, disable and enable, print a badge label; every refusal shows the reason
and changes nothing; other roles are refused."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from station.auth import start_session
from station.models import FloorSession, Operator, PrintJob, Role
from station.services.pins import check_pin, hash_pin
from actions import text_of
from factories import printer


@pytest.fixture
def admin(client, signed_in):
    signed_in(client, Role.ADMIN, badge="A-1", name="Ann Admin")
    return client


@pytest.fixture
def db(app):
    return app.extensions["station.db"]


def operators(db) -> list[tuple]:
    with db.read() as s:
        return s.execute(select(Operator.badge, Operator.name, Operator.role, Operator.active, Operator.pin_hash)
                         .order_by(Operator.badge)).all()


def one(db, badge: str) -> Operator:
    with db.read() as s:
        op = s.scalar(select(Operator).where(Operator.badge == badge))
        s.expunge(op)
        return op


def row(page_text: str, badge: str) -> str:
    return re.search(rf'<tr data-operator="{re.escape(badge)}".*?</tr>', page_text, re.S).group(0)


def open_sessions(db, operator_id: int) -> int:
    with db.read() as s:
        return s.scalar(select(func.count()).select_from(FloorSession)
                        .where(FloorSession.operator_id == operator_id, FloorSession.ended_at.is_(None)))


def test_add_an_operator(admin, db):
    page = admin.get("/operators")
    assert page.status_code == 200 and "Add an operator" in text_of(page.text)
    r = admin.post("/operators/add", data={"badge": " 1042 ", "name": "Ada Lovelace", "role": "receiver", "pin": ""})
    assert r.status_code == 303 and r.headers["Location"] == "/operators"
    page = admin.get("/operators")
    assert "Added Ada Lovelace (1042) as receiver." in text_of(page.text)
    assert "Ada Lovelace" in text_of(row(page.text, "1042")) and one(db, "1042").pin_hash is None
    admin.post("/operators/add", data={"badge": "S-1", "name": "Sam Super", "role": "supervisor", "pin": ""})
    assert "they choose their PIN at their first sign-in" in text_of(admin.get("/operators").text)
    admin.post("/operators/add", data={"badge": "S-2", "name": "Sue Super", "role": "supervisor", "pin": "2580"})
    assert check_pin(one(db, "S-2").pin_hash, "2580")
    assert "2580" not in admin.get("/operators").text


@pytest.mark.parametrize("data, status, words", [
    ({"badge": "A-1", "name": "Dup", "role": "picker"}, 409, "Badge 'A-1' already belongs to Ann Admin"),
    ({"badge": "", "name": "X", "role": "picker"}, 422, "Type or scan the badge number"),
    ({"badge": "B" * 41, "name": "X", "role": "picker"}, 422, "A badge is at most 40 characters"),
    ({"badge": "OPR:1", "name": "X", "role": "picker"}, 422, "cannot start with 'OPR:'"),
    ({"badge": "B-9", "name": "", "role": "picker"}, 422, "Type the operator's name"),
    ({"badge": "B-9", "name": "X", "role": "boss"}, 422, "There is no role 'boss'"),
    ({"badge": "B-9", "name": "X", "role": "picker", "pin": "12"}, 422, "A PIN is 4 to 12 digits"),
    ({"badge": "B-9", "name": "X", "role": "picker", "pin": "<script>"}, 422, "A PIN is 4 to 12 digits"),
])
def test_add_refusals_change_nothing_and_keep_the_form(admin, db, data, status, words):
    before = operators(db)
    r = admin.post("/operators/add", data=data)
    assert r.status_code == status
    assert words in text_of(r.text) and "Nothing was changed." in text_of(r.text)
    assert operators(db) == before
    if data["name"]:  # the form comes back filled in, so nothing is typed twice (but never the PIN)
        assert f'value="{data["name"]}"' in r.text
    assert 'name="pin" type="password" inputmode="numeric" maxlength="12"\n               autocomplete="new-password">' in r.text


def test_change_a_role_ends_their_sessions(admin, db):
    admin.post("/operators/add", data={"badge": "P-1", "name": "Pia Picker", "role": "picker"})
    pia = one(db, "P-1")
    start_session(db, pia.id)
    r = admin.post("/operators/role", data={"badge": "P-1", "role": "line_operator"})
    assert r.status_code == 303
    assert "Pia Picker (P-1) is now line operator" in text_of(admin.get("/operators").text)
    assert one(db, "P-1").role == Role.LINE_OPERATOR and open_sessions(db, pia.id) == 0
    admin.post("/operators/role", data={"badge": "P-1", "role": "line_operator"})
    assert "is line operator already — nothing changed" in text_of(admin.get("/operators").text)
    before = operators(db)
    bad = admin.post("/operators/role", data={"badge": "P-1", "role": "king"})
    assert bad.status_code == 422 and "There is no role 'king'" in text_of(bad.text)
    assert 'class="ops-row--focus"' in row(bad.text, "P-1")
    last = admin.post("/operators/role", data={"badge": "A-1", "role": "picker"})
    assert last.status_code == 409 and "Ann Admin is the last active admin" in text_of(last.text)
    nobody = admin.post("/operators/role", data={"badge": "NOPE", "role": "picker"})
    assert nobody.status_code == 404 and "No operator has badge 'NOPE'" in text_of(nobody.text)
    empty = admin.post("/operators/role", data={"badge": "", "role": "picker"})
    assert empty.status_code == 400 and "Choose an operator from the list" in text_of(empty.text)
    assert operators(db) == before


def test_reset_a_pin(admin, db):
    with db.write() as s:
        s.add(Operator(badge="S-1", name="Sam Super", role=Role.SUPERVISOR, active=True, pin_hash=hash_pin("2580"),
                       pin_failures=2, pin_lock_count=1))
    assert 'data-reset-pin="S-1"' in row(admin.get("/operators").text, "S-1")
    assert admin.post("/operators/reset-pin", data={"badge": "S-1"}).status_code == 303
    page = admin.get("/operators")
    assert "PIN cleared for Sam Super (S-1): they choose a new one at their next sign-in." in text_of(page.text)
    sam = one(db, "S-1")
    assert sam.pin_hash is None and sam.pin_failures == 0 and sam.pin_lock_count == 0
    assert 'data-reset-pin="S-1"' not in row(page.text, "S-1")
    admin.post("/operators/reset-pin", data={"badge": "S-1"})
    assert "has no PIN — nothing to reset" in text_of(admin.get("/operators").text)


def test_disable_and_enable(app, admin, db):
    admin.post("/operators/add", data={"badge": "P-1", "name": "Pia Picker", "role": "picker"})
    pia_client = app.test_client()
    pia_client.post("/signin", data={"badge": "P-1"})
    pia = one(db, "P-1")
    assert open_sessions(db, pia.id) == 1
    assert pia_client.get("/operators").status_code == 403  # signed in: a picker is refused here
    r = admin.post("/operators/disable", data={"badge": "P-1"})
    assert r.status_code == 303
    page = admin.get("/operators")
    assert "Pia Picker (P-1) is disabled: the badge no longer signs in, and 1 session ended." in text_of(page.text)
    assert "disabled" in text_of(row(page.text, "P-1")) and 'data-enable="P-1"' in row(page.text, "P-1")
    assert open_sessions(db, pia.id) == 0 and not one(db, "P-1").active
    signed_out = pia_client.get("/operators")  # her tablet is signed out: sent to sign in, not refused
    assert signed_out.status_code in (302, 303) and "/signin" in signed_out.headers["Location"]
    refused = pia_client.post("/signin", data={"badge": "P-1"})
    assert refused.status_code == 403 and "no longer active" in text_of(refused.text)
    # Her own badge is not shown as a thing to disable on her own page; and the service refuses it too.
    assert 'data-disable="A-1"' not in row(page.text, "A-1")
    before = operators(db)
    myself = admin.post("/operators/disable", data={"badge": "A-1"})
    assert myself.status_code == 409 and "You cannot disable your own badge" in text_of(myself.text)
    assert operators(db) == before
    assert admin.post("/operators/enable", data={"badge": "P-1"}).status_code == 303
    assert "Pia Picker (P-1) can sign in again." in text_of(admin.get("/operators").text)
    assert pia_client.post("/signin", data={"badge": "P-1"}).status_code == 303


def test_print_a_badge_label(admin, db):
    with db.write() as s:
        printer(s, "zebra", label_size="4x2")
        s.add(Operator(badge="P-1", name="Pia Picker", role=Role.PICKER, active=True, pin_hash=hash_pin("1111")))
        s.add(Operator(badge="G-1", name="Gus Gone", role=Role.PICKER, active=False))
    assert admin.post("/operators/print-badge", data={"badge": "P-1"}).status_code == 303
    assert "Badge label for Pia Picker (P-1) sent to printer zebra." in text_of(admin.get("/operators").text)
    with db.read() as s:
        job = s.scalar(select(PrintJob))
        assert job.template == "badge" and job.data == {"badge": "P-1", "name": "Pia Picker", "role": "Picker"}
        assert b"OPR:P-1" in job.payload and b"1111" not in job.payload
    gone = admin.post("/operators/print-badge", data={"badge": "G-1"})
    assert gone.status_code == 422 and "Gus Gone (G-1) is disabled" in text_of(gone.text)
    wrong = admin.post("/operators/print-badge", data={"badge": "P-1", "printer": "nope"})
    assert wrong.status_code == 400 and "There is no printer called 'nope'" in text_of(wrong.text)
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(PrintJob)) == 1


@pytest.mark.parametrize("role", [Role.SUPERVISOR, Role.PICKER])
def test_other_roles_are_refused(client, signed_in, db, role):
    signed_in(client, role)
    before = operators(db)
    assert client.get("/operators").status_code == 403
    for path, data in (("/operators/add", {"badge": "X-1", "name": "X", "role": "admin"}),
                       ("/operators/role", {"badge": "X-1", "role": "admin"}),
                       ("/operators/reset-pin", {"badge": "X-1"}), ("/operators/disable", {"badge": "X-1"}),
                       ("/operators/enable", {"badge": "X-1"}), ("/operators/print-badge", {"badge": "X-1"})):
        assert client.post(path, data=data).status_code == 403, path
    assert operators(db) == before


def test_empty_or_forged_posts_are_refused_in_words(admin, db):
    before = operators(db)
    for path in ("/operators/add", "/operators/role", "/operators/reset-pin", "/operators/disable",
                 "/operators/enable", "/operators/print-badge"):
        for headers in ({}, {"HX-Request": "true"}):
            r = admin.post(path, data={}, headers=headers)
            assert r.status_code in (400, 422), path
            assert "Nothing was changed." in text_of(r.text) or "nothing was changed" in text_of(r.text), path
    r = admin.post("/operators/role", data={"badge": "A-1\x00", "role": "admin"})  # control characters dropped
    assert r.status_code == 303
    assert operators(db) == before
