"""Listing print jobs over the API (a printer board elsewhere, a script checking what failed).

    GET /print-jobs?status=&printer=&lot=&after=&limit=
        print jobs by id (oldest first), keyset pages (next_after); each as GET /print-jobs/<id> shows it

Every role may look (workflow "lookup"), as every role may read one job. An unknown printer or lot is
a 422 naming the field, as is a status that is none or an unknown filter; nothing is looked up then.
"""
from __future__ import annotations

from .. import get_db
from ..models import PrintJobStatus
from ..services import catalog, printing
from ..services.print_job_search import JobFilter, jobs_page
from .core import route
from .lot_list_schemas import PrintJobListQuery, PrintJobPage
from .print_schemas import PrintJobOut
from .views import _referenced


@route("GET", "/print-jobs", query=PrintJobListQuery, response=PrintJobPage)
def list_print_jobs(query: PrintJobListQuery) -> PrintJobPage:
    """Print jobs by state, printer and lot, a page at a time (pass next_after as after)."""
    with get_db().read() as session:
        where = JobFilter(
            status=PrintJobStatus(query.status) if query.status else None,
            printer=(_referenced(printing.printer_by_name, session, query.printer, "printer")
                     if query.printer else None),
            lot=_referenced(catalog.lot_by_number, session, query.lot, "lot") if query.lot else None)
        rows, next_after = jobs_page(session, where, after=query.after, limit=query.limit)
        return PrintJobPage(data=[PrintJobOut.of(job, printer, lot) for job, printer, lot in rows],
                            next_after=next_after)
