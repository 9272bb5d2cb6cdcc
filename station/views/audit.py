"""The audit trail (supervisors): the movement ledger and the lot events, filtered, newest first.

    GET /audit?lot=&item=&location=&operator=&station=&from=&to=&before=   the ledger, a page at a time
    GET /audit?tab=events&...&cursor=      holds, releases, recalls, expiries and override picks
    GET /audit.csv?...                     the ledger rows matching the filters, streamed as CSV

A filter naming nothing known (a mistyped lot, a badge nobody has) is refused with a red banner
in words and status 400, never an empty page or an empty export.
"""
from __future__ import annotations

from flask import Blueprint, Response, make_response, render_template, request, stream_with_context
from sqlalchemy import select

from .. import clock, get_db
from ..models import Operator, StationDevice
from ..services import audit
from ..ids import parse_id
from ..services.errors import DomainError
from ..auth import requires

bp = Blueprint("audit", __name__)

TABS = ("ledger", "events")


def _choices(session):
    operators = session.execute(select(Operator.badge, Operator.name).order_by(Operator.name)).all()
    stations = session.scalars(select(StationDevice.name).order_by(StationDevice.name)).all()
    return operators, stations


def _before() -> int | None:
    return parse_id(request.args.get("before"), what="before", code="invalid_cursor",
                    message="That page link is damaged — go back to the first page.")


@bp.get("/audit")
@requires("supervisor")
def index():
    tab = request.args.get("tab") if request.args.get("tab") in TABS else "ledger"
    raw = {k: request.args.get(k, "") for k in ("lot", "item", "location", "operator", "station", "from", "to")}
    with get_db().read() as session:
        operators, stations = _choices(session)
        context = dict(tab=tab, raw=raw, operators=operators, stations=stations, zone=clock.site_zone().key,
                       page=None, events=None, filters=None, error=None)
        try:
            filters = audit.filters_from(request.args)
            resolved = audit.resolve(session, filters)
            context["filters"] = filters
            if tab == "ledger":
                context["page"] = audit.ledger_page(session, resolved, before=_before(), limit=audit.PAGE)
            else:
                context["events"] = audit.events_page(session, resolved, cursor=request.args.get("cursor"),
                                                     limit=audit.PAGE)
        except DomainError as exc:
            context["error"] = exc.message
            return make_response(render_template("audit.html", **context), 400)
        return render_template("audit.html", **context, first=not (request.args.get("before")
                                                                   or request.args.get("cursor")))


@bp.get("/audit.csv")
@requires("supervisor")
def export():
    db = get_db()
    try:
        filters = audit.filters_from(request.args)
        with db.read() as session:
            resolved = audit.resolve(session, filters)
    except DomainError as exc:
        with db.read() as session:
            operators, stations = _choices(session)
        raw = {k: request.args.get(k, "") for k in ("lot", "item", "location", "operator", "station", "from", "to")}
        return make_response(render_template("audit.html", tab="ledger", raw=raw, operators=operators,
                                             stations=stations, zone=clock.site_zone().key, page=None, events=None,
                                             filters=None, error=f"Nothing exported: {exc.message}"), 400)
    name = "ledger-" + clock.today().isoformat() + ".csv"
    response = Response(stream_with_context(audit.ledger_csv(db, resolved)), mimetype="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})
    response.headers["Cache-Control"] = "no-store"
    return response
