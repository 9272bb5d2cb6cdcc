"""Receiving at the dock: scan the supplier's pallet label, complete what is missing, confirm.

    GET  /receive                  the page: the receipt being filled, big touch controls
    POST /receive/scan             a wedge scan (station.js: code, client_id, station, source) ->
                                   its banner (.scan-result) + the receipt (#receive-work, swapped in
                                   by receive.js)
    POST /receive/draft            the form's values as typed (saved on every change; answers 204)
    GET  /receive/items?q=         item search by SKU, name or GTIN -> big buttons
    POST /receive/item             choose the item (sku) -> the receipt
    POST /receive/confirm          book it: lot, stock at the station's dock, ledger row, labels
                                   queued to the station's printer -> the receipt done, job state live
    POST /receive/cancel           start again with an empty receipt
    POST /receive/new-item         supervisor: create the item of an unknown GTIN, go on with the receipt

The receipt being filled is kept in the session cookie (services.receipts_ui draft), so the two
barcodes of a pallet label can be scanned in either order and hand entry survives a scan. Command
barcodes (CMD:CONFIRM, CMD:CANCEL) are pressed by station.js on the buttons marked data-command.
"""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, current_app, make_response, render_template, request, session
from sqlalchemy import select

from .. import clock, get_db
from ..models import Item, Location, LocationKind, StationDevice
from ..scanning import ScanContext
from ..services import catalog, dates, receipts_ui, scans
from ..services.errors import DomainError, Invalid
from . import floor
from .floor import requires

bp = Blueprint("receiving", __name__, url_prefix="/receive")

DRAFT_KEY = "receive"
MAX_CODE = 4096


# --- the draft in the session ----------------------------------------------------------------------


def _draft() -> dict:
    draft = session.get(DRAFT_KEY)
    if not isinstance(draft, dict) or not receipts_ui.valid_token(draft.get("token")):
        draft = receipts_ui.new_draft()
    return draft


def _save(draft: dict) -> None:
    session[DRAFT_KEY] = draft


@bp.app_template_global()
def expiry_bounds() -> tuple[str, str]:
    """The date picker's min and max for an expiry (services/dates.py): the calendar offers no other."""
    first, last = dates.expiry_window(clock.today())
    return first.isoformat(), last.isoformat()


def _take_form(draft: dict, form) -> dict:
    """The typed values of the receipt form put into the draft (Invalid for a bad one)."""
    draft = dict(draft)
    if "qty" in form:
        draft["qty"] = receipts_ui.parse_qty(form.get("qty"))
    if "expiry" in form:
        expiry = receipts_ui.parse_day(form.get("expiry"), "expiry date")
        if expiry is not None:  # a typo like 0202-03-31 is refused now, not at Confirm
            dates.check_expiry(dt.date.fromisoformat(expiry), clock.today())
        if expiry != draft.get("expiry"):
            draft["expiry_kind"] = draft.get("expiry_kind") or "expiry"
        draft["expiry"] = expiry
    if "supplier_lot" in form:
        text = " ".join((form.get("supplier_lot") or "").split())
        if len(text) > 40:
            raise Invalid("A supplier lot has at most 40 characters.", code="invalid_supplier_lot")
        draft["supplier_lot"] = text or None
    return {k: v for k, v in draft.items() if v is not None}


# --- where --------------------------------------------------------------------------------------


def _dock(session_, station) -> tuple[Location | None, str | None]:
    """Where this station receives: its location, else the first dock; (None, why) if neither."""
    if station is not None and station.location_id is not None:
        return session_.get(Location, station.location_id), None
    try:
        return catalog.first_location(session_, LocationKind.DOCK, "to receive at"), None
    except DomainError as exc:
        return None, exc.message


def _context(draft: dict, **extra) -> dict:
    station = floor.current_station()
    with get_db().read() as s:
        dock, dock_problem = _dock(s, station)
        item = s.scalar(select(Item).where(Item.sku == draft["sku"])) if draft.get("sku") else None
        labels = item.labels_per_receipt if item is not None else None
        context = {"draft": draft, "station": station, "dock": dock.code if dock else None,
                   "dock_problem": dock_problem, "labels": labels,
                   "missing": receipts_ui.missing(draft), "may_create_item": floor.can("supervisor")}
    context.update(extra)
    return context


def _work(draft: dict, status: int = 200, *, error: str | None = None, notice: tuple | None = None,
          **extra):
    """The receipt (#receive-work) for htmx, with its banner also shown full width (#scan-current)."""
    banner = ("error", error, None) if error else (notice[0], notice[1], None) if notice else None
    return make_response(render_template("partials/receive_work.html",
                                         **_context(draft, banner=banner, oob=True, **extra)), status)


# --- the page -----------------------------------------------------------------------------------


@bp.get("")
@requires("receiving")
def index():
    response = make_response(render_template("receive.html", **_context(_draft())))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/scan")
@requires("receiving")
def scan():
    """One scan from the wedge (or typed): resolve it as receiving, log it, fill the receipt."""
    code = request.form.get("code")
    if not isinstance(code, str) or not code.strip("\r\n\t "):
        return _answer_banner("error", "Nothing scanned — scan the pallet label again.", 400)
    if len(code) > MAX_CODE:
        return _answer_banner("error", "That is far too long to be a barcode — scan the label again.", 400)
    source = request.form.get("source") or "wedge"
    if source not in ("wedge", "manual"):
        source = "wedge"
    station = floor.current_station()
    operator = floor.current_operator()
    try:
        outcome = scans.ingest(get_db(), code, source=source, station_id=station.id if station else None,
                               operator_id=operator.id if operator else None,
                               client_id=request.form.get("client_id") or None,
                               context=ScanContext(workflow="receiving"),
                               bounce_ms=current_app.config["SCAN_BOUNCE_MS"])
    except scans.InvalidClientId as exc:
        return _answer_banner("error", str(exc), 400)
    res = outcome.resolution
    draft = _draft()
    kind, message, detail, work = "error", res.message, None, None

    if outcome.ignored:
        kind, message = "info", "The same label again — scanned once only."
    elif res.ok and res.action == "receive":
        merge = receipts_ui.merge_scan(draft, res)
        draft = merge.draft
        _save(draft)
        kind, message = "ok", _filled_words(draft, merge)
        gaps = receipts_ui.missing(draft)
        detail = ("Now enter " + " and ".join(receipts_ui.FIELD_WORDS[g] for g in gaps) + "." if gaps
                  else "Check it, then press Confirm (or scan CONFIRM).")
        work = draft
    elif res.error == "unknown_gtin":
        draft = receipts_ui.remember_unknown_gtin(draft, res)
        _save(draft)
        gtin = draft.get("unknown_gtin") or ""
        if floor.can("supervisor"):
            message = f"GTIN {gtin} is not an item here yet."
            detail = "You may add the item below: SKU, name and unit — then the receipt goes on."
        else:
            message = f"GTIN {gtin} is not an item here — do not receive this pallet yet."
            detail = "Put it aside and ask a supervisor to add the item; then scan the label again."
        work = draft
    elif res.error == "sscc_already_received":
        detail = "Nothing was booked. Put the pallet aside and tell a supervisor."
    elif res.ok and res.kind in ("lot", "location", "operator", "command"):
        kind = "error"
        message = {"lot": "That is one of our own lot labels — scan the supplier's pallet label to receive.",
                   "location": "That is a location barcode — scan the supplier's pallet label to receive.",
                   }.get(res.kind, res.message)
    elif res.ok:
        kind, message = "error", "This label cannot be received here — scan the supplier's pallet label."
    response = make_response(render_template(
        "partials/receive_scan.html", kind=kind, message=message, detail=detail, scan_id=outcome.scan_id,
        ok=kind == "ok", ignored=outcome.ignored, code=res.code, error=res.error,
        work=_context(work) if work is not None else None))
    response.headers["X-Scan-Id"] = str(outcome.scan_id)
    return response


def _filled_words(draft: dict, merge: receipts_ui.Merge) -> str:
    what = f"{draft['sku']} {draft.get('item_name', '')}".strip() if draft.get("sku") else "Pallet"
    if draft.get("qty"):
        what = f"{draft['qty']} {draft.get('unit') or ''} × {what}".replace("  ", " ")
    if draft.get("supplier_lot"):
        what += f", lot {draft['supplier_lot']}"
    prefix = "New pallet: " if merge.new else ""
    return f"{prefix}{what} — filled from the label."


def _answer_banner(kind: str, message: str, status: int):
    return make_response(render_template("partials/receive_scan.html", kind=kind, message=message, detail=None,
                                         scan_id=None, ok=False, ignored=False, code="", error=None,
                                         work=None), status)


# --- hand entry -----------------------------------------------------------------------------------


@bp.post("/draft")
@requires("receiving")
def save_draft():
    """The form as typed, kept so that a scan re-drawing the receipt does not lose it."""
    try:
        _save(_take_form(_draft(), request.form))
    except Invalid:
        pass  # shown when confirming; a half-typed value is not an error yet
    return "", 204


@bp.get("/items")
@requires("receiving")
def items():
    query = request.args.get("q", "")
    with get_db().read() as s:
        found = [(i.sku, i.name, i.unit) for i in receipts_ui.find_items(s, query)]
    return render_template("partials/receive_items.html", items=found, query=query.strip())


@bp.post("/item")
@requires("receiving")
def choose_item():
    draft = _draft()
    try:
        draft = _take_form(draft, request.form)
    except Invalid:
        pass
    with get_db().read() as s:
        try:
            item = catalog.item_by_sku(s, request.form.get("sku", ""))
        except DomainError as exc:
            return _work(draft, 422, error=exc.message)
        draft.update(receipts_ui.item_fields(item))
    draft.pop("unknown_gtin", None)
    _save(draft)
    return _work(draft)


@bp.post("/cancel")
@requires("receiving")
def cancel():
    draft = receipts_ui.new_draft()
    _save(draft)
    return _work(draft, notice=("info", "Receipt cleared — scan the next pallet label."))


@bp.post("/confirm")
@requires("receiving")
def confirm():
    draft = _draft()
    token = request.form.get("token")
    done = session.get("receive_done")
    if token and isinstance(done, dict) and done.get("token") == token:
        return _done(done, repeated=True)  # a double tap, or CONFIRM scanned twice
    try:
        draft = _take_form(draft, request.form)
    except Invalid as exc:
        return _work(draft, 422, error=exc.message, bad=exc.details.get("field"))
    _save(draft)
    if draft.get("unknown_gtin") and not draft.get("sku"):
        return _work(draft, 422, error=f"GTIN {draft['unknown_gtin']} is not an item here — a supervisor "
                                       f"must add the item first.")
    station = floor.current_station()
    by = floor.actor(raw_scan=draft.get("scan"))
    try:
        with get_db().write() as s:
            dock, problem = _dock(s, station)
            if dock is None:
                raise Invalid(problem, code="no_dock_location")
            device = s.get(StationDevice, station.id) if station else None
            receipt = receipts_ui.book_draft(s, draft, location=dock, by=by, station=device)
            result = {
                "token": draft["token"], "lot": receipt.lot.lot_number, "qty": receipt.qty or draft["qty"],
                "unit": draft.get("unit") or receipt.lot.item.unit, "sku": receipt.lot.item.sku,
                "item_name": receipt.lot.item.name, "location": dock.code, "sscc": receipt.sscc,
                "jobs": [j.id for j in receipt.jobs], "note": receipt.label_note, "repeated": receipt.repeated,
            }
    except DomainError as exc:
        missing = exc.details.get("missing") or []
        return _work(draft, exc.status if exc.status < 500 else 422, error=exc.message,
                     bad=missing[0] if missing else exc.details.get("field"))
    session["receive_done"] = result
    _save(receipts_ui.new_draft())
    return _done(result, repeated=result["repeated"])


def _done(result: dict, repeated: bool = False):
    from .printers import _job_context

    what = f"{result['qty']} {result['unit']} of {result['sku']} {result['item_name']}"
    detail = f"{what} at {result['location']}" + (f", pallet {result['sscc']}" if result.get("sscc") else "") + "."
    if repeated:
        detail = "Already booked — nothing was booked twice. " + detail
    banner = ("ok", f"Received — lot {result['lot']}", detail)
    context = _context(_draft(), done=result, repeated=repeated, banner=banner, oob=True)
    with get_db().read() as s:
        jobs = []
        for job_id in result.get("jobs") or []:
            try:
                jobs.append(_job_context(s, job_id))
            except DomainError:
                continue
        return make_response(render_template("partials/receive_work.html", jobs=jobs, **context))


@bp.post("/new-item")
@requires("supervisor")
def new_item():
    """A supervisor adds the item of a GTIN that was not known; the receipt goes on with it."""
    draft = _draft()
    gtin = draft.get("unknown_gtin")
    if not gtin:
        return _work(draft, 409, error="There is no unknown GTIN waiting — scan the pallet label again.")
    form = request.form
    try:
        with get_db().write() as s:
            item = catalog.create_item(s, sku=form.get("sku", ""), name=form.get("name", ""),
                                       unit=form.get("unit", "") or "ea", gtins=[gtin])
            fields = receipts_ui.item_fields(item)
    except DomainError as exc:
        return _work(draft, 422, error=exc.message, item_form=dict(form))
    draft.update(fields, gtin=gtin)
    draft.pop("unknown_gtin", None)
    _save(draft)
    return _work(draft, notice=("ok", f"Item {fields['sku']} {fields['item_name']} added with GTIN {gtin} — "
                                      f"now complete the receipt."))
