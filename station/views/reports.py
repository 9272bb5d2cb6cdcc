"""Supervisor reports: FIFO/FEFO overrides by operator and reason, and refused scans.

    GET /reports/overrides?from=&to=        the report for a range of site dates (default: 30 days)
    GET /reports/overrides.csv?from=&to=    every override pick in the range, streamed as CSV
"""
from __future__ import annotations

from flask import Blueprint, Response, make_response, render_template, request, stream_with_context

from .. import clock, get_db
from ..services import audit, dates, reports
from ..services.errors import DomainError
from ..auth import requires

bp = Blueprint("reports", __name__, url_prefix="/reports")


def _range():
    days = {}
    for what in ("from", "to"):
        days[what] = audit.parse_date(request.args.get(what), what)
        dates.check_report_day(days[what], clock.today(), what=what)  # 9999-12-31 is no range to report
    return reports.date_range(days["from"], days["to"])


@bp.get("/overrides")
@requires("supervisor")
def overrides():
    raw = {"from": request.args.get("from", ""), "to": request.args.get("to", "")}
    try:
        date_from, date_to = _range()
    except DomainError as exc:
        return make_response(render_template("reports_overrides.html", report=None, raw=raw, error=exc.message,
                                              zone=clock.site_zone().key), 400)
    with get_db().read() as session:
        report = reports.override_report(session, date_from, date_to)
    raw = {"from": date_from.isoformat(), "to": date_to.isoformat()}
    return render_template("reports_overrides.html", report=report, raw=raw, error=None,
                           zone=clock.site_zone().key, shown=reports.ROWS_SHOWN)


@bp.get("/overrides.csv")
@requires("supervisor")
def overrides_csv():
    try:
        date_from, date_to = _range()
    except DomainError as exc:
        raw = {"from": request.args.get("from", ""), "to": request.args.get("to", "")}
        return make_response(render_template("reports_overrides.html", report=None, raw=raw,
                                             error=f"Nothing exported: {exc.message}",
                                             zone=clock.site_zone().key), 400)
    name = f"overrides-{date_from.isoformat()}-to-{date_to.isoformat()}.csv"
    response = Response(stream_with_context(reports.overrides_csv(get_db(), date_from, date_to)),
                        mimetype="text/csv", headers={"Content-Disposition": f'attachment; filename="{name}"'})
    response.headers["Cache-Control"] = "no-store"
    return response
