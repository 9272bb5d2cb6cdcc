"""Expiry: expire_due (exact lots, events, idempotent, two runners at once), the dashboard's numbers
and chart buckets, the API, the CLI command and the job's schedule — on SQLite and PostgreSQL."""
from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
from sqlalchemy import select, text

from factories import TODAY, basic_site, received_lot, small_site
from station import clock
from station.processes.expiry_job import ExpiryJob, next_run, run_once
from station.models import LotEvent, LotStatus, Role
from station.services import catalog, expiry, holds, stock
from station.services.expiry import expire_due
from station.services.tokens import create_token

D = dt.timedelta


RECEIVED = TODAY - D(days=40)


def _lot(s, sku, qty, expiry_on, location="A-01", received=RECEIVED):
    return received_lot(s, sku, qty, location=location, expiry=expiry_on, on=received).lot_number


@pytest.fixture
def site(site):
    """The small site with lots around TODAY: two past their date, one expiring today, one held past its
    date, one consumed past its date, one recalled past its date, one without an expiry date."""
    with site.write() as s:
        lots = {
            "past1": _lot(s, "MILK", 10, TODAY - D(days=1)),
            "past9": _lot(s, "CAKE", 4, TODAY - D(days=9), location="A-02"),
            "today": _lot(s, "MILK", 5, TODAY),
            "held": _lot(s, "MILK", 7, TODAY - D(days=3)),
            "empty": _lot(s, "CAKE", 2, TODAY - D(days=2)),
            "recalled": _lot(s, "CAKE", 3, TODAY - D(days=4)),
            "none": _lot(s, "BOLT", 100, None),
        }
        holds.hold(s, catalog.lot_by_number(s, lots["held"]), "QA check")
        empty = catalog.lot_by_number(s, lots["empty"])
        stock.adjust(s, empty, catalog.location_by_code(s, "A-01"), -2, "scrapped")
        s.execute(text("UPDATE lots SET status = 'recalled' WHERE lot_number = :n"), {"n": lots["recalled"]})
    site.update(lots)
    return site


def _status(db, number):
    with db.read() as s:
        return catalog.lot_by_number(s, number).status


def _events(db, action="expire"):
    """The lot events of `action` as plain rows (lot_number, reason, from, to, operator, station)."""
    with db.read() as s:
        return s.execute(
            select(catalog.Lot.lot_number, LotEvent.reason, LotEvent.from_status, LotEvent.to_status,
                   LotEvent.operator_id, LotEvent.station_id)
            .join(catalog.Lot, catalog.Lot.id == LotEvent.lot_id)
            .where(LotEvent.action == action).order_by(LotEvent.id)).all()


def test_expire_due_changes_exactly_the_available_lots_past_their_date(db, site):
    with db.write() as s:
        changed = expire_due(s, on=TODAY)
    assert [e.lot_number for e in changed] == sorted([site["past1"], site["past9"]])
    assert {e.expiry for e in changed} == {TODAY - D(days=1), TODAY - D(days=9)}
    assert _status(db, site["past1"]) is LotStatus.EXPIRED
    assert _status(db, site["past9"]) is LotStatus.EXPIRED
    assert _status(db, site["today"]) is LotStatus.AVAILABLE  # usable on its own date
    assert _status(db, site["held"]) is LotStatus.HOLD  # the hold keeps its reason
    assert _status(db, site["empty"]) is LotStatus.CONSUMED
    assert _status(db, site["recalled"]) is LotStatus.RECALLED
    assert _status(db, site["none"]) is LotStatus.AVAILABLE
    events = sorted(tuple(e) for e in _events(db))
    assert events == sorted([
        (site["past1"], f"Expired on {(TODAY - D(days=1)).isoformat()}", LotStatus.AVAILABLE, LotStatus.EXPIRED,
         None, None),
        (site["past9"], f"Expired on {(TODAY - D(days=9)).isoformat()}", LotStatus.AVAILABLE, LotStatus.EXPIRED,
         None, None)])


def test_expire_due_is_idempotent_and_a_later_day_expires_more(db, site):
    with db.write() as s:
        assert len(expire_due(s, on=TODAY)) == 2
    with db.write() as s:
        assert expire_due(s, on=TODAY) == []
    assert len(_events(db)) == 2
    with db.write() as s:  # tomorrow the lot dated today has passed
        assert [e.lot_number for e in expire_due(s, on=TODAY + D(days=1))] == [site["today"]]
    assert len(_events(db)) == 3


def test_a_backlog_is_expired_in_batches_of_a_bounded_size(db, site, monkeypatch):
    with db.write() as s:
        first = expire_due(s, on=TODAY, limit=1)
    assert len(first) == 1  # the lowest id of the two due
    with db.write() as s:
        second = expire_due(s, on=TODAY, limit=1)
    assert {e.lot_number for e in first + second} == {site["past1"], site["past9"]}
    with db.write() as s:
        assert expire_due(s, on=TODAY, limit=1) == []


def test_the_job_works_through_a_backlog_batch_by_batch(db, site, monkeypatch):
    import station.processes.expiry_job as job

    monkeypatch.setattr(job, "BATCH", 1)
    monkeypatch.setattr(clock, "today", lambda: TODAY)
    assert run_once(db) == 2
    assert _status(db, site["past1"]) is LotStatus.EXPIRED and _status(db, site["past9"]) is LotStatus.EXPIRED
    assert run_once(db) == 0


def test_a_released_lot_past_its_date_is_expired_by_the_next_run(db, site):
    with db.write() as s:
        expire_due(s, on=TODAY)
        holds.release(s, catalog.lot_by_number(s, site["held"]), "QA passed")
    with db.write() as s:
        assert [e.lot_number for e in expire_due(s, on=TODAY)] == [site["held"]]
    assert _status(db, site["held"]) is LotStatus.EXPIRED


def test_an_expired_lot_loaded_in_the_session_shows_its_new_status(db, site):
    with db.write() as s:
        lot = catalog.lot_by_number(s, site["past1"])
        assert lot.status is LotStatus.AVAILABLE
        expire_due(s, on=TODAY)
        assert lot.status is LotStatus.EXPIRED


def _wait_until_blocked(db, first_pid: int | None, reached: threading.Event, second: threading.Thread) -> None:
    """Wait until the second runner is held up by the first one's locks — a condition, however slow the
    machine: on PostgreSQL until the server says a session of this database waits on a lock held by the
    first runner's backend (pg_blocking_pids); on SQLite, where a writer queues inside the driver on
    BEGIN IMMEDIATE and nothing shows it waiting, until the second runner has reached its BEGIN IMMEDIATE.
    The deadline only stops a hang; it is not what the test waits for."""
    deadline = time.monotonic() + 120
    while not reached.wait(0.05):
        assert second.is_alive(), "the second runner ended before it began its transaction"
        assert time.monotonic() < deadline, "the second runner never began its transaction"
    if db.is_sqlite:
        return
    blocked = text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                   "AND wait_event_type = 'Lock' AND :first = ANY(pg_blocking_pids(pid))")
    # Each look in a transaction of its own: pg_stat_activity is a snapshot taken at a transaction's
    # first look and kept to its end (a loop in one transaction never sees a runner that came later).
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        while not conn.execute(blocked, {"first": first_pid}).scalar():
            assert second.is_alive(), "the second runner ended while the first one held its locks"
            if time.monotonic() > deadline:
                raise AssertionError("the second runner never waited on the first one's locks")
            conn.execute(text("SELECT pg_sleep(0.02)"))


def test_two_runners_at_once_expire_each_lot_once(db, site):
    from sqlalchemy import event

    results: dict[str, list] = {}
    reached = threading.Event()
    errors: list[BaseException] = []

    def second():
        try:
            with db.write() as s:
                results["second"] = expire_due(s, on=TODAY)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    def on_begin(conn) -> None:  # before the engine's own BEGIN (IMMEDIATE on SQLite): the runner queues next
        if threading.current_thread() is thread:
            reached.set()

    thread = threading.Thread(target=second)
    with db.write() as s:
        writer = s.get_bind()  # the write sessions' engine, whose "begin" listener issues BEGIN IMMEDIATE
    event.listen(writer, "begin", on_begin, insert=True)
    try:
        with db.write() as s:
            results["first"] = expire_due(s, on=TODAY)
            first_pid = None if db.is_sqlite else s.execute(text("SELECT pg_backend_pid()")).scalar()
            thread.start()
            _wait_until_blocked(db, first_pid, reached, thread)
            assert "second" not in results, "the second runner got through while the first held its locks"
    finally:
        event.remove(writer, "begin", on_begin)
    thread.join(120)
    assert not errors, errors
    assert not thread.is_alive(), "the second runner never finished"
    assert len(results["first"]) == 2, results
    assert results["second"] == [], results
    assert len(_events(db)) == 2


# --- the dashboard -----------------------------------------------------------------------------------


@pytest.fixture
def board_site(db):
    """The small site with in-stock lots at known distances from TODAY (MILK in ea, CAKE in kg); not
    `site` (this module's `site` holds other lots)."""
    site = small_site(db)
    with site.write() as s:
        catalog.item_by_sku(s, "CAKE").unit = "kg"
        lots = {
            "exp3": _lot(s, "MILK", 10, TODAY - D(days=3)),  # expired bucket
            "d0": _lot(s, "MILK", 5, TODAY),  # week 0 ("This week"), 0 days left
            "d6": _lot(s, "CAKE", 2, TODAY + D(days=6), location="A-02"),  # week 0
            "d7": _lot(s, "MILK", 8, TODAY + D(days=7)),  # week 1
            "d13": _lot(s, "MILK", 1, TODAY + D(days=13)),  # week 1
            "d30": _lot(s, "CAKE", 3, TODAY + D(days=30)),  # week 4
            "d83": _lot(s, "MILK", 4, TODAY + D(days=83)),  # week 11, the last
            "d84": _lot(s, "MILK", 6, TODAY + D(days=84)),  # past the chart
            "none": _lot(s, "BOLT", 50, None),  # no expiry: in no bucket
        }
        # Part of the d6 lot stands at the dock: its stock by location lists both places.
        stock.move(s, catalog.lot_by_number(s, lots["d6"]), 1, catalog.location_by_code(s, "A-02"),
                   catalog.location_by_code(s, "DOCK"))
    site.update(lots)
    return site


def test_dashboard_lists_and_counts_are_exact(db, board_site):
    with db.read() as s:
        board = expiry.dashboard(s, 30, on=TODAY)
    assert [r.lot_number for r in board.expiring] == [board_site[k] for k in ("d0", "d6", "d7", "d13", "d30")]
    assert board.expiring_total == 5
    assert [r.days_left for r in board.expiring] == [0, 6, 7, 13, 30]
    assert board.expiring[1].places == [("A-02", 1), ("DOCK", 1)]
    assert [r.lot_number for r in board.expired] == [board_site["exp3"]]
    assert board.expired[0].days_left == -3 and board.expired_total == 1
    first = board.expiring[0]
    assert (first.sku, first.on_hand, first.places) == ("MILK", 5, [("A-01", 5)])
    with db.read() as s:
        seven = expiry.dashboard(s, 7, on=TODAY)
    assert [r.lot_number for r in seven.expiring] == [board_site[k] for k in ("d0", "d6", "d7")]


def test_an_expired_marked_lot_leaves_the_expiring_list_for_the_expired_one(db, board_site):
    with db.write() as s:
        assert [e.lot_number for e in expire_due(s, on=TODAY)] == [board_site["exp3"]]
    with db.read() as s:
        board = expiry.dashboard(s, 60, on=TODAY)
        counts = expiry.counts(s, on=TODAY)
    assert [r.lot_number for r in board.expired] == [board_site["exp3"]]
    assert board.expired[0].status == "expired"
    assert board_site["exp3"] not in [r.lot_number for r in board.expiring]
    assert counts == {"expired_in_stock": 1, "expiring_soon": 3}  # d0, d6, d7


def test_chart_buckets_are_exact(db, board_site):
    with db.read() as s:
        buckets = expiry.week_buckets(s, on=TODAY)
    assert len(buckets) == 13
    assert buckets[0].label == "Expired" and buckets[0].start is None
    assert buckets[1].label == "This week" and buckets[1].start == TODAY
    assert buckets[2].start == TODAY + D(days=7) and buckets[2].label == f"{(TODAY + D(days=7)).day} {(TODAY + D(days=7)):%b}"
    lots = [b.lots for b in buckets]
    assert lots == [1, 2, 2, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1]
    assert buckets[0].qty == {"ea": 10}
    assert buckets[1].qty == {"ea": 5, "kg": 2}
    assert buckets[1].qty_words == "5 ea · 2 kg"
    assert buckets[2].qty == {"ea": 9}
    assert buckets[5].qty == {"kg": 3}
    assert buckets[12].qty == {"ea": 4}


# --- the page, the API, the CLI ------------------------------------------------------------------


def test_the_page_shows_lists_and_chart_to_a_supervisor(app, client, signed_in, monkeypatch):
    db = app.extensions["station.db"]
    basic_site(db)
    monkeypatch.setattr("station.clock.today", lambda: TODAY)
    with db.write() as s:
        soon = _lot(s, "MILK", 12, TODAY + D(days=3))
        late = _lot(s, "MILK", 12, TODAY + D(days=20))
        gone = _lot(s, "CAKE", 2, TODAY - D(days=1))
    signed_in(client, "supervisor")
    page = client.get("/expiry?days=7")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert soon in html and late not in html.split('id="soon-h"')[1] and gone in html
    assert '<svg class="expiry-chart__svg"' in html and 'data-label="Expired" data-lots="1"' in html
    assert 'data-label="This week" data-lots="1"' in html
    assert 'aria-current="page">7 days' in html
    assert late in client.get("/expiry").get_data(as_text=True)  # 30 days by default


def test_the_page_refuses_bad_days_in_words_and_is_for_supervisors(client, signed_in):
    signed_in(client, "picker")
    assert client.get("/expiry").status_code == 403
    signed_in(client, "supervisor")
    for bad in ("0", "abc", "366", "-3"):
        answer = client.get(f"/expiry?days={bad}")
        assert answer.status_code == 400
        assert "Days must be a whole number from 1 to 365" in answer.get_data(as_text=True)


def test_the_api_answers_the_dashboard(app, client, monkeypatch):
    db = app.extensions["station.db"]
    basic_site(db)
    monkeypatch.setattr("station.clock.today", lambda: TODAY)
    with db.write() as s:
        soon = _lot(s, "MILK", 12, TODAY + D(days=3))
        gone = _lot(s, "CAKE", 2, TODAY - D(days=1))
        token = create_token(s, "reports", Role.SUPERVISOR)
    auth = {"Authorization": f"Bearer {token}"}
    body = client.get("/api/v1/expiry?days=14", headers=auth).get_json()
    assert body["today"] == TODAY.isoformat() and body["days"] == 14
    assert [(r["lot_number"], r["days_left"], r["on_hand"], r["stock"]) for r in body["expiring"]] == [
        (soon, 3, "12", {"A-01": "12"})]  # quantities as decimal strings
    assert [r["lot_number"] for r in body["expired"]] == [gone]
    assert [w["lots"] for w in body["weeks"]][:2] == [1, 1] and len(body["weeks"]) == 13
    assert [w["qty"] for w in body["weeks"]][:2] == [{"ea": "2"}, {"ea": "12"}]
    bad = client.get("/api/v1/expiry?days=0", headers=auth)
    assert bad.status_code == 422 and bad.get_json()["error"]["message"].startswith("days:")


def test_the_cli_expires_and_says_which(app, site):
    runner = app.test_cli_runner()  # `station` pushes the app context itself; the test runner does not
    with app.app_context():
        result = runner.invoke(args=["expire", "--on", TODAY.isoformat()])
        again = runner.invoke(args=["expire", "--on", TODAY.isoformat()])
        bad = runner.invoke(args=["expire", "--on", "15/06/2026"])
    assert result.exit_code == 0, result.output
    assert "2 lot(s) marked expired" in result.output and site["past1"] in result.output
    assert "0 lot(s) marked expired" in again.output
    assert bad.exit_code == 2 and "15/06/2026" in bad.output


def test_the_job_runs_once_at_start(app):
    db = app.extensions["station.db"]
    basic_site(db)
    with db.write() as s:
        number = _lot(s, "MILK", 3, clock.today() - D(days=5), received=clock.today() - D(days=40))
    assert run_once(db) == 1
    assert _status(db, number) is LotStatus.EXPIRED
    assert run_once(db) == 0


def test_the_job_thread_expires_at_start_and_stops_when_asked(app):
    db = app.extensions["station.db"]
    basic_site(db)
    with db.write() as s:
        number = _lot(s, "MILK", 3, clock.today() - D(days=2), received=clock.today() - D(days=40))
    job = ExpiryJob(db).start()
    try:
        for _ in range(400):  # polls for the first run to end; the run itself is what is checked
            if job.runs:
                break
            time.sleep(0.025)
    finally:
        job.stop()
    assert job.runs == 1 and job.expired == 1 and not job._thread.is_alive()
    assert _status(db, number) is LotStatus.EXPIRED


def test_the_job_runs_hourly_and_just_after_local_midnight(monkeypatch):
    monkeypatch.setenv("STATION_TIMEZONE", "Europe/Berlin")
    utc = dt.timezone.utc
    # 10:00 in Berlin (summer, UTC+2): an hour later.
    assert next_run(dt.datetime(2026, 6, 15, 8, 0, tzinfo=utc)) == dt.datetime(2026, 6, 15, 9, 0, tzinfo=utc)
    # 23:30 in Berlin: one minute after local midnight, not an hour later.
    assert next_run(dt.datetime(2026, 6, 15, 21, 30, tzinfo=utc)) == dt.datetime(2026, 6, 15, 22, 1, tzinfo=utc)
