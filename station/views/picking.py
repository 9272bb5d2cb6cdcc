"""Picking: open orders, an order's pick list with FIFO/FEFO suggestions, picks confirmed by scan,
override reasons (or a refusal, for an item whose policy refuses younger lots), short picks, taking
the last pick back, and shipping the order (with the lines it ships short, and why).

    GET  /pick                          open orders
    GET  /pick/<order>                  the pick page (wedge capture posts to .../scan)
    GET  /pick/<order>/work             the pick list (#pick-work), refreshed after every scan;
                                        ?since=<version>&lots=<ids>: 204 while nothing changed (the
                                        page polls it, so another picker's work shows up by itself)
    POST /pick/<order>/scan             one scan (form: code, client_id, station, source) -> banner
    POST /pick/<order>/override         reason -> picks the younger lot the last scan asked about
    POST /pick/<order>/cancel           forget the pending lot / location / quantity
    POST /pick/<order>/short            reason -> the suggested lot is not there (written off)
    POST /pick/<order>/qty              qty -> the next lot scan picks this many
    POST /pick/<order>/line/<no>        make line <no> the current one
    POST /pick/<order>/next             the next open line (CMD:NEXT)
    POST /pick/<order>/undo             take back the last pick made here (CMD:UNDO)
    POST /pick/<order>/ship             ship the order (CMD:CONFIRM)

How a page scan flows: station.js POSTs the scan here; the answer is one banner (a .scan-result,
which station.js shows in #scan-current and sounds). #pick-work listens for the
"station:scan-result" event and fetches itself again, so the list shows what the scan changed.
Taps answer with the pick list and the banner (out of band into #scan-current).

Live: the pick list carries a version (a hash of the order's status and lines, its latest movement,
the stock and status of the lots it suggests, and this browser's pick state) and polls
/work?since=<version> every PICK_LIVE_SECONDS (3). Another picker's pick, undo or short pick, a hold
on a suggested lot or its stock moving — in any process — changes the version and the list is drawn
again; otherwise the poll answers 204 and htmx leaves the page alone. The version is a few indexed
queries, not the suggestion itself.

What the picker is in the middle of (the current line, a location scanned first, a quantity set
by hand, a younger lot waiting for a reason, the last pick made here so it can be taken back)
lives in a signed cookie of its own, written only by
the POSTs here, so no other response can overwrite it with an older copy. Every scan is logged
through services.scans.ingest in the same transaction as the pick: a scan retried with the same
client id is answered again and picks nothing more.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from flask import Blueprint, abort, current_app, make_response, render_template, request, url_for
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from .. import get_db
from ..ids import MAX_DIGITS, MAX_ID
from ..models import (Customer, Item, Location, Lot, Movement, MovementKind, Order, OrderLine, OrderStatus,
                      Stock)
from ..scanning import ScanContext
from ..services import picking, scans
from ..services.errors import DomainError
from . import floor
from .common import clean_scan

bp = Blueprint("picking", __name__, url_prefix="/pick")

OPEN = (OrderStatus.OPEN, OrderStatus.PICKING, OrderStatus.PICKED)
STATE_COOKIE = "pick"
SOURCES = ("wedge", "manual")
MAX_CODE = 4096
# Why a picker takes another lot than the suggested one: big buttons, one tap.
OVERRIDE_REASONS = (
    "Suggested lot blocked behind another pallet",
    "Suggested lot on a high level, no reach truck free",
    "Customer asked for a single lot on the order",
    "Suggested lot damaged",
)


# --- what the picker is in the middle of -------------------------------------------------------


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt="station.pick")


def _state(order: Order) -> dict:
    """The pick state of this browser for `order` (another order's state is not carried over)."""
    raw = request.cookies.get(STATE_COOKIE)
    if raw:
        try:
            state = _serializer().loads(raw)
        except BadSignature:
            state = None
        if isinstance(state, dict) and state.get("order") == order.id:
            return state
    return {"order": order.id}


def _save(response, state: dict):
    response.set_cookie(STATE_COOKIE, _serializer().dumps(state), httponly=True, samesite="Lax",
                        path=url_for("picking.index"))
    return response


# --- the order's pick list as the page shows it --------------------------------------------------


@dataclass(frozen=True)
class PickRow:
    """One pick of a line as the list shows it; `undone` when it was taken back."""
    id: int
    lot_number: str
    source: str
    qty: int
    followed: bool | None
    reason: str | None
    undone: bool


@dataclass
class LineView:
    line: OrderLine
    open_qty: int
    suggestion: list = field(default_factory=list)  # allocations, in picking order
    short: int = 0  # what no pickable stock covers
    picks: list = field(default_factory=list)  # PickRow, in the order they were made

    @property
    def done(self) -> bool:
        return self.open_qty == 0

    @property
    def stuck(self) -> bool:
        """Open, but nothing pickable is left: it ships short."""
        return self.open_qty > 0 and not self.suggestion

    @property
    def next(self):
        return self.suggestion[0] if self.suggestion else None


def _order(session: Session, number: str) -> Order:
    order = session.scalar(select(Order).where(Order.number == number)
                           .options(selectinload(Order.lines).selectinload(OrderLine.item)))
    if order is None:
        abort(404, description=f"There is no order {number}.")
    return order


def _lines(session: Session, order: Order) -> list[LineView]:
    views = []
    picks: dict[int, list] = {}
    if order.lines:
        line_ids = [line.id for line in order.lines]
        undone = picking.undone_picks(session, line_ids)
        rows = session.execute(
            select(Movement.id, Movement.order_line_id, Lot.lot_number, Location.code, Movement.qty,
                   Movement.followed_suggestion, Movement.reason)
            .join(Lot, Lot.id == Movement.lot_id)
            .join(Location, Location.id == Movement.from_location_id)
            .where(Movement.kind == MovementKind.PICK, Movement.order_line_id.in_(line_ids))
            .order_by(Movement.id))
        for pick_id, line_id, lot_number, code, qty, followed, reason in rows:
            picks.setdefault(line_id, []).append(
                PickRow(pick_id, lot_number, code, qty, followed, reason, pick_id in undone))
    for line in order.lines:
        view = LineView(line, picking.open_qty(line), picks=picks.get(line.id, []))
        if view.open_qty and order.status in OPEN:
            suggestion = picking.line_suggestion(session, line)
            view.suggestion = suggestion.allocations
            view.short = suggestion.short
        views.append(view)
    return views


def _current(views: list[LineView], state: dict) -> LineView | None:
    """The line the picker works on: the one chosen, else the first open one."""
    chosen = next((v for v in views if v.line.id == state.get("line")), None)
    if chosen is not None:
        return chosen
    return next((v for v in views if not v.done and not v.stuck), None) or \
        next((v for v in views if not v.done), None)


def _work(session: Session, order: Order, state: dict) -> dict:
    """Everything partials/pick_work.html shows."""
    views = _lines(session, order)
    current = _current(views, state)
    pending = state.get("pending")
    location = session.get(Location, state["loc"]) if state.get("loc") else None
    picked = sum(v.line.picked_qty for v in views)
    blocking = [v for v in views if not v.done and not v.stuck]
    is_open = order.status in OPEN
    lot_ids = sorted({a.lot_id for v in views for a in v.suggestion})
    return {
        "version": _version(session, order, state, lot_ids), "live_lots": ",".join(map(str, lot_ids)),
        "live_seconds": current_app.config.get("PICK_LIVE_SECONDS", 3),
        "order": order, "lines": views, "current": current, "pending": pending,
        "location": location, "qty": state.get("qty"),
        "scan_location": current_app.config.get("PICK_SCAN_LOCATION", False),
        "open": is_open, "picked": picked,
        "ready": is_open and picked > 0 and not blocking,
        "blocking": blocking, "override_reasons": OVERRIDE_REASONS,
        "short_reasons": picking.SHORT_REASONS,
        "last": _last_pick(views, state) if is_open else None,
        "ships_short": [v for v in views if v.open_qty] if is_open else
        [v for v in views if v.line.short_qty],
    }


def _version(session: Session, order: Order, state: dict, lot_ids: list[int]) -> str:
    """What the pick list shows, in a few cheap queries: equal versions draw the same list."""
    line_ids = [line.id for line in order.lines]
    last_movement = session.scalar(select(func.max(Movement.id)).where(Movement.order_line_id.in_(line_ids))) \
        if line_ids else None
    lots = session.execute(
        select(Lot.id, Lot.status, func.coalesce(func.sum(Stock.qty), 0))
        .outerjoin(Stock, Stock.lot_id == Lot.id).where(Lot.id.in_(lot_ids))
        .group_by(Lot.id, Lot.status).order_by(Lot.id)).all() if lot_ids else []
    facts = {
        "status": order.status.value,
        "lines": [(line.id, line.qty, line.picked_qty, line.short_qty, line.short_reason) for line in order.lines],
        "movement": last_movement,
        "lots": [(lot_id, status.value, int(qty)) for lot_id, status, qty in lots],
        "state": state,  # this browser's own pick state: a late poll answer never sticks
    }
    blob = json.dumps(facts, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:20]


def _lot_ids(raw: str | None) -> list[int]:
    """The suggested lots a polling page names (?lots=3,7): digits only, at most 200."""
    ids = sorted({int(part) for part in (raw or "").split(",")[:200]
                  if part.isascii() and part.isdigit() and len(part) <= MAX_DIGITS and int(part) <= MAX_ID})
    return ids


def _last_pick(views: list[LineView], state: dict) -> tuple[LineView, PickRow] | None:
    """The last pick made at this browser for the order, while it can still be taken back."""
    last = state.get("last")
    for view in views:
        for row in view.picks:
            if row.id == last and not row.undone:
                return view, row
    return None


# --- pages ---------------------------------------------------------------------------------------


@bp.get("")
@bp.get("/")
@floor.requires("picking")
def index():
    """Open orders, oldest due first: what is left to pick on each."""
    with get_db().read() as s:
        rows = s.execute(
            select(Order.number, Order.status, Order.due_on, Customer.name,
                   func.count(OrderLine.id), func.sum(OrderLine.qty), func.sum(OrderLine.picked_qty))
            .join(Customer, Customer.id == Order.customer_id)
            .join(OrderLine, OrderLine.order_id == Order.id)
            .where(Order.status.in_(OPEN))
            .group_by(Order.id, Order.number, Order.status, Order.due_on, Customer.name)
            .order_by(Order.due_on.is_(None), Order.due_on, Order.number)).all()
    return render_template("pick_orders.html", orders=rows, operator=floor.current_operator())


@bp.get("/<number>")
@floor.requires("picking")
def order_page(number: str):
    with get_db().read() as s:
        order = _order(s, number)
        work = _work(s, order, _state(order))
        station = floor.current_station()
        response = make_response(render_template(
            "pick.html", **work, operator=floor.current_operator(), station=station,
            intro=_intro(work)))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/<number>/work")
@floor.requires("picking")
def work(number: str):
    since = request.args.get("since")
    with get_db().read() as s:
        order = _order(s, number)
        state = _state(order)
        if since is not None and since == _version(s, order, state, _lot_ids(request.args.get("lots"))):
            response = make_response("", 204)  # nothing changed: htmx leaves the list alone
        else:
            work = _work(s, order, state)
            body = render_template("partials/pick_work.html", **work, live_update=since is not None)
            if since is not None:  # the opening banner, if still shown, must not name a lot taken meanwhile
                body += render_template("partials/pick_intro.html", intro=_intro(work), oob=True)
            response = make_response(body)
    response.headers["Cache-Control"] = "no-store"
    return response


def _intro(work: dict) -> tuple[str, str, str | None]:
    """(kind, message, detail) of the banner a freshly opened pick page shows."""
    order, current = work["order"], work["current"]
    if order.status is OrderStatus.SHIPPED:
        return "ok", f"Order {order.number} has been shipped.", None
    if not work["open"]:
        return "info", f"Order {order.number} is {order.status.value}.", None
    if work["pending"]:
        return "warn", work["pending"]["message"], "Scan the suggested lot — or choose below why not."
    if work["ready"]:
        return "info", "Everything is picked — scan CONFIRM or tap Ship.", None
    if current is not None and current.next is not None:
        a = current.next
        first = "the location, then " if work["scan_location"] else ""
        return ("info", f"Line {current.line.line_no}: scan {first}lot {a.lot_number} at {a.location_code}.",
                "Scans are taken wherever you are on this page.")
    return "info", "Ready — scan a lot.", None


# --- scans -----------------------------------------------------------------------------------------


@dataclass
class Answer:
    kind: str  # ok | warn | error | info
    message: str
    detail: str | None = None

    @property
    def ok(self) -> bool:
        return self.kind == "ok"


@bp.post("/<number>/scan")
@floor.requires("picking")
def scan(number: str):
    code = request.form.get("code")
    if not isinstance(code, str) or not code.strip("\r\n\t "):
        return _banner(Answer("error", "Nothing scanned — scan the lot label."), 400)
    if len(code) > MAX_CODE:
        return _banner(Answer("error", "That is far too long to be a barcode — nothing was done."), 400)
    source = request.form.get("source") or "wedge"
    if source not in SOURCES:
        source = "manual"
    client_id = request.form.get("client_id") or None
    station, operator = floor.current_station(), floor.current_operator()
    db = get_db()
    with db.write() as s:
        order = _order(s, number)
        state = _state(order)
        try:
            outcome = scans.ingest(s, code, source=source, station_id=station.id if station else None,
                                   operator_id=operator.id if operator else None, client_id=client_id,
                                   context=ScanContext(workflow="picking"),
                                   bounce_ms=current_app.config["SCAN_BOUNCE_MS"])
        except scans.InvalidClientId as exc:
            return _banner(Answer("error", str(exc)), 400)
        if outcome.retried:
            answer = Answer("info", "This scan was already handled — nothing more was picked.")
        elif outcome.ignored:
            answer = Answer("info", "The same code again at once (trigger bounce) — ignored.")
        else:
            answer = _on_scan(s, order, state, outcome.resolution, clean_scan(code))
        scan_id = outcome.scan_id
    response = _banner(answer, scan_id=scan_id, code=outcome.resolution.code, ignored=outcome.ignored)
    return _save(response, state)


def _on_scan(s: Session, order: Order, state: dict, res, raw: str) -> Answer:
    if order.status not in OPEN:
        return Answer("error", f"Order {order.number} is {order.status.value} — nothing more can be picked.")
    if not res.ok:
        return Answer("error", res.message)
    records = res.records or {}
    if res.kind == "location" or (res.kind not in ("sscc", "gs1", "lot") and records.get("location")):
        return _on_location(s, order, state, records["location"])
    lot_record = records.get("lot")
    if lot_record is None and len(records.get("lots") or []) > 1:
        return Answer("error", f"{len(records['lots'])} lots carry this supplier lot — scan the Station "
                               f"lot label (LOT:…) instead.")
    if lot_record is None:
        if records.get("item"):
            item = records["item"]
            return Answer("error", f"That is the barcode of {item['sku']} {item['name']}, not of a lot — "
                                   f"scan the lot label or the pallet label.")
        return Answer("error", f"{res.message} Scan a lot label, a pallet label or a location.")
    lot = s.get(Lot, lot_record["id"])
    unit = records.get("unit")
    location = None
    if state.get("loc"):
        location = s.get(Location, state["loc"])
    elif unit and unit.get("location"):
        location = s.scalar(select(Location).where(Location.code == unit["location"]))
    if current_app.config.get("PICK_SCAN_LOCATION") and location is None:
        where = _where(s, order, state, lot)
        return Answer("error", f"Scan the location first{where}, then the lot.")
    return _pick(s, order, state, lot, location, raw=raw)


def _where(s: Session, order: Order, state: dict, lot: Lot) -> str:
    views = _lines(s, order)
    current = _current(views, state)
    if current is not None and current.next is not None and current.next.lot_id == lot.id:
        return f" ({current.next.location_code})"
    return ""


def _on_location(s: Session, order: Order, state: dict, location: dict) -> Answer:
    state["loc"] = location["id"]
    state.pop("pending", None)
    current = _current(_lines(s, order), state)
    if current is not None and current.next is not None:
        a = current.next
        if a.location_id != location["id"]:
            return Answer("warn", f"Location {location['code']} — the suggested lot {a.lot_number} is at "
                                  f"{a.location_code}.", "Go there, or scan a lot here and say why.")
        return Answer("ok", f"Location {location['code']} — now scan lot {a.lot_number}.")
    return Answer("ok", f"Location {location['code']} — now scan the lot.")


def _line_for(views: list[LineView], state: dict, lot: Lot) -> LineView | None:
    """The line a lot of this item is for: the current line if it fits, else the first open one."""
    current = _current(views, state)
    if current is not None and current.line.item_id == lot.item_id and not current.done:
        return current
    return next((v for v in views if v.line.item_id == lot.item_id and not v.done), None)


def _pick(s: Session, order: Order, state: dict, lot: Lot, location: Location | None, *, raw: str,
          reason: str | None = None) -> Answer:
    views = _lines(s, order)
    view = _line_for(views, state, lot)
    if view is None:
        done = next((v for v in views if v.line.item_id == lot.item_id), None)
        if done is not None:
            return Answer("error", f"Line {done.line.line_no} ({lot.item.sku}) is already picked in full — "
                                   f"lot {lot.lot_number} is not needed.")
        needs = ", ".join(f"{v.line.item.sku}" for v in views if not v.done) or "nothing more"
        return Answer("error", f"Wrong item: lot {lot.lot_number} is {lot.item.sku} {lot.item.name}. "
                               f"This order needs {needs}.")
    line = view.line
    qty = state.get("qty")
    if qty is not None:
        qty = min(int(qty), view.open_qty)
    try:
        with s.begin_nested():
            movement = picking.pick_line(s, line=line, lot=lot, location=location, qty=qty,
                                         override_reason=reason, by=floor.actor(raw))
    except DomainError as exc:
        if exc.code == "younger_lot_refused":
            # The item's policy: no reason gets past, so nothing waits for one.
            state.pop("pending", None)
            state["line"] = line.id
            return Answer("error", exc.message, f"No exceptions for {line.item.sku}: scan lot "
                                                f"{exc.details.get('suggested_lot')}.")
        if exc.code == "override_reason_required":
            older, where = exc.details.get("suggested_lot"), exc.details.get("suggested_location")
            state["pending"] = {"lot": lot.id, "line": line.id, "loc": location.id if location else None,
                                "qty": qty, "raw": raw, "message": exc.message, "lot_number": lot.lot_number,
                                "older": older, "older_at": where}
            state["line"] = line.id
            return Answer("warn", exc.message, f"Scan lot {older} — or choose below why you take "
                                               f"lot {lot.lot_number}.")
        return Answer("error", exc.message)
    for key in ("pending", "loc", "qty"):
        state.pop(key, None)
    state["last"] = movement.id  # what CMD:UNDO takes back
    s.refresh(line)
    left = picking.open_qty(line)
    unit = line.item.unit
    source = s.get(Location, movement.from_location_id)
    said = f"Picked {movement.qty} {unit} of lot {lot.lot_number} from {source.code}"
    if reason:
        said += f" (instead of the older lot: {reason})"
    if left == 0:
        state.pop("line", None)  # on to the next open line
        rest = [v for v in _lines(s, order) if not v.done]
        following = _current(rest, {}) if rest else None
        if following is None:
            return Answer("ok", f"{said}. Line {line.line_no} done — every line is picked.",
                          "Scan CONFIRM or tap Ship to ship the order.")
        return Answer("ok", f"{said}. Line {line.line_no} done.",
                      f"Next: line {following.line.line_no}, {following.line.item.sku}.")
    state["line"] = line.id
    nxt = picking.line_suggestion(s, line)
    if nxt is not None and nxt.allocations:
        a = nxt.allocations[0]
        return Answer("ok", f"{said}. {left} {unit} more: lot {a.lot_number} at {a.location_code}.")
    return Answer("ok", f"{said}. {left} {unit} more needed, but no pickable stock is left.",
                  "Pick what you can find, or ship the order short.")


def _banner(answer: Answer, status: int = 200, *, scan_id: int | None = None, code: str | None = None,
            ignored: bool = False):
    response = make_response(render_template("partials/pick_banner.html", a=answer, scan_id=scan_id,
                                             code=code, ignored=ignored), status)
    response.headers["Cache-Control"] = "no-store"
    return response


# --- taps ----------------------------------------------------------------------------------------


def _tap(number: str, act) -> object:
    """Run `act(session, order, state) -> Answer` in one transaction; answer the pick list and banner."""
    with get_db().write() as s:
        order = _order(s, number)
        state = _state(order)
        try:
            with s.begin_nested():
                answer = act(s, order, state)
        except DomainError as exc:
            answer = Answer("error", exc.message)
        s.flush()
        s.expire_all()
        order = _order(s, number)
        body = render_template("partials/pick_work.html", **_work(s, order, state), answer=answer)
    response = make_response(body)
    response.headers["Cache-Control"] = "no-store"
    return _save(response, state)


@bp.post("/<number>/override")
@floor.requires("picking")
def override(number: str):
    reason = " ".join((request.form.get("reason") or "").split())[:200]

    def act(s, order, state):
        pending = state.get("pending")
        if not pending:
            return Answer("info", "Nothing waits for a reason — scan a lot.")
        if not reason:
            return Answer("error", "Choose why you take this lot.")
        lot = s.get(Lot, pending["lot"])
        location = s.get(Location, pending["loc"]) if pending.get("loc") else None
        state["line"] = pending["line"]
        if pending.get("qty"):
            state["qty"] = pending["qty"]
        state.pop("pending", None)
        return _pick(s, order, state, lot, location, raw=pending.get("raw") or "", reason=reason)

    return _tap(number, act)


@bp.post("/<number>/cancel")
@floor.requires("picking")
def cancel(number: str):
    def act(s, order, state):
        for key in ("pending", "loc", "qty"):
            state.pop(key, None)
        return Answer("info", "Cancelled — nothing was picked. Scan the suggested lot.")

    return _tap(number, act)


@bp.post("/<number>/qty")
@floor.requires("picking")
def set_qty(number: str):
    raw = (request.form.get("qty") or "").strip()

    def act(s, order, state):
        current = _current(_lines(s, order), state)
        if current is None or current.done:
            return Answer("error", "No open line to set a quantity for.")
        if not raw.isdigit() or int(raw) <= 0:
            return Answer("error", "Type how many you take: a whole number greater than 0.")
        qty = int(raw)
        if qty > current.open_qty:
            return Answer("error", f"Line {current.line.line_no} needs only {current.open_qty} more.")
        state["qty"], state["line"] = qty, current.line.id
        return Answer("info", f"The next lot scan picks {qty} {current.line.item.unit}.")

    return _tap(number, act)


@bp.post("/<number>/short")
@floor.requires("picking")
def short(number: str):
    reason = " ".join((request.form.get("reason") or "").split())[:160]

    def act(s, order, state):
        current = _current(_lines(s, order), state)
        if current is None or current.done:
            return Answer("error", "No open line to report short.")
        if not reason:
            return Answer("error", "Choose what is wrong at the location.")
        a = current.next
        if a is None:
            return Answer("info", f"Line {current.line.line_no} has no pickable stock left; it ships short "
                                  f"by {current.open_qty}.")
        movement = picking.short_pick(s, line=current.line, reason=reason, by=floor.actor())
        for key in ("pending", "loc", "qty"):
            state.pop(key, None)
        state["line"] = current.line.id
        nxt = picking.line_suggestion(s, current.line)
        said = (f"Short recorded: {movement.qty} {current.line.item.unit} of lot {a.lot_number} at "
                f"{a.location_code} taken off the books ({reason}).")
        if nxt is not None and nxt.allocations:
            b = nxt.allocations[0]
            return Answer("warn", said, f"Next: lot {b.lot_number} at {b.location_code}.")
        return Answer("warn", said, f"No other stock: line {current.line.line_no} ships short by "
                                    f"{current.open_qty}.")

    return _tap(number, act)


@bp.post("/<number>/line/<int:line_no>")
@floor.requires("picking")
def choose_line(number: str, line_no: int):
    def act(s, order, state):
        line = next((line for line in order.lines if line.line_no == line_no), None)
        if line is None:
            return Answer("error", f"Order {order.number} has no line {line_no}.")
        state["line"] = line.id
        for key in ("pending", "loc", "qty"):
            state.pop(key, None)
        return Answer("info", f"Line {line_no}: {line.item.sku} {line.item.name}.")

    return _tap(number, act)


@bp.post("/<number>/next")
@floor.requires("picking")
def next_line(number: str):
    def act(s, order, state):
        views = _lines(s, order)
        current = _current(views, state)
        open_views = [v for v in views if not v.done]
        if not open_views:
            return Answer("info", "Every line is picked — scan CONFIRM to ship.")
        at = views.index(current) if current in views else -1
        following = next((v for v in views[at + 1:] + views[:at + 1] if not v.done), open_views[0])
        state["line"] = following.line.id
        for key in ("pending", "loc", "qty"):
            state.pop(key, None)
        return Answer("info", f"Line {following.line.line_no}: {following.line.item.sku} "
                              f"{following.line.item.name}.")

    return _tap(number, act)


@bp.post("/<number>/undo")
@floor.requires("picking")
def undo(number: str):
    def act(s, order, state):
        last = state.get("last")
        movement = s.get(Movement, last) if isinstance(last, int) else None
        if movement is None:
            return Answer("info", "No pick to take back — only the last pick made here can be undone.")
        unpick = picking.undo_pick(s, movement, by=floor.actor())
        state.pop("last", None)
        for key in ("pending", "loc", "qty"):
            state.pop(key, None)
        line = s.get(OrderLine, unpick.order_line_id)
        state["line"] = line.id
        back_to = s.get(Location, unpick.to_location_id).code
        staging = s.get(Location, unpick.from_location_id).code
        return Answer("ok", f"Pick taken back: {unpick.qty} {line.item.unit} of lot {unpick.lot.lot_number} "
                            f"— take it from {staging} and put it back at {back_to}.",
                      f"Line {line.line_no} needs {picking.open_qty(line)} {line.item.unit} again.")

    return _tap(number, act)


@bp.post("/<number>/ship")
@floor.requires("picking")
def ship(number: str):
    def act(s, order, state):
        work = _work(s, order, state)
        if not work["open"]:
            return Answer("error", f"Order {order.number} is already {order.status.value}.")
        if work["blocking"]:
            v = work["blocking"][0]
            return Answer("error", f"Not everything is picked: line {v.line.line_no} ({v.line.item.sku}) "
                                   f"still needs {v.open_qty} and there is stock for it.")
        movements = picking.ship(s, order, by=floor.actor())
        state.clear()
        state["order"] = order.id
        lots = len({m.lot_id for m in movements})
        short_lines = [line for line in order.lines if line.short_qty]
        short = sum(line.short_qty for line in short_lines)
        note = f" ({short} short)" if short else ""
        detail = "; ".join(f"Line {line.line_no} {line.item.sku} short {line.short_qty} {line.item.unit}: "
                           f"{line.short_reason}" for line in short_lines) or None
        return Answer("ok", f"Order {order.number} shipped to {order.customer.name}: "
                            f"{sum(m.qty for m in movements)} units{note} from {lots} "
                            f"{'lot' if lots == 1 else 'lots'}.", detail)

    return _tap(number, act)


# --- template helpers --------------------------------------------------------------------------------


@bp.app_template_filter("pick_item")
def pick_item(item: Item) -> str:
    return f"{item.sku} {item.name}"
