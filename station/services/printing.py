"""Printing as an outbox: a print request becomes a stored job first; a worker sends it later.

A request (`request_labels` for a lot, `request_label` for any template, `test_print`) validates
its input, renders the ZPL ONCE for the printer's size and density, and stores it as a `PrintJob`
in state ``queued`` together with the data the label was made from (so a preview of the job shows
exactly what was sent). Nothing talks to a printer here; `station.processes.print_worker` does, through
`services.print_queue`.

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
be confirmed (see `print_queue.mark_unconfirmed`); see station.processes.print_watch for the rule.

- A repeated ``request_id`` returns the job it made the first time, and stores nothing new.
- A job is rendered by the same code as every label (`services.labels`, the layouts in
  ``labels.templates``, the test print's included), for the printer's size and density.

How jobs are claimed, sent once in each printer's order, and recorded (and the one window where a label
may print twice) is the queue side's: `services.print_queue`. A committed job wakes the workers at once
(`station.notify`).
"""
from __future__ import annotations

import datetime as dt
import re
from typing import Any, Iterable

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

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

MAX_COPIES = label_service.MAX_COPIES
TEST_TEMPLATE = "test"            # the printers page's test label (labels/templates/printer_check.py)
LOT_TEMPLATES = ("lot", "pallet")  # templates whose label data comes from a lot number
REQUEST_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


class BadPrintRequest(Invalid):
    """A print request asked wrongly (copies, template, printer, station...): 400, nothing stored."""

    code = "invalid_print_request"
    status = 400


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
    """Every template a job can be made with: the label templates, the test print's included."""
    return tuple(label_service.TEMPLATES)


def _template(template: Any, allowed: Iterable[str]) -> str:
    allowed = tuple(allowed)
    if template not in allowed:
        raise BadPrintRequest(f"Unknown label template {str(template)[:40]!r}; use one of {', '.join(allowed)}.",
                      code="unknown_template", field="template")
    return template


# --- rendering ---------------------------------------------------------------------------------


def render_zpl(template: str, data: dict, size: str, dpi: int, copies: int = 1) -> bytes:
    """The ZPL of a label (services.labels, where every template is drawn)."""
    return label_service.render_zpl(template, data, size, dpi, copies)


def render_png(template: str, data: dict, size: str, dpi: int) -> bytes:
    """A PNG preview of a label, from the same layout as its ZPL."""
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
    except (ValueError, KeyError, TypeError) as exc:  # a slip services.labels does not word itself
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
        notify.print_jobs_committed(session)
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
    notify.print_jobs_committed(session)
    return job


def request_label(session: Session, template: str, key: str | None, *, printer: Printer | str | None = None,
                  copies: int = 1, station: StationDevice | str | int | None = None,
                  operator: Operator | str | int | None = None, request_id: str | None = None,
                  lot_id: int | None = None, token_id: int | None = None, **label_options) -> PrintJob:
    """Queue a label whose data services.labels reads by key (a lot number, a location code, a badge).

    label_options go to `label_data` (a pallet label's sscc and count). Everything that costs
    nothing is checked before the data is read, which may draw an SSCC.
    """
    template = _template(template, label_service.DATA)
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
