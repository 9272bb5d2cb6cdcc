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

import hashlib
import uuid

from flask import Blueprint, Response, make_response, redirect, render_template, request, url_for
from markupsafe import Markup
from sqlalchemy import select

from .. import auth, get_db
from ..models import Printer, StationDevice
from ..services import printing
from ..services.errors import DomainError, NotFound
from .common import clean_scan, wants_fragment
from .printer_board import POLL_MS, board_context, job_context, render_board, when_seconds

# What the boards show is drawn in printer_board.py; the settings (admins) are printer_settings.py.
_job_context = job_context  # the name the line's runs and receiving import it by

bp = Blueprint("printers", __name__, url_prefix="/printers")
bp.add_app_template_filter(when_seconds, "when_seconds")


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
    name = auth.station_cookie_name()  # signed by set-up (station/auth/)
    if not name:
        return None
    return session.scalar(select(StationDevice).where(StationDevice.name == name))


@bp.post("/<int:printer_id>/test")
@auth.requires("lookup")
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
@auth.requires("printing")
def cancel(job_id: int):
    try:
        with get_db().write() as session:
            job = printing.cancel(session, job_id)
            text = f"Job {job.id} cancelled — it will not print."
    except DomainError as exc:
        return _refused(exc)
    return _acted("ok", text)


@bp.post("/jobs/<int:job_id>/reprint")
@auth.requires("printing")
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


@bp.get("/jobs/<int:job_id>")
def job(job_id: int):
    with get_db().read() as session:
        try:
            context = job_context(session, job_id)
        except NotFound as exc:
            return render_template("printer_job.html", missing=exc.message), 404
        return render_template("printer_job.html", **context)


@bp.get("/jobs/<int:job_id>/status")
def job_status(job_id: int):
    """The job's state line; it polls itself until the job is sent, failed or cancelled."""
    with get_db().read() as session:
        try:
            context = job_context(session, job_id)
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
@auth.requires("lookup")
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
        return render_template("partials/printer_job_status.html", **job_context(session, job_id), again=True)
