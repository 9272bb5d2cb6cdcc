"""One production run's page, on the line's blueprint: its lot, components and label jobs (live);
reprint, print more. The taps are workflows/line.py's (reprint, print_more), through views/line.py's tap.

    GET  /line/runs/<id>            a run: its lot, components, label jobs (live); reprint, print more
    POST /line/runs/<id>/reprint    the last label job again (CMD:REPRINT)
    POST /line/runs/<id>/print      more labels (copies)
"""
from __future__ import annotations

import uuid

from flask import abort, request
from sqlalchemy import func, select

from .. import auth, get_db
from ..auth import requires
from ..models import Item, Location, Lot, Operator, PrintJob, ProductionRun, ProductionRunComponent
from ..workflows import line
from .intake import answer_response, open_page
from .line import bp, take_note, tap
from .printers import _job_context


def _run_context(s, run_id: int) -> dict:
    run = s.get(ProductionRun, run_id)
    if run is None:
        abort(404)
    jobs = []
    if run.output_lot_id:
        for job_id in s.scalars(select(PrintJob.id).where(PrintJob.lot_id == run.output_lot_id)
                                .order_by(PrintJob.id.desc()).limit(10)):
            jobs.append(_job_context(s, job_id))
    names = dict(s.execute(select(Operator.id, Operator.name).where(
        Operator.id.in_([i for i in (run.started_by_id, run.finished_by_id) if i]))).all()) if (
        run.started_by_id or run.finished_by_id) else {}
    return {"run": run, "item": s.get(Item, run.item_id), "line": s.get(Location, run.location_id),
            "lot": s.get(Lot, run.output_lot_id) if run.output_lot_id else None, "parts": line.parts_of(s, run.id),
            "jobs": jobs, "names": names, "station": auth.current_station(), "print_token": uuid.uuid4().hex,
            "used": s.scalar(select(func.coalesce(func.sum(ProductionRunComponent.qty), 0))
                             .where(ProductionRunComponent.run_id == run.id))}


@bp.get("/runs/<int:run_id>")
@requires("line")
def run_page(run_id: int):
    with get_db().read() as s:
        context = _run_context(s, run_id)
        s.expunge_all()
    open_page(line.NAME)  # its scans (and CMD:REPRINT, CMD:NEXT) go to the line
    answer = take_note() or line.run_prompt(context["run"], context["lot"])
    return answer_response("line_run.html", answer, None, **context)


@bp.post("/runs/<int:run_id>/reprint")
@requires("line")
def reprint(run_id: int):
    return tap(line.reprint, run_id, _token(request.form.get("request_id")))


@bp.post("/runs/<int:run_id>/print")
@requires("line")
def print_more(run_id: int):
    return tap(line.print_more, run_id, request.form.get("copies"), _token(request.form.get("request_id")))


def _token(value: str | None) -> str | None:
    """The form's one-time token as a print request id: a double tap makes one job."""
    return f"line-{value}" if value and value.isalnum() and len(value) <= 40 else None
