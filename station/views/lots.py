"""Lot lookup: scan anything, or type a lot number, and see what it is.

    GET  /lots[?lot=N], /lots/<n>, /lots/card?lot=N    the page / a lot's card (typed lot numbers)
    POST /lots/scan     a wedge scan (station.js: code, client_id, source), taken by the scan intake for
                        the lookup workflow (station/workflows/lookup.py): a lot label -> its card; a
                        pallet SSCC -> its lot's card; a supplier GS1 label -> the lot it matches (by
                        SSCC, or GTIN + supplier lot), else the item's lots; a location -> the stock there;
                        an item (GTIN, SKU) -> its lots. One .scan-result with a banner, in #lot-result.
                        A scan of the station's own scanner is answered the same way (show_answer).

The hold / quarantine / release panel of the lot card is views/lot_actions.py (same blueprint).
"""
from __future__ import annotations

from flask import Blueprint, Response, make_response, render_template, request, url_for

from .. import get_db
from ..scanning.codes import command_of
from ..services.errors import DomainError, NotFound
from ..services.labels import label_data, label_format, render_png
from ..services.lots import lot_details
from ..workflows import Answer, lookup
from ..workflows.intake import Taken
from ..workflows.lookup import NAME, card_context
from . import intake
from .common import clean_scan, page_or_fragment, wants_fragment

bp = Blueprint("lots", __name__, url_prefix="/lots")

PAGE, RESULT = "lots.html", "partials/lot_result.html"
SAME_AGAIN = "The same label again — scanned once only."


@bp.get("")
def index():
    """The lookup page; `?lot=` (the form without JavaScript) shows a lot on it too."""
    _opened()
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
    taken, refused = intake.take(NAME)
    if refused is not None:
        return _scan_answer(refused, None, status=400)
    return show_answer(taken)


@intake.renderer(NAME)
def show_answer(taken: Taken) -> Response:
    """A scan's answer on the lookup page: the banner, and the card or the lots it names."""
    if taken.outcome.ignored:
        return _scan_answer(Answer("info", SAME_AGAIN), taken.scan_id, ignored=True)
    found = (taken.answer.data.get("target") if taken.answer else None) or \
        lookup.target(taken.resolution, taken.resolution.code)  # a retry: the resolution says it again
    with get_db().read() as session:
        answer, screen = lookup.shown(session, found)
        # Render inside the session: the card reads the lot's loaded relationships.
        return _scan_answer(answer, taken.scan_id, **screen)


def _scan_answer(answer: Answer, scan_id: int | None, status: int = 200, ignored: bool = False, **context):
    response = make_response(render_template("partials/lot_scan.html", answer=answer, scan_id=scan_id,
                                             ignored=ignored, **context), status)
    response.headers["Cache-Control"] = "no-store"
    return response


def _opened() -> None:
    """A whole lookup page is open at this station: its own scanner's scans are looked up here."""
    if not wants_fragment():
        intake.open_page(NAME)


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
    _opened()
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
