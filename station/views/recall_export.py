"""A recall's report as CSV (blueprint "recalls"): GET /recalls/<number>.csv. Cells that a spreadsheet
would run as a formula are defused (station/spreadsheet.py). Quantities are written to their item's
decimals with their unit beside them; the totals are one line per unit (kilograms and pieces never add
up), and a customer's total over lots of different units has no unit to pad to, so it is written exact."""
from __future__ import annotations

import csv
import io

from flask import Response

from .. import get_db
from ..auth import requires
from ..services import recalls
from ..services.errors import DomainError
from ..spreadsheet import qty_cell, safe_cell
from .filters import when
from .recalls import bp


def report_rows(report: recalls.Report):
    """The report as CSV rows: a head, then lots, stock now, customers, shipments and events."""
    lots = {lot.lot_number: lot for lot in report.lots}
    yield ["Recall", report.number]
    yield ["Status", report.status]
    yield ["Reason", report.reason]
    yield ["Started from", report.source]
    yield ["Opened", when(report.opened_at), report.opened_by]
    if report.closed_at:
        yield ["Closed", when(report.closed_at), report.closed_by, report.close_reason]
    yield ["Lots", len(report.lots), "stopped", report.lots_stopped]
    for unit, (got, of, decimals) in _per_unit(report).items():
        yield ["Stock retrieved", qty_cell(got, decimals), "of", qty_cell(of, decimals), unit]
    yield ["Customers notified", report.notified, "of", len(report.customers)]
    yield []
    yield ["Lot", "SKU", "Item", "Unit", "Depth", "Status before", "Status now", "On hand at start",
           "On hand now", "Shipped", "Retrieved", "Also in recalls"]
    for lot in report.lots:
        yield [lot.lot_number, lot.sku, lot.item_name, lot.unit, lot.depth, lot.status_before, lot.status_now,
               *(qty_cell(q, lot.decimals) for q in (lot.on_hand_at_start, lot.on_hand_now, lot.shipped_qty,
                                                     lot.retrieved_qty)),
               " ".join(lot.other_recalls)]
    yield []
    yield ["Stock now: lot", "Location", "Qty", "Unit"]
    for lot in report.lots:
        for place in lot.stock_now:
            yield [lot.lot_number, place.location, qty_cell(place.qty, lot.decimals), lot.unit]
    yield []
    yield ["Customer code", "Customer", "Shipped", "Notified at", "Notified by", "Note"]
    for c in report.customers:
        yield [c.code, c.name, c.shipped_qty, when(c.notified_at) if c.notified_at else "", c.notified_by, c.note]
    yield []
    yield ["Shipment: customer", "Order", "Shipped at", "Lot", "Qty", "Unit"]
    for c in report.customers:
        for sh in c.shipments:
            yield [c.code, sh.order, when(sh.ts), sh.lot_number, *_measured(sh.qty, lots.get(sh.lot_number))]
    yield []
    yield ["Event time", "Action", "By", "Station", "Lot", "Customer", "Qty", "Unit", "Note"]
    for e in report.events:
        yield [when(e.ts), e.action, e.operator, e.station, e.lot_number, e.customer,
               *_measured(e.qty, lots.get(e.lot_number)), e.note]


def _measured(qty, lot: recalls.ReportLot | None) -> list:
    """[quantity, unit] of a row about `lot` (an event may have neither)."""
    if qty is None or lot is None:
        return [qty_cell(qty, None), ""]
    return [qty_cell(qty, lot.decimals), lot.unit]


def _per_unit(report: recalls.Report) -> dict[str, tuple]:
    """unit -> (retrieved, to retrieve, decimals to write them in), over the report's lots."""
    totals: dict[str, tuple] = {}
    for lot in report.lots:
        got, of, decimals = totals.get(lot.unit, (0, 0, 0))
        totals[lot.unit] = (got + lot.retrieved_qty, of + lot.to_retrieve, max(decimals, lot.decimals))
    return dict(sorted(totals.items())) or {"": (0, 0, 0)}


@bp.get("/<number>.csv")
@requires("supervisor")
def export(number: str):
    try:
        with get_db().read() as s:
            report = recalls.recall_report(s, recalls.recall_by_number(s, number))
    except DomainError as exc:
        return Response(exc.message, status=exc.status, mimetype="text/plain")
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in report_rows(report):
        writer.writerow([safe_cell(v) for v in row])
    return Response(buffer.getvalue(), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{report.number}.csv"', "Cache-Control": "no-store"})
