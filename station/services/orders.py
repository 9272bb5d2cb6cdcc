"""Customer orders: entering one (by hand, by the API or from a file), changing its lines or cancelling
it while nothing is picked, and listing them — for the office by number, for the pickers by priority.

    enter_order(session, number=, customer_code=, lines=[OrderLineIn], due_on=, priority=, by=)
        -> (order, created)        the same body again answers the existing order; another body: Conflict
    replace_lines(session, order, lines)    while nothing is picked
    cancel_order(session, order, reason=, by=)  while nothing is picked
    orders_page(session, statuses=, customer_code=, after=, limit=)   by number, keyset pages
    pick_queue(session)            what /pick offers: priority 1 first, then due date (none last), number
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import exists, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from ..models import Customer, Item, Order, OrderLine, OrderStatus, utcnow
from .actor import NOBODY, Actor
from .catalog import one
from .customers import customer_by_code
from .errors import Conflict, Invalid, NotFound
from .stock import require_positive

MAX_NUMBER = 30  # orders.number
MAX_LINES = 500
MAX_QTY = 1_000_000  # one line of more than a million units is a typo
MAX_REASON = 200  # orders.cancel_reason
# Orders a picker may still work on; cancelled and shipped ones are never offered.
PICKABLE = (OrderStatus.OPEN, OrderStatus.PICKING, OrderStatus.PICKED)
CHANGEABLE = (OrderStatus.OPEN, OrderStatus.PICKING)  # PICKING with every pick taken back is unpicked


@dataclass(frozen=True)
class OrderLineIn:
    sku: str
    qty: int


# --- checking what was asked ---------------------------------------------------------------------


def check_number(number) -> str:
    text = number.strip() if isinstance(number, str) else ""
    if not text:
        raise Invalid("The order number is required.", code="invalid_order_number")
    if len(text) > MAX_NUMBER or not text.isprintable() or not text.isascii():
        raise Invalid(f"The order number {text[:40]!r} must be 1–{MAX_NUMBER} printable characters "
                      "(letters, digits, punctuation).", code="invalid_order_number")
    return text


def check_priority(priority) -> int:
    if isinstance(priority, bool) or not isinstance(priority, int) or not 1 <= priority <= 9:
        raise Invalid(f"The priority is a whole number from 1 (picked first) to 9 (got {priority!r}).",
                      code="invalid_priority")
    return priority


def _check_due(due_on) -> dt.date | None:
    if due_on is not None and (not isinstance(due_on, dt.date) or isinstance(due_on, dt.datetime)):
        raise Invalid(f"The due date must be a date (got {due_on!r}).", code="invalid_due_on")
    return due_on


def _items(session: Session, lines: list[OrderLineIn]) -> list[tuple[Item, int]]:
    """Each line's item and quantity, in order; Invalid/NotFound naming the line that is wrong."""
    if not lines:
        raise Invalid("An order needs at least one line (a SKU and a quantity).", code="no_lines")
    if len(lines) > MAX_LINES:
        raise Invalid(f"An order has at most {MAX_LINES} lines.", code="too_many_lines")
    seen: dict[str, int] = {}
    wanted = []
    for no, line in enumerate(lines, 1):
        sku = line.sku.strip() if isinstance(line.sku, str) else ""
        if not sku:
            raise Invalid(f"Line {no} has no SKU.", code="invalid_sku", line=no)
        qty = line.qty
        try:
            fits = not isinstance(qty, bool) and 0 < qty <= MAX_QTY
        except TypeError:
            fits = False
        if not fits:
            raise Invalid(f"Line {no} ({sku}): the quantity must be a number greater than 0, at most {MAX_QTY} "
                          f"(got {qty!r}).", code="invalid_qty", line=no)
        if sku in seen:
            raise Invalid(f"SKU {sku} is on line {seen[sku]} and line {no}; put it on one line.",
                          code="duplicate_sku", line=no)
        seen[sku] = no
        wanted.append((sku, qty))
    found = {item.sku: item for item in session.scalars(select(Item).where(Item.sku.in_(list(seen))))}
    for no, (sku, _qty) in enumerate(wanted, 1):
        if sku not in found:
            raise NotFound(f"Line {no}: there is no item with SKU {sku!r}.", code="unknown_item", line=no)
    return [(found[sku], require_positive(qty, f"quantity of line {no}", of=found[sku]))
            for no, (sku, qty) in enumerate(wanted, 1)]


def _require_active(customer: Customer) -> None:
    if not customer.active:
        raise Invalid(f"Customer {customer.code} ({customer.name}) is no longer active; "
                      "activate it on the customers page first.", code="inactive_customer")


# --- entering and changing -----------------------------------------------------------------------


def enter_order(session: Session, *, number: str, customer_code: str, lines: list[OrderLineIn],
                due_on: dt.date | None = None, priority: int = 5, by: Actor = NOBODY) -> tuple[Order, bool]:
    """Enter an order; (order, True) when created. The same body for an existing number answers that
    order (False), so a retry is harmless; a different body is a Conflict that says what differs."""
    number = check_number(number)
    priority = check_priority(priority)
    due_on = _check_due(due_on)
    customer = customer_by_code(session, customer_code.strip() if isinstance(customer_code, str) else "")
    items = _items(session, lines)
    existing = order_by_number(session, number, missing_ok=True)
    if existing is None:
        _require_active(customer)
        try:
            with session.begin_nested():  # a second writer of the same number loses on the unique index
                order = _insert(session, number, customer, items, due_on, priority, by)
            return order, True
        except IntegrityError:
            existing = order_by_number(session, number)
    _same_or_conflict(existing, customer, items, due_on, priority)
    return existing, False


def _insert(session: Session, number: str, customer: Customer, items, due_on, priority, by: Actor) -> Order:
    order = Order(number=number, customer_id=customer.id, due_on=due_on, priority=priority,
                  status=OrderStatus.OPEN, created_by_id=by.operator_id, token_id=by.token_id)
    session.add(order)
    session.flush()
    _add_lines(session, order, items)
    return order


def _add_lines(session: Session, order: Order, items) -> None:
    for no, (item, qty) in enumerate(items, 1):
        session.add(OrderLine(order_id=order.id, line_no=no, item_id=item.id, qty=qty))
    session.flush()
    session.expire(order, ["lines"])


def _same_or_conflict(order: Order, customer: Customer, items, due_on, priority: int) -> None:
    differs = []
    if order.customer_id != customer.id:
        differs.append(f"customer {order.customer.code}")
    if order.due_on != due_on:
        differs.append(f"due date {order.due_on.isoformat() if order.due_on else 'none'}")
    if order.priority != priority:
        differs.append(f"priority {order.priority}")
    have = [(line.item.sku, line.qty) for line in order.lines]
    asked = [(item.sku, qty) for item, qty in items]
    if have != asked:
        differs.append("other lines (" + ", ".join(f"{sku} × {qty}" for sku, qty in have) + ")")
    if differs:
        raise Conflict(f"Order {order.number} already exists with {', '.join(differs)}; it was not changed. "
                       "Use a new order number, or change the order's lines.", code="order_exists")


def _require_unpicked(session: Session, order: Order, doing: str) -> None:
    """Refuse while the order is shipped or cancelled, or once anything of it is picked."""
    # Lock the lines (PostgreSQL) so a pick that lands now waits for this transaction, or wins first.
    picked = sum(session.scalars(select(OrderLine.picked_qty).where(OrderLine.order_id == order.id)
                                 .with_for_update()))
    session.refresh(order, ["status"])
    if order.status not in CHANGEABLE:
        raise Conflict(f"Order {order.number} is {order.status.value}; it cannot be {doing}.",
                       code="order_closed")
    if picked:
        raise Conflict(f"Order {order.number} has {picked} picked already; it cannot be {doing}. "
                       "Take the picks back on the pick page first.", code="order_picked")


def replace_lines(session: Session, order: Order, lines: list[OrderLineIn]) -> Order:
    """Replace every line of `order` with `lines`, while nothing of it is picked."""
    items = _items(session, lines)
    _require_unpicked(session, order, "changed")
    for line in list(order.lines):
        session.delete(line)
    session.flush()
    _add_lines(session, order, items)
    return order


def cancel_order(session: Session, order: Order, *, reason: str, by: Actor = NOBODY) -> Order:
    """Cancel `order` with a reason, while nothing of it is picked; cancelling it again changes nothing."""
    reason = " ".join(reason.split()) if isinstance(reason, str) else ""
    if not reason:
        raise Invalid("Say why the order is cancelled.", code="invalid_reason")
    if len(reason) > MAX_REASON:
        raise Invalid(f"The reason must be at most {MAX_REASON} characters.", code="invalid_reason")
    if order.status is OrderStatus.CANCELLED:
        return order
    _require_unpicked(session, order, "cancelled")
    # Conditional: a pick counted between the check and here leaves the order as it is.
    done = session.execute(
        update(Order).where(Order.id == order.id, Order.status.in_(CHANGEABLE),
                            ~exists().where(OrderLine.order_id == order.id, OrderLine.picked_qty > 0))
        .values(status=OrderStatus.CANCELLED, cancelled_at=utcnow(), cancel_reason=reason)
        .execution_options(synchronize_session=False)).rowcount
    if done == 0:
        raise Conflict(f"Order {order.number} was picked just now; it cannot be cancelled.", code="order_picked")
    session.refresh(order)
    return order


# --- finding ---------------------------------------------------------------------------------------


def order_by_number(session: Session, number: str, *, missing_ok: bool = False) -> Order | None:
    query = (select(Order).where(Order.number == number)
             .options(selectinload(Order.customer), selectinload(Order.lines).selectinload(OrderLine.item)))
    if missing_ok:
        return session.scalar(query)
    return one(session, query, NotFound, f"There is no order {number!r}.", "unknown_order")


@dataclass(frozen=True)
class OrderPage:
    rows: list[Order]
    next_after: str | None  # the last number on this page, when there is another


def parse_statuses(text: str | None) -> tuple[OrderStatus, ...]:
    """Statuses from "open,picking" (any case, spaces ignored); empty: all. Invalid names the bad one."""
    wanted = []
    for part in (text or "").split(","):
        name = part.strip().lower()
        if not name:
            continue
        try:
            wanted.append(OrderStatus(name))
        except ValueError:
            known = ", ".join(s.value for s in OrderStatus)
            raise Invalid(f"There is no order status {name[:30]!r}; use {known}.", code="invalid_status") from None
    return tuple(dict.fromkeys(wanted))


def orders_page(session: Session, *, statuses: tuple[OrderStatus, ...] = (), customer_code: str | None = None,
                after: str | None = None, limit: int = 100) -> OrderPage:
    """Orders by number, `limit` at a time after the number `after` (keyset), filtered by status and customer."""
    query = (select(Order).order_by(Order.number)
             .options(selectinload(Order.customer), selectinload(Order.lines).selectinload(OrderLine.item)))
    if statuses:
        query = query.where(Order.status.in_(statuses))
    if customer_code:
        query = query.where(Order.customer_id == customer_by_code(session, customer_code).id)
    if after:
        query = query.where(Order.number > after)
    rows = list(session.scalars(query.limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return OrderPage(rows, rows[-1].number if more else None)


def pick_order():
    """The order /pick offers orders in: priority 1 first, then the earliest due date (none last), number."""
    return (Order.priority, Order.due_on.is_(None), Order.due_on, Order.number)


def pick_queue(session: Session):
    """The orders a picker may work on, in pick order, with what is left: rows of (number, status, due_on,
    priority, customer name, line count, total qty, picked qty)."""
    return session.execute(
        select(Order.number, Order.status, Order.due_on, Order.priority, Customer.name,
               func.count(OrderLine.id), func.sum(OrderLine.qty), func.sum(OrderLine.picked_qty))
        .join(Customer, Customer.id == Order.customer_id)
        .join(OrderLine, OrderLine.order_id == Order.id)
        .where(Order.status.in_(PICKABLE))
        .group_by(Order.id, Order.number, Order.status, Order.due_on, Order.priority, Customer.name)
        .order_by(*pick_order())).all()
