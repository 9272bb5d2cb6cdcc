"""Wrong PINs are counted in the database (operators.pin_failures / pin_failed_at / pin_locked_until), on
SQLite and PostgreSQL: two app instances on one database (as two server processes are) share the count
and the lock; guesses taken at the same moment from many threads are granted exactly
FLOOR_PIN_ATTEMPTS times; the right PIN starts the count over; an old wrong PIN is forgotten."""
from __future__ import annotations

import threading

import pytest

from station import create_app
from station.models import Operator, Role
from station.services.pins import hash_pin
from station import auth as floor
from actions import text_of


@pytest.fixture
def second_app(db_url, tmp_path, monkeypatch):
    """Another app on the same database: another server process, as far as the count is concerned."""
    monkeypatch.setenv("STATION_INSTANCE", str(tmp_path / "instance-2"))
    application = create_app({"TESTING": True, "DATABASE_URL": db_url})
    yield application
    application.extensions["station.db"].dispose()


@pytest.fixture
def sam(app) -> int:
    with app.extensions["station.db"].write() as s:
        op = Operator(badge="B-SUP", name="Sam Super", role=Role.SUPERVISOR, pin_hash=hash_pin("2580"))
        s.add(op)
        s.flush()
        return op.id


def _row(app, op_id: int) -> Operator:
    with app.extensions["station.db"].read() as s:
        row = s.get(Operator, op_id)
        s.expunge(row)
        return row


def _pin(client, pin: str):
    client.post("/signin", data={"badge": "B-SUP"})
    return client.post("/signin/pin", data={"pin": pin})


def test_two_app_instances_share_the_count(app, second_app, sam):
    first, second = app.test_client(), second_app.test_client()
    assert "Wrong PIN — 2 tries left." in text_of(_pin(first, "1111").text)
    assert "Wrong PIN — 1 try left." in text_of(_pin(second, "2222").text)
    locked = _pin(first, "3333")
    assert locked.status_code == 429 and "badge B-SUP is locked for 1 minute" in text_of(locked.text)
    for client in (first, second):  # the right PIN waits too, in either process
        answer = _pin(client, "2580")
        assert answer.status_code == 429 and "Too many wrong PINs for badge B-SUP" in text_of(answer.text)
    row = _row(app, sam)
    assert row.pin_failures == 3 and row.pin_locked_until is not None


def test_a_lock_outlives_the_process_that_set_it(app, sam, db_url, tmp_path, monkeypatch):
    for pin in ("1111", "2222", "3333"):
        _pin(app.test_client(), pin)
    monkeypatch.setenv("STATION_INSTANCE", str(tmp_path / "instance-3"))
    restarted = create_app({"TESTING": True, "DATABASE_URL": db_url})
    try:
        assert _pin(restarted.test_client(), "2580").status_code == 429
    finally:
        restarted.extensions["station.db"].dispose()


def test_the_right_pin_starts_the_count_over(app, second_app, sam):
    _pin(app.test_client(), "1111")
    _pin(second_app.test_client(), "2222")
    assert _pin(app.test_client(), "2580").status_code == 303
    row = _row(app, sam)
    assert (row.pin_failures, row.pin_failed_at, row.pin_locked_until) == (0, None, None)
    assert "Wrong PIN — 2 tries left." in text_of(_pin(second_app.test_client(), "1111").text)


def test_the_lock_ends_and_old_wrong_pins_are_forgotten(app, sam, monkeypatch):
    now = [2_000_000.0]
    monkeypatch.setattr(floor.sessions, "now_seconds", lambda: now[0])
    client = app.test_client()
    for pin in ("1111", "2222", "3333"):
        _pin(client, pin)
    now[0] += 59
    assert _pin(client, "2580").status_code == 429
    now[0] += 2
    assert "Wrong PIN — 2 tries left." in text_of(_pin(client, "4444").text)  # the lock ended: a new count
    now[0] += 61  # a wrong PIN longer ago than the lock time no longer counts
    assert "Wrong PIN — 2 tries left." in text_of(_pin(client, "5555").text)
    assert "Wrong PIN — 1 try left." in text_of(_pin(client, "6666").text)


def test_simultaneous_guesses_are_granted_exactly_the_allowed_number(app, second_app, sam):
    """Twelve guesses at once, from two app instances: three are checked, the rest are refused."""
    barrier = threading.Barrier(12)
    granted: list[bool] = []
    errors: list[BaseException] = []

    def guess(application):
        try:
            with application.app_context():
                barrier.wait()
                result = floor.take_guess(sam, floor.sessions.now_seconds(), 3, 60)
            granted.append(result.granted)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=guess, args=(app if i % 2 else second_app,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert granted.count(True) == 3 and granted.count(False) == 9
    row = _row(app, sam)
    assert row.pin_failures == 3 and row.pin_locked_until is not None


def test_an_operator_without_a_pin_chooses_one_and_each_mistyped_pair_is_a_try(app):
    """A supervisor with no PIN yet chooses it at first sign-in, typed twice (station/auth/pin_guard.py
    set_first_pin); a pair that differs sets nothing and counts like a wrong PIN, so nobody can try
    without end on a badge they picked up."""
    with app.extensions["station.db"].write() as s:
        op = Operator(badge="B-NOPIN", name="Nina Nopin", role=Role.SUPERVISOR)
        s.add(op)
        s.flush()
        op_id = op.id
    client = app.test_client()
    client.post("/signin", data={"badge": "B-NOPIN"})
    answer = client.post("/signin/pin", data={"pin": "2468", "pin_again": "2486"})
    assert answer.status_code == 401 and "The two PINs differ" in text_of(answer.text)
    row = _row(app, op_id)
    assert (row.pin_hash, row.pin_failures) == (None, 1)
    signed = client.post("/signin/pin", data={"pin": "2468", "pin_again": "2468"})
    assert signed.status_code == 303
    row = _row(app, op_id)
    assert row.pin_hash is not None and row.pin_failures == 0
