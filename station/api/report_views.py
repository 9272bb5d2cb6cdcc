"""Reports over the API: expiry, and the ledger for audits. (Any valid token, like the rest of the
API: token roles are not enforced per route yet.)

    GET /expiry?days=30           lots expiring within N days, expired lots in stock, stock by week
    GET /movements?filters&cursor=&limit=    the ledger, newest first, keyset pages (next_cursor)
    GET /movements.csv?filters    every matching ledger row as CSV, streamed
"""
from __future__ import annotations

from flask import Response, stream_with_context

from .. import clock, get_db
from ..services import audit, expiry
from .core import route
from .report_schemas import (ExpiryLotOut, ExpiryOut, ExpiryQuery, ExpiryWeekOut, MovementOut, MovementPage,
                             MovementPageQuery, MovementQuery)

def _lot(row: expiry.LotRow) -> ExpiryLotOut:
    return ExpiryLotOut(lot_number=row.lot_number, sku=row.sku, item_name=row.name, unit=row.unit,
                        expiry=row.expiry, days_left=row.days_left, status=row.status, on_hand=row.on_hand,
                        stock=dict(row.places))


@route("GET", "/expiry", query=ExpiryQuery, response=ExpiryOut,
       workflow="supervisor", action="Reading the expiry report")
def get_expiry(query: ExpiryQuery) -> ExpiryOut:
    """Lots expiring within N days, expired lots still in stock, and stock by expiry week."""
    with get_db().read() as session:
        board = expiry.dashboard(session, query.days)
    return ExpiryOut(today=board.today, days=board.days, expiring_total=board.expiring_total,
                     expiring=[_lot(r) for r in board.expiring], expired_total=board.expired_total,
                     expired=[_lot(r) for r in board.expired],
                     weeks=[ExpiryWeekOut(label=b.label, start=b.start, lots=b.lots, qty=b.qty) for b in board.buckets])


def _filters(query: MovementQuery) -> audit.Filters:
    return audit.Filters(lot=query.lot, item=query.item, location=query.location, operator=query.operator,
                         station=query.station, date_from=query.date_from, date_to=query.date_to)


def _movement(row) -> MovementOut:
    return MovementOut(
        id=row.id, ts=audit._utc(row.ts), kind=getattr(row.kind, "value", row.kind), lot_number=row.lot_number,
        sku=row.sku, item_name=row.item_name, qty=row.qty, unit=row.unit, from_location=row.from_code,
        to_location=row.to_code, operator=row.operator_name, operator_badge=row.operator_badge,
        station=row.station_name, customer=row.customer_code, order=row.order_number, reference=row.reference,
        reason=row.reason, raw_scan=row.raw_scan, followed_suggestion=row.followed_suggestion)


@route("GET", "/movements", query=MovementPageQuery, response=MovementPage,
       workflow="supervisor", action="Reading the movement ledger")
def list_movements(query: MovementPageQuery) -> MovementPage:
    """The movement ledger, filtered, newest first, a page at a time (keyset: pass next_cursor)."""
    with get_db().read() as session:
        resolved = audit.resolve(session, _filters(query))
        page = audit.ledger_page(session, resolved, before=query.cursor, limit=query.limit)
        return MovementPage(data=[_movement(r) for r in page.rows], next_cursor=page.next_cursor)


@route("GET", "/movements.csv", query=MovementQuery, response=None, media="text/csv",
       workflow="supervisor", action="Exporting the movement ledger")
def export_movements(query: MovementQuery) -> Response:
    """The movement ledger, filtered, as CSV streamed row by row (a header row first)."""
    db = get_db()
    with db.read() as session:
        resolved = audit.resolve(session, _filters(query))
    name = "ledger-" + clock.today().isoformat() + ".csv"
    return Response(stream_with_context(audit.ledger_csv(db, resolved)), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})
