"""PIN guessing (issue 13, point 6), on SQLite and PostgreSQL: each lock in a row lasts twice the one
before (operators.pin_lock_count), up to FLOOR_PIN_LOCK_MAX_SECONDS; the right PIN or an admin (the
Operators page, `station operator unlock BADGE`) starts over; a badge nobody has gets the same PIN
step — same page, same words, same counting and locks, one slow hash check per guess like a real one."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from station.models import Operator, Role
from station.services import pins
from station.services.pins import hash_pin
from station import auth as floor
from actions import text_of


@pytest.fixture
def clock(monkeypatch):
    now = [2_000_000_000.0]
    monkeypatch.setattr(floor.sessions, "now_seconds", lambda: now[0])
    return now


@pytest.fixture
def people(app) -> dict[str, int]:
    with app.extensions["station.db"].write() as s:
        rows = [Operator(badge="B-SUP", name="Sam Super", role=Role.SUPERVISOR, pin_hash=hash_pin("2580")),
                Operator(badge="B-ADM", name="Ada Admin", role=Role.ADMIN, pin_hash=hash_pin("1357"))]
        s.add_all(rows)
        s.flush()
        return {op.badge: op.id for op in rows}


def _guess(client, badge: str, pin: str):
    client.post("/signin", data={"badge": badge})
    return client.post("/signin/pin", data={"pin": pin})


def _lock_out(client, badge: str) -> str:
    """Three wrong PINs; the words of the third."""
    for pin in ("1111", "2222"):
        _guess(client, badge, pin)
    answer = _guess(client, badge, "3333")
    assert answer.status_code == 429, answer.text
    return text_of(answer.text)


def _row(app, op_id: int):
    with app.extensions["station.db"].read() as s:
        return s.execute(select(Operator.pin_failures, Operator.pin_locked_until, Operator.pin_lock_count)
                         .where(Operator.id == op_id)).one()


def test_each_lock_in_a_row_lasts_twice_the_one_before(app, client, people, clock):
    assert "badge B-SUP is locked for 1 minute" in _lock_out(client, "B-SUP")
    clock[0] += 59
    assert "wait 1 seconds" in text_of(_guess(client, "B-SUP", "2580").text)  # the right PIN waits too
    clock[0] += 2
    assert "badge B-SUP is locked for 2 minutes" in _lock_out(client, "B-SUP")
    clock[0] += 119
    assert _guess(client, "B-SUP", "2580").status_code == 429
    clock[0] += 2
    assert "badge B-SUP is locked for 4 minutes" in _lock_out(client, "B-SUP")
    assert _row(app, people["B-SUP"]).pin_lock_count == 3
    clock[0] += 4 * 60 + 1
    assert _guess(client, "B-SUP", "2580").status_code == 303  # the right PIN: signed in, count over
    row = _row(app, people["B-SUP"])
    assert (row.pin_failures, row.pin_locked_until, row.pin_lock_count) == (0, None, 0)
    client.post("/signout")
    assert "badge B-SUP is locked for 1 minute" in _lock_out(client, "B-SUP")  # back to the first lock


def test_the_lock_stops_growing_at_the_maximum(app, client, people, clock):
    app.config["FLOOR_PIN_LOCK_MAX_SECONDS"] = 150
    _lock_out(client, "B-SUP")
    clock[0] += 61
    _lock_out(client, "B-SUP")
    clock[0] += 121
    assert "locked for 3 minutes" in _lock_out(client, "B-SUP")  # 150 s, not 240 s
    assert pins.lock_length(60, 50, 86_400) == 86_400


def test_an_admin_sees_the_lock_and_clears_it(app, people, clock):
    guesser = app.test_client()
    _lock_out(guesser, "B-SUP")
    admin = app.test_client()
    assert _guess(admin, "B-ADM", "1357").status_code == 303
    page = admin.get("/operators")
    assert page.status_code == 200
    row = re.search(r'<tr data-operator="B-SUP" data-locked>.*?</tr>', page.text, re.S).group(0)
    assert "Locked until" in text_of(row) and "1 lock in a row" in text_of(row) and 'data-unlock="B-SUP"' in row
    answer = admin.post("/operators/unlock", data={"badge": "B-SUP"})
    assert answer.status_code == 303
    assert "PIN lock cleared for Sam Super (B-SUP)" in text_of(admin.get("/operators").text)
    assert _row(app, people["B-SUP"]) == (0, None, 0)
    assert _guess(guesser, "B-SUP", "2580").status_code == 303  # at once, no waiting
    again = admin.post("/operators/unlock", data={"badge": "B-SUP"})
    assert again.status_code == 303 and "had no PIN lock" in text_of(admin.get("/operators").text)
    refused = admin.post("/operators/unlock", data={"badge": ""})
    assert refused.status_code == 400 and "nothing was changed" in refused.text


def test_the_cli_lists_and_clears_locks(app, people, clock):
    _lock_out(app.test_client(), "B-SUP")
    runner = app.test_cli_runner()
    with app.app_context():
        listed = runner.invoke(args=["operator", "locks"])
        assert listed.exit_code == 0 and "B-SUP" in listed.output and "locked until" in listed.output
        done = runner.invoke(args=["operator", "unlock", "B-SUP"])
        assert done.exit_code == 0 and "PIN lock cleared for Sam Super (B-SUP)" in done.output
        assert "No badge is locked" in runner.invoke(args=["operator", "locks"]).output
        missing = runner.invoke(args=["operator", "unlock", "B-NOBODY"])
        assert missing.exit_code != 0 and "No operator has badge 'B-NOBODY'" in missing.output
    assert _row(app, people["B-SUP"]) == (0, None, 0)


# --- a badge nobody has: the PIN step cannot tell ---------------------------------------------------------


def _walk(client, badge: str, clock) -> list[tuple[int, str]]:
    """Everything the PIN step answers for `badge`: the page, three wrong PINs, the locked answer, the
    next lock — with the badge taken out of the words."""
    seen = []
    start = client.post("/signin", data={"badge": badge})
    seen.append((start.status_code, start.headers.get("Location")))
    page = client.get("/signin/pin")
    seen.append((page.status_code, text_of(page.text).replace(badge, "BADGE")))
    for pin in ("1111", "2222", "3333", "4444"):
        answer = client.post("/signin/pin", data={"pin": pin})
        seen.append((answer.status_code, text_of(answer.text).replace(badge, "BADGE")))
    clock[0] += 61
    for pin in ("1111", "2222", "3333"):
        answer = _guess(client, badge, pin)
        seen.append((answer.status_code, text_of(answer.text).replace(badge, "BADGE")))
    return seen


def test_a_badge_nobody_has_is_answered_like_a_supervisors_at_the_pin_step(app, people, clock):
    real = _walk(app.test_client(), "B-SUP", clock)
    clock[0] -= 61
    made_up = _walk(app.test_client(), "B-NOPE", clock)
    assert made_up == real
    assert [status for status, _ in real[2:]] == [401, 401, 429, 429, 401, 401, 429]
    assert "Wrong PIN again — badge BADGE is locked for 2 minutes." in real[-1][1]


def test_the_same_slow_hash_check_for_a_badge_nobody_has(app, people, clock, monkeypatch):
    checks = []
    real_check = floor.pin_guard.check_pin

    def counting(pin_hash, pin):
        checks.append(pin_hash)
        return real_check(pin_hash, pin)

    monkeypatch.setattr(floor.pin_guard, "check_pin", counting)
    for badge in ("B-SUP", "B-NOPE"):
        client = app.test_client()
        client.post("/signin", data={"badge": badge})
        checks.clear()
        client.post("/signin/pin", data={"pin": "9999"})
        assert len(checks) == 1, badge  # one scrypt check each: neither answers faster
        assert checks[0].startswith("scrypt:"), checks


def test_a_badge_scanned_on_the_sign_in_page_goes_to_the_pin_step_whoever_has_it(app, people):
    for badge in ("B-SUP", "B-NOPE"):
        answer = app.test_client().post("/floor/badge", data={"code": f"OPR:{badge}"},
                                        headers={"HX-Request": "true", "HX-Current-URL": "http://localhost/signin"})
        assert answer.headers["HX-Redirect"] == "/signin/pin", badge
