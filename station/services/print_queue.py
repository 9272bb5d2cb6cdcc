"""The print outbox, the worker's side: claiming due jobs and recording what each try did.

`station.processes.print_worker` calls these, each in its own short write transaction; pages and the
API never do (they queue, cancel and reprint through `services.printing`, whose docstring draws the
states). The rules they keep:

- A printer's jobs are sent in the order they were requested: only the oldest open job of a
  printer (its "head") can be claimed, so a later label never overtakes an earlier one, and
  while a printer is faulted all of its jobs wait behind the head's backoff.
- Several workers (threads or processes) never send one job twice: a claim happens inside a
  write transaction (``BEGIN IMMEDIATE`` on SQLite; ``SELECT … FOR UPDATE SKIP LOCKED`` on
  PostgreSQL) that moves the job to ``sending`` and names the worker. A worker only records an
  outcome for a job it still holds (``claimed_by`` is its id and the job is ``sending``).

Delivery is at-least-once in one narrow window, and exactly-once otherwise. A worker that dies
(killed, host lost, database gone) after the printer took a label but before it recorded
``sent`` leaves the job in ``sending``. Once its claim is older than the lease (`LEASE`; the
worker renews it while it works), `claim_next` puts the job back to ``queued`` with a
``last_error`` that says so, and it is sent again: that label may come out twice. The worker
records sent jobs in small groups (at most `PrintWorker.record_max` jobs or `record_every`
seconds of sending, 20 jobs / 50 ms by default; a printer's fault or a failed send records at
once), so the window covers at most those labels. The other
choice — never resending an unconfirmed job — would lose labels whenever a worker dies before
the printer had them, and a missing lot label is worse than a duplicate one that a worker can
throw away. The same holds for a printer that takes a whole job and then drops the connection
before confirming it. The lease must be longer than the longest send (the printers' timeouts),
or a slow but live worker's job would be sent by another worker too.

A sent job on a printer that reports its counters is watched until it printed (`mark_printed`), was
lost in a restart (`mark_lost`: queued again once) or cannot be confirmed (`mark_unconfirmed`); see
`station.processes.print_watch` for the rule.

A job that gives up (``failed``: a fault that cannot clear, too many tries, too old, lost twice) tells
the ERP in the transaction that fails it: a ``label.failed`` event (services/events.py), keyed by the
job's lot, or by its printer when it has none.
"""
from __future__ import annotations

import datetime as dt
from typing import Iterable

from sqlalchemy import func, or_, select, text, update
from sqlalchemy.orm import Session, aliased

from .. import clock, notify
from ..models import Lot, Printer, PrintJob
from . import events
from .actor import Actor
from .event_bodies import lot_facts, lot_key
from .printing import FAILED, OPEN, PRINTED, QUEUED, SENDING, SENT, UNCONFIRMED

LEASE = dt.timedelta(seconds=30)  # a 'sending' job whose claim is older than this is taken back
STALE_TEXT = ("The worker sending this label stopped before it could confirm it; sent again "
              "(it may print twice).")
LOST_TEXT = ("Printer {printer} restarted (or its buffer was cleared) before this label printed; "
             "sent again.")
LOST_TWICE_TEXT = ("Lost twice: printer {printer} restarted (or its buffer was cleared) before this label "
                   "printed, again. Not sent a third time — check the printer, then reprint.")


def requeue_stale(session: Session, *, lease: dt.timedelta = LEASE, now: dt.datetime | None = None) -> int:
    """Put 'sending' jobs whose claim is older than the lease back to 'queued' (their worker died).

    See the module docstring: such a job may already have printed, and will print again.
    """
    now = now or clock.now()
    stale = session.scalars(select(PrintJob.id).where(PrintJob.status == SENDING,
                                                      PrintJob.claimed_at < now - lease)
                            .with_for_update(skip_locked=True)).all()
    if stale:
        session.execute(update(PrintJob).where(PrintJob.id.in_(stale), PrintJob.status == SENDING)
                        .values(status=QUEUED, claimed_by=None, claimed_at=None, next_attempt_at=None,
                                last_error=STALE_TEXT, updated_at=now))
    return len(stale)


def anything_open(session: Session) -> bool:
    """True when some job is queued or being sent: an idle worker asks this (a read) before it takes
    the write lock that a claim needs, so polling never blocks a receipt on SQLite."""
    return session.scalar(select(PrintJob.id).where(PrintJob.status.in_(OPEN)).limit(1)) is not None


def claim_next(session: Session, worker_id: str, *, batch: int = 1, lease: dt.timedelta = LEASE,
               now: dt.datetime | None = None) -> list[PrintJob]:
    """Claim the next job to send, and up to batch-1 jobs queued behind it on the same printer.

    Call inside a write transaction (`Database.write()`). Returns the jobs in the order to send
    them, now 'sending' and claimed by `worker_id`, or [] when no job is due. Only the oldest open
    job of each active printer (its head) can start a claim, and only when its backoff is over;
    a head claimed by another worker is skipped (its row lock on PostgreSQL, the write lock on
    SQLite), so two workers never hold jobs of one printer at the same time.
    """
    now = now or clock.now()
    requeue_stale(session, lease=lease, now=now)
    other = aliased(PrintJob)
    heads = select(func.min(other.id)).where(other.status.in_(OPEN)).group_by(other.printer_id)
    head = session.scalars(
        select(PrintJob).join(Printer, Printer.id == PrintJob.printer_id)
        .where(PrintJob.id.in_(heads), PrintJob.status == QUEUED, Printer.active.is_(True),
               or_(PrintJob.next_attempt_at.is_(None), PrintJob.next_attempt_at <= now))
        .order_by(PrintJob.id).limit(1)
        .with_for_update(skip_locked=True, of=PrintJob)).first()
    if head is None:
        return []
    jobs = [head]
    if batch > 1:
        behind = (PrintJob.printer_id == head.printer_id, PrintJob.id > head.id)
        locked = session.scalars(select(PrintJob).where(*behind, PrintJob.status == QUEUED)
                                 .order_by(PrintJob.id).limit(batch - 1)
                                 .with_for_update(skip_locked=True, of=PrintJob)).all()
        in_line = session.scalars(select(PrintJob.id).where(*behind, PrintJob.status.in_(OPEN))
                                  .order_by(PrintJob.id).limit(batch - 1)).all()
        for job, expected in zip(locked, in_line):
            if job.id != expected:  # one in between is busy (being cancelled): keep the order
                break
            jobs.append(job)
    for job in jobs:
        job.status, job.claimed_by, job.claimed_at, job.updated_at = SENDING, worker_id, now, now
    session.flush()
    return jobs


def _held(worker_id: str, job_ids: Iterable[int]):
    return (PrintJob.id.in_(list(job_ids)), PrintJob.status == SENDING, PrintJob.claimed_by == worker_id)


def renew(session: Session, worker_id: str, now: dt.datetime | None = None) -> int:
    """Renew the lease of every job this worker holds."""
    now = now or clock.now()
    return session.execute(update(PrintJob).where(PrintJob.status == SENDING, PrintJob.claimed_by == worker_id)
                           .values(claimed_at=now)).rowcount


def mark_sent(session: Session, job_ids: int | Iterable[int], worker_id: str,
              now: dt.datetime | None = None, *, printed: bool = False) -> int:
    """The printer took these jobs: 'sent' ('printed' at once when printed: a sim:// spool, or a printer
    whose counters already showed them done). Returns how many this worker still held (a job whose
    lease ran out was taken back, and another worker may send it too). Renews the worker's lease."""
    now = now or clock.now()
    ids = [job_ids] if isinstance(job_ids, int) else list(job_ids)
    done = session.execute(update(PrintJob).where(*_held(worker_id, ids)).values(
        status=PRINTED if printed else SENT, sent_at=now, printed_at=now if printed else None,
        attempts=PrintJob.attempts + 1, next_attempt_at=None, updated_at=now)).rowcount
    renew(session, worker_id, now)
    return done


def mark_printed(session: Session, job_ids: Iterable[int], now: dt.datetime | None = None) -> int:
    """The printer's counters showed these sent jobs done: 'printed'. Returns how many were still 'sent'."""
    now = now or clock.now()
    ids = list(job_ids)
    if not ids:
        return 0
    return session.execute(update(PrintJob).where(PrintJob.id.in_(ids), PrintJob.status == SENT).values(
        status=PRINTED, printed_at=now, updated_at=now)).rowcount


def mark_lost(session: Session, job_id: int, printer: str, now: dt.datetime | None = None) -> PrintJob | None:
    """The printer lost this sent job unprinted (it restarted with the job in its buffer): back to the
    queue, to be sent again — once. A job lost a second time is 'failed' in words. None: not 'sent' now."""
    now = now or clock.now()
    job = session.scalar(select(PrintJob).where(PrintJob.id == job_id, PrintJob.status == SENT)
                         .with_for_update())
    if job is None:
        return None
    job.updated_at, job.claimed_by, job.claimed_at, job.next_attempt_at = now, None, None, None
    if (job.lost_count or 0) >= 1:
        job.status, job.last_error = FAILED, LOST_TWICE_TEXT.format(printer=printer)
    else:
        job.status, job.last_error, job.sent_at = QUEUED, LOST_TEXT.format(printer=printer), None
    job.lost_count = (job.lost_count or 0) + 1
    if job.status is FAILED:
        _tell_failed(session, job, now)
    session.flush()
    if job.status is QUEUED:
        notify.print_jobs_committed(session)
    return job


def mark_unconfirmed(session: Session, job_ids: Iterable[int], reason: str,
                     now: dt.datetime | None = None) -> int:
    """Stop waiting for these sent jobs to show as printed: they stay 'sent', with why in last_error
    (starting with UNCONFIRMED), so a person can check the label and reprint it."""
    now = now or clock.now()
    ids = list(job_ids)
    if not ids:
        return 0
    text = reason if reason.startswith(UNCONFIRMED) else f"{UNCONFIRMED}: {reason}"
    return session.execute(update(PrintJob).where(PrintJob.id.in_(ids), PrintJob.status == SENT).values(
        last_error=text[:2000], updated_at=now)).rowcount


def retry_later(session: Session, job_id: int, worker_id: str, reason: str, *, delay: dt.timedelta,
                give_up: bool = False, now: dt.datetime | None = None) -> PrintJob | None:
    """This try did not print: back to 'queued' to try again after `delay`, or 'failed' if give_up."""
    now = now or clock.now()
    job = session.scalar(select(PrintJob).where(*_held(worker_id, [job_id])))
    if job is None:
        return None
    job.attempts += 1
    job.last_error, job.updated_at, job.claimed_by, job.claimed_at = reason[:2000], now, None, None
    if give_up:
        job.status, job.next_attempt_at = FAILED, None
        _tell_failed(session, job, now)
    else:
        job.status, job.next_attempt_at = QUEUED, now + delay
    session.flush()
    return job


def mark_failed(session: Session, job_id: int, worker_id: str, reason: str,
                now: dt.datetime | None = None) -> PrintJob | None:
    """The job cannot print (a fault that will not clear): 'failed' with the reason."""
    return retry_later(session, job_id, worker_id, reason, delay=dt.timedelta(0), give_up=True, now=now)


def _tell_failed(session: Session, job: PrintJob, now: dt.datetime) -> None:
    """The label will not come out. The envelope's station and operator are the requester's: whose label
    is missing, not who noticed."""
    if session.get_bind().dialect.name == "postgresql":
        # The worker commits without waiting for the WAL (print_worker._relaxed). An event may not: a feed
        # reader could see its position, a server crash forget it, and the next event take the same number.
        session.execute(text("SET LOCAL synchronous_commit = on"))
    printer = session.get(Printer, job.printer_id)
    lot = session.get(Lot, job.lot_id) if job.lot_id else None
    events.record(session, "label.failed", {
        "job": job.id, "printer": printer.name, "template": job.template, "copies": job.copies,
        "lot": lot_facts(lot) if lot else None, "sscc": job.sscc, "error": job.last_error,
        "attempts": job.attempts, "lost": job.lost_count or 0,
    }, key=lot_key(lot) if lot else f"printer:{printer.name}",
        by=Actor(operator_id=job.operator_id, station_id=job.station_id, token_id=job.token_id), at=now)


def release(session: Session, job_ids: Iterable[int], worker_id: str, *,
            not_before: dt.datetime | None = None, now: dt.datetime | None = None) -> int:
    """Give jobs back unsent and untried (behind a job that failed, or the worker is stopping)."""
    now = now or clock.now()
    return session.execute(update(PrintJob).where(*_held(worker_id, job_ids)).values(
        status=QUEUED, claimed_by=None, claimed_at=None, next_attempt_at=not_before, updated_at=now)).rowcount


def record_status(session: Session, printer_id: int, state: str, detail: str | None,
                  checked_at: dt.datetime | None = None) -> None:
    """Remember what a printer said, for the pages (they never talk to printers themselves)."""
    session.execute(update(Printer).where(Printer.id == printer_id).values(
        state=state[:16], state_detail=detail, state_checked_at=checked_at or clock.now()))
