"""Picking to an order's staging location, and shipping what was picked to the customer."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ..models import (Location, LocationKind, Lot, Movement, MovementKind, Order, OrderLine,
                      OrderStatus, utcnow)
from .actor import NOBODY, Actor
from .catalog import first_location
from .errors import Conflict
from .stock import ensure_pickable, record, remove_stock, add_stock, require_positive


def pick(session: Session, *, lot: Lot, location: Location, qty: int,
         dest: Location | None = None, line: OrderLine | None = None, by: Actor = NOBODY,
         on: dt.date | None = None, followed_suggestion: bool | None = None,
         override_reason: str | None = None) -> Movement:
    """Pick `qty` of `lot` from `location` to the staging location, for an order line if given."""
    require_positive(qty)
    ensure_pickable(lot, on)
    dest = dest or first_location(session, LocationKind.SHIPPING, "to pick to")
    if line is not None:
        _check_line(session, line, lot, qty)
    remove_stock(session, lot, location, qty)
    add_stock(session, lot, dest, qty)
    movement = record(session, MovementKind.PICK, lot, qty, source=location, dest=dest, by=by,
                      order_line_id=line.id if line else None,
                      followed_suggestion=followed_suggestion,
                      reason=(override_reason or "").strip() or None)
    if line is not None:
        _count_pick(session, line, qty)
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


def ship(session: Session, order: Order, *, by: Actor = NOBODY, on: dt.date | None = None) -> list[Movement]:
    """Ship everything picked for `order` to its customer; the order is then shipped."""
    if order.status in (OrderStatus.SHIPPED, OrderStatus.CANCELLED):
        raise Conflict(f"Order {order.number} is already {order.status.value}.", code="order_closed")
    picked = session.execute(
        select(Movement.lot_id, Movement.to_location_id, Movement.order_line_id,
               func.sum(Movement.qty).label("qty"))
        .join(OrderLine, OrderLine.id == Movement.order_line_id)
        .where(OrderLine.order_id == order.id, Movement.kind == MovementKind.PICK)
        .group_by(Movement.lot_id, Movement.to_location_id, Movement.order_line_id)
        .order_by(Movement.order_line_id, Movement.lot_id)
    ).all()
    if not picked:
        raise Conflict(f"Nothing has been picked for order {order.number} yet.", code="nothing_picked")
    movements = []
    for row in picked:
        lot = session.get(Lot, row.lot_id)
        ensure_pickable(lot, on, verb="shipped")
        staging = session.get(Location, row.to_location_id)
        remove_stock(session, lot, staging, row.qty)
        movements.append(record(session, MovementKind.SHIP, lot, row.qty, source=staging, by=by,
                                order_line_id=row.order_line_id, customer_id=order.customer_id,
                                reference=order.number))
    order.status = OrderStatus.SHIPPED
    order.shipped_at = utcnow()
    return movements
