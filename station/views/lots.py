"""Lot lookup: scan or type a lot number, see the lot card (stock, holds, history)."""
from __future__ import annotations

import re

from markupsafe import Markup
from flask import Blueprint, Response, make_response, render_template, request, url_for

from .. import get_db
from ..models import LotStatus
from ..services import catalog, holds
from ..services.errors import DomainError, NotFound
from ..services.labels import label_data, label_format, render_png
from ..services.lots import LotDetails, lot_details
from ..services.stock import BLOCKED
from . import floor
from .common import clean_scan, page_or_fragment, wants_fragment

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
COMMAND_SCAN = re.compile(r"^(?:\][A-Za-z][0-9A-Za-z])?CMD:(CONFIRM|CANCEL|UNDO|NEXT|REPRINT)\s*$", re.I)
PANEL = "partials/lot_action_panel.html"


def command_of(code: str) -> str | None:
    """"confirm", "cancel", … when `code` is a command barcode (CMD:CONFIRM, with or without an AIM
    prefix), else None."""
    match = COMMAND_SCAN.match(code or "")
    return match.group(1).lower() if match else None


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
