"""The print worker: sends queued print jobs to their printers and records what happened.

Each of its threads loops: claim the next due job (and up to `batch` jobs queued behind it on the
same printer) through `services.printing.claim_next`, open the printer by its URL, read its
status (unless it confirmed a job with "ready" within `status_fresh` seconds: tcp:// printers
answer ~HS after every job), and

- the printer cannot print (offline, paper out, head open, paused...): the printer's state is
  written to its row, the job goes back to ``queued`` with ``attempts`` + 1, ``last_error`` set to
  the state in words and ``next_attempt_at`` backed off (1 s, 2 s, 4 s ... at most 60 s);
- else each job is sent in order; delivered → ``sent`` (``printed`` at once for a sim:// printer,
  which has spooled it); a retryable PrinterError (a dropped connection, a timeout) → backed off as
  above; a PrinterError that cannot clear (a bad printer URL), or a job older than `max_age` or
  tried `max_attempts` times → ``failed`` with the reason.

"Sent" is not "printed": a printer takes a job into its receive buffer and prints it when it can (a
job sent just as the roll ran out waits there; a printer switched off and on loses it). For a printer
that reports its counters (tcp://, by ~HS: formats in the receive buffer, labels remaining) the worker
watches each sent job until the printer's own counters show it done, then marks it ``printed``. The
rule, per printer (`_Tracker`), from the printer's answers in the order they were read (a sender's
confirming ~HS after each job, the confirm thread's polls every `confirm_every` seconds while jobs are
watched, status checks):

- the printer works a FIFO: the answer right after a job counts it, last, among the F formats in the
  buffer; it is done once the printer has printed F formats from then on. Formats printed is counted
  from below by the drops of the buffer count between consecutive answers (arrivals from other senders
  can only hide a drop, never fake one), and a job is ``printed`` when that count passes it and no label
  is left to print, or when the printer reads empty (0 formats, 0 labels);
- an answer that does not come (refused, cut, silent) is a gap: a power-cycled printer is unreachable
  while it restarts, and comes back with an empty buffer. If across a gap the buffer count DROPPED: when
  the printer could not print before the gap (paper out, head open, paused...), nothing in its buffer
  can have printed, so every watched job was lost → back to the queue (ONCE: `lost_count`; lost again →
  ``failed`` in words). When it was printing before the gap, they may have printed or been lost: they
  stay ``sent``, marked "Not confirmed" with the reason, for a person to check (a reprint would rather
  duplicate a label than guess);
- a job not seen printed within `max_age` stays ``sent``, marked "Not confirmed".

The confirm thread does the polling and writes the outcomes, so no send waits for a confirmation. The
watch lives in the worker's memory: jobs still watched when it stops stay ``sent``, marked "Not
confirmed: the print worker stopped…" (a worker killed outright leaves them ``sent`` without a note). Printers that
cannot report (cups://, file://, serial://, tcp://…?confirm=0) leave jobs ``sent``, the best they know.

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
from .services.printing import UNCONFIRMED

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


@dataclass(eq=False)
class _Watched:
    """A job a confirming printer took, not yet seen printed."""

    id: int
    place: int               # done once the printer has printed this many formats (see _Tracker.printed)
    since: float             # time.monotonic() when it was sent
    recorded: bool = False   # its 'sent' is committed: the confirm thread may write its outcome
    outcome: tuple[str, str] | None = None   # ("printed" | "lost" | "unconfirmed", reason) once settled


class _Tracker:
    """One printer's ~HS counters, in the order read, and the jobs sent to it not yet seen printed.

    `lock` is held across a whole exchange with the printer (a send and its ~HS, a status poll) and the
    reading of its answer, so the answers are counted in the order the printer gave them. See the module
    docstring for the rule.
    """

    def __init__(self, target: Target) -> None:
        self.target = target
        self.lock = threading.Lock()
        self.printed = 0         # formats printed since the tracker began (a lower bound: drops of the count)
        self.last = None         # the last answer with counters
        self.gap = False         # an answer did not come since `last`
        self.read_at = 0.0       # time.monotonic() of the last answer
        self.jobs: list[_Watched] = []
        self.device = None       # the confirm thread's printer object (opened once)
        self.shown: tuple | None = None   # what the confirm thread last wrote to the printer's row
        self.shown_at = 0.0

    def watch(self, job_id: int, reading) -> _Watched:
        """Watch a job the printer has just confirmed with `reading` (already applied)."""
        watched = _Watched(job_id, self.printed + reading.formats_in_buffer, time.monotonic())
        self.jobs.append(watched)
        return watched

    def apply(self, reading) -> list[tuple[_Watched, str, str]]:
        """Count an answer; the watched jobs it settles, each (job, outcome, reason)."""
        from devices.printers import PrinterState

        self.read_at = time.monotonic()
        if not reading.counted:
            if PrinterState.OFFLINE in reading.problems:
                self.gap = True      # unreachable: it may be restarting
            return []                # a garbled answer: alive, but nothing to count
        before, gap = self.last, self.gap
        self.last, self.gap = reading, False
        if before is None:
            return []
        drop = before.formats_in_buffer - reading.formats_in_buffer
        if gap and drop > 0 and self.jobs:
            settled, self.jobs = self.jobs, []
            if before.holding:
                return [(w, "lost", "") for w in settled]
            why = (f"{UNCONFIRMED}: printer {self.target.name} could not be reached while it was printing and "
                   "came back with fewer labels in its buffer — this label may have printed or been lost in a "
                   "restart. Check it came out; reprint it if not.")
            return [(w, "unconfirmed", why) for w in settled]
        if drop > 0:
            self.printed += drop
        if reading.formats_in_buffer == 0 and reading.labels_remaining == 0:
            count = len(self.jobs)    # an empty printer has printed everything it took
        else:                         # places grow in the order sent: the printed ones are a prefix
            count = 0
            for w in self.jobs:
                if not (self.printed > w.place or (self.printed >= w.place and reading.labels_remaining == 0)):
                    break
                count += 1
        if not count:
            return []
        done, self.jobs = self.jobs[:count], self.jobs[count:]
        return [(w, "printed", "") for w in done]

    def expire(self, older_than: float) -> list[tuple[_Watched, str, str]]:
        """Stop watching jobs sent more than older_than seconds ago."""
        cutoff = time.monotonic() - older_than
        old = [w for w in self.jobs if w.since < cutoff]
        if not old:
            return []
        self.jobs = [w for w in self.jobs if w not in old]
        why = (f"{UNCONFIRMED}: printer {self.target.name} had not printed this label "
               f"{_duration(dt.timedelta(seconds=older_than))} after it took it. Check it came out; reprint it if not.")
        return [(w, "unconfirmed", why) for w in old]


@dataclass
class Stats:
    """What the worker has done since it started (for logs, tests and the benchmark)."""

    sent: int = 0
    retried: int = 0
    failed: int = 0
    printed: int = 0       # seen printed (a sim:// spool, or the printer's counters)
    lost: int = 0          # lost by the printer unprinted: sent again, or failed the second time
    unconfirmed: int = 0   # sent, but could not be seen printed
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
                 poll_s: float = 0.5, lease: dt.timedelta = printing.LEASE, backoff_first: float = 1.0,
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
        self._trackers: dict[tuple[int, str], _Tracker] = {}
        self._outcomes: list[tuple[_Tracker, _Watched, str, str]] = []   # settled, 'sent' committed: to write
        self._outcomes_lock = threading.Lock()
        self._confirm_wake = threading.Event()
        self._confirm_thread: threading.Thread | None = None
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
        self._confirm_thread = threading.Thread(target=self._confirm_loop, daemon=True, name="print confirm")
        self._threads.append(self._confirm_thread)
        self._confirm_thread.start()
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
        self._confirm_wake.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(max(0.0, deadline - time.monotonic()))
        alive = [t.name for t in self._threads if t.is_alive()]
        if not alive:
            try:
                self._flush_outcomes()   # settled by a sender's last answers after the confirm thread ended
                self._give_up_watching("the print worker stopped")
            except Exception:  # noqa: BLE001
                log.warning("print worker %s: outcomes settled before the stop not written", self.worker_id)
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
        watched: dict[int, _Watched] = {}   # taken jobs a confirming printer counted in its buffer
        after = None               # the status the printer confirmed the last job with
        first_taken = 0.0
        tracker = None
        try:
            try:
                device = self._open(target.url)
            except PrinterError as exc:
                self._write(printing.record_status, target.id, "offline", str(exc))
                self._not_printed(thread_id, pending.pop(0), f"Printer {target.name}: {exc}", exc.retryable)
                return
            tracker = self._tracker(target) if getattr(device, "confirms", False) else None
            try:
                status = self._recent_status(target.id) or self._status(target, device)
                if not status.can_print:
                    self._not_printed(thread_id, pending.pop(0), status.text, retryable=True)
                    return
                while pending and not self._stop.is_set():
                    job = pending[0]
                    started = time.perf_counter()
                    try:
                        after = self._send(device, tracker, job, watched)
                    except Exception as exc:  # noqa: BLE001 - PrinterError, or a backend's own slip
                        self.stats.add(send_s=time.perf_counter() - started)
                        pending.pop(0)
                        self._record_sent(thread_id, target, taken, after, device, tracker, watched)
                        taken = []
                        retryable = getattr(exc, "retryable", True)
                        self._not_printed(thread_id, job, self._reason(target, device, exc), retryable)
                        return
                    self.stats.add(send_s=time.perf_counter() - started)
                    pending.pop(0)
                    if not taken:
                        first_taken = time.monotonic()
                    taken.append(job)
                    if after is not None:
                        self._remember(target.id, after)
                    if self._spools(device):
                        self._preview(job, device)
                    faulted = after is not None and not after.can_print
                    if (faulted or not pending or len(taken) >= self.record_max
                            or time.monotonic() - first_taken >= self.record_every):
                        self._record_sent(thread_id, target, taken, after, device, tracker, watched)
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
                self._record_sent(thread_id, target, taken, after, device, tracker, watched)
            if pending:
                self._write(printing.release, [j.id for j in pending], thread_id)

    def _send(self, device, tracker: _Tracker | None, job: Claimed, watched: dict[int, _Watched]):
        """Send one job; the status the printer confirmed it with (tcp://), counted by the tracker."""
        if tracker is None:
            device.send(job.payload)
            return getattr(device, "last_status", None)
        with tracker.lock:   # the printer's answers are counted in the order it gave them
            device.send(job.payload)
            after = getattr(device, "last_status", None)
            if after is None:
                return None
            settled = tracker.apply(after)
            if after.counted:
                watched[job.id] = tracker.watch(job.id, after)
            else:
                watched[job.id] = _Watched(job.id, 0, time.monotonic(), outcome=(
                    "unconfirmed", f"{UNCONFIRMED}: the printer's answer after this label had no buffer counters "
                                   f"({after.detail[:200]}). Check it came out; reprint it if not."))
            self._settle(tracker, settled)
        return after

    def _tracker(self, target: Target) -> _Tracker:
        key = (target.id, target.url)
        with self._outcomes_lock:
            tracker = self._trackers.get(key)
            if tracker is None:
                tracker = self._trackers[key] = _Tracker(target)
            return tracker

    def _settle(self, tracker: _Tracker, settled: list[tuple[_Watched, str, str]]) -> None:
        """Jobs the counters settled (call holding tracker.lock): written by the confirm thread once their
        'sent' is committed; before that, the sender writes the outcome with it."""
        if not settled:
            return
        ready = []
        for watched, outcome, reason in settled:
            watched.outcome = (outcome, reason)
            if watched.recorded:
                ready.append((tracker, watched, outcome, reason))
        if ready:   # written with the sender's next record, or by the confirm thread's next round
            with self._outcomes_lock:
                self._outcomes.extend(ready)

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
        tracker = self._trackers.get((target.id, target.url)) if getattr(device, "confirms", False) else None
        if tracker is None:
            status = device.status()
        else:
            with tracker.lock:
                status = device.status()
                self._settle(tracker, tracker.apply(status))
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

    def _record_sent(self, thread_id: str, target: Target, jobs: list[Claimed], after, device,
                     tracker: _Tracker | None = None, watched: dict[int, _Watched] | None = None) -> None:
        """Record jobs the printer took as 'sent' in one transaction, with the status it confirmed them with:
        'printed' at once for a printer that spooled them (sim://) or whose counters already showed them done,
        and any other outcome the counters settled meanwhile (lost, not confirmed)."""
        if not jobs:
            return
        started = time.perf_counter()
        watched = watched or {}
        spooled = self._spools(device)
        outcomes: dict[int, tuple[str, str]] = {}
        if tracker is not None:
            with tracker.lock:
                outcomes = {j.id: watched[j.id].outcome for j in jobs
                            if j.id in watched and watched[j.id].outcome is not None}
        printed_ids = [j.id for j in jobs if spooled or outcomes.get(j.id, ("",))[0] == "printed"]
        sent_ids = [j.id for j in jobs if j.id not in printed_ids]
        with self._outcomes_lock:   # earlier jobs the counters settled meanwhile: in the same transaction
            earlier, self._outcomes = self._outcomes, []

        def record(session) -> int:
            held = printing.mark_sent(session, printed_ids, thread_id, printed=True) if printed_ids else 0
            if sent_ids:
                held += printing.mark_sent(session, sent_ids, thread_id)
            for job_id, (outcome, reason) in outcomes.items():
                if outcome == "lost":
                    printing.mark_lost(session, job_id, target.name)
                elif outcome == "unconfirmed":
                    printing.mark_unconfirmed(session, [job_id], reason)
            if after is not None:
                printing.record_status(session, target.id, after.state.value, after.detail or after.text,
                                       printing._utc(after.checked_at))
            if earlier:
                self._write_outcomes(session, earlier)
            return held

        try:
            held = self._write(record)
        except Exception:
            if tracker is not None:   # not recorded: the job stays 'sending' and is sent again after the lease
                with tracker.lock:
                    tracker.jobs = [w for w in tracker.jobs if w.id not in {j.id for j in jobs}]
            with self._outcomes_lock:
                self._outcomes[:0] = earlier
            raise
        self._count_outcomes([(outcome, reason) for _, _, outcome, reason in earlier])
        self._count_outcomes([("printed", "")] * len(printed_ids)
                             + [o for o in outcomes.values() if o[0] != "printed"])
        if tracker is not None:
            late = []
            with tracker.lock:
                for job in jobs:
                    w = watched.get(job.id)
                    if w is None or job.id in outcomes:
                        continue
                    w.recorded = True
                    if w.outcome is not None:   # settled while the transaction ran
                        late.append((tracker, w, *w.outcome))
            if late:
                with self._outcomes_lock:
                    self._outcomes.extend(late)
        self.stats.add(sent=len(jobs), record_s=time.perf_counter() - started)
        if held != len(jobs):
            log.warning("print jobs %s were sent, but %d claim(s) had run out: another worker may send them too",
                        [j.id for j in jobs], len(jobs) - held)

    def _count_outcomes(self, outcomes: list[tuple[str, str]]) -> None:
        counts = {"printed": 0, "lost": 0, "unconfirmed": 0}
        for outcome, _ in outcomes:
            counts[outcome] += 1
        self.stats.add(**counts)

    # --- confirming what was sent ------------------------------------------------------------------

    @staticmethod
    def _write_outcomes(session, outcomes: list[tuple[_Tracker, _Watched, str, str]]) -> None:
        """Write settled outcomes of jobs whose 'sent' is committed: printed, lost (queued again or failed),
        not confirmed."""
        printing.mark_printed(session, [w.id for _, w, outcome, _ in outcomes if outcome == "printed"])
        for tracker, w, outcome, reason in outcomes:
            if outcome == "lost":
                job = printing.mark_lost(session, w.id, tracker.target.name)
                if job is not None:
                    log.warning("print job %s: printer %s lost it unprinted; %s", w.id, tracker.target.name,
                                "sent again" if job.status is printing.QUEUED else "failed (lost twice)")
            elif outcome == "unconfirmed":
                printing.mark_unconfirmed(session, [w.id], reason)

    def _confirm_loop(self) -> None:
        """The confirm thread: poll printers holding watched jobs, write what their counters settle."""
        while not self._stop.is_set():
            self._confirm_wake.wait(self.confirm_every)
            self._confirm_wake.clear()
            if self._stop.is_set():
                break
            try:
                self.confirm_once()
            except Exception as exc:  # noqa: BLE001 - a database blink must not end the thread
                if unavailable.describe(exc) is None:
                    log.exception("print worker %s: confirming printed jobs failed", self.worker_id)
                else:
                    log.warning("print worker %s: the database cannot be reached to confirm printed jobs (%s)",
                                self.worker_id, unavailable.describe(exc).code)
                    self._stop.wait(1.0)
        try:
            self._flush_outcomes()   # what was settled before the stop; jobs still watched stay 'sent'
        except Exception:  # noqa: BLE001
            log.warning("print worker %s: outcomes settled before the stop not written", self.worker_id)

    def confirm_once(self) -> int:
        """Poll each printer with watched jobs not heard from for confirm_every seconds, and write the
        outcomes settled so far; how many outcomes were written."""
        from devices.printers import PrinterError, PrinterState, PrinterStatus

        with self._outcomes_lock:
            trackers = list(self._trackers.values())
        now = time.monotonic()
        for tracker in trackers:
            if self._stop.is_set():
                break
            with tracker.lock:
                if not tracker.jobs or now - tracker.read_at < self.confirm_every:
                    continue
            if tracker.device is None:
                try:
                    tracker.device = self._open(tracker.target.url)
                except PrinterError as exc:
                    tracker.device = None
                    reading = PrinterStatus(tracker.target.url, (PrinterState.OFFLINE,), detail=str(exc))
                    with tracker.lock:
                        self._settle(tracker, tracker.apply(reading))
                    continue
            started = time.perf_counter()
            with tracker.lock:
                reading = tracker.device.status()
                self._settle(tracker, tracker.apply(reading) + tracker.expire(self.max_age.total_seconds()))
            self.stats.add(confirm_s=time.perf_counter() - started, confirm_polls=1)
            self._show(tracker, reading)
        return self._flush_outcomes()

    def _show(self, tracker: _Tracker, reading) -> None:
        """The printer's state on its row while jobs wait in it: a change at once, else every 2 s (the counts,
        and the state again, in case a sender wrote another one meanwhile)."""
        shown = (reading.state.value, reading.formats_in_buffer)
        now = time.monotonic()
        if shown[0] == (tracker.shown or ("",))[0] and now - tracker.shown_at < 2.0:
            return
        tracker.shown, tracker.shown_at = shown, now
        self._record(tracker.target.id, reading)

    def _give_up_watching(self, why: str) -> int:
        """Jobs still watched stay 'sent', marked "Not confirmed" with why (nobody watches them any more)."""
        with self._outcomes_lock:
            trackers = list(self._trackers.values())
        left = []
        for tracker in trackers:
            with tracker.lock:
                watched, tracker.jobs = tracker.jobs, []
            text = (f"{UNCONFIRMED}: {why} while this label was still in printer {tracker.target.name}'s buffer; "
                    "it prints when the printer can. Check it came out; reprint it if not.")
            left += [(tracker, w, "unconfirmed", text) for w in watched if w.recorded]
        if left:
            self._write(self._write_outcomes, left)
            self._count_outcomes([("unconfirmed", "")] * len(left))
        return len(left)

    def _flush_outcomes(self) -> int:
        with self._outcomes_lock:
            outcomes, self._outcomes = self._outcomes, []
        if not outcomes:
            return 0

        try:
            self._write(self._write_outcomes, outcomes)
        except Exception:
            with self._outcomes_lock:   # tried again on the next round
                self._outcomes[:0] = outcomes
            raise
        self._count_outcomes([(outcome, reason) for _, _, outcome, reason in outcomes])
        return len(outcomes)

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
