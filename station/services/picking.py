"""Picking to an order's staging location, taking a pick back, and shipping what was picked to the
customer (with the lines it ships short, and why).

Events (services/events.py), each in its change's transaction:
    pick.confirmed        order, line, customer (code, name, gln; null without an order line), lot
                          (event_bodies.lot_facts), qty, from, to, followed_suggestion, override_reason, pick_id,
                          pieces (the cases of a variable-measure item, or null)
    pick.undone           the same for the pick taken back (pick_id is that pick's), reason
    order.shipped         order (number, due_on), customer, lines: line, item, ordered, shipped, short_qty 0,
                          lots (lot, qty, from: the staging place)
    order.short_shipped   the same when a line ships short: its short_qty and short_reason
Pick events are keyed by the lot (deliveries keep one lot's events in order), shipments by the order.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from ..models import (Location, LocationKind, Lot, Movement, MovementKind, Order, OrderLine,
                      OrderStatus, RemovalStrategy, Stock, utcnow)
from . import events
from .actor import NOBODY, Actor
from .catalog import first_location
from .errors import Conflict
from . import event_bodies
from .event_bodies import lot_key, order_key
from .receiving import require_pieces
from .stock import ensure_pickable, record, remove_stock, add_stock, require_positive
from .shelf_life import earliest_expiry, ensure_fits_order
from .suggest import suggest


def pick(session: Session, *, lot: Lot, location: Location, qty: int,
         dest: Location | None = None, line: OrderLine | None = None, by: Actor = NOBODY,
         on: dt.date | None = None, followed_suggestion: bool | None = None,
         override_reason: str | None = None, pieces: int | None = None) -> Movement:
    """Pick `qty` of `lot` from `location` to the staging location, for an order line if given
    (`pieces`: the cases of a variable-measure item, `qty` being their weight).

    The ledger's pick as it is: which lot fits the order (FIFO/FEFO, its due date, the customer's
    shelf life) is pick_line's judgement, the way the page and the API pick."""
    qty, pieces = require_positive(qty, of=lot), require_pieces(pieces, lot.item)
    ensure_pickable(lot, on)
    dest = dest or first_location(session, LocationKind.SHIPPING, "to pick to")
    if line is not None:
        _check_line(session, line, lot, qty)
    remove_stock(session, lot, location, qty)
    add_stock(session, lot, dest, qty)
    movement = record(session, MovementKind.PICK, lot, qty, source=location, dest=dest, by=by,
                      order_line_id=line.id if line else None,
                      followed_suggestion=followed_suggestion,
                      reason=(override_reason or "").strip() or None, pieces=pieces)
    if line is not None:
        _count_pick(session, line, qty)
    session.flush()  # the pick's id names it in the event (and in a pick.undone later)
    events.record(session, "pick.confirmed", event_bodies.pick_body(session, movement, lot, line, location, dest),
                  key=lot_key(lot), by=by)
    return movement


def _check_line(session: Session, line: OrderLine, lot: Lot, qty: int) -> None:
    order = line.order
    if order.status in (OrderStatus.SHIPPED, OrderStatus.CANCELLED):
        raise Conflict(f"Order {order.number} is {order.status.value}; nothing more can be picked.",
                       code="order_closed")
    if lot.item_id != line.item_id:
        raise Conflict(f"Lot {lot.lot_number} is {lot.item.sku} {lot.item.name}; line {line.line_no} "
                       f"needs {line.item.sku} {line.item.name}.", code="wrong_item")
    open_qty = line.qty - line.picked_qty
    if qty > open_qty:
        raise Conflict(f"Line {line.line_no} of order {order.number} needs only {open_qty} more; "
                       f"{qty} is too many.", code="over_pick")


def _count_pick(session: Session, line: OrderLine, qty: int) -> None:
    # Conditional increment: two pickers on one line cannot pick past its quantity together.
    done = session.execute(
        update(OrderLine).where(OrderLine.id == line.id, OrderLine.picked_qty + qty <= OrderLine.qty)
        .values(picked_qty=OrderLine.picked_qty + qty).execution_options(synchronize_session=False)
    ).rowcount
    if done == 0:
        raise Conflict(f"Line {line.line_no} was picked meanwhile; {qty} is now too many.",
                       code="over_pick")
    session.expire(line, ["picked_qty"])
    order = line.order
    complete = all(l.picked_qty >= l.qty for l in order.lines)
    order.status = OrderStatus.PICKED if complete else OrderStatus.PICKING


def _lock_lines(session: Session, order: Order) -> list[OrderLine]:
    """The order's lines, locked and read fresh (in id order, so two lockers never deadlock): a
    ship and an undo of one of its picks, or two undos, run one after the other on PostgreSQL.
    SQLite's write transactions (BEGIN IMMEDIATE) are one at a time anyway."""
    return list(session.scalars(
        select(OrderLine).where(OrderLine.order_id == order.id).order_by(OrderLine.id)
        .with_for_update().execution_options(populate_existing=True)))


def _lock_line(session: Session, line_id: int) -> OrderLine:
    """One order line, locked and read fresh. A pick, an undo and a ship all lock the line before
    touching stock, so on PostgreSQL they queue on the line instead of deadlocking over stock rows,
    and two undos of one pick cannot both pass."""
    return session.scalar(select(OrderLine).where(OrderLine.id == line_id)
                          .with_for_update().execution_options(populate_existing=True))


def picked_rows(session: Session, order: Order):
    """What is picked for `order` and still at the staging place, per line, lot and place: its
    picks minus the picks taken back (UNPICK goes from the staging place back where it came
    from). Rows whose picks were all taken back are left out."""
    staging = case((Movement.kind == MovementKind.PICK, Movement.to_location_id),
                   else_=Movement.from_location_id).label("staging_id")
    signed = func.sum(case((Movement.kind == MovementKind.PICK, Movement.qty), else_=-Movement.qty))
    cases = func.sum(case((Movement.kind == MovementKind.PICK, Movement.pieces), else_=-Movement.pieces))
    rows = session.execute(
        select(Movement.order_line_id, Movement.lot_id, staging, signed.label("qty"), cases.label("pieces"))
        .join(OrderLine, OrderLine.id == Movement.order_line_id)
        .where(OrderLine.order_id == order.id,
               Movement.kind.in_([MovementKind.PICK, MovementKind.UNPICK]))
        .group_by(Movement.order_line_id, Movement.lot_id, staging)
        .order_by(Movement.order_line_id, Movement.lot_id, staging)
    ).all()
    return [row for row in rows if row.qty > 0]


NO_STOCK_LEFT = "No pickable stock left"


def short_reasons(session: Session, order: Order, short_reason: str | None = None, *,
                  on: dt.date | None = None) -> dict[int, str]:
    """Why each line with quantity still open ships short (line id -> reason): the reason the picker
    gave with a short pick, else `short_reason` (one for the order), else "No pickable stock left"
    when no lot that fits the order is left to pick — a fact, not an excuse.

    The one rule for shipping short, for the pick page and the API alike: a line that could still
    be picked and has no reason refuses the shipment (Conflict ``short_reason_required``, in words)."""
    given = " ".join((short_reason or "").split())[:200] or None
    reasons, missing = {}, []
    for line in order.lines:
        if not open_qty(line):
            continue
        suggestion = line_suggestion(session, line, on=on)
        reason = line.short_reason or given or (None if suggestion.allocations else NO_STOCK_LEFT)
        if reason is None:
            missing.append((line, suggestion.allocations[0]))
        else:
            reasons[line.id] = reason
    if missing:
        line, a = missing[0]
        more = f" (and {len(missing) - 1} more {'line' if len(missing) == 2 else 'lines'})" if len(missing) > 1 else ""
        raise Conflict(
            f"Not everything is picked: line {line.line_no} ({line.item.sku}) still needs {open_qty(line)} "
            f"{line.item.unit} and lot {a.lot_number} is at {a.location_code}{more}. Pick it, report it "
            f"short, or give the reason it ships short.", code="short_reason_required",
            lines=[line.line_no for line, _ in missing])
    return reasons


def ship(session: Session, order: Order, *, by: Actor = NOBODY, on: dt.date | None = None,
         short_reason: str | None = None) -> list[Movement]:
    """Ship everything picked for `order` to its customer; the order is then shipped.

    Each line with quantity still open gets it as `short_qty`, with its reason (short_reasons: the
    picker's, else `short_reason`, else "No pickable stock left"); a line that could still be
    picked and has none refuses the shipment. A line shipped in full keeps no short reason. All
    in the same transaction as the ship movements."""
    lines = _lock_lines(session, order)
    session.refresh(order, ["status"])
    if order.status in (OrderStatus.SHIPPED, OrderStatus.CANCELLED):
        raise Conflict(f"Order {order.number} is already {order.status.value}.", code="order_closed")
    picked = picked_rows(session, order)
    if not picked:
        raise Conflict(f"Nothing has been picked for order {order.number} yet.", code="nothing_picked")
    reasons = short_reasons(session, order, short_reason, on=on)
    movements = []
    for row in picked:
        lot = session.get(Lot, row.lot_id)
        ensure_pickable(lot, on, verb="shipped")
        staging = session.get(Location, row.staging_id)
        remove_stock(session, lot, staging, row.qty)
        movements.append(record(session, MovementKind.SHIP, lot, row.qty, source=staging, by=by,
                                order_line_id=row.order_line_id, customer_id=order.customer_id,
                                reference=order.number, pieces=row.pieces or None))
    for line in lines:
        missing = open_qty(line)
        line.short_qty = missing
        line.short_reason = reasons[line.id] if missing else None
    order.status = OrderStatus.SHIPPED
    order.shipped_at = utcnow()
    short = any(line.short_qty for line in lines)
    events.record(session, "order.short_shipped" if short else "order.shipped",
                  event_bodies.shipment_body(session, order, lines, picked), key=order_key(order.number), by=by)
    return movements


# --- taking a pick back ------------------------------------------------------------------------


_KIND_WORDS = {
    MovementKind.RECEIVE: "a receipt", MovementKind.MOVE: "a move", MovementKind.ADJUST: "a stock correction",
    MovementKind.PICK: "a pick", MovementKind.CONSUME: "a use on the line", MovementKind.PRODUCE: "a production",
    MovementKind.SHIP: "a shipment", MovementKind.UNPICK: "a pick taken back",
}


def undo_reference(movement_id: int) -> str:
    """The reference an UNPICK carries: the pick it takes back (how "already undone" is found)."""
    return f"undo of movement {movement_id}"


def undone_picks(session: Session, line_ids) -> set[int]:
    """The ids of the PICK movements of these order lines that have been taken back."""
    if not line_ids:
        return set()
    picks = session.scalars(
        select(Movement.id).where(Movement.kind == MovementKind.PICK, Movement.order_line_id.in_(list(line_ids))))
    refs = set(session.scalars(
        select(Movement.reference)
        .where(Movement.kind == MovementKind.UNPICK, Movement.order_line_id.in_(list(line_ids)))))
    return {pick_id for pick_id in picks if undo_reference(pick_id) in refs}


def undo_pick(session: Session, movement: Movement, *, by: Actor = NOBODY,
              reason: str | None = None) -> Movement:
    """Take a pick back: the same quantity of the same lot goes from the staging place back to where
    it was picked from, as an UNPICK ledger row naming the pick; the line needs that much again.

    Refused (Conflict, nothing changed) unless `movement` is a pick for an order line, its order is
    neither shipped nor cancelled, it has not been taken back already, and what it put at the
    staging place is still there."""
    if movement.kind is not MovementKind.PICK:
        raise Conflict(f"Movement {movement.id} is {_KIND_WORDS[movement.kind]}, not a pick — only a pick "
                       f"can be taken back.", code="not_a_pick")
    if movement.order_line_id is None:
        raise Conflict(f"Pick {movement.id} was not for an order; move the goods back instead.",
                       code="not_an_order_pick")
    line_row = _lock_line(session, movement.order_line_id)
    order = line_row.order
    session.refresh(order, ["status"])
    lot = session.get(Lot, movement.lot_id)
    staging = session.get(Location, movement.to_location_id)
    back_to = session.get(Location, movement.from_location_id)
    what = f"{movement.qty} {line_row.item.unit} of lot {lot.lot_number}"
    if order.status in (OrderStatus.SHIPPED, OrderStatus.CANCELLED):
        raise Conflict(f"Order {order.number} is {order.status.value} — the pick of {what} cannot be "
                       f"taken back.", code="order_closed")
    reference = undo_reference(movement.id)
    if session.scalar(select(Movement.id).where(Movement.kind == MovementKind.UNPICK,
                                                Movement.order_line_id == line_row.id,
                                                Movement.reference == reference).limit(1)):
        raise Conflict(f"The pick of {what} from {back_to.code} has already been taken back.",
                       code="already_undone")
    here = _qty_at(session, lot, staging)
    if here < movement.qty:
        raise Conflict(f"Only {here} of lot {lot.lot_number} is left at {staging.code} — the pick of "
                       f"{movement.qty} cannot be taken back.", code="staging_stock_gone", available=here)
    note = " ".join((reason or "").split())[:200] or None
    remove_stock(session, lot, staging, movement.qty)
    add_stock(session, lot, back_to, movement.qty)
    unpick = record(session, MovementKind.UNPICK, lot, movement.qty, source=staging, dest=back_to, by=by,
                    order_line_id=line_row.id, reference=reference, reason=note, pieces=movement.pieces)
    _uncount_pick(session, line_row, movement.qty)
    session.flush()
    events.record(session, "pick.undone", {**event_bodies.pick_body(session, movement, lot, line_row, staging, back_to),
                                           "reason": note},
                  key=lot_key(lot), by=by)
    return unpick


def _uncount_pick(session: Session, line: OrderLine, qty: int) -> None:
    # Conditional decrement, the mirror of _count_pick: picked_qty never goes below zero.
    done = session.execute(
        update(OrderLine).where(OrderLine.id == line.id, OrderLine.picked_qty >= qty)
        .values(picked_qty=OrderLine.picked_qty - qty).execution_options(synchronize_session=False)
    ).rowcount
    if done == 0:
        raise Conflict(f"Line {line.line_no} has less than {qty} picked; nothing was taken back.",
                       code="not_picked")
    session.expire(line, ["picked_qty"])
    order = line.order
    picked = session.scalar(select(func.coalesce(func.sum(OrderLine.picked_qty), 0))
                            .where(OrderLine.order_id == order.id))
    order.status = OrderStatus.PICKING if picked else OrderStatus.OPEN


# --- picking an order line by scan: the page and the API share these --------------------------

SHORT_REASONS = (
    "Not at the location",
    "Less there than the system says",
    "Damaged — cannot be sent",
)


def open_qty(line: OrderLine) -> int:
    return max(0, line.qty - line.picked_qty)


def line_suggestion(session: Session, line: OrderLine, *, on: dt.date | None = None):
    """What to pick next for `line` (FIFO/FEFO over its open quantity, among the lots that fit its
    order: earliest_expiry), or None when it is done."""
    remaining = open_qty(line)
    if not remaining:
        return None
    return suggest(session, line.item_id, remaining, on=on, expiring_from=earliest_expiry(line.order, on))


def _age(lot: Lot, strategy: RemovalStrategy) -> tuple:
    """A lot's place in removal order, without the tie-breaks: the same expiry (FEFO) or the same
    FIFO date is equally good, so neither asks for a reason."""
    if strategy is RemovalStrategy.FEFO:
        return (lot.expiry is None, lot.expiry or dt.date.max)
    return (lot.fifo_date,)


def _stock_place(session: Session, lot: Lot) -> Location | None:
    """Where to pick `lot` from when no location is given: its biggest stock outside shipping and
    quarantine."""
    row = session.execute(
        select(Stock.location_id, func.sum(Stock.qty).label("qty"))
        .join(Location, Location.id == Stock.location_id)
        .where(Stock.lot_id == lot.id, Stock.qty > 0,
               Location.kind.not_in([LocationKind.SHIPPING, LocationKind.QUARANTINE]))
        .group_by(Stock.location_id).order_by(func.sum(Stock.qty).desc(), Stock.location_id).limit(1)
    ).first()
    return session.get(Location, row.location_id) if row else None


def _qty_at(session: Session, lot: Lot, location: Location) -> int:
    return session.scalar(select(func.coalesce(func.sum(Stock.qty), 0))
                          .where(Stock.lot_id == lot.id, Stock.location_id == location.id)) or 0


def pick_line(session: Session, *, line: OrderLine, lot: Lot, location: Location | None = None,
              qty: int | None = None, override_reason: str | None = None, by: Actor = NOBODY,
              on: dt.date | None = None, pieces: int | None = None) -> Movement:
    """Pick `lot` for an order line the way a picker does it, checked against the FIFO/FEFO suggestion.

    The order must be open, the lot of the line's item and pickable (not held, quarantined,
    recalled or expired), and last for the order (ensure_fits_order: not expiring before its due
    date or inside the customer's minimum shelf life; no reason gets past). A lot younger than the suggested one needs `override_reason`; without it
    the Conflict (code ``override_reason_required``) says where the older lot is. When the item's
    policy refuses younger lots (Item.refuse_younger_lots) no reason gets past: the Conflict
    (code ``younger_lot_refused``) says which lot to take and where. Without a
    `location` the suggested place is used for the suggested lot, else where the lot has most
    stock; without a `qty`, as much as the line still needs and the place holds.
    """
    line = _lock_line(session, line.id)
    order = line.order
    session.refresh(order, ["status"])
    if order.status in (OrderStatus.SHIPPED, OrderStatus.CANCELLED):
        raise Conflict(f"Order {order.number} is {order.status.value}; nothing more can be picked.",
                       code="order_closed")
    if lot.item_id != line.item_id:
        raise Conflict(f"Wrong item: lot {lot.lot_number} is {lot.item.sku} {lot.item.name}; line "
                       f"{line.line_no} needs {line.item.sku} {line.item.name}.", code="wrong_item")
    ensure_pickable(lot, on)
    ensure_fits_order(lot, order, on)
    remaining = open_qty(line)
    if remaining == 0:
        raise Conflict(f"Line {line.line_no} ({line.item.sku}) is already picked in full.",
                       code="line_done")
    suggestion = line_suggestion(session, line, on=on)
    first = suggestion.allocations[0] if suggestion.allocations else None
    followed = True
    if first is not None and first.lot_id != lot.id:
        suggested = session.get(Lot, first.lot_id)
        if _age(lot, suggestion.strategy) > _age(suggested, suggestion.strategy):
            followed = False
            if line.item.refuse_younger_lots:
                _refuse_younger(lot, first, suggestion.strategy)
            reason = (override_reason or "").strip()
            if not reason:
                what = ("expires later than" if suggestion.strategy is RemovalStrategy.FEFO
                        else "is younger than")
                raise Conflict(
                    f"Lot {lot.lot_number} {what} the suggested lot {first.lot_number}, which is at "
                    f"{first.location_code}.",
                    code="override_reason_required", suggested_lot=first.lot_number,
                    suggested_location=first.location_code)
    if location is None:
        if first is not None and first.lot_id == lot.id:
            location = session.get(Location, first.location_id)
        else:
            location = _stock_place(session, lot)
        if location is None:
            raise Conflict(f"Lot {lot.lot_number} has no stock left to pick (nothing outside shipping "
                           f"and quarantine).", code="insufficient_stock")
    if location.kind is LocationKind.SHIPPING:
        raise Conflict(f"Lot {lot.lot_number} at {location.code} is already picked (a shipping lane).",
                       code="already_picked")
    if location.kind is LocationKind.QUARANTINE:
        raise Conflict(f"Lot {lot.lot_number} at {location.code} is in quarantine: move it out after "
                       f"inspection (put-away) before it is picked.", code="in_quarantine")
    if qty is None:
        qty = min(remaining, _qty_at(session, lot, location))
        if qty <= 0:
            raise Conflict(f"There is no stock of lot {lot.lot_number} at {location.code}.",
                           code="insufficient_stock")
    return pick(session, lot=lot, location=location, qty=qty, line=line, by=by, on=on,
                followed_suggestion=followed, pieces=pieces,
                override_reason=None if followed else override_reason)


def _refuse_younger(lot: Lot, first, strategy: RemovalStrategy) -> None:
    """The item's policy: a younger lot than the suggestion is refused, whatever the reason."""
    if strategy is RemovalStrategy.FEFO:
        what, rule = "expires later than", "soonest-expiring first"
    else:
        what, rule = "is newer than", "oldest first"
    raise Conflict(
        f"Lot {lot.lot_number} {what} lot {first.lot_number} — take {first.lot_number} from "
        f"{first.location_code}; this item must go {rule}.",
        code="younger_lot_refused", suggested_lot=first.lot_number, suggested_location=first.location_code)


def short_pick(session: Session, *, line: OrderLine, reason: str, by: Actor = NOBODY,
               on: dt.date | None = None) -> Movement:
    """The picker cannot pick the suggested lot at its place (not there, less there, damaged):
    what the books say is there is written off with a ledger row naming the order line and why,
    and the line's next suggestion moves to the next lot. A line with no pickable stock left is
    short; the order can ship without it."""
    from .stock import adjust, require_reason

    reason = require_reason(reason)
    suggestion = line_suggestion(session, line, on=on)
    if suggestion is None:
        raise Conflict(f"Line {line.line_no} is picked in full; nothing is short.", code="line_done")
    if not suggestion.allocations:
        raise Conflict(f"Line {line.line_no} has no pickable stock left; it ships short by "
                       f"{open_qty(line)}.", code="nothing_to_short")
    first = suggestion.allocations[0]
    lot, location = session.get(Lot, first.lot_id), session.get(Location, first.location_id)
    missing = _qty_at(session, lot, location)
    movement = adjust(session, lot, location, -missing,
                      f"Short pick {line.order.number} line {line.line_no}: {reason}"[:200], by=by)
    line.short_reason = _with_reason(line.short_reason, reason)
    return movement


def _with_reason(recorded: str | None, reason: str) -> str:
    """Every distinct reason the picker gave for a line, in order, within the column's 200."""
    reasons = [r for r in (recorded or "").split("; ") if r]
    if reason not in reasons:
        reasons.append(reason)
    return "; ".join(reasons)[:200]
