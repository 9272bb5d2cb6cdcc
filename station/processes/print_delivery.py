"""One batch of claimed jobs delivered to one printer, and what the printer did recorded.

`Batch.deliver` opens the printer, reads its status (unless it confirmed a job with "ready" within
`status_fresh` seconds: tcp:// printers answer ~HS after every job) and sends each job in order. What a
printer did with a job comes back from `Printer.send` as a SendOutcome: the status it confirmed the job
with (a fault there means the job waits in its buffer: it is sent, and the jobs behind it wait), whether
delivery is printing (sim://), how many bytes it took and the preview the backend wrote (sim:// writes
the job's PNG beside its spooled file, drawn by `Claimed.preview` only when asked). It is recorded: the
status on the printer's row, ``printed`` at once when the backend says so, the counts in the worker's
Stats, and a line in the log (DEBUG per job; INFO when the printer holds what it took).

Sent jobs are recorded in groups, one transaction per `record_max` jobs or `record_every` seconds of
sending (a commit per label would make the database, not the printer, the bottleneck). A failed send
backs the job off (or fails it: a fault that cannot clear, too old, too many tries); jobs claimed but
not tried (behind a failure, or when stopping) are given back untouched.
"""
from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .. import clock
from ..models import PrintJob
from ..services import print_queue, printing
from ..services.printing import UNCONFIRMED
from .print_watch import Target, Tracker, Watched, duration

if TYPE_CHECKING:
    from devices.printers import SendOutcome

    from .print_worker import PrintWorker

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

    def preview(self) -> bytes:
        """The job's PNG, for a printer that keeps one (sim://): drawn from its data, as its ZPL was."""
        return printing.render_png(self.template, self.data, self.label_size, self.dpi)


class Batch:
    """Jobs one thread claimed for one printer, in the order to send them."""

    def __init__(self, worker: PrintWorker, thread_id: str, target: Target, jobs: list[Claimed]) -> None:
        self.worker, self.thread_id, self.target, self.jobs = worker, thread_id, target, jobs

    def deliver(self) -> None:
        """Send the jobs in order; record each outcome; give back what was not tried."""
        worker, thread_id, target = self.worker, self.thread_id, self.target
        from devices.printers import PrinterError

        pending = list(self.jobs)
        taken: list[tuple[Claimed, SendOutcome]] = []  # sent with their SendOutcome, not yet recorded: see record_every
        watched: dict[int, Watched] = {}   # taken jobs a confirming printer counted in its buffer
        first_taken = 0.0
        tracker = None
        try:
            try:
                device = worker.open_device(target.url)
            except PrinterError as exc:
                worker.write(print_queue.record_status, target.id, "offline", str(exc))
                self._not_printed(pending.pop(0), f"Printer {target.name}: {exc}", exc.retryable)
                return
            tracker = worker.watch.tracker(target) if device.confirms else None
            try:
                status = worker.recent_status(target.id) or worker.read_status(target, device)
                if not status.can_print:
                    self._not_printed(pending.pop(0), status.text, retryable=True)
                    return
                while pending and not worker.stopping.is_set():
                    job = pending[0]
                    started = time.perf_counter()
                    try:
                        outcome = self._send(device, tracker, job, watched)
                    except Exception as exc:  # noqa: BLE001 - PrinterError, or a backend's own slip
                        worker.stats.add(send_s=time.perf_counter() - started)
                        pending.pop(0)
                        self._record_sent(taken, tracker, watched)
                        taken = []
                        retryable = getattr(exc, "retryable", True)   # a backend's own slip has none
                        self._not_printed(job, self._reason(device, exc), retryable)
                        return
                    worker.stats.add(send_s=time.perf_counter() - started)
                    pending.pop(0)
                    if not taken:
                        first_taken = time.monotonic()
                    taken.append((job, outcome))
                    if outcome.status is not None:
                        worker.remember(target.id, outcome.status)
                    faulted = outcome.status is not None and not outcome.status.can_print
                    if (faulted or not pending or len(taken) >= worker.record_max
                            or time.monotonic() - first_taken >= worker.record_every):
                        self._record_sent(taken, tracker, watched)
                        taken = []
                    if pending and faulted:
                        # It took this job and prints it when the fault clears; the rest wait here.
                        worker.write(print_queue.release, [j.id for j in pending], thread_id,
                                     not_before=clock.now() + dt.timedelta(seconds=worker.backoff_first))
                        pending = []
            finally:
                device.close()
        finally:
            if taken:
                self._record_sent(taken, tracker, watched)
            if pending:
                worker.write(print_queue.release, [j.id for j in pending], thread_id)

    def _send(self, device, tracker: Tracker | None, job: Claimed, watched: dict[int, Watched]):
        """Send one job; its SendOutcome, whose status (the printer's answer after it) the tracker counts."""
        preview = job.preview if job.data is not None else None
        if tracker is None:
            return device.send(job.payload, preview=preview)
        with tracker.lock:   # the printer's answers are counted in the order it gave them
            outcome = device.send(job.payload, preview=preview)
            after = outcome.status
            if after is None:
                return outcome
            settled = tracker.apply(after)
            if after.counted:
                watched[job.id] = tracker.watch(job.id, after)
            else:
                watched[job.id] = Watched(job.id, 0, time.monotonic(), outcome=(
                    "unconfirmed", f"{UNCONFIRMED}: the printer's answer after this label had no buffer counters "
                                   f"({after.detail[:200]}). Check it came out; reprint it if not."))
            self.worker.watch.settle(tracker, settled)
        return outcome

    def _reason(self, device, exc: Exception) -> str:
        """Why a send failed, in words: the printer's state when it reports one, else the error."""
        try:
            status = self.worker.read_status(self.target, device)
        except Exception:  # noqa: BLE001 - the reason must still be recorded
            status = None
        if status is not None and not status.can_print:
            return f"{status.text} ({exc})"
        return str(exc) or type(exc).__name__

    def _not_printed(self, job: Claimed, reason: str, retryable: bool) -> None:
        """This try did not print: back off and try again later, or fail the job in words."""
        worker = self.worker
        attempts = job.attempts + 1
        age = clock.now() - job.created_at
        give_up = not retryable or attempts >= worker.max_attempts or age >= worker.max_age
        if give_up and retryable:
            reason = f"Not printed after {attempts} tries over {duration(age)}: {reason}"
        delay = min(worker.backoff_max, worker.backoff_first * 2 ** min(attempts - 1, 30))
        worker.write(print_queue.retry_later, job.id, self.thread_id, reason, delay=dt.timedelta(seconds=delay),
                     give_up=give_up)
        worker.stats.add(**({"failed": 1} if give_up else {"retried": 1}))
        log.info("print job %s %s: %s", job.id, "failed" if give_up else f"retry in {delay:g} s", reason)

    def _record_sent(self, taken: list[tuple[Claimed, SendOutcome]], tracker: Tracker | None = None,
                     watched: dict[int, Watched] | None = None) -> None:
        """Record jobs the printer took as 'sent' in one transaction, with the status it confirmed the last
        with: 'printed' at once for a backend that says delivery is printing (sim://) or whose counters
        already showed them done, and any other outcome the counters settled meanwhile (lost, not confirmed)."""
        if not taken:
            return
        worker, thread_id, target = self.worker, self.thread_id, self.target
        started = time.perf_counter()
        watched = watched or {}
        jobs = [job for job, _ in taken]
        after = taken[-1][1].status
        outcomes: dict[int, tuple[str, str]] = {}
        if tracker is not None:
            with tracker.lock:
                outcomes = {j.id: watched[j.id].outcome for j in jobs
                            if j.id in watched and watched[j.id].outcome is not None}
        printed_ids = [j.id for j, sent in taken if sent.printed or outcomes.get(j.id, ("",))[0] == "printed"]
        sent_ids = [j.id for j in jobs if j.id not in printed_ids]
        earlier = worker.watch.take()   # earlier jobs the counters settled meanwhile: in the same transaction

        def record(session) -> int:
            held = print_queue.mark_sent(session, printed_ids, thread_id, printed=True) if printed_ids else 0
            if sent_ids:
                held += print_queue.mark_sent(session, sent_ids, thread_id)
            for job_id, (outcome, reason) in outcomes.items():
                if outcome == "lost":
                    print_queue.mark_lost(session, job_id, target.name)
                elif outcome == "unconfirmed":
                    print_queue.mark_unconfirmed(session, [job_id], reason)
            if after is not None:
                print_queue.record_status(session, target.id, after.state.value, after.detail or after.text,
                                          printing._utc(after.checked_at))
            if earlier:
                worker.watch.write_outcomes(session, earlier)
            return held

        try:
            held = worker.write(record)
        except Exception:
            if tracker is not None:   # not recorded: the job stays 'sending' and is sent again after the lease
                worker.watch.forget(tracker, {j.id for j in jobs})
            worker.watch.put_back(earlier)
            raise
        worker.watch.count([(outcome, reason) for _, _, outcome, reason in earlier])
        worker.watch.count([("printed", "")] * len(printed_ids) + [o for o in outcomes.values() if o[0] != "printed"])
        if tracker is not None:
            worker.watch.recorded(tracker, [j.id for j in jobs], watched, outcomes)
        worker.stats.add(sent=len(jobs), bytes_sent=sum(sent.bytes_sent for _, sent in taken),
                         record_s=time.perf_counter() - started)
        for job, sent in taken:
            log.debug("print job %s: printer %s took %d bytes%s%s%s", job.id, target.name, sent.bytes_sent,
                      f", then said {sent.status.state.value}" if sent.status is not None else "",
                      ", printed" if job.id in printed_ids else "",
                      f", preview {sent.preview_path}" if sent.preview_path else "")
        if after is not None and not after.can_print:
            log.info("print jobs %s: printer %s took them and holds them (%s)", [j.id for j in jobs], target.name,
                     after.text)
        if held != len(jobs):
            log.warning("print jobs %s were sent, but %d claim(s) had run out: another worker may send them too",
                        [j.id for j in jobs], len(jobs) - held)
