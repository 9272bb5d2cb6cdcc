"""Scan ingestion on SQLite and PostgreSQL: every scan logged once, retries answered, bounces ignored."""
from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import func, select

from station import clock
from station.models import Scan, StationDevice
from station.scanning import ScanContext
from station.services.scans import InvalidClientId, display_text, ingest

T0 = dt.datetime(2024, 5, 6, 7, 30, tzinfo=dt.timezone.utc)


def ms(n: int) -> dt.timedelta:
    return dt.timedelta(milliseconds=n)


@pytest.fixture
def stations(db) -> tuple[int, int]:
    with db.write() as s:
        dock, line = StationDevice(name="Dock tablet"), StationDevice(name="Line 1 PC")
        s.add_all([dock, line])
        s.flush()
        return dock.id, line.id


def rows(db) -> list[Scan]:
    """The scan log, detached from its session with every column loaded."""
    with db.read() as s:
        found = list(s.scalars(select(Scan).order_by(Scan.id)))
        s.expunge_all()
        return found


def count(db) -> int:
    with db.read() as s:
        return s.scalar(select(func.count()).select_from(Scan))


def test_a_scan_is_resolved_and_logged_with_its_raw_bytes_source_station_and_result(db, stations):
    dock, _ = stations
    raw = b"]C1010950110153000310ABC123\x1d17240630"
    outcome = ingest(db, raw, source="serial:///dev/ttyACM0", station_id=dock, now=T0,
                     context=ScanContext(workflow="lookup"))
    [row] = rows(db)
    assert row.id == outcome.scan_id
    assert (row.source, row.station_id, row.raw, row.ignored, row.client_id) == \
        ("serial:///dev/ttyACM0", dock, raw, False, None)
    assert row.text == "]C1010950110153000310ABC123\u241d17240630"  # GS shown as a picture
    assert (row.kind, row.ok, row.message, row.error) == (
        outcome.resolution.kind, outcome.resolution.ok, outcome.resolution.message,
        outcome.resolution.error)
    assert row.result == outcome.resolution.to_dict()
    assert row.ts.replace(tzinfo=dt.timezone.utc) == T0 or row.ts == T0
    assert not outcome.retried and not outcome.ignored


def test_text_scans_are_stored_as_utf8_and_undecodable_bytes_are_kept_raw(db, stations):
    ingest(db, "LOT:240506-001", source="wedge", station_id=stations[0], now=T0)
    ingest(db, b"\xff\xfeA\x00\x07", source="sim://dock", station_id=stations[0], now=T0)
    first, second = rows(db)
    assert first.raw == b"LOT:240506-001" and first.text == "LOT:240506-001"
    assert second.raw == b"\xff\xfeA\x00\x07"
    assert second.text == "\ufffd\ufffdA\u2400\u2407"


def test_a_client_id_retry_returns_the_original_result_and_logs_nothing_new(db, stations):
    first = ingest(db, "LOT:240506-001", source="wedge", station_id=stations[0],
                   client_id="c0ffee00-0000-4000-8000-000000000001", now=T0)
    # The retry comes much later (a network outage) and even with different bytes: still the original.
    again = ingest(db, "LOT:something-else", source="wedge", station_id=stations[0],
                   client_id="c0ffee00-0000-4000-8000-000000000001", now=T0 + dt.timedelta(minutes=5))
    assert again.retried and not first.retried
    assert again.scan_id == first.scan_id
    assert again.resolution == first.resolution
    assert count(db) == 1


def test_a_client_id_retry_inside_a_callers_session_returns_the_original(db, stations):
    with db.write() as s:
        first = ingest(s, "LOT:1", source="api", client_id="retry-in-session-1", now=T0)
    with db.write() as s:
        again = ingest(s, "LOT:1", source="api", client_id="retry-in-session-1", now=T0 + ms(900))
    assert again.retried and again.scan_id == first.scan_id
    assert count(db) == 1


def test_eight_threads_racing_the_same_client_id_log_one_scan_and_all_get_its_result(db, stations):
    barrier = threading.Barrier(8)
    outcomes, errors = [], []

    def send(n: int) -> None:
        try:
            barrier.wait(timeout=10)
            outcomes.append(ingest(db, "LOT:240506-001", source="wedge", station_id=stations[n % 2],
                                   client_id="race-0000-client-id", now=T0 + ms(n)))
        except Exception as exc:  # noqa: BLE001 — reported below
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors, errors
    assert count(db) == 1
    [row] = rows(db)
    assert {o.scan_id for o in outcomes} == {row.id}
    assert sum(not o.retried for o in outcomes) == 1


def test_a_retry_racing_an_uncommitted_original_waits_for_it_and_returns_it(db, stations):
    """The check before the INSERT cannot see an uncommitted row; the unique constraint still decides."""
    dock, line = stations
    results, errors = [], []
    with db.write() as s:
        first = ingest(s, "LOT:1", source="wedge", station_id=dock, client_id="uncommitted-1", now=T0)

        def retry() -> None:
            try:
                results.append(ingest(db, "LOT:1", source="wedge", station_id=line,
                                      client_id="uncommitted-1", now=T0 + ms(5)))
            except Exception as exc:  # noqa: BLE001 — reported below
                errors.append(exc)

        racer = threading.Thread(target=retry)
        racer.start()
        racer.join(timeout=0.5)
        assert racer.is_alive(), "the retry must wait for the original's transaction"
    racer.join(timeout=30)
    assert not errors, errors
    [again] = results
    assert again.retried and again.scan_id == first.scan_id
    assert count(db) == 1


def test_the_same_code_within_the_bounce_window_is_ignored_and_after_it_accepted(db, stations):
    dock, _ = stations
    first = ingest(db, "LOT:240506-001", source="wedge", station_id=dock, now=T0)
    bounce = ingest(db, "LOT:240506-001", source="wedge", station_id=dock, now=T0 + ms(120))
    later = ingest(db, "LOT:240506-001", source="wedge", station_id=dock, now=T0 + ms(120 + 600))
    assert not first.ignored
    assert bounce.ignored and not bounce.ok and bounce.duplicate_of == first.scan_id
    assert bounce.resolution == first.resolution  # the outcome says what it repeated
    assert not later.ignored and later.duplicate_of is None
    logged = rows(db)
    assert [(r.ignored, r.duplicate_of_id, r.error) for r in logged] == [
        (False, None, first.resolution.error), (True, first.scan_id, "bounce"),
        (False, None, first.resolution.error)]


def test_a_held_trigger_keeps_bouncing_until_the_scanner_is_quiet_for_the_window(db, stations):
    dock, _ = stations
    first = ingest(db, "LOT:9", source="sim://dock", station_id=dock, now=T0)
    outcomes = [ingest(db, "LOT:9", source="sim://dock", station_id=dock, now=T0 + ms(n))
                for n in (300, 600, 900)]
    assert all(o.ignored and o.duplicate_of == first.scan_id for o in outcomes)
    assert not ingest(db, "LOT:9", source="sim://dock", station_id=dock, now=T0 + ms(1500)).ignored


def test_the_bounce_window_is_configurable(db, stations):
    dock, _ = stations
    ingest(db, "LOT:7", source="wedge", station_id=dock, now=T0, bounce_ms=100)
    assert not ingest(db, "LOT:7", source="wedge", station_id=dock, now=T0 + ms(150),
                      bounce_ms=100).ignored
    assert ingest(db, "LOT:7", source="wedge", station_id=dock, now=T0 + ms(1000),
                  bounce_ms=2000).ignored


def test_another_code_in_between_ends_a_bounce(db, stations):
    dock, _ = stations
    ingest(db, "LOT:1", source="wedge", station_id=dock, now=T0)
    ingest(db, "LOT:2", source="wedge", station_id=dock, now=T0 + ms(100))
    assert not ingest(db, "LOT:1", source="wedge", station_id=dock, now=T0 + ms(200)).ignored


def test_different_stations_and_different_sources_are_not_bounces_of_each_other(db, stations):
    dock, line = stations
    ingest(db, "LOT:1", source="wedge", station_id=dock, now=T0)
    assert not ingest(db, "LOT:1", source="wedge", station_id=line, now=T0 + ms(10)).ignored
    assert not ingest(db, "LOT:1", source="sim://dock", station_id=dock, now=T0 + ms(20)).ignored
    assert not ingest(db, "LOT:1", source="wedge", station_id=None, now=T0 + ms(30)).ignored
    assert ingest(db, "LOT:1", source="wedge", station_id=None, now=T0 + ms(40)).ignored
    assert count(db) == 5


def test_a_bounce_with_a_client_id_is_logged_once_and_its_retry_says_ignored(db, stations):
    dock, _ = stations
    ingest(db, "LOT:1", source="wedge", station_id=dock, client_id="bounce-client-1", now=T0)
    bounce = ingest(db, "LOT:1", source="wedge", station_id=dock, client_id="bounce-client-2",
                    now=T0 + ms(50))
    retry = ingest(db, "LOT:1", source="wedge", station_id=dock, client_id="bounce-client-2",
                   now=T0 + ms(5000))
    assert bounce.ignored and retry.ignored and retry.retried and retry.scan_id == bounce.scan_id
    assert count(db) == 2


def test_the_default_time_is_the_clock(db, stations):
    with clock.at(T0):
        outcome = ingest(db, "LOT:1", source="api")
    with db.read() as s:
        ts = s.get(Scan, outcome.scan_id).ts
    assert ts.replace(tzinfo=dt.timezone.utc) == T0 or ts == T0


@pytest.mark.parametrize("bad", ["short", "x" * 65, "has space in it", "semi;colon;id", "ünïcode-id"])
def test_a_malformed_client_id_is_refused_before_anything_is_logged(db, bad):
    with pytest.raises(InvalidClientId):
        ingest(db, "LOT:1", source="api", client_id=bad)
    assert count(db) == 0


def test_garbage_is_logged_capped_and_shown_safely(db):
    garbage = bytes(range(256)) * 40  # 10 KB
    ingest(db, garbage, source="sim://noise")
    [row] = rows(db)
    assert len(row.raw) == 4096 and row.raw == garbage[:4096]
    assert len(row.text) <= 201 and row.text.endswith("…")
    assert all(ch.isprintable() for ch in row.text)


@pytest.mark.parametrize("raw, shown", [
    ("ABC\x1dDEF\r\n", "ABC\u241dDEF\u240d\u240a"),
    ("zero\u200bwidth", "zero<U+200B>width"),
    (b"\xc3\xbc-ok", "\u00fc-ok"),
])
def test_display_text_makes_control_and_invisible_characters_visible(raw, shown):
    assert display_text(raw) == shown


def test_a_poller_reading_after_its_cursor_never_skips_a_scan_committed_late(db, stations):
    """Scans at one station commit in id order, so "id > last seen" (the page's feed) misses none."""
    from station.services.scans import recent

    dock, _ = stations
    done = threading.Event()
    seen: list[int] = []
    errors: list[Exception] = []

    def poll() -> None:
        cursor = 0
        while True:
            finished = done.is_set()
            with db.read() as s:
                batch = [row.id for row in recent(s, station_id=dock, after=cursor, newest_first=False)]
            seen.extend(batch)
            cursor = batch[-1] if batch else cursor
            if finished and not batch:
                return

    def scan(source: str) -> None:
        try:
            for n in range(20):
                ingest(db, f"LOC:{source}-{n}", source=source, station_id=dock)
        except Exception as exc:  # noqa: BLE001 — reported below
            errors.append(exc)

    poller = threading.Thread(target=poll)
    poller.start()
    writers = [threading.Thread(target=scan, args=(f"sim://s{n}",)) for n in range(4)]
    for t in writers:
        t.start()
    for t in writers:
        t.join(timeout=60)
    done.set()
    poller.join(timeout=30)
    assert not errors, errors
    with db.read() as s:
        logged = [row.id for row in recent(s, station_id=dock, newest_first=False, limit=1000)]
    assert len(logged) == 80
    assert seen == logged
