"""A trace as CSV: one row per lot, receipt and shipment (views/trace_pdf.py draws the PDF).

Cells that a spreadsheet would read as a formula (starting with = + - @, a tab or a carriage
return) get a leading apostrophe: lot numbers and supplier lots come from suppliers' labels, and a
label must never run a formula on a supervisor's computer. Quantities are written to their item's
decimals (12.350 for flour counted in kg to 3), with the row's unit in its own column and the unit
beside each component in made_from (flour in kg goes into pies counted each).
"""
from __future__ import annotations

import csv
import datetime as dt
import io

from ..services.trace import Trace
from ..spreadsheet import qty_cell, qty_words, safe_cell

COLUMNS = [
    ("record", "record: lot, receipt or shipment"),
    ("depth", "depth: links from the traced lot"),
    ("lot_number", "lot_number"),
    ("item_sku", "item_sku"),
    ("item_name", "item_name"),
    ("status", "status: of the lot now"),
    ("origin", "origin: receipt, production or split"),
    ("on_hand", "on_hand: in stock now"),
    ("unit", "unit"),
    ("stock_now", "stock_now: location qty; ..."),
    ("made_from", "made_from: component qty unit kind; ..."),
    ("supplier_code", "supplier_code"),
    ("supplier_name", "supplier_name"),
    ("supplier_lot", "supplier_lot"),
    ("received_on", "received_on"),
    ("produced_on", "produced_on"),
    ("expiry", "expiry"),
    ("customer_code", "customer_code: shipments"),
    ("customer_name", "customer_name"),
    ("order_number", "order_number"),
    ("sscc", "sscc: receipts"),
    ("received_by", "received_by"),
    ("date", "date: of the receipt or shipment (UTC)"),
    ("qty", "qty: received or shipped"),
]



def made_from(t: Trace) -> dict[str, str]:
    """What each lot was made or split from: "LOT-1 12.350 kg production; ..."."""
    lots = {n.lot_number: n for n in t.nodes}
    parts: dict[str, list[str]] = {}
    for e in t.edges:
        used = lots[e.component]  # the trace keeps only links between its own lots
        parts.setdefault(e.output, []).append(f"{e.component} {qty_words(e.qty, used.decimals, used.unit)} {e.kind}")
    return {k: "; ".join(v) for k, v in parts.items()}


def utc(ts: dt.datetime) -> dt.datetime:
    return ts.replace(tzinfo=dt.timezone.utc) if ts.tzinfo is None else ts.astimezone(dt.timezone.utc)


def csv_rows(t: Trace) -> list[dict]:
    rows = []
    sources = made_from(t)
    lots = {n.lot_number: n for n in t.nodes}
    for n in t.nodes:
        rows.append(dict(record="lot", depth=n.depth, lot_number=n.lot_number, item_sku=n.sku,
                         item_name=n.item_name, status=n.status, origin=n.origin,
                         on_hand=qty_cell(n.on_hand, n.decimals), unit=n.unit,
                         stock_now="; ".join(f"{p.location} {qty_words(p.qty, n.decimals, None)}" for p in n.places),
                         made_from=sources.get(n.lot_number, ""), supplier_code=n.supplier_code,
                         supplier_name=n.supplier_name, supplier_lot=n.supplier_lot, received_on=n.received_on,
                         produced_on=n.produced_on, expiry=n.expiry))
    for r in t.receipts:
        n = lots[r.lot_number]
        rows.append(dict(record="receipt", depth=n.depth, lot_number=r.lot_number, item_sku=n.sku,
                         item_name=n.item_name, unit=n.unit, supplier_code=r.supplier_code,
                         supplier_name=r.supplier_name, supplier_lot=r.supplier_lot, sscc=r.sscc,
                         received_by=r.received_by, stock_now=r.location, date=utc(r.ts),
                         qty=qty_cell(r.qty, n.decimals)))
    for s in t.shipments:
        n = lots[s.lot_number]
        rows.append(dict(record="shipment", depth=n.depth, lot_number=s.lot_number, item_sku=n.sku,
                         item_name=n.item_name, unit=n.unit, customer_code=s.customer_code,
                         customer_name=s.customer_name, order_number=s.order_number, date=utc(s.ts),
                         qty=qty_cell(s.qty, n.decimals)))
    return rows


def to_csv(t: Trace) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([label for _key, label in COLUMNS])
    for row in csv_rows(t):
        writer.writerow([safe_cell(row.get(key)) for key, _label in COLUMNS])
    return out.getvalue()
