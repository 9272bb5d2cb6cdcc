"""Printing as an outbox: a print request becomes a stored job first; a worker sends it later.

A request (`request_labels` for a lot, `request_label` for any template, `test_print`) validates
its input, renders the ZPL ONCE for the printer's size and density, and stores it as a `PrintJob`
in state ``queued`` together with the data the label was made from (so a preview of the job shows
exactly what was sent). Nothing talks to a printer here; `station.print_worker` does, through
`claim_next` and the outcome functions below, each called in its own short write transaction.

States::

    queued ──claim──> sending ──> sent ──> printed   (delivered; then seen printed by the printer's counters)
      ^  │                 │        │
      │  └─cancel─> cancelled   │        └──> queued  (lost: the printer restarted with it unprinted; ONCE,
      │                         │                    lost_count; lost again → failed)
      └─────────────────────────┴──> queued       (printer faulted or the send failed: retried later,
                                                   next_attempt_at backs off)
                                └──> failed        (a fault that cannot clear, or too many tries)

``sent`` means the printer (or its spooler) took the job. A tcp:// printer answers ~HS with its own
counters (formats in its receive buffer, labels remaining), and the print worker watches them until the
job has left the buffer: then ``printed`` (printed_at). A sim:// printer's job is printed once it is
spooled. A printer that cannot report (cups://, file://, serial://, tcp://…?confirm=0) leaves its jobs
``sent``: the pages say "sent to the spooler" / "sent — the printer cannot confirm it printed". A job
that stays ``sent`` on a confirming printer is waiting in the printer (paper out, paused...) or could not
be confirmed (see `mark_unconfirmed`); see station.print_worker for the rule.

- A repeated ``request_id`` returns the job it made the first time, and stores nothing new.
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
"""
from __future__ import annotations

import datetime as dt
import re
import threading
from typing import Any, Iterable

from sqlalchemy import event, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from .. import clock, notify
from ..models import Operator, Printer, PrintJob, PrintJobStatus, StationDevice
from . import labels as label_service
from .catalog import one
from .errors import Conflict, Invalid, NotFound

QUEUED, SENDING, SENT = PrintJobStatus.QUEUED, PrintJobStatus.SENDING, PrintJobStatus.SENT
PRINTED, FAILED, CANCELLED = PrintJobStatus.PRINTED, PrintJobStatus.FAILED, PrintJobStatus.CANCELLED
OPEN = (QUEUED, SENDING)          # not handed over: they hold their place in the printer's queue
FINISHED = (SENT, PRINTED, FAILED, CANCELLED)   # out of the outbox: can be reprinted, not cancelled
DONE = (PRINTED, FAILED, CANCELLED)  # nothing more happens to these ('sent' may still print or be lost)
UNCONFIRMED = "Not confirmed"     # how a sent job's last_error starts once the worker stopped watching it
LOST_TEXT = ("Printer {printer} restarted (or its buffer was cleared) before this label printed; "
             "sent again.")
LOST_TWICE_TEXT = ("Lost twice: printer {printer} restarted (or its buffer was cleared) before this label "
                   "printed, again. Not sent a third time — check the printer, then reprint.")

MAX_COPIES = label_service.MAX_COPIES
LEASE = dt.timedelta(seconds=30)  # a 'sending' job whose claim is older than this is taken back
TEST_TEMPLATE = "test"            # the printers page's test label (drawn here, see test_label_layout)
LOT_TEMPLATES = ("lot", "pallet")  # templates whose label data comes from a lot number
REQUEST_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
STALE_TEXT = ("The worker sending this label stopped before it could confirm it; sent again "
              "(it may print twice).")


class BadPrintRequest(Invalid):
    """A print request asked wrongly (copies, template, printer, station...): 400, nothing stored."""

    code = "invalid_print_request"
    status = 400


# --- waking the workers of this process ---------------------------------------------------------

_wake_lock = threading.Lock()
_wake_events: set[threading.Event] = set()


def subscribe(wake: threading.Event) -> None:
    """Have `wake` set whenever a job is committed by this process (PrintWorker does this)."""
    with _wake_lock:
        _wake_events.add(wake)


def unsubscribe(wake: threading.Event) -> None:
    with _wake_lock:
        _wake_events.discard(wake)


def wake_workers(*_: Any) -> None:
    """Tell this process's workers that there is a job to look at (they also poll)."""
    with _wake_lock:
        events = list(_wake_events)
    for wake in events:
        wake.set()


def _wake_after_commit(session: Session) -> None:
    if not session.info.get("station.print_wake"):
        session.info["station.print_wake"] = True

        def fire(s: Session) -> None:
            s.info.pop("station.print_wake", None)
            wake_workers()

        event.listen(session, "after_commit", fire, once=True)
        notify.announce(session)  # PostgreSQL: the workers of other processes too, at commit


# --- looking things up -------------------------------------------------------------------------


def _utc(ts: dt.datetime | None) -> dt.datetime | None:
    # SQLite hands back naive datetimes; every timestamp is stored in UTC.
    return ts if ts is None or ts.tzinfo else ts.replace(tzinfo=dt.timezone.utc)


def get_job(session: Session, job_id: int, *, lock: bool = False) -> PrintJob:
    query = select(PrintJob).where(PrintJob.id == job_id)
    if lock:
        query = query.with_for_update()
    return one(session, query, NotFound, f"There is no print job {job_id}.", "unknown_print_job")


def printer_by_name(session: Session, name: str) -> Printer:
    return one(session, select(Printer).where(Printer.name == name), NotFound,
               f"There is no printer called '{name}'.", "unknown_printer")


def _station(session: Session, station: StationDevice | str | int | None) -> StationDevice | None:
    if station is None or isinstance(station, StationDevice):
        return station
    key = StationDevice.id == station if isinstance(station, int) else StationDevice.name == station
    return one(session, select(StationDevice).where(key), BadPrintRequest,
               f"There is no station '{station}'.", "unknown_station")


def _operator(session: Session, operator: Operator | str | int | None) -> Operator | None:
    if operator is None or isinstance(operator, Operator):
        return operator
    key = Operator.id == operator if isinstance(operator, int) else Operator.badge == operator
    return one(session, select(Operator).where(key), BadPrintRequest,
               f"There is no operator '{operator}'.", "unknown_operator")


def choose_printer(session: Session, printer: Printer | str | None = None,
                   station: StationDevice | None = None) -> Printer:
    """The printer to use: the one named, else the station's, else the site's only active printer."""
    if isinstance(printer, str):
        try:
            printer = printer_by_name(session, printer)
        except NotFound as exc:
            raise BadPrintRequest(exc.message, code=exc.code, field="printer") from None
    if printer is None and station is not None and station.printer_id is not None:
        printer = session.get(Printer, station.printer_id)
    if printer is None:
        active = session.scalars(select(Printer).where(Printer.active.is_(True))
                                 .order_by(Printer.name).limit(2)).all()
        if len(active) != 1:
            raise BadPrintRequest("Choose a printer: " + ("there is no active printer." if not active else
                          "this station has none of its own and the site has several."),
                          code="no_printer", field="printer")
        printer = active[0]
    if not printer.active:
        raise BadPrintRequest(f"Printer {printer.name} is not in use (switched off in the settings).",
                      code="printer_inactive", field="printer")
    return printer


def _copies(copies: Any) -> int:
    if isinstance(copies, bool) or not isinstance(copies, int) or not 1 <= copies <= MAX_COPIES:
        raise BadPrintRequest(f"Copies must be a whole number from 1 to {MAX_COPIES}.", code="invalid_copies",
                      field="copies")
    return copies


def _request_id(request_id: Any) -> str | None:
    if request_id is None:
        return None
    if not isinstance(request_id, str) or not REQUEST_ID.match(request_id):
        raise BadPrintRequest("request_id must be 1-64 letters, digits or . _ : -", code="invalid_request_id",
                      field="request_id")
    return request_id


def templates() -> tuple[str, ...]:
    """Every template a job can be made with."""
    return (*label_service.TEMPLATES, TEST_TEMPLATE)


def _template(template: Any, allowed: Iterable[str]) -> str:
    allowed = tuple(allowed)
    if template not in allowed:
        raise BadPrintRequest(f"Unknown label template {str(template)[:40]!r}; use one of {', '.join(allowed)}.",
                      code="unknown_template", field="template")
    return template


# --- rendering ---------------------------------------------------------------------------------


def test_label_layout(data: dict, size: str, dpi: int):
    """The test label: a frame to the label's edges, the printer's name and settings, a barcode."""
    from labels.layout import Box, Code128, Label, Text

    blank = Label.sized(size, dpi)
    w, h, u = blank.width, blank.height, dpi / 203
    m, t = round(12 * u), max(2, round(4 * u))
    big = max(round(min(h / 6, 64 * u)), round(18 * u))
    small = max(round(big * 0.45), round(14 * u))
    els = [Box(m, m, w - 2 * m, h - 2 * m, t),
           Text(3 * m, 3 * m, "TEST PRINT", big),
           Text(3 * m, 3 * m + big + m, f"{data.get('printer', '')}  {size} in  {dpi} dpi", small)]
    y = 3 * m + big + small + 2 * m
    if h - y - 2 * m > small * 3:
        els.append(Text(3 * m, y, str(data.get("at", "")), small))
        y += small + m
        bar = min(round(120 * u), h - y - 3 * m)
        els.append(Code128(3 * m, y, f"TEST:{data.get('printer', '')}"[:40], bar,
                           module=max(1, round(2 * u)) if w > 500 * u else 1))
    return Label(w, h, dpi, tuple(els))


def render_zpl(template: str, data: dict, size: str, dpi: int, copies: int = 1) -> bytes:
    """The ZPL of a label; the test label is drawn here, every other template by services.labels."""
    if template == TEST_TEMPLATE:
        from labels import zpl

        return zpl.render(test_label_layout(data, size, dpi), copies)
    return label_service.render_zpl(template, data, size, dpi, copies)


def render_png(template: str, data: dict, size: str, dpi: int) -> bytes:
    """A PNG preview of a label, from the same layout as its ZPL."""
    if template == TEST_TEMPLATE:
        import io

        from labels import png

        out = io.BytesIO()
        png.render_png(test_label_layout(data, size, dpi)).save(out, format="PNG", optimize=False)
        return out.getvalue()
    return label_service.render_png(template, data, size, dpi)


def job_preview_png(job: PrintJob) -> bytes:
    """What the job prints, as the PNG preview of the data it was made from."""
    if job.data is None:
        raise NotFound(f"Print job {job.id} has no label data to preview.", code="no_preview")
    return render_png(job.template, job.data, job.label_size, job.dpi)


# --- requests ------------------------------------------------------------------------------------


def _existing(session: Session, request_id: str | None) -> PrintJob | None:
    if request_id is None:
        return None
    return session.scalar(select(PrintJob).where(PrintJob.request_id == request_id))


def _same_request(job: PrintJob, printer: Printer | None, template: str, lot_id: int | None,
                  copies: int) -> PrintJob:
    if (job.template, job.lot_id, job.copies) != (template, lot_id, copies) or (
            printer is not None and job.printer_id != printer.id):
        raise Conflict(f"request_id {job.request_id!r} was already used for print job {job.id}, "
                       "a different request.", code="request_id_reused", job_id=job.id)
    return job


def enqueue(session: Session, *, template: str, data: dict, printer: Printer | str | None = None,
            copies: int = 1, station: StationDevice | str | int | None = None,
            operator: Operator | str | int | None = None, request_id: str | None = None,
            lot_id: int | None = None, sscc: str | None = None, token_id: int | None = None) -> PrintJob:
    """Queue a label of any template from its data (location labels, badges, test prints...).

    Renders once for the printer's size and density and stores the job as ``queued``; a repeated
    request_id returns the first job. Raises Invalid (nothing stored) for bad input. `token_id`: the
    API token that asked for it (Actor.token_id).
    """
    template = _template(template, templates())
    copies = _copies(copies)
    request_id = _request_id(request_id)
    station = _station(session, station)
    operator = _operator(session, operator)
    printer = choose_printer(session, printer, station)
    existing = _existing(session, request_id)
    if existing is not None:
        return _same_request(existing, printer, template, lot_id, copies)
    return _render_and_store(session, template, data, printer, copies, station, operator, request_id, lot_id,
                             sscc, token_id)


def _render_and_store(session: Session, template: str, data: dict, printer: Printer, copies: int,
                      station: StationDevice | None, operator: Operator | None, request_id: str | None,
                      lot_id: int | None, sscc: str | None = None, token_id: int | None = None) -> PrintJob:
    try:
        payload = render_zpl(template, data, printer.label_size, printer.dpi, copies)
    except (ValueError, KeyError, TypeError) as exc:  # the test label; services.labels words its own
        raise Invalid(f"The {template} label cannot be made for printer {printer.name} "
                      f"({printer.label_size} in, {printer.dpi} dpi): {exc}", code="label_not_rendered") from None
    return _store(session, PrintJob(
        printer_id=printer.id, lot_id=lot_id, template=template, copies=copies, payload=payload,
        data=data, label_size=printer.label_size, dpi=printer.dpi, sscc=sscc or data.get("sscc"),
        station_id=station.id if station else None, operator_id=operator.id if operator else None,
        request_id=request_id, token_id=token_id))


def _store(session: Session, job: PrintJob) -> PrintJob:
    now = clock.now()
    job.status, job.attempts, job.created_at, job.updated_at = QUEUED, 0, now, now
    if job.request_id is None or session.get_bind().dialect.name == "sqlite":
        # No request_id to collide on; or SQLite, where this transaction holds the write lock
        # (BEGIN IMMEDIATE) since before _existing() looked, so no other request can have stored it.
        session.add(job)
        session.flush()
        _wake_after_commit(session)
        return job
    try:
        with session.begin_nested():
            session.add(job)
            session.flush()
    except IntegrityError:
        # Two requests with one request_id at the same moment: the other one stored it first.
        winner = _existing(session, job.request_id)
        if winner is None:
            raise
        return _same_request(winner, None, job.template, job.lot_id, job.copies)
    _wake_after_commit(session)
    return job


def request_label(session: Session, template: str, key: str | None, *, printer: Printer | str | None = None,
                  copies: int = 1, station: StationDevice | str | int | None = None,
                  operator: Operator | str | int | None = None, request_id: str | None = None,
                  lot_id: int | None = None, token_id: int | None = None, **label_options) -> PrintJob:
    """Queue a label whose data services.labels reads by key (a lot number, a location code, a badge).

    label_options go to `label_data` (a pallet label's sscc and count). Everything that costs
    nothing is checked before the data is read, which may draw an SSCC.
    """
    template = _template(template, label_service.TEMPLATES)
    copies = _copies(copies)
    request_id = _request_id(request_id)
    station = _station(session, station)
    operator = _operator(session, operator)
    printer = choose_printer(session, printer, station)
    existing = _existing(session, request_id)
    if existing is not None:
        return _same_request(existing, printer, template, lot_id, copies)
    data = label_service.label_data(session, template, key, **label_options)
    return _render_and_store(session, template, data, printer, copies, station, operator, request_id, lot_id,
                             token_id=token_id)


def request_labels(session: Session, lot_number: str, *, printer: Printer | str | None = None,
                   template: str = "lot", copies: int = 1, station: StationDevice | str | int | None = None,
                   operator: Operator | str | int | None = None, request_id: str | None = None,
                   token_id: int | None = None, **label_options) -> PrintJob:
    """Queue `copies` labels of a lot (NotFound for an unknown lot; BadPrintRequest for bad input).

    label_options go to services.labels.label_data: a pallet label's ``sscc`` (one of the lot's
    pallets, to print its label again) and ``count``."""
    from ..models import Lot

    _template(template, [t for t in LOT_TEMPLATES if t in label_service.TEMPLATES])
    found = session.execute(select(Lot.id, Lot.lot_number).where(Lot.lot_number == lot_number)).first()
    if found is None:
        from .catalog import lot_by_number

        lot_by_number(session, lot_number)  # raises NotFound in catalog's words
    return request_label(session, template, found.lot_number, printer=printer, copies=copies, station=station,
                         operator=operator, request_id=request_id, lot_id=found.id, token_id=token_id,
                         **label_options)


def test_print(session: Session, printer: Printer | str, *, station=None, operator=None) -> PrintJob:
    """Queue the test label on a printer."""
    printer = choose_printer(session, printer)
    data = {"printer": printer.name, "at": clock.now().strftime("%Y-%m-%d %H:%M UTC")}
    return enqueue(session, template=TEST_TEMPLATE, data=data, printer=printer, station=station,
                   operator=operator)


def cancel(session: Session, job_id: int) -> PrintJob:
    """Cancel a job that is waiting (queued) or failed; one being sent or already sent cannot be."""
    job = get_job(session, job_id, lock=True)
    if job.status not in (QUEUED, FAILED):
        words = {SENDING: "is being sent to the printer right now",
                 SENT: "was already sent to the printer (it prints when the printer can)",
                 PRINTED: "has already printed", CANCELLED: "is already cancelled"}[job.status]
        raise Conflict(f"Print job {job.id} {words}; it cannot be cancelled.", code="not_cancellable",
                       job_status=job.status.value)
    job.status, job.next_attempt_at, job.updated_at = CANCELLED, None, clock.now()
    session.flush()
    return job


def reprint(session: Session, job_id: int, *, printer: Printer | str | None = None, station=None,
            operator=None, request_id: str | None = None, token_id: int | None = None) -> PrintJob:
    """A new job with the same label (the same payload, the same SSCC) pointing back at the original.

    A job still queued or being sent cannot be reprinted (it has not printed yet); to print it on
    another printer of a different size or density, its label is rendered again from its data.
    """
    original = get_job(session, job_id)
    if original.status in OPEN:
        raise Conflict(f"Print job {original.id} has not been printed yet; wait for it or cancel it.",
                       code="not_reprintable", job_status=original.status.value)
    request_id = _request_id(request_id)
    existing = _existing(session, request_id)
    if existing is not None:
        if existing.reprint_of_id != original.id:
            raise Conflict(f"request_id {request_id!r} was already used for print job {existing.id}, "
                           "a different request.", code="request_id_reused", job_id=existing.id)
        return existing
    target = choose_printer(session, printer if printer is not None else session.get(Printer, original.printer_id))
    payload = original.payload
    if (target.label_size, target.dpi) != (original.label_size, original.dpi):
        if original.data is None:
            raise Conflict(f"Print job {original.id} cannot be printed on {target.name}: it was made for "
                           f"{original.label_size} in at {original.dpi} dpi.", code="not_reprintable")
        payload = render_zpl(original.template, original.data, target.label_size, target.dpi, original.copies)
    station = _station(session, station)
    operator = _operator(session, operator)
    return _store(session, PrintJob(
        printer_id=target.id, lot_id=original.lot_id, template=original.template, copies=original.copies,
        payload=payload, data=original.data, label_size=target.label_size, dpi=target.dpi,
        sscc=original.sscc, station_id=station.id if station else original.station_id,
        operator_id=operator.id if operator else original.operator_id, request_id=request_id,
        reprint_of_id=original.id, token_id=token_id))


# --- the worker's side ---------------------------------------------------------------------------


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
    session.flush()
    if job.status is QUEUED:
        _wake_after_commit(session)
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


def unconfirmed(job: PrintJob) -> bool:
    """A sent job the worker no longer watches (see mark_unconfirmed)."""
    return job.status is SENT and bool(job.last_error) and job.last_error.startswith(UNCONFIRMED)


def confirms(url: str | None) -> bool:
    """True when a printer of this URL can show a job printed: tcp:// (its ~HS counters, unless
    ?confirm=0) and sim:// (spooled). cups://, file:// and serial printers stop at 'sent'."""
    from urllib.parse import parse_qsl, urlsplit

    if not url or "://" not in url:
        return False
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "sim":
        return True
    if scheme != "tcp":
        return False
    return dict(parse_qsl(parts.query)).get("confirm", "1").strip().lower() not in ("0", "false", "no", "off")


def sent_words(job: PrintJob, printer: Printer | None) -> tuple[str, str, str]:
    """(tone, words, sentence) for a sent job: waiting in the printer, or why it cannot be confirmed."""
    url = printer.url if printer is not None else None
    if not confirms(url):
        scheme = url.split("://", 1)[0].lower() if url and "://" in url else ""
        if scheme == "cups":
            return ("ok", "Sent to the spooler",
                    "Handed to the print spooler (CUPS): Station cannot see whether the label came out.")
        return ("ok", "Sent", "Delivered to the printer; this kind of printer cannot tell Station that it printed.")
    if unconfirmed(job):
        return "warn", "Sent — not confirmed", job.last_error or ""
    state = printer.state if printer is not None else None
    if state and state not in ("ready", "unknown"):
        from devices.printers import STATE_TEXT, PrinterState

        try:
            why = STATE_TEXT[PrinterState(state)]
        except ValueError:
            why = state
        short = {"paper_out": "paper out", "head_open": "head open", "ribbon_out": "ribbon out",
                 "paused": "paused", "buffer_full": "buffer full", "offline": "printer offline"}.get(
            state, state.replace("_", " "))
        return ("warn", f"Sent — waiting in the printer ({short})",
                f"The printer has this label in its buffer and prints it when it can: {why}.")
    return ("info", "Sent — printing", "The printer has it; it shows as printed once the printer's counters say so.")


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
    else:
        job.status, job.next_attempt_at = QUEUED, now + delay
    session.flush()
    return job


def mark_failed(session: Session, job_id: int, worker_id: str, reason: str,
                now: dt.datetime | None = None) -> PrintJob | None:
    """The job cannot print (a fault that will not clear): 'failed' with the reason."""
    return retry_later(session, job_id, worker_id, reason, delay=dt.timedelta(0), give_up=True, now=now)


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


# --- for pages and the API ----------------------------------------------------------------------


def queued_counts(session: Session) -> dict[int, int]:
    """Open (queued or sending) jobs per printer id."""
    return dict(session.execute(select(PrintJob.printer_id, func.count()).where(PrintJob.status.in_(OPEN))
                                .group_by(PrintJob.printer_id)).all())


def recent_jobs(session: Session, printer_id: int, limit: int = 10) -> list[PrintJob]:
    return list(session.scalars(select(PrintJob).where(PrintJob.printer_id == printer_id)
                                .order_by(PrintJob.id.desc()).limit(limit)))


def waiting_for(job: PrintJob, now: dt.datetime | None = None) -> float | None:
    """Seconds until a queued job's next try, or None when it is not waiting on a backoff."""
    if job.status is not QUEUED or job.next_attempt_at is None:
        return None
    return max(0.0, (_utc(job.next_attempt_at) - (now or clock.now())).total_seconds())
