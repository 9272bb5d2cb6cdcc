"""Customers over the API: list, one, add, change (an ERP keeps the site's customers up to date).

    GET   /customers?active=&after=&limit=   by code, keyset pages (next_after)
    GET   /customers/<code>                  one customer
    POST  /customers                         {code, name, gln?, min_shelf_life_days?} -> 201
    PATCH /customers/<code>                  {name?, gln?, min_shelf_life_days?, active?}: only the fields given

Reading is every role's ("lookup"): a receiver booking a customer's return and a picker's tablet
name customers too. Writing is the "orders" workflow's (supervisor, admin): who the site ships to,
and how fresh their goods must be, is an office decision. A code or GLN already taken is 409; a
refusal changes nothing.
"""
from __future__ import annotations

from flask import Response

from .. import get_db
from ..services import customers
from .core import route
from .order_schemas import CustomerChangeIn, CustomerIn, CustomerOut, CustomerPage, CustomerQuery


@route("GET", "/customers", query=CustomerQuery, response=CustomerPage)
def list_customers(query: CustomerQuery) -> CustomerPage:
    """Customers, by code, a page at a time (pass next_after as after)."""
    with get_db().read() as session:
        page = customers.customers_page(session, after=query.after, active=query.active, limit=query.limit)
        return CustomerPage(data=[CustomerOut.of(c) for c in page.rows], next_after=page.next_after)


@route("GET", "/customers/<path:code>", response=CustomerOut, errors=(404,))
def get_customer(code: str) -> CustomerOut:
    """One customer."""
    with get_db().read() as session:
        return CustomerOut.of(customers.customer_by_code(session, code))


@route("POST", "/customers", body=CustomerIn, response=CustomerOut, status=201, errors=(409,),
       workflow="orders", action="Adding a customer")
def create_customer(body: CustomerIn) -> Response:
    """Add a customer, with the minimum shelf life its goods must still have when they ship."""
    with get_db().write() as session:
        out = CustomerOut.of(customers.save_customer(session, **body.model_dump()))
    return Response(out.model_dump_json(), status=201, mimetype="application/json",
                    headers={"Location": f"/api/v1/customers/{out.code}"})


@route("PATCH", "/customers/<path:code>", body=CustomerChangeIn, response=CustomerOut, errors=(404, 409),
       workflow="orders", action="Changing a customer")
def change_customer(code: str, body: CustomerChangeIn) -> CustomerOut:
    """Change a customer's name, GLN, minimum shelf life, or deactivate it; only the fields given change."""
    fields = {key: getattr(body, key) for key in body.model_fields_set}
    with get_db().write() as session:
        customer = customers.customer_by_code(session, code)
        return CustomerOut.of(customers.change_customer(session, customer, **fields))
