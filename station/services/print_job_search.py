"""Print jobs found by state, printer and lot, a page at a time (GET /api/v1/print-jobs).

Keyset pages in job id order (oldest first): `after` is the last id of the previous page. Each filter
walks its index in id order — status (ix_print_jobs_status: status, id), printer
(ix_print_jobs_printer: printer_id, id), lot (ix_print_jobs_lot: lot_id, id) — and the rendered
label (payload, data) is not read: a list shows each job's state, not its ZPL.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, defer

from ..models import Lot, Printer, PrintJob, PrintJobStatus


@dataclass(frozen=True)
class JobFilter:
    status: PrintJobStatus | None = None
    printer: Printer | None = None
    lot: Lot | None = None


def job_query(where: JobFilter):
    """The jobs that pass `where`, oldest first (no page bounds yet)."""
    query = select(PrintJob).order_by(PrintJob.id)
    if where.status is not None:
        query = query.where(PrintJob.status == where.status)
    if where.printer is not None:
        query = query.where(PrintJob.printer_id == where.printer.id)
    if where.lot is not None:
        query = query.where(PrintJob.lot_id == where.lot.id)
    return query


def jobs_page(session: Session, where: JobFilter, *, after: int | None = None,
              limit: int = 100) -> tuple[list[tuple[PrintJob, str, str | None]], int | None]:
    """One page of (job, printer name, lot number) after the cursor `after` (a job id), and the next
    cursor (None on the last page)."""
    query = job_query(where).options(defer(PrintJob.payload), defer(PrintJob.data)).limit(limit + 1)
    if after is not None:
        query = query.where(PrintJob.id > after)
    jobs = list(session.scalars(query))
    more = len(jobs) > limit
    jobs = jobs[:limit]
    printers = dict(session.execute(select(Printer.id, Printer.name)
                                    .where(Printer.id.in_({j.printer_id for j in jobs}))).all()) if jobs else {}
    lot_ids = {j.lot_id for j in jobs if j.lot_id is not None}
    lots = dict(session.execute(select(Lot.id, Lot.lot_number).where(Lot.id.in_(lot_ids))).all()) if lot_ids else {}
    rows = [(job, printers[job.printer_id], lots.get(job.lot_id)) for job in jobs]
    return rows, jobs[-1].id if more else None
