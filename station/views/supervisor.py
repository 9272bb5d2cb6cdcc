"""The supervisor hub: big tiles to the supervisor's pages and the numbers that need attention.

    GET /supervisor

A tile is shown only when its page exists in this build (some are built separately), the way the
home page decides; the counts are plain queries, cheap on a large site (indexed columns).
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, current_app, render_template, url_for
from sqlalchemy import func, select

from .. import get_db
from ..models import Count, CountStatus, Lot, LotStatus, Recall, RecallStatus
from ..services import expiry
from ..auth import requires

bp = Blueprint("supervisor", __name__)


@dataclass(frozen=True)
class HubTile:
    title: str
    text: str
    endpoint: str
    icon: str


TILES = [
    HubTile("Trace", "A lot back to its supplier, forward to customers", "trace.index", "search"),
    HubTile("Recalls", "Stop lots, find who got them, close out", "recalls.index", "warn"),
    HubTile("Expiry", "What expires soon, what has expired", "expiry.index", "clipboard"),
    HubTile("Audit trail", "Every movement and status change", "audit.index", "list"),
    HubTile("Pick overrides", "Who took another lot than suggested, and why", "reports.overrides", "basket"),
    HubTile("Scan log", "Every scan, raw bytes and result", "scan.log", "barcode"),
    HubTile("Printers", "Printer states, label jobs, test print", "printers.index", "printer"),
    HubTile("Counts to approve", "Count differences above the threshold", "counting.pending", "list"),
    HubTile("Orders", "Enter and cancel pick orders", "orders_admin.index", "basket"),
    HubTile("Expected receipts", "What suppliers will deliver; close short", "expected_admin.index", "truck"),
    HubTile("Customers", "Who we ship to, shelf life they need", "customers_admin.index", "people"),
]


def counts(session) -> dict[str, int]:
    held = session.scalar(select(func.count()).select_from(Lot).where(
        Lot.status.in_([LotStatus.HOLD, LotStatus.QUARANTINE])))
    recalls = session.scalar(select(func.count()).select_from(Recall).where(Recall.status == RecallStatus.OPEN))
    pending = session.scalar(select(func.count()).select_from(Count).where(Count.status == CountStatus.PENDING))
    return {"on_hold": int(held or 0), "open_recalls": int(recalls or 0), "pending_counts": int(pending or 0),
            **expiry.counts(session)}


@bp.get("/supervisor")
@requires("supervisor")
def index():
    tiles = [(t, url_for(t.endpoint)) for t in TILES if t.endpoint in current_app.view_functions]
    with get_db().read() as session:
        numbers = counts(session)
    links = {key: url_for(endpoint) if endpoint in current_app.view_functions else None
             for key, endpoint in (("expiry", "expiry.index"), ("audit", "audit.index"),
                                   ("recalls", "recalls.index"), ("counts", "counting.pending"))}
    return render_template("supervisor.html", tiles=tiles, numbers=numbers, links=links)


def init_app(app) -> None:
    """Register the hub and the supervisor pages built with it (expiry, audit, reports)."""
    from . import audit, expiry, reports

    for blueprint in (bp, expiry.bp, audit.bp, reports.bp):
        app.register_blueprint(blueprint)
