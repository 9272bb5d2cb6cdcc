"""Orders, for supervisors: the list by status, entering an order by hand, cancelling one.

    GET  /orders?show=open|shipped|cancelled|all&after=   the orders by number, 50 a page
    POST /orders                         enter an order (customer, number, due date, priority, lines)
    GET  /orders/line-row                one more empty line row for the form (htmx appends it)
    GET  /orders/no-row                  nothing: a row's Remove button swaps its row away with it
    POST /orders/<number>/cancel         cancel with a reason, while nothing of it is picked

Supervisors and admins (workflow "orders"), like POST /api/v1/orders; the same service
(services/orders.py), so the same rules and the same words. A refused form is drawn again with what
was typed and the reason in a red banner (422), and nothing is written.
"""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, flash, get_flashed_messages, make_response, redirect, render_template, request, url_for
from sqlalchemy import select

from .. import auth, get_db, quantities
from ..models import Customer, Item, Order, OrderStatus
from ..services import orders
from ..services.errors import DomainError, Invalid
from ..services.orders import OrderLineIn
from .common import clean_scan

bp = Blueprint("orders_admin", __name__)

SHOW = {  # the list's filter: what a supervisor asks for, as statuses
    "open": (OrderStatus.OPEN, OrderStatus.PICKING, OrderStatus.PICKED),
    "shipped": (OrderStatus.SHIPPED,),
    "cancelled": (OrderStatus.CANCELLED,),
    "all": (),
}
PAGE = 50
FORM_ROWS = 3  # empty line rows a fresh form starts with
MAX_ROWS = orders.MAX_LINES


def _field(name: str, max_len: int = 60) -> str:
    return clean_scan(request.form.get(name))[:max_len]


def _form_rows() -> list[dict]:
    """The line rows as typed, to draw again when the form is refused."""
    skus, qtys = request.form.getlist("sku")[:MAX_ROWS], request.form.getlist("qty")[:MAX_ROWS]
    return [{"sku": clean_scan(s)[:40], "qty": clean_scan(q)[:12]} for s, q in zip(skus, qtys)]


def _lines(rows: list[dict]) -> list[OrderLineIn]:
    """The typed lines, blank rows skipped: Invalid for a quantity that is no number ("12", "12.5", "12,5"),
    naming its line; the service refuses more decimals than the item is counted in."""
    wanted = []
    for row in rows:
        if not row["sku"] and not row["qty"]:
            continue
        text = row["qty"]
        try:
            qty = quantities.parse(text)
        except quantities.QuantityError:
            raise Invalid(f"Line {len(wanted) + 1} ({row['sku'] or 'no SKU'}): the quantity must be a number "
                          f"like 12 or 12.5 (got {text or 'nothing'!r}).", code="invalid_qty") from None
        wanted.append(OrderLineIn(sku=row["sku"], qty=qty))
    return wanted


def _form_values() -> dict:
    return {"customer": _field("customer", 20), "number": _field("number", 40), "due_on": _field("due_on", 10),
            "priority": _field("priority", 2)}


def _due(text: str) -> dt.date | None:
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise Invalid(f"The due date {text!r} is not a date; pick one from the calendar.",
                             code="invalid_due_on") from None


def _priority(text: str) -> int:
    if not text.isdigit():
        raise Invalid("Choose a priority from 1 (picked first) to 9.", code="invalid_priority")
    return int(text)


def _page(message: str | None = None, status: int = 200, form: dict | None = None, rows: list | None = None,
          cancelling: str | None = None, changing: str | None = None):
    show = request.args.get("show", "open")
    show = show if show in SHOW else "open"
    after = clean_scan(request.args.get("after"))[:30] or None
    messages = get_flashed_messages(with_categories=True)
    if message:
        messages.append(("error", message))
    with get_db().read() as s:
        page = orders.orders_page(s, statuses=SHOW[show], after=after, limit=PAGE)
        customers = s.execute(select(Customer.code, Customer.name).where(Customer.active.is_(True))
                              .order_by(Customer.name)).all()
        skus = s.execute(select(Item.sku, Item.name).order_by(Item.sku).limit(2000)).all()
        picked = {o.number: sum(line.picked_qty for line in o.lines) for o in page.rows}
        change_order = _changeable(s, changing or clean_scan(request.args.get("change"))[:30])
        response = make_response(render_template(
            "orders_admin.html", page=page, picked=picked, show=show, shows=list(SHOW), after=after,
            customers=customers, skus=skus, messages=messages, form=form or {"priority": "5"},
            rows=rows or [{"sku": "", "qty": ""}] * FORM_ROWS, cancelling=cancelling, change_order=change_order), status)
    response.headers["Cache-Control"] = "no-store"
    return response


def _changeable(session, number: str) -> Order | None:
    """The order whose lines the page offers to change (?change=…): open, nothing picked; else None."""
    if not number:
        return None
    try:
        order = orders.order_by_number(session, number)
    except DomainError:
        return None
    unpicked = order.status in (OrderStatus.OPEN, OrderStatus.PICKING) and not any(line.picked_qty for line in order.lines)
    return order if unpicked else None


@bp.get("/orders")
@auth.requires("orders")
def index():
    """The orders by number, filtered by status (open by default), with the form to enter one."""
    return _page()


@bp.get("/orders/line-row")
@auth.requires("orders")
def line_row():
    """One empty line row for the order form; htmx appends it to the rows."""
    return render_template("partials/order_line_row.html", row={"sku": "", "qty": ""})


@bp.get("/orders/no-row")
@auth.requires("orders")
def no_row():
    """Nothing: a line row's Remove button swaps its row away with this empty answer."""
    return ""


@bp.post("/orders")
@auth.requires("orders")
def enter():
    """Enter an order by hand; the same order again (same number and body) changes nothing."""
    form, rows = _form_values(), _form_rows()
    try:
        lines = _lines(rows)
        with get_db().write() as s:
            order, created = orders.enter_order(
                s, number=form["number"], customer_code=form["customer"], lines=lines, due_on=_due(form["due_on"]),
                priority=_priority(form["priority"]), by=auth.sessions.actor())
            number, name, count = order.number, order.customer.name, len(order.lines)
    except DomainError as exc:
        return _page(exc.message + " Nothing was saved.", 422, form, rows)
    flash(f"Order {number} for {name} entered: {count} line{'s' if count != 1 else ''}." if created else
          f"Order {number} was already entered just like this — nothing changed.", "ok" if created else "info")
    return redirect(url_for(".index"), 303)


@bp.post("/orders/<path:number>/cancel")
@auth.requires("orders")
def cancel(number: str):
    """Cancel an order with a reason, while nothing of it is picked."""
    try:
        with get_db().write() as s:
            order = orders.order_by_number(s, number)
            was = order.status
            orders.cancel_order(s, order, reason=request.form.get("reason", "")[:400], by=auth.sessions.actor())
    except DomainError as exc:
        return _page(exc.message + " Nothing was changed.", exc.status, cancelling=number)
    flash(f"Order {number} is cancelled; pickers no longer see it." if was is not OrderStatus.CANCELLED
          else f"Order {number} was already cancelled.", "ok")
    return redirect(url_for(".index"), 303)


@bp.post("/orders/<path:number>/lines")
@auth.requires("orders")
def change_lines(number: str):
    """Replace an order's lines with the rows of its form, while nothing of it is picked."""
    try:
        lines = _lines(_form_rows())
        with get_db().write() as s:
            orders.replace_lines(s, orders.order_by_number(s, number), lines)
    except DomainError as exc:
        return _page(exc.message + " Nothing was changed.", exc.status if 400 <= exc.status < 500 else 409,
                     changing=number)
    flash(f"Order {number} now has {len(lines)} line{'s' if len(lines) != 1 else ''}.", "ok")
    return redirect(url_for(".index"), 303)
