"""The print worker: sends queued print jobs to their printers and records what happened.

Each of its threads loops: claim the next due job (and up to `batch` jobs queued behind it on the
same printer) through `services.printing.claim_next`, open the printer by its URL, read its
status (unless it confirmed a job with "ready" within `status_fresh` seconds: tcp:// printers
answer ~HS after every job), and

- the printer cannot print (offline, paper out, head open, paused...): the printer's state is
  written to its row, the job goes back to ``queued`` with ``attempts`` + 1, ``last_error`` set to
  the state in words and ``next_attempt_at`` backed off (1 s, 2 s, 4 s ... at most 60 s);
- else each job is sent in order; delivered → ``sent``; a retryable PrinterError (a dropped
  connection, a timeout) → backed off as above; a PrinterError that cannot clear (a bad printer
  URL), or a job older than `max_age` or tried `max_attempts` times → ``failed`` with the reason.

Sent jobs are recorded in groups, one transaction per `record_max` jobs or `record_every` seconds
of sending (a commit per label would make the database, not the printer, the bottleneck); a
printer that reports a fault when it confirms a job stops the batch there (that job is sent: it
prints when the fault clears), and the jobs behind it wait. Jobs claimed but not tried (behind a
failure, or when stopping) are given back untouched. Every
status read updates Printer.state / state_detail / state_checked_at, and while idle the first
thread re-reads each active printer's status every `status_every` seconds, so the printers page
shows a printer out of paper before anyone prints. For a ``sim://`` printer the job's PNG preview
is written next to its spooled file (``000001-123.zpl`` → ``000001-123.png``).

A thread sleeps on an event that `services.printing` sets when a job is committed in this
process, and otherwise polls every `poll_s` (jobs queued by other processes). `station run` runs
the worker in-process (``--no-print-worker`` leaves it out); `station worker` runs it alone; any
number of them may run against one PostgreSQL database. `stop()` (SIGTERM in both commands)
lets the job being sent finish, gives the rest back and joins the threads.

Delivery is at-least-once in one narrow window (see `services.printing`): a worker that dies
after the printer took a job but before ``sent`` was recorded (at most `record_max` jobs or
`record_every` seconds of them) leaves it ``sending``; after the lease another worker sends it
again. On PostgreSQL the worker's own commits do not wait for the WAL flush, with the same effect
if the database server crashes.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError

from . import clock, netpolicy, notify, unavailable
from .db import Database
from .models import Printer, PrintJob
from .services import printing

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Claimed:
    """What a thread needs of a claimed job once the claim's transaction is over."""

    id: int
    payload: bytes
    template: str
    data: dict | None
    label_size: str
    dpi: int
    attempts: int
    created_at: dt.datetime

    @classmethod
    def of(cls, job: PrintJob) -> Claimed:
        return cls(job.id, job.payload or b"", job.template, job.data, job.label_size, job.dpi, job.attempts,
                   printing._utc(job.created_at))


@dataclass(frozen=True)
class Target:
    id: int
    name: str
    url: str


@dataclass
class Stats:
    """What the worker has done since it started (for logs, tests and the benchmark)."""

    sent: int = 0
    retried: int = 0
    failed: int = 0
    claim_s: float = 0.0   # claiming jobs (database)
    record_s: float = 0.0  # writing outcomes and printer states (database)
    status_s: float = 0.0  # asking printers their status
    send_s: float = 0.0    # sending to printers
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **values: float) -> None:
        with self.lock:
            for key, value in values.items():
                setattr(self, key, getattr(self, key) + value)


class PrintWorker:
    """Sends the print outbox; `start()` runs `threads` threads, `stop()` ends them cleanly."""

    def __init__(self, db: Database, *, worker_id: str | None = None, threads: int = 2, batch: int = 50,
                 poll_s: float = 0.5, lease: dt.timedelta = printing.LEASE, backoff_first: float = 1.0,
                 backoff_max: float = 60.0, max_age: dt.timedelta = dt.timedelta(hours=1),
                 max_attempts: int = 100, status_every: float = 15.0, record_every: float = 0.05,
                 record_max: int = 20, status_fresh: float = 2.0, gather_s: float = 0.01, spool_root: Path | None = None,
                 open_printer: Callable | None = None, networks=None, listen: bool = True) -> None:
        self.db = db
        # STATION_DEVICE_NETWORKS: a printer outside these is never opened, whatever its row says.
        self.networks = netpolicy.from_environment() if networks is None else netpolicy.parse_networks(networks)
        self.worker_id = worker_id or f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.threads = max(1, threads)
        self.batch = max(1, batch)
        self.poll_s = poll_s
        self.lease = lease
        self.backoff_first, self.backoff_max = backoff_first, backoff_max
        self.max_age, self.max_attempts = max_age, max_attempts
        self.status_every = status_every
        self.record_every, self.record_max = record_every, max(1, record_max)
        self.status_fresh = status_fresh
        self.gather_s = gather_s
        self._fresh: dict[int, tuple[float, object]] = {}
        self._fresh_lock = threading.Lock()
        self.spool_root = spool_root
        self._open_printer = open_printer
        self.stats = Stats()
        self._stop = threading.Event()
        self._wakes: list[threading.Event] = []
        self._threads: list[threading.Thread] = []
        self._last_status_sweep = 0.0
        # PostgreSQL: a job committed by another process wakes the threads at once (station/notify.py).
        self.listen = listen and notify.is_postgresql(db.url)
        self.listener: notify.Listener | None = None

    @classmethod
    def for_app(cls, app, **options) -> PrintWorker:
        """A worker on the app's database; sim:// printers spool under <instance>/printers."""
        options.setdefault("spool_root", Path(app.config.get("PRINTER_SPOOL")
                                              or Path(app.instance_path) / "printers"))
        options.setdefault("networks", app.config.get("DEVICE_NETWORKS", ()))
        worker = cls(app.extensions["station.db"], **options)
        app.extensions["station.print_worker"] = worker
        return worker

    # --- life cycle ------------------------------------------------------------------------------

    def start(self) -> PrintWorker:
        self._stop.clear()
        for index in range(self.threads):
            wake = threading.Event()
            printing.subscribe(wake)
            self._wakes.append(wake)
            thread = threading.Thread(target=self._run, args=(index, wake), daemon=True,
                                      name=f"print worker {index}")
            self._threads.append(thread)
            thread.start()
        if self.listen:
            self.listener = notify.Listener(self.db.url, printing.wake_workers).start()
        log.info("print worker %s: %d thread(s)", self.worker_id, self.threads)
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the job being sent, give back the others, and wait for the threads; safe to repeat."""
        self._stop.set()
        if self.listener is not None:
            self.listener.stop()
            self.listener = None
        for wake in self._wakes:
            wake.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(max(0.0, deadline - time.monotonic()))
        alive = [t.name for t in self._threads if t.is_alive()]
        for wake in self._wakes:
            printing.unsubscribe(wake)
        self._threads, self._wakes = [], []
        if alive:
            log.warning("print worker %s: %s still busy after %.0f s", self.worker_id, ", ".join(alive), timeout)

    @property
    def running(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    def __enter__(self) -> PrintWorker:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _run(self, index: int, wake: threading.Event) -> None:
        thread_id = f"{self.worker_id}/{index}"
        outage = 0  # rounds in a row the database could not serve
        while not self._stop.is_set():
            wake.clear()
            try:
                claimed = self.run_once(thread_id)
            except Exception as exc:  # noqa: BLE001 - a database hiccup must not end the worker
                claimed = 0
                if unavailable.describe(exc) is None:
                    log.exception("print worker %s: a round failed", thread_id)
                else:
                    # One line when the outage starts, not a traceback every poll; wait longer
                    # between tries while it lasts (up to 5 s). The jobs stay queued in the database.
                    if not outage:
                        log.warning("print worker %s: the database cannot be reached (%s); retrying",
                                    thread_id, unavailable.describe(exc).code)
                    outage += 1
                    self._stop.wait(min(0.25 * outage, 5.0))
                    continue
            if outage:
                log.warning("print worker %s: the database is back", thread_id)
                outage = 0
            if claimed >= self.batch:
                continue  # more may be waiting right behind
            if claimed:
                # Labels are trickling in (one request after another): let a few more arrive, so
                # the next claim takes them together rather than one transaction each.
                self._stop.wait(self.gather_s)
                continue
            if index == 0:
                try:
                    self.refresh_statuses()
                except Exception:  # noqa: BLE001
                    log.exception("print worker %s: printer status sweep failed", thread_id)
            if wake.wait(self.poll_s) and self.gather_s:
                self._stop.wait(self.gather_s)

    # --- one round -------------------------------------------------------------------------------

    def run_once(self, thread_id: str | None = None) -> int:
        """Claim and send one batch; how many jobs it claimed (0: none was due)."""
        thread_id = thread_id or f"{self.worker_id}/0"
        started = time.perf_counter()
        with self.db.read() as session:
            if not printing.anything_open(session):
                self.stats.add(claim_s=time.perf_counter() - started)
                return 0
        with self.db.write() as session:
            self._relaxed(session)
            jobs = printing.claim_next(session, thread_id, batch=self.batch, lease=self.lease)
            if not jobs:
                self.stats.add(claim_s=time.perf_counter() - started)
                return 0
            row = session.get(Printer, jobs[0].printer_id)
            target = Target(row.id, row.name, row.url)
            claimed = [Claimed.of(job) for job in jobs]
        self.stats.add(claim_s=time.perf_counter() - started)
        self._deliver(thread_id, target, claimed)
        return len(claimed)

    def _open(self, url: str):
        problem = netpolicy.refusal(url, self.networks)
        if problem:  # checked here too: a row changed in the database directly is still not opened
            from devices.printers import PrinterError

            raise PrinterError(f"not sent — {problem}", retryable=False)
        if self._open_printer is not None:
            return self._open_printer(url)
        from devices.printers import open_printer

        return open_printer(url, spool_root=self.spool_root)

    def _deliver(self, thread_id: str, target: Target, jobs: list[Claimed]) -> None:
        from devices.printers import PrinterError

        pending = list(jobs)
        taken: list[Claimed] = []  # sent, not yet recorded: see record_every
        after = None               # the status the printer confirmed the last job with
        first_taken = 0.0
        try:
            try:
                device = self._open(target.url)
            except PrinterError as exc:
                self._write(printing.record_status, target.id, "offline", str(exc))
                self._not_printed(thread_id, pending.pop(0), f"Printer {target.name}: {exc}", exc.retryable)
                return
            try:
                status = self._recent_status(target.id) or self._status(target, device)
                if not status.can_print:
                    self._not_printed(thread_id, pending.pop(0), status.text, retryable=True)
                    return
                while pending and not self._stop.is_set():
                    job = pending[0]
                    started = time.perf_counter()
                    try:
                        device.send(job.payload)
                    except Exception as exc:  # noqa: BLE001 - PrinterError, or a backend's own slip
                        self.stats.add(send_s=time.perf_counter() - started)
                        pending.pop(0)
                        self._record_sent(thread_id, target, taken, after, device)
                        taken = []
                        retryable = getattr(exc, "retryable", True)
                        self._not_printed(thread_id, job, self._reason(target, device, exc), retryable)
                        return
                    self.stats.add(send_s=time.perf_counter() - started)
                    pending.pop(0)
                    if not taken:
                        first_taken = time.monotonic()
                    taken.append(job)
                    after = getattr(device, "last_status", None)  # tcp:// answers ~HS after each job
                    if after is not None:
                        self._remember(target.id, after)
                    if self._spools(device):
                        self._preview(job, device)
                    faulted = after is not None and not after.can_print
                    if (faulted or not pending or len(taken) >= self.record_max
                            or time.monotonic() - first_taken >= self.record_every):
                        self._record_sent(thread_id, target, taken, after, device)
                        taken = []
                    if pending and faulted:
                        # It took this job and prints it when the fault clears; the rest wait here.
                        self._write(printing.release, [j.id for j in pending], thread_id,
                                    not_before=clock.now() + dt.timedelta(seconds=self.backoff_first))
                        pending = []
            finally:
                device.close()
        finally:
            if taken:
                self._record_sent(thread_id, target, taken, after, device)
            if pending:
                self._write(printing.release, [j.id for j in pending], thread_id)

    def _recent_status(self, printer_id: int):
        """A 'ready' the printer answered within status_fresh seconds (tcp:// confirms every job with
        ~HS): no need to ask again before the next batch. A fault is always asked again."""
        with self._fresh_lock:
            seen = self._fresh.get(printer_id)
        if seen is None or time.monotonic() - seen[0] > self.status_fresh or not seen[1].can_print:
            return None
        return seen[1]

    def _remember(self, printer_id: int, status) -> None:
        with self._fresh_lock:
            self._fresh[printer_id] = (time.monotonic(), status)

    def _status(self, target: Target, device):
        started = time.perf_counter()
        status = device.status()
        self.stats.add(status_s=time.perf_counter() - started)
        self._remember(target.id, status)
        self._record(target.id, status)
        return status

    def _record(self, printer_id: int, status) -> None:
        started = time.perf_counter()
        self._write(printing.record_status, printer_id, status.state.value, status.detail or status.text,
                    printing._utc(status.checked_at))
        self.stats.add(record_s=time.perf_counter() - started)

    def _reason(self, target: Target, device, exc: Exception) -> str:
        """Why a send failed, in words: the printer's state when it reports one, else the error."""
        try:
            status = self._status(target, device)
        except Exception:  # noqa: BLE001 - the reason must still be recorded
            status = None
        if status is not None and not status.can_print:
            return f"{status.text} ({exc})"
        return str(exc) or type(exc).__name__

    def _not_printed(self, thread_id: str, job: Claimed, reason: str, retryable: bool) -> None:
        attempts = job.attempts + 1
        age = clock.now() - job.created_at
        give_up = not retryable or attempts >= self.max_attempts or age >= self.max_age
        if give_up and retryable:
            reason = f"Not printed after {attempts} tries over {_duration(age)}: {reason}"
        delay = min(self.backoff_max, self.backoff_first * 2 ** min(attempts - 1, 30))
        self._write(printing.retry_later, job.id, thread_id, reason, delay=dt.timedelta(seconds=delay),
                    give_up=give_up)
        self.stats.add(**({"failed": 1} if give_up else {"retried": 1}))
        log.info("print job %s %s: %s", job.id, "failed" if give_up else f"retry in {delay:g} s", reason)

    def _record_sent(self, thread_id: str, target: Target, jobs: list[Claimed], after, device) -> None:
        """Record jobs the printer took as 'sent' in one transaction, with the status it confirmed them with."""
        if not jobs:
            return
        started = time.perf_counter()

        def record(session) -> int:
            held = printing.mark_sent(session, [j.id for j in jobs], thread_id)
            if after is not None:
                printing.record_status(session, target.id, after.state.value, after.detail or after.text,
                                       printing._utc(after.checked_at))
            return held

        held = self._write(record)
        self.stats.add(sent=len(jobs), record_s=time.perf_counter() - started)
        if held != len(jobs):
            log.warning("print jobs %s were sent, but %d claim(s) had run out: another worker may send them too",
                        [j.id for j in jobs], len(jobs) - held)

    @staticmethod
    def _spools(device) -> bool:
        return getattr(device, "last_path", None) is not None

    def _preview(self, job: Claimed, device) -> None:
        """sim:// printers: the job's PNG next to its spooled file, for people looking at the spool folder."""
        if job.data is None:
            return
        try:
            Path(device.last_path).with_suffix(".png").write_bytes(
                printing.render_png(job.template, job.data, job.label_size, job.dpi))
        except Exception:  # noqa: BLE001 - a preview must never fail a job
            log.exception("print job %s: preview not written", job.id)

    def _relaxed(self, session) -> None:
        """PostgreSQL: the worker's own writes (claims, outcomes) do not wait for the WAL flush. A crash of
        the database server may forget the last few milliseconds of them: a job is then 'sending' again
        (sent again after the lease, like a worker that died) or 'queued' again — never lost."""
        if not self.db.is_sqlite:
            session.execute(text("SET LOCAL synchronous_commit = off"))

    def _write(self, fn: Callable, *args, **kwargs):
        """Run fn(session, ...) in a write transaction, retried a few times if the database blinks:
        an outcome that is not written leaves the job 'sending' until its lease runs out."""
        for attempt in range(3):
            try:
                with self.db.write() as session:
                    self._relaxed(session)
                    return fn(session, *args, **kwargs)
            except OperationalError as exc:
                if attempt == 2:
                    raise
                # A database blink is not a bug: one line, no traceback (the outage test reads the log).
                reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0][:200]
                log.warning("print worker: database error (%s), retrying", reason)
                time.sleep(0.2 * (attempt + 1))

    # --- printer states while idle -----------------------------------------------------------------

    def refresh_statuses(self, *, force: bool = False) -> int:
        """Re-read the status of active printers not checked for `status_every` seconds."""
        if not self.status_every and not force:
            return 0
        now_mono = time.monotonic()
        if not force and now_mono - self._last_status_sweep < self.status_every:
            return 0
        self._last_status_sweep = now_mono
        cutoff = clock.now() - dt.timedelta(seconds=self.status_every or 0)
        with self.db.read() as session:
            rows = session.execute(select(Printer.id, Printer.name, Printer.url, Printer.state_checked_at)
                                   .where(Printer.active.is_(True)).order_by(Printer.name)).all()
        checked = 0
        for pid, name, url, checked_at in rows:
            if self._stop.is_set():
                break
            if not force and checked_at is not None and printing._utc(checked_at) > cutoff:
                continue
            try:
                with self._open(url) as device:
                    self._status(Target(pid, name, url), device)
            except Exception as exc:  # noqa: BLE001 - a bad URL is shown on the page, not fatal
                self._write(printing.record_status, pid, "offline", f"{exc}")
            checked += 1
        return checked


def _duration(delta: dt.timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h"
