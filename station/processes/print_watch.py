"""Seeing a sent job printed: a printer's own counters, watched by the print worker until they show it done.

"Sent" is not "printed": a printer takes a job into its receive buffer and prints it when it can (a job
sent just as the roll ran out waits there; a printer switched off and on loses it). For a printer that
reports its counters (tcp://, by ~HS: formats in the receive buffer, labels remaining) the worker watches
each sent job until the printer's own counters show it done, then marks it ``printed``. The rule, per
printer (`Tracker`), from the printer's answers in the order they were read (a sender's confirming ~HS
after each job, the confirm thread's polls every `confirm_every` seconds while jobs are watched, status
checks):

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

The confirm thread (`Watch`) does the polling and writes the outcomes, so no send waits for a
confirmation. The watch lives in the worker's memory: jobs still watched when it stops stay ``sent``,
marked "Not confirmed: the print worker stopped…" (a worker killed outright leaves them ``sent`` without
a note). Printers that cannot report (cups://, file://, serial://, tcp://…?confirm=0) leave jobs
``sent``, the best they know.
"""
from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .. import unavailable
from ..services import print_queue
from ..services.printing import QUEUED, UNCONFIRMED

if TYPE_CHECKING:
    from .print_worker import PrintWorker

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Target:
    """The printer a batch goes to, as its row said when the batch was claimed."""

    id: int
    name: str
    url: str


@dataclass(eq=False)
class Watched:
    """A job a confirming printer took, not yet seen printed."""

    id: int
    place: int               # done once the printer has printed this many formats (see Tracker.printed)
    since: float             # time.monotonic() when it was sent
    recorded: bool = False   # its 'sent' is committed: the confirm thread may write its outcome
    outcome: tuple[str, str] | None = None   # ("printed" | "lost" | "unconfirmed", reason) once settled


# A settled job, ready to be written: (its printer's tracker, the job, outcome, reason).
Outcome = tuple["Tracker", Watched, str, str]


class Tracker:
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
        self.jobs: list[Watched] = []
        self.device = None       # the confirm thread's printer object (opened once)
        self.shown: tuple | None = None   # what the confirm thread last wrote to the printer's row
        self.shown_at = 0.0

    def watch(self, job_id: int, reading) -> Watched:
        """Watch a job the printer has just confirmed with `reading` (already applied)."""
        watched = Watched(job_id, self.printed + reading.formats_in_buffer, time.monotonic())
        self.jobs.append(watched)
        return watched

    def apply(self, reading) -> list[tuple[Watched, str, str]]:
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

    def expire(self, older_than: float) -> list[tuple[Watched, str, str]]:
        """Stop watching jobs sent more than older_than seconds ago."""
        cutoff = time.monotonic() - older_than
        old = [w for w in self.jobs if w.since < cutoff]
        if not old:
            return []
        self.jobs = [w for w in self.jobs if w not in old]
        why = (f"{UNCONFIRMED}: printer {self.target.name} had not printed this label "
               f"{duration(dt.timedelta(seconds=older_than))} after it took it. Check it came out; reprint it if not.")
        return [(w, "unconfirmed", why) for w in old]


class Watch:
    """A worker's trackers (one per confirming printer), the outcomes settled but not yet written, and the
    confirm thread that polls printers holding watched jobs and writes what their counters settle."""

    def __init__(self, worker: PrintWorker) -> None:
        self.worker = worker
        self.trackers: dict[tuple[int, str], Tracker] = {}
        self.outcomes: list[Outcome] = []   # settled, 'sent' committed: to write
        self.lock = threading.Lock()        # guards trackers and outcomes
        self.wake = threading.Event()
        self.thread: threading.Thread | None = None

    def tracker(self, target: Target, *, create: bool = True) -> Tracker | None:
        key = (target.id, target.url)
        with self.lock:
            tracker = self.trackers.get(key)
            if tracker is None and create:
                tracker = self.trackers[key] = Tracker(target)
            return tracker

    def settle(self, tracker: Tracker, settled: list[tuple[Watched, str, str]]) -> None:
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
            with self.lock:
                self.outcomes.extend(ready)

    def take(self) -> list[Outcome]:
        """The outcomes settled so far, for a sender to write in its own transaction (`put_back` if not)."""
        with self.lock:
            outcomes, self.outcomes = self.outcomes, []
        return outcomes

    def put_back(self, outcomes: list[Outcome]) -> None:
        with self.lock:
            self.outcomes[:0] = outcomes

    def recorded(self, tracker: Tracker, job_ids: list[int], watched: dict[int, Watched],
                 written: dict[int, tuple[str, str]]) -> None:
        """The sender committed these jobs' 'sent': from now on the confirm thread writes their outcomes
        (one settled while the transaction ran is queued for it at once)."""
        late = []
        with tracker.lock:
            for job_id in job_ids:
                w = watched.get(job_id)
                if w is None or job_id in written:
                    continue
                w.recorded = True
                if w.outcome is not None:   # settled while the transaction ran
                    late.append((tracker, w, *w.outcome))
        if late:
            with self.lock:
                self.outcomes.extend(late)

    def forget(self, tracker: Tracker, job_ids: set[int]) -> None:
        """Jobs whose 'sent' was not recorded: they stay 'sending' and are sent again after the lease."""
        with tracker.lock:
            tracker.jobs = [w for w in tracker.jobs if w.id not in job_ids]

    def count(self, outcomes: list[tuple[str, str]]) -> None:
        counts = {"printed": 0, "lost": 0, "unconfirmed": 0}
        for outcome, _ in outcomes:
            counts[outcome] += 1
        self.worker.stats.add(**counts)

    @staticmethod
    def write_outcomes(session, outcomes: list[Outcome]) -> None:
        """Write settled outcomes of jobs whose 'sent' is committed: printed, lost (queued again or failed),
        not confirmed."""
        print_queue.mark_printed(session, [w.id for _, w, outcome, _ in outcomes if outcome == "printed"])
        for tracker, w, outcome, reason in outcomes:
            if outcome == "lost":
                job = print_queue.mark_lost(session, w.id, tracker.target.name)
                if job is not None:
                    log.warning("print job %s: printer %s lost it unprinted; %s", w.id, tracker.target.name,
                                "sent again" if job.status is QUEUED else "failed (lost twice)")
            elif outcome == "unconfirmed":
                print_queue.mark_unconfirmed(session, [w.id], reason)

    # --- the confirm thread ------------------------------------------------------------------------

    def start(self) -> threading.Thread:
        self.thread = threading.Thread(target=self._loop, daemon=True, name="print confirm")
        self.thread.start()
        return self.thread

    def _loop(self) -> None:
        worker = self.worker
        while not worker.stopping.is_set():
            self.wake.wait(worker.confirm_every)
            self.wake.clear()
            if worker.stopping.is_set():
                break
            try:
                self.confirm_once()
            except Exception as exc:  # noqa: BLE001 - a database blink must not end the thread
                if unavailable.describe(exc) is None:
                    log.exception("print worker %s: confirming printed jobs failed", worker.worker_id)
                else:
                    log.warning("print worker %s: the database cannot be reached to confirm printed jobs (%s)",
                                worker.worker_id, unavailable.describe(exc).code)
                    worker.stopping.wait(1.0)
        try:
            self.flush()   # what was settled before the stop; jobs still watched stay 'sent'
        except Exception:  # noqa: BLE001
            log.warning("print worker %s: outcomes settled before the stop not written", worker.worker_id)

    def confirm_once(self) -> int:
        """Poll each printer with watched jobs not heard from for confirm_every seconds, and write the
        outcomes settled so far; how many outcomes were written."""
        from devices.printers import PrinterError, PrinterState, PrinterStatus

        worker = self.worker
        with self.lock:
            trackers = list(self.trackers.values())
        now = time.monotonic()
        for tracker in trackers:
            if worker.stopping.is_set():
                break
            with tracker.lock:
                if not tracker.jobs or now - tracker.read_at < worker.confirm_every:
                    continue
            if tracker.device is None:
                try:
                    tracker.device = worker.open_device(tracker.target.url)
                except PrinterError as exc:
                    tracker.device = None
                    reading = PrinterStatus(tracker.target.url, (PrinterState.OFFLINE,), detail=str(exc))
                    with tracker.lock:
                        self.settle(tracker, tracker.apply(reading))
                    continue
            started = time.perf_counter()
            with tracker.lock:
                reading = tracker.device.status()
                self.settle(tracker, tracker.apply(reading) + tracker.expire(worker.max_age.total_seconds()))
            worker.stats.add(confirm_s=time.perf_counter() - started, confirm_polls=1)
            self._show(tracker, reading)
        return self.flush()

    def _show(self, tracker: Tracker, reading) -> None:
        """The printer's state on its row while jobs wait in it: a change at once, else every 2 s (the counts,
        and the state again, in case a sender wrote another one meanwhile)."""
        shown = (reading.state.value, reading.formats_in_buffer)
        now = time.monotonic()
        if shown[0] == (tracker.shown or ("",))[0] and now - tracker.shown_at < 2.0:
            return
        tracker.shown, tracker.shown_at = shown, now
        self.worker.record_status(tracker.target.id, reading)

    def give_up(self, why: str) -> int:
        """Jobs still watched stay 'sent', marked "Not confirmed" with why (nobody watches them any more)."""
        with self.lock:
            trackers = list(self.trackers.values())
        left = []
        for tracker in trackers:
            with tracker.lock:
                watched, tracker.jobs = tracker.jobs, []
            text = (f"{UNCONFIRMED}: {why} while this label was still in printer {tracker.target.name}'s buffer; "
                    "it prints when the printer can. Check it came out; reprint it if not.")
            left += [(tracker, w, "unconfirmed", text) for w in watched if w.recorded]
        if left:
            self.worker.write(self.write_outcomes, left)
            self.count([("unconfirmed", "")] * len(left))
        return len(left)

    def flush(self) -> int:
        """Write the outcomes settled so far (tried again on the next round if the database blinks)."""
        outcomes = self.take()
        if not outcomes:
            return 0
        try:
            self.worker.write(self.write_outcomes, outcomes)
        except Exception:
            self.put_back(outcomes)
            raise
        self.count([(outcome, reason) for _, _, outcome, reason in outcomes])
        return len(outcomes)


def duration(delta: dt.timedelta) -> str:
    """A duration as a person says it: 90 s, 5 min, 2 h."""
    seconds = int(delta.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h"
