"""Picking pages: open orders, an order's pick page and its live pick list, and the page's scans.
The workflow itself (scans, taps, the pick list) is station/workflows/picking.py and pick_list.py;
the taps' routes are in picking_taps.py, on this blueprint.

    GET  /pick                          open orders
    GET  /pick/<order>                  the pick page (wedge capture posts to .../scan); opens the
                                        picking workflow at this station, for this order
    GET  /pick/<order>/work             the pick list (#pick-work), refreshed after every scan;
                                        ?since=<version>&lots=<ids>: 204 while nothing changed (the
                                        page polls it, so another picker's work shows up by itself)
    POST /pick/<order>/scan             one scan (form: code, client_id, source) -> banner

How a page scan flows: station.js POSTs the scan here; views.intake.take logs it, resolves it once
and runs workflows.picking.step in the same transaction as the pick; the answer is one banner (a
.scan-result, which station.js shows in #scan-current and sounds). A scan of the station's own
scanner is applied on the server and its banner drawn by `show` (GET /floor/answer/<scan id>).
#pick-work listens for the "station:scan-result" event and fetches itself again.

What the picker is in the middle of (workflows/picking.py's state) is held by the station, or by
the browser's floor session when the browser is bound to no station; it names its order, and a page
of another order starts afresh. Live: the pick list's version (pick_list.version) hashes the order,
its suggested lots and that state, and the page polls /work?since=<version> every
PICK_LIVE_SECONDS (3).
"""
from __future__ import annotations

from flask import Blueprint, abort, current_app, make_response, render_template, request
from sqlalchemy.orm import Session

from .. import auth, get_db
from ..ids import MAX_DIGITS, MAX_ID
from ..models import Order
from ..services import orders
from ..workflows import Answer
from ..workflows import pick_list
from ..workflows.intake import Taken
from ..workflows.picking import NAME
from . import intake

bp = Blueprint("picking", __name__, url_prefix="/pick")


# --- the order and its state ----------------------------------------------------------------------


def order_or_404(session: Session, number: str) -> Order:
    order = pick_list.order_by_number(session, number)
    if order is None:
        abort(404, description=f"There is no order {number}.")
    return order


def page_state(session: Session, order: Order, held: dict | None = None) -> dict:
    """The holder's pick state for `order` (fresh when it was another order's), with the page's rule."""
    held = intake.load_state(session, NAME) if held is None else held
    return pick_list.for_order(order.id, held, scan_location=current_app.config.get("PICK_SCAN_LOCATION", False))


def bind(number: str) -> None:
    """Make the holder's pick state this order's (404 for an unknown order), so that the step of a
    scan — from this page or from the station's own scanner — works on the order this page shows."""
    db = get_db()
    with db.read() as s:
        order = order_or_404(s, number)
        held = intake.load_state(s, NAME)
        wanted = page_state(s, order, held)
    if wanted != held:  # a write only when the page changes order (or its rule)
        with db.write() as s:
            intake.save_state(s, NAME, wanted)


def work_context(session: Session, order: Order, state: dict) -> dict:
    """What partials/pick_work.html needs: the workflow's screen and the page's poll interval."""
    return {**pick_list.screen(session, state, order),
            "live_seconds": current_app.config.get("PICK_LIVE_SECONDS", 3)}


def _lot_ids(raw: str | None) -> list[int]:
    """The suggested lots a polling page names (?lots=3,7): digits only, at most 200."""
    ids = sorted({int(part) for part in (raw or "").split(",")[:200]
                  if part.isascii() and part.isdigit() and len(part) <= MAX_DIGITS and int(part) <= MAX_ID})
    return ids


# --- pages ---------------------------------------------------------------------------------------


@bp.get("")
@bp.get("/")
@auth.requires("picking")
def index():
    """Open orders in pick order: priority 1 first, then the earliest due date (none last), then number;
    what is left to pick on each. Cancelled and shipped orders are not offered."""
    with get_db().read() as s:
        rows = orders.pick_queue(s)
    return render_template("pick_orders.html", orders=rows, operator=auth.current_operator())


@bp.get("/<number>")
@auth.requires("picking")
def order_page(number: str):
    bind(number)
    intake.open_page(NAME)  # the station's own scanner now picks on this order
    with get_db().read() as s:
        order = order_or_404(s, number)
        work = work_context(s, order, page_state(s, order))
        station = auth.current_station()
        response = make_response(render_template(
            "pick.html", **work, operator=auth.current_operator(), station=station,
            intro=pick_list.intro(work)))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/<number>/work")
@auth.requires("picking")
def work(number: str):
    since = request.args.get("since")
    with get_db().read() as s:
        order = order_or_404(s, number)
        state = page_state(s, order)
        if since is not None and since == pick_list.version(s, order, state, _lot_ids(request.args.get("lots"))):
            response = make_response("", 204)  # nothing changed: htmx leaves the list alone
        else:
            work = work_context(s, order, state)
            body = render_template("partials/pick_work.html", **work, live_update=since is not None)
            if since is not None:  # the opening banner, if still shown, must not name a lot taken meanwhile
                body += render_template("partials/pick_intro.html", intro=pick_list.intro(work), oob=True)
            response = make_response(body)
    response.headers["Cache-Control"] = "no-store"
    return response


# --- scans -----------------------------------------------------------------------------------------


@bp.post("/<number>/scan")
@auth.requires("picking")
def scan(number: str):
    bind(number)
    taken, refused = intake.take(NAME)
    if refused is not None:
        return _banner(refused, 400)
    return show(taken)


@intake.renderer(NAME)
def show(taken: Taken):
    """The banner of a taken scan: the page's own scan POST, or a scan of the station's own scanner
    that the server applied (GET /floor/answer/<scan id>) — the same response for both."""
    outcome = taken.outcome
    if outcome.retried:
        answer = Answer("info", "This scan was already handled — nothing more was picked.")
    elif outcome.ignored:
        answer = Answer("info", "The same code again at once (trigger bounce) — ignored.")
    elif taken.answer is None:
        answer = Answer("info", "The same label again — scanned once only.")
    else:
        answer = taken.answer
    return _banner(answer, scan_id=taken.scan_id, code=taken.resolution.code, ignored=outcome.ignored)


def _banner(answer: Answer, status: int = 200, *, scan_id: int | None = None, code: str | None = None,
            ignored: bool = False):
    response = make_response(render_template("partials/pick_banner.html", a=answer, scan_id=scan_id,
                                             code=code, ignored=ignored), status)
    response.headers["Cache-Control"] = "no-store"
    return response
