"""Customer orders over the API: an ERP enters them, watches them, changes or cancels them.

    POST /orders                       {number, customer, due_on?, priority?, lines:[{sku, qty}]}
                                       -> 201 created; 200 the existing order for the same body again;
                                          409 order_exists for another body under that number
    GET  /orders?status=&customer=&after=&limit=   by number, keyset pages (next_after); status is
                                       comma-separated (open,picking) or repeated (status=open&status=picking)
    GET  /orders/<number>              the order with its lines: quantity, picked, shipped short
    PUT  /orders/<number>/lines        {lines} replace every line, while nothing is picked
    POST /orders/<number>/cancel       {reason} while nothing is picked (409 order_picked once a pick exists)

Reading is every role's ("lookup"): a picker's tablet lists the open orders and their lines, as the
/pick page shows every picker. Writing is the "orders" workflow's (supervisor, admin, or an
integration token of those roles). Bad input is 422 in words (an unknown SKU or customer names the
line or field), an unknown order in the path 404; a refusal changes nothing.
"""
from __future__ import annotations

from flask import Response, request

from .. import get_db
from ..services import orders
from ..services.errors import Invalid, NotFound
from ..services.orders import OrderLineIn
from .core import api_actor, route
from .order_schemas import CancelIn, OrderIn, OrderLinesIn, OrderOut, OrderPage, OrderQuery


def _lines(body) -> list[OrderLineIn]:
    return [OrderLineIn(sku=line.sku, qty=line.qty) for line in body.lines]


def _body_error(exc: NotFound, field: str) -> Invalid:
    """An unknown record named in a body is bad input (422) naming the field, not a 404."""
    return Invalid(exc.message, code=exc.code, field=field, **exc.details)


@route("POST", "/orders", body=OrderIn, response=OrderOut, status=201, errors=(409,),
       also=(200,), workflow="orders", action="Entering an order")
def create_order(body: OrderIn) -> Response:
    """Enter an order; the same body again answers the existing order (200), another body is 409."""
    with get_db().write() as session:
        try:
            order, created = orders.enter_order(
                session, number=body.number, customer_code=body.customer, lines=_lines(body),
                due_on=body.due_on, priority=body.priority, by=api_actor())
        except NotFound as exc:
            raise _body_error(exc, "lines" if exc.code == "unknown_item" else "customer") from None
        out = OrderOut.of(order)
    return Response(out.model_dump_json(), status=201 if created else 200, mimetype="application/json",
                    headers={"Location": f"/api/v1/orders/{out.number}"})


@route("GET", "/orders", query=OrderQuery, response=OrderPage)
def list_orders(query: OrderQuery) -> OrderPage:
    """Orders by number, filtered by status and customer, a page at a time (pass next_after as after)."""
    statuses = orders.parse_statuses(",".join(request.args.getlist("status")))
    with get_db().read() as session:
        try:
            page = orders.orders_page(session, statuses=statuses, customer_code=query.customer,
                                      after=query.after, limit=query.limit)
        except NotFound as exc:
            raise _body_error(exc, "customer") from None
        return OrderPage(data=[OrderOut.of(o) for o in page.rows], next_after=page.next_after)


@route("GET", "/orders/<path:number>", response=OrderOut, errors=(404,))
def get_order(number: str) -> OrderOut:
    """One order with its lines: quantity, picked so far, shipped short and why."""
    with get_db().read() as session:
        return OrderOut.of(orders.order_by_number(session, number))


@route("PUT", "/orders/<path:number>/lines", body=OrderLinesIn, response=OrderOut, errors=(404, 409),
       workflow="orders", action="Changing an order")
def replace_order_lines(number: str, body: OrderLinesIn) -> OrderOut:
    """Replace every line of an order, while nothing of it is picked."""
    with get_db().write() as session:
        order = orders.order_by_number(session, number)
        try:
            orders.replace_lines(session, order, _lines(body))
        except NotFound as exc:
            raise _body_error(exc, "lines") from None
        session.refresh(order)
        return OrderOut.of(order)


@route("POST", "/orders/<path:number>/cancel", body=CancelIn, response=OrderOut, errors=(404, 409),
       workflow="orders", action="Cancelling an order")
def cancel_order(number: str, body: CancelIn) -> OrderOut:
    """Cancel an order with a reason, while nothing of it is picked; cancelling it again changes nothing."""
    with get_db().write() as session:
        order = orders.order_by_number(session, number)
        orders.cancel_order(session, order, reason=body.reason, by=api_actor())
        return OrderOut.of(order)
