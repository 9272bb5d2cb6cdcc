"""Customers, for supervisors: the list, adding one, changing its name, GLN or minimum shelf life, and
deactivating it (no new orders) or activating it again.

    GET  /customers?after=                  the customers by code, 100 a page
    POST /customers                         add (code, name, GLN, minimum shelf life in days)
    POST /customers/<code>                  change name, GLN, minimum shelf life
    POST /customers/<code>/active           active=yes|no

Supervisors and admins (workflow "orders"), like /api/v1/customers; the same service
(services/customers.py), so the same rules and words. A refused form is drawn again with what was
typed and the reason in a red banner, and nothing is written.
"""
from __future__ import annotations

from flask import Blueprint, flash, get_flashed_messages, make_response, redirect, render_template, request, url_for

from .. import auth, get_db
from ..services import customers
from ..services.errors import DomainError, Invalid
from .common import clean_scan

bp = Blueprint("customers_admin", __name__)
PAGE = 100


def _field(name: str, max_len: int = 220) -> str:
    return clean_scan(request.form.get(name))[:max_len]


def _days(text: str) -> int | None:
    """The minimum shelf life typed: blank is none; anything but a whole number of days is Invalid."""
    if not text:
        return None
    if not text.isdigit() or len(text) > 6:
        raise Invalid(f"The minimum shelf life is a whole number of days, or empty for any (got {text!r}).",
                      code="invalid_min_shelf_life")
    return int(text)


def _page(message: str | None = None, status: int = 200, form: dict | None = None, editing: str | None = None,
          edit_form: dict | None = None):
    after = clean_scan(request.args.get("after"))[:20] or None
    messages = get_flashed_messages(with_categories=True)
    if message:
        messages.append(("error", message))
    with get_db().read() as s:
        page = customers.customers_page(s, after=after, limit=PAGE)
        response = make_response(render_template(
            "customers_admin.html", page=page, after=after, messages=messages, form=form or {},
            editing=editing, edit_form=edit_form or {}), status)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/customers")
@auth.requires("orders")
def index():
    """The customers by code, with the form to add one."""
    return _page()


@bp.post("/customers")
@auth.requires("orders")
def add():
    """Add a customer."""
    form = {key: _field(key) for key in ("code", "name", "gln", "min_shelf_life_days")}
    try:
        with get_db().write() as s:
            made = customers.save_customer(s, code=form["code"], name=form["name"], gln=form["gln"] or None,
                                           min_shelf_life_days=_days(form["min_shelf_life_days"]))
            name, code = made.name, made.code
    except DomainError as exc:
        return _page(exc.message + " Nothing was saved.", exc.status if exc.status != 404 else 422, form)
    flash(f"Customer {name} ({code}) added.", "ok")
    return redirect(url_for(".index"), 303)


@bp.post("/customers/<path:code>")
@auth.requires("orders")
def change(code: str):
    """Change a customer's name, GLN and minimum shelf life."""
    form = {key: _field(key) for key in ("name", "gln", "min_shelf_life_days")}
    try:
        with get_db().write() as s:
            customer = customers.customer_by_code(s, code)
            customers.change_customer(s, customer, name=form["name"], gln=form["gln"] or None,
                                      min_shelf_life_days=_days(form["min_shelf_life_days"]))
            name = customer.name
    except DomainError as exc:
        return _page(exc.message + " Nothing was changed.", exc.status, editing=code, edit_form=form)
    flash(f"Customer {name} ({code}) saved.", "ok")
    return redirect(url_for(".index"), 303)


@bp.post("/customers/<path:code>/active")
@auth.requires("orders")
def set_active(code: str):
    """Deactivate a customer (no new orders for it; its orders and history stay) or activate it again."""
    answer = request.form.get("active", "")
    if answer not in ("yes", "no"):
        return _page("Tap Deactivate or Activate — nothing was changed.", 400)
    try:
        with get_db().write() as s:
            customer = customers.customer_by_code(s, code)
            customers.change_customer(s, customer, active=answer == "yes")
            name = customer.name
    except DomainError as exc:
        return _page(exc.message + " Nothing was changed.", exc.status)
    flash(f"Customer {name} ({code}) is active again: orders can be entered for it." if answer == "yes" else
          f"Customer {name} ({code}) is deactivated: no new orders can be entered for it.", "ok")
    return redirect(url_for(".index"), 303)
