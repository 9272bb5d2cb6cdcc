"""The print worker against the printer emulator over real TCP: every fault mode ends with each job
printed exactly once (counted in the emulator's store) once the fault clears, or visibly failed with
the reason; a `station worker` process started after the jobs were queued prints them all once."""
from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select, update

from devices.printers import PrinterState, SendOutcome, sim
from devices.printers.emulator import PrinterEmulator
from station import clock
from station.models import Printer, PrintJob, PrintJobStatus
from station.processes.print_worker import PrintWorker
from station.services import print_queue, printing

from test_printing import jobs, make_site

SENT, FAILED, QUEUED = PrintJobStatus.SENT, PrintJobStatus.FAILED, PrintJobStatus.QUEUED
PRINTED = PrintJobStatus.PRINTED  # the emulator's ~HS counters showed it done (tcp://), or spooled (sim://)
STATION = Path(sys.executable).parent / "station"


@pytest.fixture
def emulator(tmp_path):
    with PrinterEmulator("127.0.0.1", 0, tmp_path / "emulator", delay=0.1) as emu:
        yield emu


def fast_worker(db, **options) -> PrintWorker:
    """A worker that retries within tenths of a second, so a test sees several tries."""
    # networks: the emulator is on loopback, which a network printer may only be on when named.
    options = {"threads": 1, "poll_s": 0.02, "backoff_first": 0.05, "backoff_max": 0.2, "status_every": 0,
               "networks": "127.0.0.1/32", **options}
    return PrintWorker(db, **options)


def wait_until(check, timeout: float = 15.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def printer_row(db, name: str = "zebra") -> Printer:
    with db.read() as s:
        row = s.scalar(select(Printer).where(Printer.name == name))
        s.expunge(row)
        return row


def queue(db, lot: str, n: int, **options) -> list[int]:
    with db.write() as s:
        return [printing.request_labels(s, lot, **options).id for _ in range(n)]


def all_in(db, *states: PrintJobStatus) -> bool:
    return all(j.status in states for j in jobs(db))


def tcp_site(db, emulator, timeout: float = 1.0) -> str:
    return make_site(db, {"zebra": f"tcp://127.0.0.1:{emulator.port}?timeout={timeout:g}"})


def assert_printed_once(db, emulator, ids: list[int], states=(PRINTED,)) -> None:
    """Every job is printed, and the emulator stored each payload exactly once, in the order asked."""
    done = {j.id: j for j in jobs(db)}
    assert all(done[i].status in states for i in ids), [(i, done[i].status, done[i].last_error) for i in ids]
    emulator.wait_for_jobs(len(ids), timeout=10)
    time.sleep(0.2)  # anything sent twice would show up by now
    assert emulator.printed() == [done[i].payload for i in ids]


# --- every fault mode of the emulator ------------------------------------------------------------

# mode -> (printer state the worker must record, words the job's reason must contain)
HELD_BACK = {
    "offline": ("offline", "Printer offline"),
    "paper_out": ("paper_out", "out of labels"),
    "head_open": ("head_open", "head is open"),
    "ribbon_out": ("ribbon_out", "out of ribbon"),
    "paused": ("paused", "paused"),
}


@pytest.mark.parametrize("mode", list(HELD_BACK))
def test_a_faulted_printer_gets_nothing_until_the_fault_clears_then_each_job_once(db, emulator, mode):
    lot = tcp_site(db, emulator)
    emulator.set_mode(mode)
    ids = queue(db, lot, 3)
    with fast_worker(db):
        state, words = HELD_BACK[mode]
        head = wait_until(lambda: (j := jobs(db)[0]).attempts >= 2 and j.status is QUEUED and j, what="two tries")
        assert head.status is QUEUED and words in head.last_error and head.next_attempt_at is not None
        row = printer_row(db)
        assert row.state == state and row.state_checked_at is not None
        assert [j.attempts for j in jobs(db)][1:] == [0, 0]  # the rest wait behind the head, untried
        assert emulator.jobs == []
        emulator.set_mode("ready")
        wait_until(lambda: all_in(db, PRINTED), what="all printed")
    assert_printed_once(db, emulator, ids)
    assert printer_row(db).state == "ready"


def test_a_slow_printer_prints_each_job_once(db, emulator):
    lot = tcp_site(db, emulator)
    emulator.set_mode("slow", delay=0.15)
    ids = queue(db, lot, 4)
    with fast_worker(db):
        wait_until(lambda: all_in(db, SENT, PRINTED), what="all sent")
        assert len(emulator.jobs) < 4  # handed over faster than it prints: it has them in its buffer
        assert SENT in {j.status for j in jobs(db)}  # ... and those are not 'printed' yet
        wait_until(lambda: all_in(db, PRINTED), what="all printed")
    assert_printed_once(db, emulator, ids)


def test_a_connection_dropped_mid_job_is_retried_and_prints_once(db, emulator):
    lot = tcp_site(db, emulator)
    emulator.set_mode("drop", drop_after=40)
    ids = queue(db, lot, 3)
    with fast_worker(db):
        head = wait_until(lambda: (j := jobs(db)[0]).attempts >= 2 and j.status is QUEUED and j, what="two tries")
        assert head.status is QUEUED and "cut" in head.last_error and "did not get through" in head.last_error
        assert emulator.jobs == []  # a format cut off is never stored
        emulator.set_mode("ready")
        wait_until(lambda: all_in(db, PRINTED), what="all printed")
    assert_printed_once(db, emulator, ids)


def test_a_printer_that_never_answers_ends_failed_with_the_reason(db, emulator):
    lot = tcp_site(db, emulator, timeout=0.3)
    emulator.set_mode("silent")
    ids = queue(db, lot, 2)
    with fast_worker(db, max_attempts=3):
        wait_until(lambda: all_in(db, FAILED), what="both failed")
    done = jobs(db)
    assert [j.id for j in done] == ids
    for job in done:
        assert job.attempts == 3 and job.last_error.startswith("Not printed after 3 tries")
        assert "Printer offline" in job.last_error
    assert emulator.jobs == [] and printer_row(db).state == "offline"


def test_a_job_too_old_to_retry_fails_and_the_next_one_goes(db, emulator):
    lot = tcp_site(db, emulator)
    ids = queue(db, lot, 2)
    with db.write() as s:
        s.execute(update(PrintJob).where(PrintJob.id == ids[0])
                  .values(created_at=clock.now() - dt.timedelta(hours=2)))
    emulator.set_mode("paper_out")
    with fast_worker(db, max_age=dt.timedelta(hours=1)):
        wait_until(lambda: jobs(db)[0].status is FAILED, what="the old one failed")
        assert "over 2 h" in jobs(db)[0].last_error and "out of labels" in jobs(db)[0].last_error
        emulator.set_mode("ready")
        wait_until(lambda: jobs(db)[1].status is PRINTED, what="the next one printed")
    assert emulator.printed() == [jobs(db)[1].payload]


def test_a_printer_url_that_cannot_work_fails_the_job_at_once(db):
    lot = make_site(db, {"zebra": "lpt://wherever"})
    (job_id,) = queue(db, lot, 1)
    with fast_worker(db):
        wait_until(lambda: all_in(db, FAILED), what="failed")
    (job,) = jobs(db)
    assert job.attempts == 1 and "unknown printer URL" in job.last_error
    assert printer_row(db).state == "offline"


def test_a_fault_reported_when_the_job_is_confirmed_holds_the_rest(db, emulator):
    """The printer takes a job and answers 'paper out': that job is sent (it prints when the roll is
    changed); the ones behind it wait instead of piling into a faulted printer."""
    lot = tcp_site(db, emulator)
    ids = queue(db, lot, 3)
    from devices.printers.tcp import TcpPrinter

    class FaultsAfterFirst(TcpPrinter):
        def send(self, data: bytes, *, preview=None) -> SendOutcome:
            super().send(data)
            emulator.set_mode("paper_out")
            faulted = super().send(b"")  # read the status again, now faulted (an empty job: ~HS only)
            return SendOutcome(len(data), faulted.status)

    worker = fast_worker(db, batch=10, open_printer=lambda url: FaultsAfterFirst(url))
    with worker:
        wait_until(lambda: jobs(db)[1].attempts >= 1, what="the second tried")
    done = jobs(db)  # the worker stopped: nothing is in the middle of a retry
    # the first is sent: printed if the emulator printed it before the roll ran out, else waiting in it
    assert done[0].status in (SENT, PRINTED) and [j.status for j in done[1:]] == [QUEUED, QUEUED]
    assert [j.attempts for j in done[1:]][1] == 0 and "out of labels" in done[1].last_error
    assert printer_row(db).state == "paper_out"
    emulator.set_mode("ready")
    with fast_worker(db):
        wait_until(lambda: all(j.status is PRINTED for j in jobs(db)[1:]), what="the rest printed")
    # Had the first waited in the printer, the worker watching it stopped: it stays 'sent' (a new worker
    # does not know where it was in the printer's buffer), but it printed, once.
    assert_printed_once(db, emulator, ids, states=(SENT, PRINTED))


# --- the printer's state on the page ------------------------------------------------------------


def test_the_worker_records_an_idle_printers_state(db, emulator):
    tcp_site(db, emulator)
    emulator.set_mode("head_open")
    worker = fast_worker(db)
    assert worker.refresh_statuses(force=True) == 1
    row = printer_row(db)
    assert row.state == "head_open" and row.state_checked_at is not None and row.state_detail
    emulator.set_mode("ready")
    with fast_worker(db, status_every=0.05):
        wait_until(lambda: printer_row(db).state == "ready", what="ready again")


def test_a_sim_printer_spools_each_job_with_its_preview(db, tmp_path):
    name = "sim-preview"
    lot = make_site(db, {"zebra": f"sim://{name}"})
    ids = queue(db, lot, 2)
    sim.set_state(name, PrinterState.PAPER_OUT)
    try:
        with fast_worker(db, spool_root=tmp_path / "spool"):
            wait_until(lambda: jobs(db)[0].attempts >= 1, what="a try")
            assert printer_row(db).state == "paper_out" and "out of labels" in jobs(db)[0].last_error
            sim.set_state(name)
            wait_until(lambda: all_in(db, PRINTED), what="all printed (spooled)")
    finally:
        sim.set_state(name)
    spooled = sorted((tmp_path / "spool" / name).glob("*.zpl"))
    assert [p.read_bytes() for p in spooled] == [j.payload for j in jobs(db)]
    for path in spooled:
        with Image.open(path.with_suffix(".png")) as image:
            assert image.size == (812, 1218)
    assert [j.id for j in jobs(db)] == ids


# --- restarts ----------------------------------------------------------------------------------


def start_worker_process(db_url: str, tmp_path: Path) -> subprocess.Popen:
    env = {**os.environ, "STATION_DATABASE_URL": db_url, "STATION_INSTANCE": str(tmp_path / "instance"),
           "PYTHONUNBUFFERED": "1", "STATION_DEVICE_NETWORKS": "127.0.0.1/32"}  # the emulator is on loopback
    return subprocess.Popen([str(STATION), "worker", "--poll", "0.05"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def stop_process(process: subprocess.Popen) -> str:
    process.send_signal(signal.SIGTERM)
    try:
        out, _ = process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        out, _ = process.communicate()
        raise AssertionError(f"station worker did not stop on SIGTERM:\n{out}") from None
    return out


def test_jobs_queued_before_a_worker_process_starts_print_once_and_sigterm_stops_it(db, db_url, emulator,
                                                                                     tmp_path):
    lot = tcp_site(db, emulator)
    ids = queue(db, lot, 5)
    # One more was being sent by a worker that died (its claim is an hour old): sent again, once.
    with db.write() as s:
        (dead,) = print_queue.claim_next(s, "died-mid-job", now=clock.now() - dt.timedelta(hours=1), batch=1)
    assert dead.id == ids[0]
    time.sleep(0.3)
    assert emulator.jobs == []  # nothing printed while no worker runs
    process = start_worker_process(db_url, tmp_path)
    try:
        wait_until(lambda: all_in(db, PRINTED), timeout=120, what="the worker process to print all")
    finally:
        out = stop_process(process)
    assert process.returncode == 0, out
    assert "print worker stopped: 5 sent, 0 retried, 0 failed" in out, out
    assert_printed_once(db, emulator, ids)
    assert "may print twice" in jobs(db)[0].last_error


def test_a_worker_process_stopped_while_the_printer_is_out_of_paper_leaves_the_jobs_queued(db, db_url,
                                                                                           emulator, tmp_path):
    lot = tcp_site(db, emulator)
    emulator.set_mode("paper_out")
    ids = queue(db, lot, 3)
    process = start_worker_process(db_url, tmp_path)
    try:
        wait_until(lambda: jobs(db)[0].attempts >= 1, timeout=120, what="a try")
    finally:
        out = stop_process(process)
    assert process.returncode == 0, out
    assert all_in(db, QUEUED)  # nothing left 'sending' by a clean stop
    emulator.set_mode("ready")
    with fast_worker(db):  # the station restarted
        wait_until(lambda: all_in(db, PRINTED), what="all printed after the restart")
    assert_printed_once(db, emulator, ids)
