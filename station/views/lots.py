"""Lot lookup: scan or type a lot number, see the lot card (stock, holds, history)."""
from __future__ import annotations

from flask import Blueprint, Response, request, url_for

from .. import get_db
from ..services.errors import DomainError, NotFound
from ..services.labels import label_data, label_format, render_png
from ..services.lots import LotDetails, lot_details
from ..services.stock import BLOCKED
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
    """What the scan form fetches: the lot card, or a banner saying why there is none."""
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
