"""Recalls, for supervisors: start one from a lot or a supplier's lot, follow it up, close it.

    GET  /recalls                    open and closed recalls with their progress; "Start a recall"
    POST /recalls/scan               a wedge scan (station.js): a lot label or pallet -> HX-Redirect to
                                     its preview; anything else -> a red banner
    GET  /recalls/new?lot=…          the preview: what the recall would stop and whom it lists, and
         /recalls/new?supplier=…&supplier_lot=…   the reason + confirm (data-command="confirm")
    POST /recalls                    start it (source + reason) -> 303 to the recall's page (also when an
                                     open recall already holds the source — a confirm sent twice — with
                                     a banner saying so)
    GET  /recalls/<number>[?lot=…]   the report: lots, where their stock is now, customers, shipments,
                                     progress, events; forms for the follow-up (?lot: that lot's form first,
                                     its Retrieved button answering CMD:CONFIRM)
    POST /recalls/<number>/scan      a wedge scan of a lot label on that page -> HX-Redirect to ?lot=
    POST /recalls/<number>/retrieved (lot, qty, note)       stock of an affected lot gathered back
    POST /recalls/<number>/notified  (customer, note)       a customer was told
    POST /recalls/<number>/close     (reason, accept_unnotified)
    GET  /recalls/<number>.csv       the report as CSV (cells that a spreadsheet would run are defused)

Forms are plain POSTs: a success redirects to the recall's page with a green banner (POST, redirect,
GET); a refusal answers the page again with the red banner, the words typed kept, and nothing changed
(services.recalls raises before anything is written, and the transaction rolls back).
"""
from __future__ import annotations

import csv
import io

from flask import (Blueprint, Response, make_response, redirect, render_template, request, session,
                   url_for)
from sqlalchemy import select

from .. import get_db
from ..models import Supplier
from ..services import recalls
from ..services.errors import DomainError
from ..spreadsheet import safe_cell
from . import floor
from .common import clean_scan
from .filters import when
from .lots import command_of
from .moving import Answer, ingest, parse_qty
from .floor import requires

bp = Blueprint("recalls", __name__, url_prefix="/recalls")

NOTE_KEY = "recall_note"
PREVIEW_LOTS = 60  # the preview lists this many lots; the count says how many in all
REASONS = ("Customer complaint", "Supplier notice", "Lab result", "Foreign body found", "Labelling error")


def _note(kind: str, message: str, detail: str | None = None) -> None:
    session[NOTE_KEY] = [kind, message, detail]


def _take_note() -> Answer | None:
    note = session.pop(NOTE_KEY, None)
    return Answer(*note) if isinstance(note, list) and len(note) == 3 else None


def _page(template: str, status: int = 200, **context):
    response = make_response(render_template(template, **context), status)
    response.headers["Cache-Control"] = "no-store"
    return response


def _error_status(exc: DomainError) -> int:
    return exc.status if 400 <= exc.status < 500 else 409


# --- the list and the start form ----------------------------------------------------------------


def _suppliers() -> list[tuple[str, str]]:
    with get_db().read() as s:
        return [(code, name) for code, name in s.execute(select(Supplier.code, Supplier.name).order_by(Supplier.name))]


def _index(answer: Answer | None = None, status: int = 200, **form):
    with get_db().read() as s:
        rows = recalls.recall_list(s)
    return _page("recalls.html", status, answer=answer or _take_note(), open_recalls=[r for r in rows if r.status == "open"],
                 closed_recalls=[r for r in rows if r.status != "open"], suppliers=_suppliers(),
                 form=form)


@bp.get("")
@requires("supervisor")
def index():
    return _index()


@bp.post("/scan")
@requires("supervisor")
def scan():
    """A scanned lot label (or pallet label) opens the preview of a recall from that lot."""
    outcome, problem = ingest("recall")
    if problem is not None:
        return floor.banner_response(problem.kind, problem.message, 400)
    res = outcome.resolution
    if outcome.ignored:
        return floor.banner_response("info", "The same label again — scanned once only.")
    records = res.records or {}
    lot = (records.get("lot") or {}).get("lot_number")
    if res.ok and lot:
        response = make_response("", 200)
        response.headers["HX-Redirect"] = url_for(".preview", lot=lot)
        return response
    if res.ok and records.get("item"):
        item = records["item"]
        return floor.banner_response("error", f"That is the barcode of the item {item['sku']}, not of one lot.",
                                     422, "Scan our lot label (or the pallet label), or type the lot number.")
    message = res.message if not res.ok else "That is not a lot label."
    return floor.banner_response("error", message, 422, "Scan our lot label or the pallet label to start a recall.")


def _source_args() -> dict:
    values = request.values
    lot = clean_scan(values.get("lot"))
    supplier = clean_scan(values.get("supplier"))
    supplier_lot = clean_scan(values.get("supplier_lot"))
    if lot:
        return {"lot": lot}
    return {"supplier": supplier or None, "supplier_lot": supplier_lot or None}


@bp.get("/new")
@requires("supervisor")
def preview():
    source = _source_args()
    try:
        with get_db().read() as s:
            found = recalls.preview_recall(s, **source)
    except DomainError as exc:
        return _index(Answer("error", exc.message, "Nothing was stopped."), _error_status(exc), **source)
    return _preview(found, source)


def _preview(found: recalls.Preview, source: dict, answer: Answer | None = None, status: int = 200,
             reason: str = ""):
    if answer is None:
        answer = Answer("info", f"A recall of {found.source} stops {found.stopped} "
                                f"{'lot' if found.stopped == 1 else 'lots'}",
                        "Check what it covers, write why, then confirm (or scan CMD:CONFIRM).")
    return _page("recall_new.html", status, answer=answer, preview=found, source=source, reason=reason,
                 reasons=REASONS, shown=found.lots[:PREVIEW_LOTS])


@bp.post("")
@requires("supervisor")
def create():
    source = _source_args()
    reason = clean_scan(request.form.get("reason"))
    if lots_command(reason):  # CMD:CONFIRM scanned into the reason field itself: not a reason
        reason = ""
    try:
        with get_db().write() as s:
            recall = recalls.open_recall(s, reason=reason, by=floor.actor(), **source)
            number = recall.number
            report = recalls.recall_report(s, recall)
    except DomainError as exc:
        if exc.code == "already_recalled" and exc.details.get("recall"):
            # Most often the same confirm sent twice: show the recall that already holds it.
            _note("info", exc.message, "Nothing more was stopped.")
            return redirect(url_for(".show", number=exc.details["recall"]), 303)
        try:
            with get_db().read() as s:
                found = recalls.preview_recall(s, **source)
        except DomainError:
            return _index(Answer("error", exc.message, "Nothing was stopped."), _error_status(exc), **source)
        return _preview(found, source, Answer("error", exc.message, "Nothing was stopped."),
                        _error_status(exc), reason)
    _note("ok", f"Recall {number} started: {report.lots_stopped} "
                f"{'lot' if report.lots_stopped == 1 else 'lots'} stopped",
          f"{len(report.customers)} {'customer' if len(report.customers) == 1 else 'customers'} to tell. "
          f"Recalled lots cannot be picked, used or shipped.")
    return redirect(url_for(".show", number=number), 303)


def lots_command(text: str) -> bool:
    return command_of(text) is not None


# --- one recall ---------------------------------------------------------------------------------


def _report(number: str) -> recalls.Report:
    with get_db().read() as s:
        return recalls.recall_report(s, recalls.recall_by_number(s, number))


def _show(number: str, answer: Answer | None = None, status: int = 200, **typed):
    try:
        report = _report(number)
    except DomainError as exc:
        return _index(Answer("error", exc.message), exc.status)
    focus = typed.get("lot") or clean_scan(request.args.get("lot"))
    return _page("recall.html", status, answer=answer or _take_note(), report=report, typed=typed, focus=focus)


@bp.get("/<number>")
@requires("supervisor")
def show(number: str):
    return _show(number)


@bp.post("/<number>/scan")
@requires("supervisor")
def scan_on_report(number: str):
    """A lot label scanned on a recall's page: that lot's row, ready for how many came back (its
    Retrieved button then answers CMD:CONFIRM)."""
    outcome, problem = ingest("recall")
    if problem is not None:
        return floor.banner_response(problem.kind, problem.message, 400)
    if outcome.ignored:
        return floor.banner_response("info", "The same label again — scanned once only.")
    res = outcome.resolution
    lot = ((res.records or {}).get("lot") or {}).get("lot_number") if res.ok else None
    if not lot:
        return floor.banner_response("error", res.message if not res.ok else "That is not a lot label.", 422,
                                     "Scan the label of a lot in this recall.")
    try:
        report = _report(number)
    except DomainError as exc:
        return floor.banner_response("error", exc.message, exc.status)
    if lot not in {row.lot_number for row in report.lots}:
        return floor.banner_response("error", f"Lot {lot} is not part of recall {number}.", 422,
                                     "Scan the label of a lot listed on this page.")
    response = make_response("", 200)
    response.headers["HX-Redirect"] = url_for(".show", number=number, lot=lot)
    return response


def _act(number: str, action, ok, **typed):
    """Run `action(session, recall)`; then 303 back with `ok` words, or the page with the refusal."""
    try:
        with get_db().write() as s:
            recall = recalls.recall_by_number(s, number, lock=True)
            action(s, recall)
    except DomainError as exc:
        return _show(number, Answer("error", exc.message, "Nothing was changed."), _error_status(exc), **typed)
    _note("ok", *ok) if isinstance(ok, tuple) else _note("ok", ok)
    return redirect(url_for(".show", number=number), 303)


@bp.post("/<number>/retrieved")
@requires("supervisor")
def retrieved(number: str):
    lot = clean_scan(request.form.get("lot"))
    note = clean_scan(request.form.get("note"))
    try:
        qty = parse_qty(request.form.get("qty"))
    except DomainError as exc:
        return _show(number, Answer("error", exc.message, "Nothing was changed."), 422, lot=lot, note=note)
    if qty is None:
        return _show(number, Answer("error", f"Type how many of lot {lot} came back, then tap Retrieved.",
                                    "Nothing was changed."), 422, lot=lot, note=note)
    return _act(number, lambda s, r: recalls.record_retrieved(s, r, lot, qty, by=floor.actor(), note=note),
                f"Lot {lot}: {qty} more retrieved", lot=lot, note=note, qty=str(qty))


@bp.post("/<number>/notified")
@requires("supervisor")
def notified(number: str):
    customer = clean_scan(request.form.get("customer"))
    note = clean_scan(request.form.get("note"))
    return _act(number, lambda s, r: recalls.mark_notified(s, r, customer, by=floor.actor(), note=note),
                f"Customer {customer} marked notified", customer=customer, note=note)


@bp.post("/<number>/close")
@requires("supervisor")
def close(number: str):
    reason = clean_scan(request.form.get("reason"))
    accept = request.form.get("accept_unnotified") in ("1", "on", "true")
    return _act(number, lambda s, r: recalls.close_recall(s, r, reason=reason, by=floor.actor(),
                                                          accept_unnotified=accept),
                (f"Recall {number} closed", "Its lots stay recalled: they cannot be picked, used or shipped."),
                close_reason=reason, accept=accept)


# --- CSV ----------------------------------------------------------------------------------------

def report_rows(report: recalls.Report):
    """The report as CSV rows: a head, then lots, stock now, customers, shipments and events."""
    yield ["Recall", report.number]
    yield ["Status", report.status]
    yield ["Reason", report.reason]
    yield ["Started from", report.source]
    yield ["Opened", when(report.opened_at), report.opened_by]
    if report.closed_at:
        yield ["Closed", when(report.closed_at), report.closed_by, report.close_reason]
    yield ["Lots", len(report.lots), "stopped", report.lots_stopped]
    yield ["Stock retrieved", report.retrieved, "of", report.to_retrieve]
    yield ["Customers notified", report.notified, "of", len(report.customers)]
    yield []
    yield ["Lot", "SKU", "Item", "Unit", "Depth", "Status before", "Status now", "On hand at start",
           "On hand now", "Shipped", "Retrieved", "Also in recalls"]
    for lot in report.lots:
        yield [lot.lot_number, lot.sku, lot.item_name, lot.unit, lot.depth, lot.status_before, lot.status_now,
               lot.on_hand_at_start, lot.on_hand_now, lot.shipped_qty, lot.retrieved_qty,
               " ".join(lot.other_recalls)]
    yield []
    yield ["Stock now: lot", "Location", "Qty"]
    for lot in report.lots:
        for place in lot.stock_now:
            yield [lot.lot_number, place.location, place.qty]
    yield []
    yield ["Customer code", "Customer", "Shipped", "Notified at", "Notified by", "Note"]
    for c in report.customers:
        yield [c.code, c.name, c.shipped_qty, when(c.notified_at) if c.notified_at else "", c.notified_by, c.note]
    yield []
    yield ["Shipment: customer", "Order", "Shipped at", "Lot", "Qty"]
    for c in report.customers:
        for sh in c.shipments:
            yield [c.code, sh.order, when(sh.ts), sh.lot_number, sh.qty]
    yield []
    yield ["Event time", "Action", "By", "Station", "Lot", "Customer", "Qty", "Note"]
    for e in report.events:
        yield [when(e.ts), e.action, e.operator, e.station, e.lot_number, e.customer, e.qty, e.note]


@bp.get("/<number>.csv")
@requires("supervisor")
def export(number: str):
    try:
        report = _report(number)
    except DomainError as exc:
        return Response(exc.message, status=exc.status, mimetype="text/plain")
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in report_rows(report):
        writer.writerow([safe_cell(v) for v in row])
    return Response(buffer.getvalue(), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{report.number}.csv"', "Cache-Control": "no-store"})
