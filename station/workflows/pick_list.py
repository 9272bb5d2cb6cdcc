"""An order's pick list as the pick page shows it (the picking workflow's screen), and its live version.

    screen(session, state, order=None) -> dict     everything partials/pick_work.html draws
    version(session, order, state, lot_ids) -> str  equal versions draw the same list (the page polls it)
    intro(screen) -> (kind, message, detail)        the banner a freshly opened pick page shows

`state` is the picking workflow's state (station/workflows/picking.py): it names its order, and
`for_order` gives a fresh one for another order, so one order's pending lot or last pick never
shows on another's page. No Flask here: the page adds its own settings (the poll interval).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from ..models import Location, Lot, Movement, MovementKind, Order, OrderLine, OrderStatus, Stock
from ..services import picking
from .inputs import held

OPEN = (OrderStatus.OPEN, OrderStatus.PICKING, OrderStatus.PICKED)
# Why a picker takes another lot than the suggested one: big buttons, one tap.
OVERRIDE_REASONS = (
    "Suggested lot blocked behind another pallet",
    "Suggested lot on a high level, no reach truck free",
    "Customer asked for a single lot on the order",
    "Suggested lot damaged",
)


def for_order(order_id: int, state: dict, *, scan_location: bool | None = None) -> dict:
    """`state` when it is this order's, else a fresh state for the order (another order's is not
    carried over). `scan_location`: the page's rule (location before lot), kept in the state so a
    scan from the station's own scanner follows the rule the page shows."""
    fresh = dict(state) if state.get("order") == order_id else {"order": order_id}
    if scan_location is not None:
        fresh["scan_location"] = bool(scan_location)
    return fresh


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


def order_by_number(session: Session, number: str) -> Order | None:
    return session.scalar(select(Order).where(Order.number == number)
                          .options(selectinload(Order.lines).selectinload(OrderLine.item)))


def order_of(session: Session, state: dict) -> Order | None:
    """The order the state is for (None: no pick page was opened, or the order is gone)."""
    order_id = state.get("order")
    if not isinstance(order_id, int):
        return None
    return session.scalar(select(Order).where(Order.id == order_id)
                          .options(selectinload(Order.lines).selectinload(OrderLine.item)))


def lines(session: Session, order: Order) -> list[LineView]:
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


def current(views: list[LineView], state: dict) -> LineView | None:
    """The line the picker works on: the one chosen, else the first open one."""
    chosen = next((v for v in views if v.line.id == state.get("line")), None)
    if chosen is not None:
        return chosen
    return next((v for v in views if not v.done and not v.stuck), None) or \
        next((v for v in views if not v.done), None)


def screen(session: Session, state: dict, order: Order | None = None) -> dict:
    """Everything partials/pick_work.html shows, for `order` (default: the state's)."""
    order = order if order is not None else order_of(session, state)
    state = for_order(order.id, state)
    views = lines(session, order)
    chosen = current(views, state)
    location = session.get(Location, state["loc"]) if state.get("loc") else None
    picked = sum(v.line.picked_qty for v in views)
    blocking = [v for v in views if not v.done and not v.stuck]
    is_open = order.status in OPEN
    lot_ids = sorted({a.lot_id for v in views for a in v.suggestion})
    return {
        "version": version(session, order, state, lot_ids), "live_lots": ",".join(map(str, lot_ids)),
        "order": order, "lines": views, "current": chosen, "pending": state.get("pending"),
        "location": location, "qty": held(state.get("qty")), "scan_location": bool(state.get("scan_location")),
        "open": is_open, "picked": picked,
        "ready": is_open and picked > 0 and not blocking,
        "blocking": blocking, "override_reasons": OVERRIDE_REASONS,
        "short_reasons": picking.SHORT_REASONS,
        "last": last_pick(views, state) if is_open else None,
        "ships_short": [v for v in views if v.open_qty] if is_open else
        [v for v in views if v.line.short_qty],
    }


def version(session: Session, order: Order, state: dict, lot_ids: list[int]) -> str:
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
        "lots": [(lot_id, status.value, str(qty)) for lot_id, status, qty in lots],  # str: exact, fractions too
        "state": for_order(order.id, state),  # the holder's own pick state: a late poll answer never sticks
    }
    blob = json.dumps(facts, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:20]


def last_pick(views: list[LineView], state: dict) -> tuple[LineView, PickRow] | None:
    """The last pick made here for the order, while it can still be taken back."""
    last = state.get("last")
    for view in views:
        for row in view.picks:
            if row.id == last and not row.undone:
                return view, row
    return None


def intro(work: dict) -> tuple[str, str, str | None]:
    """(kind, message, detail) of the banner a freshly opened pick page shows."""
    order, chosen = work["order"], work["current"]
    if order.status is OrderStatus.SHIPPED:
        return "ok", f"Order {order.number} has been shipped.", None
    if not work["open"]:
        return "info", f"Order {order.number} is {order.status.value}.", None
    if work["pending"]:
        return "warn", work["pending"]["message"], "Scan the suggested lot — or choose below why not."
    if work["ready"]:
        return "info", "Everything is picked — scan CONFIRM or tap Ship.", None
    if chosen is not None and chosen.next is not None:
        a = chosen.next
        first = "the location, then " if work["scan_location"] else ""
        return ("info", f"Line {chosen.line.line_no}: scan {first}lot {a.lot_number} at {a.location_code}.",
                "Scans are taken wherever you are on this page.")
    return "info", "Ready — scan a lot.", None
