"""The printers page: each printer's state in big words, its recent jobs live, test print, reprint, cancel.

    GET  /printers                      the page (the board refreshes itself every second)
    GET  /printers/board?v=VERSION      the board partial; 204 when nothing changed since VERSION
    POST /printers/<id>/test            queue a test label
    GET  /printers/jobs/<id>            one job: its state, reason and preview
    GET  /printers/jobs/<id>/status     a job's state line (the lot card polls it)
    GET  /printers/jobs/<id>/preview.png
    POST /printers/jobs/<id>/cancel | /reprint
    GET  /printers/lot-form?lot=N       the lot card's "Print labels" form
    POST /printers/lot-print            lot, printer, copies -> the new job's state line
    GET  /printers/settings             printer settings (admins only): add a printer, change one
    POST /printers/settings/new         name, url, dpi, label_size, active
    POST /printers/settings/<id>        url, dpi, label_size, active

Printing (test print, reprint, cancel, lot labels) is for every signed-in role; only an admin adds a
printer or changes its address, since the server sends bytes to whatever address is set. An address
is checked by the printer URL parser (devices.printers, without opening anything) and against
STATION_DEVICE_NETWORKS (station.netpolicy) before it is saved; a bad one is refused in words.

Pages never talk to a printer: they show what the print worker last read (Printer.state). The
board is only swapped when what it shows has changed (the poll answers 204 otherwise), so a
button is not replaced under a gloved finger every second.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import uuid

from flask import Blueprint, Response, current_app, make_response, redirect, render_template, request, url_for
from markupsafe import Markup
from sqlalchemy import select

from labels.layout import DPIS, LABEL_SIZES

from .. import clock, get_db, netpolicy
from ..models import Lot, Printer, PrintJob, PrintJobStatus, StationDevice
from ..services import printing
from ..services.errors import DomainError, NotFound
from . import floor
from .common import clean_scan, wants_fragment

bp = Blueprint("printers", __name__, url_prefix="/printers")

STATION_COOKIE = "station"  # the scan page remembers the station in it
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


@bp.app_template_filter("when_seconds")
def when_seconds(value: dt.datetime | None) -> str:
    """A UTC timestamp as the site's local time of day, to the second: '14:02:31'."""
    if value is None:
        return "—"
    return printing._utc(value).astimezone(clock.site_zone()).strftime("%H:%M:%S")


def state_view(printer: Printer, now: dt.datetime) -> dict:
    from ..api.print_views import state_text

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
    may_print = floor.can("printing")  # the buttons only for those whose POST would be allowed
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


# --- the page ------------------------------------------------------------------------------------


@bp.get("")
def index():
    with get_db().read() as session:
        inner = render_template("partials/printers_board_inner.html", **board_context(session))
    version = hashlib.sha1(inner.encode()).hexdigest()[:16]
    response = make_response(render_template("printers.html", inner=Markup(inner), version=version,
                                             poll_ms=POLL_MS, message=_message_from_query()))
    response.headers["Cache-Control"] = "no-store"
    return response


def _message_from_query() -> tuple[str, str] | None:
    text = request.args.get("message")
    if not text:
        return None
    return (request.args.get("kind", "info") if request.args.get("kind") in ("ok", "error", "info") else "info",
            text[:200])


@bp.get("/board")
def board():
    with get_db().read() as session:
        return render_board(session)


def _acted(kind: str, text: str, status: int = 200):
    """After a button: the fresh board and a message for htmx; a redirect to the page without it."""
    if not wants_fragment():
        return redirect(url_for(".index", message=text, kind=kind), 303)
    with get_db().read() as session:
        return render_board(session, status, (kind, text))


def _refused(exc: DomainError):
    return _acted("error", exc.message, 200 if wants_fragment() else exc.status)


def _station_from_cookie(session) -> StationDevice | None:
    name = floor.station_cookie_name()  # signed by set-up (views/floor.py)
    if not name:
        return None
    return session.scalar(select(StationDevice).where(StationDevice.name == name))


@bp.post("/<int:printer_id>/test")
@floor.requires("lookup")
def test(printer_id: int):
    try:
        with get_db().write() as session:
            printer = session.get(Printer, printer_id)
            if printer is None:
                raise NotFound("That printer no longer exists.", code="unknown_printer")
            job = printing.test_print(session, printer, station=_station_from_cookie(session))
            text = f"Test label queued for {printer.name} (job {job.id})."
    except DomainError as exc:
        return _refused(exc)
    return _acted("ok", text)


@bp.post("/jobs/<int:job_id>/cancel")
@floor.requires("printing")
def cancel(job_id: int):
    try:
        with get_db().write() as session:
            job = printing.cancel(session, job_id)
            text = f"Job {job.id} cancelled — it will not print."
    except DomainError as exc:
        return _refused(exc)
    return _acted("ok", text)


@bp.post("/jobs/<int:job_id>/reprint")
@floor.requires("printing")
def reprint(job_id: int):
    try:
        with get_db().write() as session:
            job = printing.reprint(session, job_id, station=_station_from_cookie(session))
            text = f"Printing job {job_id} again as job {job.id}."
    except DomainError as exc:
        return _refused(exc)
    if request.form.get("from") == "job":  # the job page's button: go to the new job
        if wants_fragment():
            response = make_response("", 204)
            response.headers["HX-Redirect"] = url_for(".job", job_id=job.id)
            return response
        return redirect(url_for(".job", job_id=job.id), 303)
    return _acted("ok", text)


# --- one job -------------------------------------------------------------------------------------


def _job_context(session, job_id: int) -> dict:
    job = printing.get_job(session, job_id)
    printer = session.get(Printer, job.printer_id)
    lot_number = session.scalar(select(Lot.lot_number).where(Lot.id == job.lot_id)) if job.lot_id else None
    return {"j": job_view(job, lot_number, clock.now(), printer), "printer": printer,
            "state": state_view(printer, clock.now()), "poll_ms": POLL_MS}


@bp.get("/jobs/<int:job_id>")
def job(job_id: int):
    with get_db().read() as session:
        try:
            context = _job_context(session, job_id)
        except NotFound as exc:
            return render_template("printer_job.html", missing=exc.message), 404
        return render_template("printer_job.html", **context)


@bp.get("/jobs/<int:job_id>/status")
def job_status(job_id: int):
    """The job's state line; it polls itself until the job is sent, failed or cancelled."""
    with get_db().read() as session:
        try:
            context = _job_context(session, job_id)
        except NotFound as exc:
            return render_template("partials/printers_message.html", kind="error", text=exc.message), 404
        response = make_response(render_template("partials/printer_job_status.html", **context,
                                                 again=request.args.get("again") == "1"))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/jobs/<int:job_id>/preview.png")
def preview(job_id: int):
    """The label a job prints, drawn from the data it was made from (it never changes)."""
    with get_db().read() as session:
        try:
            png = printing.job_preview_png(printing.get_job(session, job_id))
        except DomainError as exc:
            return Response(exc.message, status=exc.status, mimetype="text/plain")
    response = Response(png, mimetype="image/png")
    response.headers["Cache-Control"] = "private, max-age=31536000, immutable"
    return response


# --- printing from the lot card --------------------------------------------------------------------


def _print_targets(session) -> tuple[list[Printer], Printer | None]:
    printers = list(session.scalars(select(Printer).where(Printer.active.is_(True)).order_by(Printer.name)))
    station = _station_from_cookie(session)
    own = next((p for p in printers if station and p.id == station.printer_id), None)
    if own is not None:
        printers = [own] + [p for p in printers if p.id != own.id]
    return printers, own


@bp.get("/lot-form")
def lot_form():
    """The lot card's print buttons: the station's own printer first."""
    lot_number = clean_scan(request.args.get("lot"))
    with get_db().read() as session:
        printers, own = _print_targets(session)
        station = _station_from_cookie(session)
        return render_template("partials/printer_lot_form.html", lot_number=lot_number, printers=printers,
                               own=own, station=station, max_copies=printing.MAX_COPIES,
                               request_id=uuid.uuid4().hex)


@bp.post("/lot-print")
@floor.requires("lookup")
def lot_print():
    lot_number = clean_scan(request.form.get("lot"))
    copies = request.form.get("copies", "1").strip()
    try:
        with get_db().write() as session:
            job = printing.request_labels(
                session, lot_number, printer=request.form.get("printer") or None,
                copies=int(copies) if copies.isdigit() else copies, station=_station_from_cookie(session),
                request_id=request.form.get("request_id") or None)
            job_id = job.id
    except DomainError as exc:
        with get_db().read() as session:
            printers, own = _print_targets(session)
            return render_template("partials/printer_lot_form.html", lot_number=lot_number, printers=printers,
                                   own=own, station=_station_from_cookie(session),
                                   max_copies=printing.MAX_COPIES, error=exc.message,
                                   request_id=uuid.uuid4().hex), \
                200 if wants_fragment() else exc.status
    if not wants_fragment():
        return redirect(url_for(".job", job_id=job_id), 303)
    with get_db().read() as session:
        return render_template("partials/printer_job_status.html", **_job_context(session, job_id), again=True)


# --- printer settings (admins) ---------------------------------------------------------------------


def printer_url_problem(url: str) -> str | None:
    """Why `url` is no printer address Station may use, in words; None when it is one. Parsed by
    devices.printers exactly as the print worker opens it (nothing is opened or sent here), then
    held against STATION_DEVICE_NETWORKS."""
    from devices.printers import PrinterError, open_printer

    if not url:
        return "Give the printer's address, such as tcp://10.20.0.15:9100 or cups://Zebra_dock."
    try:
        open_printer(url)
    except (PrinterError, ValueError) as exc:
        return f"The printer address '{url[:80]}' is not one Station can print to — nothing was changed. {exc}"
    outside = netpolicy.refusal(url, netpolicy.parse_networks(current_app.config.get("DEVICE_NETWORKS")))
    if outside:
        return f"The printer address '{url[:80]}' is not allowed — nothing was changed: {outside}."
    return None


def _settings_form(form) -> tuple[dict, str | None]:
    """The fields of a printer form, cleaned, and the first problem with them in words."""
    values = {"url": (form.get("url") or "").strip()[:300], "dpi": (form.get("dpi") or "").strip(),
              "label_size": (form.get("label_size") or "").strip(), "active": form.get("active", "1") != "0"}
    if values["label_size"] not in LABEL_SIZES:
        return values, f"Choose a label size: {', '.join(LABEL_SIZES)}."
    if not values["dpi"].isdigit() or int(values["dpi"]) not in DPIS:
        return values, f"Choose the printer's dots per inch: {', '.join(map(str, DPIS))}."
    return values, printer_url_problem(values["url"])


def _settings_page(message: tuple[str, str] | None = None, status: int = 200, form: dict | None = None):
    with get_db().read() as session:
        printers = list(session.scalars(select(Printer).order_by(Printer.name)))
        response = make_response(render_template("printers_settings.html", printers=printers, message=message,
                                                 form=form or {}, dpis=DPIS, sizes=list(LABEL_SIZES)), status)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/settings")
@floor.requires("printers")
def settings():
    text = request.args.get("saved")
    return _settings_page(("ok", text[:200]) if text else None)


@bp.post("/settings/new")
@floor.requires("printers")
def add_printer():
    name = " ".join((request.form.get("name") or "").split())[:60]
    values, problem = _settings_form(request.form)
    form = {"edit": "new", "name": name, **values}
    if not name:
        return _settings_page(("error", "Give the printer a name people will recognise, such as 'Dock printer'."),
                              400, form)
    if problem:
        return _settings_page(("error", problem), 400, form)
    with get_db().write() as session:
        if session.scalar(select(Printer.id).where(Printer.name == name)) is not None:
            return _settings_page(("error", f"There is already a printer called '{name}' — change that one, "
                                            "or pick another name."), 409, form)
        session.add(Printer(name=name, url=values["url"], dpi=int(values["dpi"]), label_size=values["label_size"],
                            active=values["active"]))
    return redirect(url_for(".settings", saved=f"Printer {name} added."), 303)


@bp.post("/settings/<int:printer_id>")
@floor.requires("printers")
def change_printer(printer_id: int):
    values, problem = _settings_form(request.form)
    form = {"edit": printer_id, **values}
    with get_db().write() as session:
        printer = session.get(Printer, printer_id)
        if printer is None:
            return _settings_page(("error", "That printer no longer exists."), 404)
        if problem:
            return _settings_page(("error", problem), 400, form)
        if printer.url != values["url"]:  # what the worker read was about the old address
            printer.state, printer.state_detail, printer.state_checked_at = "unknown", None, None
        printer.url, printer.dpi, printer.label_size = values["url"], int(values["dpi"]), values["label_size"]
        printer.active = values["active"]
        name = printer.name
    return redirect(url_for(".settings", saved=f"Printer {name} changed."), 303)
