"""The printers board as the pages draw it: each printer's state in big words, its recent jobs and what
each prints, in the site's words (views/printers.py serves it; the lot card and the line's runs show one
job's state line with job_context)."""
from __future__ import annotations

import datetime as dt
import hashlib

from flask import Response, make_response, render_template, request
from markupsafe import Markup
from sqlalchemy import select

from .. import auth, clock
from ..models import Lot, Printer, PrintJob, PrintJobStatus
from ..services import printing

RECENT_JOBS = 8
POLL_MS = 1000
STALE_AFTER = dt.timedelta(minutes=2)  # a state read longer ago than this is shown with its age

# Printer state -> (tone, big words). The sentence under them is devices.printers.STATE_TEXT.
STATES = {
    "ready": ("ok", "Ready"),
    "paper_out": ("bad", "Paper out"),
    "head_open": ("bad", "Head open"),
    "ribbon_out": ("bad", "Ribbon out"),
    "paused": ("warn", "Paused"),
    "buffer_full": ("warn", "Busy"),
    "offline": ("bad", "Offline"),
    "unknown": ("muted", "Unknown"),
}
# Job status -> (tone, words).
JOB_STATES = {
    "queued": ("info", "Waiting"),
    "sending": ("info", "Sending"),
    "sent": ("ok", "Sent"),          # refined by printing.sent_words: waiting in the printer, spooler...
    "printed": ("ok", "Printed"),
    "failed": ("bad", "Failed"),
    "cancelled": ("muted", "Cancelled"),
}


def when_seconds(value: dt.datetime | None) -> str:
    """A UTC timestamp as the site's local time of day, to the second: '14:02:31'."""
    if value is None:
        return "—"
    return printing._utc(value).astimezone(clock.site_zone()).strftime("%H:%M:%S")


def state_view(printer: Printer, now: dt.datetime) -> dict:
    from devices.printers import state_text

    tone, words = STATES.get(printer.state, ("muted", printer.state.replace("_", " ").capitalize()))
    checked = printing._utc(printer.state_checked_at)
    if not printer.active:
        tone, words, sentence = "muted", "Not in use", "Switched off in the settings; nothing is sent to it."
    elif checked is None:
        sentence = "Not checked yet — the print worker reads it when it starts or prints."
    elif printer.state == "ready":
        sentence = "Labels print as soon as they are sent."
    else:
        sentence = state_text(printer.state)
    stale = checked is not None and now - checked > STALE_AFTER
    return {"tone": tone, "words": words, "sentence": sentence, "checked": checked, "stale": stale,
            "detail": printer.state_detail}


def describe(job: PrintJob, lot_number: str | None) -> str:
    """What a job prints, in words: 'Lot label 240612-001', 'Pallet label 0 7312345 ...', 'Test print'."""
    data = job.data or {}
    if job.template == printing.TEST_TEMPLATE:
        return "Test print"
    if job.template == "lot":
        return f"Lot label {lot_number or data.get('lot_number', '')}".strip()
    if job.template == "pallet":
        return f"Pallet label {job.sscc or ''} · lot {lot_number or data.get('lot_number', '')}".strip()
    if job.template == "location":
        return f"Location label {data.get('code', '')}".strip()
    if job.template == "badge":
        return f"Badge {data.get('code', '')} {data.get('name', '')}".strip()
    if job.template == "commands":
        return "Command barcodes"
    return f"{job.template.capitalize()} label"


def job_view(job: PrintJob, lot_number: str | None, now: dt.datetime, printer: Printer | None = None) -> dict:
    tone, words = JOB_STATES[job.status.value]
    note = None   # a sentence under the state: why a sent job has not printed yet
    wait = printing.waiting_for(job, now)
    if job.status is PrintJobStatus.QUEUED and job.attempts:
        words = "Waiting to retry"
    if job.status is PrintJobStatus.SENT:
        tone, words, note = printing.sent_words(job, printer)
    # A sent job on a printer that confirms may still print (or come back to the queue): keep following it.
    final = job.status in printing.DONE or (job.status is PrintJobStatus.SENT and (
        not printing.confirms(printer.url if printer is not None else None) or printing.unconfirmed(job)))
    may_print = auth.can("printing")  # the buttons only for those whose POST would be allowed
    return {"job": job, "id": job.id, "status": job.status.value, "tone": tone, "words": words, "note": note,
            "what": describe(job, lot_number), "lot_number": lot_number, "wait": wait,
            "next_at": printing._utc(job.next_attempt_at) if wait is not None else None,
            "can_cancel": may_print and job.status in (PrintJobStatus.QUEUED, PrintJobStatus.FAILED),
            "can_reprint": may_print and job.status in printing.FINISHED,
            "final": final}


def _lot_numbers(session, jobs: list[PrintJob]) -> dict[int, str]:
    ids = {j.lot_id for j in jobs if j.lot_id}
    if not ids:
        return {}
    return dict(session.execute(select(Lot.id, Lot.lot_number).where(Lot.id.in_(ids))).all())


def board_context(session) -> dict:
    now = clock.now()
    counts = printing.queued_counts(session)
    cards = []
    newest_check = None
    for printer in session.scalars(select(Printer).order_by(Printer.active.desc(), Printer.name)):
        jobs = printing.recent_jobs(session, printer.id, RECENT_JOBS)
        lots = _lot_numbers(session, jobs)
        views = [job_view(j, lots.get(j.lot_id), now, printer) for j in jobs]
        latest = next((v for v in views if v["job"].data is not None), None)
        state = state_view(printer, now)
        if state["checked"] and (newest_check is None or state["checked"] > newest_check):
            newest_check = state["checked"]
        cards.append({"printer": printer, "state": state, "jobs": views, "open": counts.get(printer.id, 0),
                      "latest": latest})
    waiting = sum(counts.values())
    # Jobs wait, and no printer has been asked anything for a while: no worker is running.
    no_worker = waiting > 0 and (newest_check is None or now - newest_check > dt.timedelta(minutes=1))
    return {"cards": cards, "waiting": waiting, "no_worker": no_worker}


def render_board(session, status: int = 200, message: tuple[str, str] | None = None) -> Response:
    """The board (or 204 when the client's version is current), with an out-of-band message."""
    inner = render_template("partials/printers_board_inner.html", **board_context(session))
    version = hashlib.sha1(inner.encode()).hexdigest()[:16]
    if request.method == "GET" and request.args.get("v") == version:
        response = make_response("", 204)
    else:
        html = render_template("partials/printers_board.html", inner=Markup(inner), version=version,
                               poll_ms=POLL_MS)
        if message is not None:
            html += render_template("partials/printers_message.html", kind=message[0], text=message[1], oob=True)
        response = make_response(html, status)
    response.headers["Cache-Control"] = "no-store"
    return response


def job_context(session, job_id: int) -> dict:
    """One job's state line (and its printer's state), for the job page and the pages that show a job."""
    job = printing.get_job(session, job_id)
    printer = session.get(Printer, job.printer_id)
    lot_number = session.scalar(select(Lot.lot_number).where(Lot.id == job.lot_id)) if job.lot_id else None
    return {"j": job_view(job, lot_number, clock.now(), printer), "printer": printer,
            "state": state_view(printer, clock.now()), "poll_ms": POLL_MS}
