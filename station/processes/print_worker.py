"""The print worker: sends queued print jobs to their printers and records what happened.

Each of its threads loops: claim the next due job (and up to `batch` jobs queued behind it on the
same printer) through `services.print_queue.claim_next`, open the printer by its URL, read its
status (unless it confirmed a job with "ready" within `status_fresh` seconds: tcp:// printers
answer ~HS after every job), and

- the printer cannot print (offline, paper out, head open, paused...): the printer's state is
  written to its row, the job goes back to ``queued`` with ``attempts`` + 1, ``last_error`` set to
  the state in words and ``next_attempt_at`` backed off (1 s, 2 s, 4 s ... at most 60 s);
- else each job is sent in order; delivered → ``sent`` (``printed`` at once for a sim:// printer,
  which has spooled it); a retryable PrinterError (a dropped connection, a timeout) → backed off as
  above; a PrinterError that cannot clear (a bad printer URL), or a job older than `max_age` or
  tried `max_attempts` times → ``failed`` with the reason.

"Sent" is not "printed": for a printer that reports its counters (tcp://), the worker's `Watch`
(station/processes/print_watch.py) follows each sent job until the printer shows it printed, lost or
not confirmable; the rule is written there.

A batch is delivered, and what the printer did with each job recorded, by `Batch`
(station/processes/print_delivery.py): sent jobs in groups of `record_max` jobs or `record_every`
seconds, a printer's fault on a confirmed job stopping the batch there. Every status read updates
Printer.state / state_detail / state_checked_at, and while idle the first thread re-reads each active
printer's status every `status_every` seconds, so the printers page shows a printer out of paper before
anyone prints.

A thread sleeps on an event that `station.notify` sets when a job is committed in this
process, and otherwise polls every `poll_s` (jobs queued by other processes). `station run` runs
the worker in-process (``--no-print-worker`` leaves it out); `station worker` runs it alone; any
number of them may run against one PostgreSQL database. `stop()` (SIGTERM in both commands)
lets the job being sent finish, gives the rest back and joins the threads.

Delivery is at-least-once in one narrow window (see `services.print_queue`): a worker that dies
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

from .. import clock, netpolicy, notify, unavailable
from ..db import Database
from ..models import Printer
from ..services import print_queue, printing
from .print_delivery import Batch, Claimed
from .print_watch import Target, Watch

log = logging.getLogger(__name__)


@dataclass
class Stats:
    """What the worker has done since it started (for logs, tests and the benchmark)."""

    sent: int = 0
    retried: int = 0
    failed: int = 0
    printed: int = 0       # seen printed (a sim:// spool, or the printer's counters)
    lost: int = 0          # lost by the printer unprinted: sent again, or failed the second time
    unconfirmed: int = 0   # sent, but could not be seen printed
    bytes_sent: int = 0    # what the printers took (SendOutcome.bytes_sent)
    claim_s: float = 0.0   # claiming jobs (database)
    record_s: float = 0.0  # writing outcomes and printer states (database)
    status_s: float = 0.0  # asking printers their status
    send_s: float = 0.0    # sending to printers
    confirm_s: float = 0.0  # the confirm thread asking printers with watched jobs (beside the sending)
    confirm_polls: int = 0  # ... how many times
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **values: float) -> None:
        with self.lock:
            for key, value in values.items():
                setattr(self, key, getattr(self, key) + value)


class PrintWorker:
    """Sends the print outbox; `start()` runs `threads` threads, `stop()` ends them cleanly."""

    def __init__(self, db: Database, *, worker_id: str | None = None, threads: int = 2, batch: int = 50,
                 poll_s: float = 0.5, lease: dt.timedelta = print_queue.LEASE, backoff_first: float = 1.0,
                 backoff_max: float = 60.0, max_age: dt.timedelta = dt.timedelta(hours=1),
                 max_attempts: int = 100, status_every: float = 15.0, record_every: float = 0.05,
                 record_max: int = 20, status_fresh: float = 2.0, gather_s: float = 0.01, spool_root: Path | None = None,
                 open_printer: Callable | None = None, networks=None, listen: bool = True,
                 confirm_every: float = 0.25) -> None:
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
        self.confirm_every = confirm_every   # seconds between ~HS polls of a printer holding watched jobs
        self.watch = Watch(self)
        self.spool_root = spool_root
        self._open_printer = open_printer
        self.stats = Stats()
        self.stopping = threading.Event()
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
        self.stopping.clear()
        for index in range(self.threads):
            wake = threading.Event()
            notify.subscribe(wake)
            self._wakes.append(wake)
            thread = threading.Thread(target=self._run, args=(index, wake), daemon=True,
                                      name=f"print worker {index}")
            self._threads.append(thread)
            thread.start()
        self._threads.append(self.watch.start())
        if self.listen:
            self.listener = notify.Listener(self.db.url, notify.wake_print_workers).start()
        log.info("print worker %s: %d thread(s)", self.worker_id, self.threads)
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the job being sent, give back the others, and wait for the threads; safe to repeat."""
        self.stopping.set()
        if self.listener is not None:
            self.listener.stop()
            self.listener = None
        for wake in self._wakes:
            wake.set()
        self.watch.wake.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(max(0.0, deadline - time.monotonic()))
        alive = [t.name for t in self._threads if t.is_alive()]
        if not alive:
            try:
                self.watch.flush()   # settled by a sender's last answers after the confirm thread ended
                self.watch.give_up("the print worker stopped")
            except Exception:  # noqa: BLE001
                log.warning("print worker %s: outcomes settled before the stop not written", self.worker_id)
        for wake in self._wakes:
            notify.unsubscribe(wake)
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

    def confirm_once(self) -> int:
        """Poll the printers holding watched jobs and write what their counters settled (see Watch)."""
        return self.watch.confirm_once()

    def _run(self, index: int, wake: threading.Event) -> None:
        thread_id = f"{self.worker_id}/{index}"
        outage = 0  # rounds in a row the database could not serve
        while not self.stopping.is_set():
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
                    self.stopping.wait(min(0.25 * outage, 5.0))
                    continue
            if outage:
                log.warning("print worker %s: the database is back", thread_id)
                outage = 0
            if claimed >= self.batch:
                continue  # more may be waiting right behind
            if claimed:
                # Labels are trickling in (one request after another): let a few more arrive, so
                # the next claim takes them together rather than one transaction each.
                self.stopping.wait(self.gather_s)
                continue
            if index == 0:
                try:
                    self.refresh_statuses()
                except Exception as exc:  # noqa: BLE001
                    if unavailable.describe(exc) is None:  # an outage: the next claim says so, once
                        log.exception("print worker %s: printer status sweep failed", thread_id)
            if wake.wait(self.poll_s) and self.gather_s:
                self.stopping.wait(self.gather_s)

    # --- one round -------------------------------------------------------------------------------

    def run_once(self, thread_id: str | None = None) -> int:
        """Claim and send one batch; how many jobs it claimed (0: none was due)."""
        thread_id = thread_id or f"{self.worker_id}/0"
        started = time.perf_counter()
        with self.db.read() as session:
            if not print_queue.anything_open(session):
                self.stats.add(claim_s=time.perf_counter() - started)
                return 0
        with self.db.write() as session:
            self._relaxed(session)
            jobs = print_queue.claim_next(session, thread_id, batch=self.batch, lease=self.lease)
            if not jobs:
                self.stats.add(claim_s=time.perf_counter() - started)
                return 0
            row = session.get(Printer, jobs[0].printer_id)
            target = Target(row.id, row.name, row.url)
            claimed = [Claimed.of(job) for job in jobs]
        self.stats.add(claim_s=time.perf_counter() - started)
        Batch(self, thread_id, target, claimed).deliver()
        return len(claimed)

    def open_device(self, url: str):
        """The printer at url, unless the site's network policy refuses it (PrinterError, not retryable)."""
        problem = netpolicy.refusal(url, self.networks)
        if problem:  # checked here too: a row changed in the database directly is still not opened
            from devices.printers import PrinterError

            raise PrinterError(f"not sent — {problem}", retryable=False)
        if self._open_printer is not None:
            return self._open_printer(url)
        from devices.printers import open_printer

        return open_printer(url, spool_root=self.spool_root)

    def recent_status(self, printer_id: int):
        """A 'ready' the printer answered within status_fresh seconds (tcp:// confirms every job with
        ~HS): no need to ask again before the next batch. A fault is always asked again."""
        with self._fresh_lock:
            seen = self._fresh.get(printer_id)
        if seen is None or time.monotonic() - seen[0] > self.status_fresh or not seen[1].can_print:
            return None
        return seen[1]

    def remember(self, printer_id: int, status) -> None:
        """Keep what the printer just said, for recent_status."""
        with self._fresh_lock:
            self._fresh[printer_id] = (time.monotonic(), status)

    def read_status(self, target: Target, device):
        """Ask the printer; counted by its tracker when jobs are watched on it, kept, and written to its row."""
        started = time.perf_counter()
        tracker = self.watch.tracker(target, create=False) if device.confirms else None
        if tracker is None:
            status = device.status()
        else:
            with tracker.lock:
                status = device.status()
                self.watch.settle(tracker, tracker.apply(status))
        self.stats.add(status_s=time.perf_counter() - started)
        self.remember(target.id, status)
        self.record_status(target.id, status)
        return status

    def record_status(self, printer_id: int, status) -> None:
        """Write what a printer said to its row, for the pages."""
        started = time.perf_counter()
        self.write(print_queue.record_status, printer_id, status.state.value, status.detail or status.text,
                   printing._utc(status.checked_at))
        self.stats.add(record_s=time.perf_counter() - started)

    def _relaxed(self, session) -> None:
        """PostgreSQL: the worker's own writes (claims, outcomes) do not wait for the WAL flush. A crash of
        the database server may forget the last few milliseconds of them: a job is then 'sending' again
        (sent again after the lease, like a worker that died) or 'queued' again — never lost."""
        if not self.db.is_sqlite:
            session.execute(text("SET LOCAL synchronous_commit = off"))

    def write(self, fn: Callable, *args, **kwargs):
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
            if self.stopping.is_set():
                break
            if not force and checked_at is not None and printing._utc(checked_at) > cutoff:
                continue
            try:
                with self.open_device(url) as device:
                    self.read_status(Target(pid, name, url), device)
            except Exception as exc:  # noqa: BLE001 - a bad URL is shown on the page, not fatal
                self.write(print_queue.record_status, pid, "offline", f"{exc}")
            checked += 1
        return checked
