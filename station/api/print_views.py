"""Printing over the API: a print request becomes a queued job (202), which the print worker sends.

    POST /lots/<lot_number>/labels      {printer?, template?, copies, request_id?}  -> 202 job, Location
    GET  /print-jobs/<id>               the job: queued, sending, sent, failed (last_error), cancelled
    POST /print-jobs/<id>/cancel        a queued or failed job
    POST /print-jobs/<id>/reprint       a new job with the same label
    GET  /printers                      each printer's last known state and its open jobs

A request the station refuses (copies out of range, an unknown printer or template) is a 400 and
stores nothing; a body of the wrong shape (a field of the wrong type, an unknown field) is a 422
like everywhere in this API.

Who may act on a job by its id: reading one is open to every role (a job shows what a lot label
shows, which every role may look up). Cancelling and reprinting act on anyone's job, so they are
for the roles whose work prints labels (PRINTING): receivers (receipts), line operators (runs),
supervisors and admins — not pickers; another token gets 403 in words before anything is read.
"""
from __future__ import annotations

from flask import Response, url_for
from sqlalchemy import select

from devices.printers import state_text

from .. import get_db
from ..models import Lot, Printer, PrintJob
from ..services import printing
from .core import api_actor, route
from .print_schemas import PrinterList, PrinterOut, PrintJobOut, PrintRequestIn


# The workflows whose roles print labels (auth.WORKFLOWS): they may cancel and reprint any job by id.
PRINTING = "printing"  # views.auth.WORKFLOWS: receivers, line operators, supervisors, admins


def _job_out(session, job: PrintJob) -> PrintJobOut:
    printer = session.scalar(select(Printer.name).where(Printer.id == job.printer_id))
    lot = session.scalar(select(Lot.lot_number).where(Lot.id == job.lot_id)) if job.lot_id else None
    return PrintJobOut.of(job, printer, lot)


def _accepted(out: PrintJobOut) -> Response:
    return Response(out.model_dump_json(), status=202, mimetype="application/json",
                    headers={"Location": url_for("api.get_print_job", job_id=out.id)})


@route("POST", "/lots/<path:lot_number>/labels", body=PrintRequestIn, response=PrintJobOut, status=202,
       errors=(404, 409),
       workflow="lookup")
def request_lot_labels(lot_number: str, body: PrintRequestIn) -> Response:
    """Print labels of a lot: the job is queued and answered at once (202); poll its Location."""
    with get_db().write() as session:
        options = {"sscc": body.sscc} if body.sscc is not None else {}
        job = printing.request_labels(session, lot_number, printer=body.printer, template=body.template,
                                      copies=body.copies, request_id=body.request_id,
                                      token_id=api_actor().token_id, **options)
        out = _job_out(session, job)
    return _accepted(out)


@route("GET", "/print-jobs/<int:job_id>", response=PrintJobOut, errors=(404,))
def get_print_job(job_id: int) -> PrintJobOut:
    """A print job and its state."""
    with get_db().read() as session:
        return _job_out(session, printing.get_job(session, job_id))


@route("POST", "/print-jobs/<int:job_id>/cancel", response=PrintJobOut, errors=(404, 409),
       workflow=PRINTING, action="Cancelling a print job")
def cancel_print_job(job_id: int) -> PrintJobOut:
    """Cancel a job that is queued or failed (409 once it is being sent or sent)."""
    with get_db().write() as session:
        return _job_out(session, printing.cancel(session, job_id))


@route("POST", "/print-jobs/<int:job_id>/reprint", response=PrintJobOut, status=202, errors=(404, 409),
       workflow=PRINTING, action="Reprinting a print job")
def reprint_print_job(job_id: int) -> Response:
    """Print a job's label again: a new job with the same label (the same SSCC on a pallet label)."""
    with get_db().write() as session:
        out = _job_out(session, printing.reprint(session, job_id, token_id=api_actor().token_id))
    return _accepted(out)


@route("GET", "/printers", response=PrinterList)
def list_printers() -> PrinterList:
    """The printers, with the state the print worker last read and how many jobs wait for each."""
    with get_db().read() as session:
        counts = printing.queued_counts(session)
        printers = session.scalars(select(Printer).order_by(Printer.name)).all()
        return PrinterList(data=[PrinterOut(
            name=p.name, url=p.url, label_size=p.label_size, dpi=p.dpi, active=p.active, state=p.state,
            state_text=state_text(p.state), state_detail=p.state_detail,
            state_checked_at=printing._utc(p.state_checked_at), queued=counts.get(p.id, 0))
            for p in printers])
