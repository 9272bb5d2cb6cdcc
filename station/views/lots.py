"""Lot lookup: scan anything, or type a lot number, and see what it is.

    GET  /lots[?lot=N], /lots/<n>, /lots/card?lot=N    the page / a lot's card (typed lot numbers)
    POST /lots/scan     a wedge scan (station.js: code, client_id, source; also the station's own
                        scanner, see views/scan.py station_feed), resolved by station.scanning as a
                        lookup and logged: a lot label -> its card; a pallet SSCC -> its lot's card;
                        a supplier GS1 label -> the lot it matches (by SSCC, or GTIN + supplier lot),
                        else the item's lots; a location -> the stock there; an item (GTIN, SKU)
                        -> its lots. One .scan-result with a banner, shown in #lot-result.
"""
from __future__ import annotations

from markupsafe import Markup
from flask import Blueprint, Response, make_response, render_template, request, url_for

from .. import get_db
from sqlalchemy import select

from ..models import Item, Location, Lot, LotStatus, Stock
from ..scanning.codes import command_of
from ..services import catalog, holds
from ..services.errors import DomainError, NotFound
from ..services.labels import label_data, label_format, render_png
from ..services.lots import LotDetails, lot_details
from ..services.stock import BLOCKED
from . import floor
from .common import clean_scan, page_or_fragment, wants_fragment
from .moving import Answer, ingest

bp = Blueprint("lots", __name__, url_prefix="/lots")

PAGE, RESULT = "lots.html", "partials/lot_result.html"

# Status -> (badge tone, words on the badge).
STATUS = {
    "available": ("ok", "Available"),
    "hold": ("warn", "On hold"),
    "quarantine": ("warn", "Quarantine"),
    "recalled": ("bad", "Recalled"),
    "expired": ("bad", "Expired"),
    "consumed": ("muted", "Consumed"),
}

# Expiry this close is shown in amber.
EXPIRY_WARNING_DAYS = 7

MOVEMENT = {
    "receive": "Received", "move": "Moved", "adjust": "Adjusted", "pick": "Picked",
    "consume": "Used", "produce": "Produced", "ship": "Shipped",
}


@bp.get("")
def index():
    """The lookup page; `?lot=` (the form without JavaScript) shows a lot on it too."""
    if "lot" not in request.args:
        return page_or_fragment(PAGE, RESULT, query="", outcome=None)
    return _lookup(request.args["lot"])


@bp.get("/card")
def card():
    """What the scan form fetches: the lot card, or a banner saying why there is none.

    A command barcode (CMD:CONFIRM / CMD:CANCEL) scanned into the lookup field is no lot: the card
    stays, and the event "lot-action-confirm" (etc.) goes to the page, where an open action form
    of the card takes it (hx-trigger "… from:body")."""
    command = command_of(clean_scan(request.args.get("lot")))
    if command and wants_fragment():
        response = make_response("", 200)
        response.headers["HX-Reswap"] = "none"
        response.headers["HX-Trigger"] = f"lot-action-{command}"
        return response
    return _lookup(request.args.get("lot", ""))


@bp.post("/scan")
def scan():
    """What a scanned code is, for the lookup page: see the module docstring."""
    outcome, problem = ingest("lookup")
    if problem is not None:
        return _scan_answer(problem, None, status=400)
    res = outcome.resolution
    if outcome.ignored:
        return _scan_answer(Answer("info", "The same label again — scanned once only."), outcome.scan_id,
                            ignored=True)
    records = res.records or {}
    if not res.ok:
        # The resolver knows codes with their prefix (LOT:…); here a bare lot number (typed fast, or a
        # label's plain lot barcode) is a lot, and a bare SKU an item.
        code = clean_scan(request.form.get("code"))
        if lot_exists(code):
            return _lot_answer({"lot": {"lot_number": code}}, res, outcome.scan_id)
        item = item_by_sku(code)
        if item is not None:
            return _item_answer(item, outcome.scan_id)
        if res.error == "not_recognised":
            return _scan_answer(Answer("error", f"No lot '{code[:60]}' — check the number or scan the label "
                                                "again", "Scan a lot, a pallet, a location or an item label."),
                                outcome.scan_id)
        return _scan_answer(Answer("error", res.message, "Scan a lot, a pallet, a location or an item label."),
                            outcome.scan_id)
    if records.get("lot"):
        return _lot_answer(records, res, outcome.scan_id)
    if res.kind == "location" and records.get("location"):
        return _location_answer(records["location"]["id"], outcome.scan_id)
    if records.get("item"):
        numbers = [lot["lot_number"] for lot in records.get("lots") or []]
        return _item_answer(records["item"]["id"], outcome.scan_id, only=numbers or None,
                            supplier_lot=(res.fields or {}).get("lot") if numbers else None)
    if res.kind == "operator":
        return _scan_answer(Answer("info", res.message, "Badges sign in and out; they are not looked up here."),
                            outcome.scan_id)
    return _scan_answer(Answer("error", res.message, "Scan a lot, a pallet, a location or an item label."),
                        outcome.scan_id)


def lot_exists(text: str) -> bool:
    if not text or len(text) > 40:
        return False
    with get_db().read() as session:
        return session.scalar(select(Lot.id).where(Lot.lot_number == text)) is not None


def item_by_sku(text: str) -> int | None:
    """The id of the item whose SKU is `text` (any case), or None: a SKU typed or scanned bare."""
    if not text or len(text) > 40:
        return None
    with get_db().read() as session:
        return session.scalar(select(Item.id).where(Item.sku == text)) or \
            session.scalar(select(Item.id).where(Item.sku == text.upper()))


def _scan_answer(answer: Answer, scan_id: int | None, status: int = 200, ignored: bool = False, **context):
    response = make_response(render_template("partials/lot_scan.html", answer=answer, scan_id=scan_id,
                                             ignored=ignored, **context), status)
    response.headers["Cache-Control"] = "no-store"
    return response


def _lot_answer(records: dict, res, scan_id: int):
    number = records["lot"]["lot_number"]
    unit = records.get("unit")
    with get_db().read() as session:
        try:
            details = lot_details(session, number)
        except NotFound:
            return _scan_answer(Answer("error", f"No lot '{number[:60]}' here."), scan_id)
        context = card_context(details)
        lot, item = details.lot, details.lot.item
        if unit:
            where = f" at {unit['location']}" if unit.get("location") else " (no longer in stock)"
            message = (f"Pallet {unit['sscc']}: {unit.get('qty') or 0} {item.unit} of {item.sku}, "
                       f"lot {lot.lot_number}{where}")
        else:
            message = f"Lot {lot.lot_number}: {item.sku} {item.name}"
        kind = "ok" if context["lot_status"] in ("available", "consumed") else "warn"
        detail = context["warning"] or f"{lot.on_hand} {item.unit} on hand."
        # Render inside the session: the card reads the lot's loaded relationships.
        return _scan_answer(Answer(kind, message, detail), scan_id, details=details, query=lot.lot_number,
                            outcome="found", **context)


def _location_answer(location_id: int, scan_id: int):
    with get_db().read() as session:
        location = session.get(Location, location_id)
        rows = session.execute(
            select(Lot.lot_number, Lot.status, Lot.expiry, Item.sku, Item.name, Item.unit, Stock.qty)
            .join(Lot, Lot.id == Stock.lot_id).join(Item, Item.id == Lot.item_id)
            .where(Stock.location_id == location_id, Stock.qty > 0)
            .order_by(Item.sku, Lot.fifo_date, Lot.lot_number).limit(LIST_LIMIT + 1)).all()
        code, name = location.code, location.name
    lots = [_row(r) for r in rows[:LIST_LIMIT]]
    count = len(lots)
    message = f"Location {code}{' — ' + name if name else ''}"
    detail = ("Nothing is stored here." if not lots else
              f"{count}{'+' if len(rows) > LIST_LIMIT else ''} lot{'s' if count != 1 else ''} here. Tap one for its card.")
    return _scan_answer(Answer("ok", message, detail), scan_id, lots=lots, listing="location",
                        more=len(rows) > LIST_LIMIT)


def _item_answer(item_id: int, scan_id: int, only: list[str] | None = None, supplier_lot: str | None = None):
    with get_db().read() as session:
        item = session.get(Item, item_id)
        query = (select(Lot.lot_number, Lot.status, Lot.expiry, Item.sku, Item.name, Item.unit, Lot.on_hand)
                 .join(Item, Item.id == Lot.item_id).where(Lot.item_id == item_id))
        query = query.where(Lot.lot_number.in_(only)) if only else query.where(Lot.on_hand > 0)
        rows = session.execute(query.order_by(Lot.fifo_date, Lot.lot_number).limit(LIST_LIMIT + 1)).all()
        sku, name = item.sku, item.name
    lots = [_row(r) for r in rows[:LIST_LIMIT]]
    if supplier_lot:
        detail = f"{len(lots)} of our lots carry supplier lot {supplier_lot}. Tap one for its card."
    elif lots:
        detail = f"{len(lots)}{'+' if len(rows) > LIST_LIMIT else ''} lot{'s' if len(lots) != 1 else ''} in stock, oldest first. Tap one for its card."
    else:
        detail = "No lot of it is in stock."
    return _scan_answer(Answer("ok", f"Item {sku} — {name}", detail), scan_id, lots=lots, listing="item",
                        more=len(rows) > LIST_LIMIT)


LIST_LIMIT = 30


def _row(r) -> dict:
    status = r.status.value if hasattr(r.status, "value") else str(r.status)
    tone, label = STATUS.get(status, ("muted", status))
    return {"lot_number": r.lot_number, "sku": r[3], "name": r[4], "unit": r[5], "qty": r[6],
            "expiry": r.expiry, "status": status, "tone": tone, "label": label}


@bp.get("/<path:lot_number>/label.png")
def label_png(lot_number: str):
    """The lot label's preview for the lot card, at the first printer's size and dpi (or the
    `station`'s). A page's <img> sends no API token, so this is the page-side twin of the API's
    label.png; it reads, renders and changes nothing."""
    try:
        with get_db().read() as session:
            data = label_data(session, "lot", lot_number)
            size, dpi = label_format(session, request.args.get("station") or None)
        body = render_png("lot", data, size, dpi)
    except DomainError as exc:
        return Response(exc.message, status=exc.status, mimetype="text/plain",
                        headers={"X-Content-Type-Options": "nosniff"})
    response = Response(body, mimetype="image/png", headers={"Cache-Control": "no-cache"})
    response.add_etag()
    return response.make_conditional(request)


@bp.get("/<path:lot_number>")
def show(lot_number: str):
    """A lot's own address, for links and bookmarks."""
    return _lookup(lot_number)


def _lookup(raw: str):
    lot_number = clean_scan(raw)
    if not lot_number:
        return _answer(url_for(".index"), 200, query="", outcome="empty")
    with get_db().read() as session:
        try:
            details = lot_details(session, lot_number)
        except NotFound:
            # 404 tells the truth to curl, tests and monitoring. htmx would not swap a 4xx by
            # default; base.html's htmx-config swaps 4xx answers (they carry the banner the
            # worker must see) and station.js banners the 5xx and network failures.
            return _answer(url_for(".index", lot=lot_number), 404, query=lot_number,
                           outcome="missing")
        # Render inside the session: the card reads the lot's loaded relationships.
        return _answer(url_for(".show", lot_number=details.lot.lot_number), 200,
                       query=details.lot.lot_number, outcome="found", details=details,
                       **card_context(details))


def _answer(url: str, http_status: int, **context):
    response = page_or_fragment(PAGE, RESULT, http_status, **context)
    if not wants_fragment():
        return response
    # The address bar follows the scan (reload, bookmark and copy show the same lot) without a
    # history entry per scan: a picker's 200 scans should not be 200 presses of Back.
    response.headers["HX-Replace-Url"] = url
    return response


def card_context(details: LotDetails) -> dict:
    """What the card shows beyond the details themselves: the status as a worker should read it."""
    status = details.lot.status.value
    if status == "available" and details.expired:
        status = "expired"  # past its date, whether or not a job has marked it yet
    tone, label = STATUS[status]
    if status == "expired":
        warning = "This lot has expired — it must not be picked or used."
    elif status in ("hold", "quarantine", "recalled"):
        warning = f"This lot {BLOCKED[details.lot.status]}."
    else:
        warning = None
    days = details.days_to_expiry
    expiry_tone = ("none" if days is None else "bad" if days < 0
                   else "warn" if days <= EXPIRY_WARNING_DAYS else "ok")
    return {"lot_status": status, "status_tone": tone, "status_label": label, "warning": warning,
            "expiry_tone": expiry_tone, "movement_words": MOVEMENT}


# --- supervisor actions on the lot card: hold, quarantine, release with a reason ----------------
# GET  /lots/actions/<action>?lot=…[&reason=…&note=…]  the card's action panel, open for `action`
#      (or closed with action=none): what the Hold / Quarantine / Release and preset-reason buttons
#      swap in (#lot-action). POST /lots/actions/<action> (lot, reason, note): do it through
#      services.holds with the operator and station as the actor; answers the whole lot result
#      (banner + updated card) for #lot-result, or the full page without htmx.
# No CSRF token: views/floor.py has no CSRF helper yet, so none is invented here.

ACTIONS = ("hold", "quarantine", "release")
ACTION_WORDS = {"hold": "Hold", "quarantine": "Quarantine", "release": "Release"}
PRESETS = {
    "hold": ("QA check", "Customer complaint", "Damaged", "Supplier notice"),
    "quarantine": ("Lab test pending", "Suspected contamination", "Temperature alarm", "Supplier notice"),
    "release": ("QA passed", "Checked, all fine", "Supplier cleared", "Complaint resolved"),
}
PANEL = "partials/lot_action_panel.html"


def action_reason(preset: str, note: str) -> str:
    """The reason recorded: the preset, the note, or both ("QA check — lid seals")."""
    return " — ".join(part for part in (preset, note) if part)


def _lot_status(lot_number: str) -> str | None:
    with get_db().read() as session:
        try:
            return catalog.lot_by_number(session, lot_number).status.value
        except NotFound:
            return None


@bp.get("/actions/<any(hold, quarantine, release, none):action>")
@floor.requires("supervisor")
def action_panel(action: str):
    """The action panel of a lot's card: closed (action=none) or asking for the reason of `action`."""
    lot_number = clean_scan(request.args.get("lot"))
    status = _lot_status(lot_number) if lot_number else None
    if status is None:
        return _no_lot(lot_number)
    return render_template(PANEL, lot_number=lot_number, lot_status_value=status,
                           action=None if action == "none" else action,
                           reason=clean_scan(request.args.get("reason")),
                           note=clean_scan(request.args.get("note")))


@bp.post("/actions/<any(hold, quarantine, release):action>")
@floor.requires("supervisor")
def act(action: str):
    """Hold, quarantine or release a lot with a reason; a refusal changes nothing and says why."""
    lot_number = clean_scan(request.form.get("lot"))
    preset = clean_scan(request.form.get("reason"))
    note = clean_scan(request.form.get("note"))
    # A command barcode scanned into the note field (the cursor was there): confirm or cancel.
    command = command_of(note)
    if command:
        note = ""
        if command == "cancel":
            return _action_answer(lot_number, 200)
    reason = action_reason(preset, note)
    if not reason:
        if _lot_status(lot_number) is None:
            return _no_lot(lot_number)
        return _action_answer(lot_number, 422, "error",
                              f"Pick a reason for the {action} of lot {lot_number}, or write one — "
                              f"nothing changed.", open_action=action)
    try:
        with get_db().write() as session:
            lot = catalog.lot_by_number(session, lot_number)
            if action == "release":
                event = holds.release(session, lot, reason, by=floor.actor())
            else:
                event = holds.hold(session, lot, reason, by=floor.actor(),
                                   status=LotStatus.HOLD if action == "hold" else LotStatus.QUARANTINE)
            to = event.to_status
    except NotFound:
        return _no_lot(lot_number)
    except DomainError as exc:  # the service changed nothing (the transaction rolled back)
        return _action_answer(lot_number, exc.status if 400 <= exc.status < 500 else 409, "error",
                              f"{exc.message} Nothing changed.")
    words = {LotStatus.HOLD: "is on hold", LotStatus.QUARANTINE: "is in quarantine",
             LotStatus.AVAILABLE: "is released and available again",
             LotStatus.CONSUMED: "is released (no stock left)"}.get(to, f"is {to.value}")
    # The lot number stays on one line (at 360 px it would break at its hyphen).
    message = Markup('Lot <span class="nowrap">{}</span> {} — {}').format(lot_number, words, reason)
    return _action_answer(lot_number, 200, "ok", message)


def _no_lot(lot_number: str):
    return floor.banner_response(
        "error", f"No lot '{lot_number[:60]}' — scan the lot label again. Nothing changed.", 404)


def _action_answer(lot_number: str, http_status: int, kind: str | None = None, message: str | None = None,
                   open_action: str | None = None):
    """The lot result (banner on top of the refreshed card) for #lot-result, or the whole page."""
    banner = {"kind": kind, "message": message} if kind else None
    with get_db().read() as session:
        details = lot_details(session, lot_number)
        context = dict(query=details.lot.lot_number, outcome="found", details=details,
                       lot_action_banner=banner, lot_action_open=open_action,
                       lot_action_note=clean_scan(request.form.get("note")) if open_action else "",
                       **card_context(details))
        response = page_or_fragment(PAGE, RESULT, http_status, **context)
    if wants_fragment():
        response.headers["HX-Replace-Url"] = url_for(".show", lot_number=lot_number)
    return response


@bp.app_template_global()
def lot_action_presets(action: str) -> tuple[str, ...]:
    return PRESETS.get(action, ())


@bp.app_template_global()
def lot_action_words(action: str) -> str:
    return ACTION_WORDS.get(action, action)
