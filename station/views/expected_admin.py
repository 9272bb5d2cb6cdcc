"""Expected receipts, for supervisors: what suppliers will deliver, entered by hand, closed short.

    GET  /expected                     the open ones, due first: supplier, reference, date, each line's
                                       expected and received quantities; the form to enter one
    POST /expected                     enter one (supplier, reference, due date, lines: SKU, quantity,
                                       optional supplier lot and pallet SSCCs)
    GET  /expected/line-row            one more empty line row for the form (htmx appends it)
    GET  /expected/no-row              nothing: a row's Remove button swaps its row away with it
    POST /expected/<id>/close          close one short: the goods still missing will not come (a reason)

Supervisors and admins (workflow "orders"), like POST /api/v1/expected-receipts; the same service
(services/expected.py), so the same rules and the same words. A refused form is drawn again with what
was typed and the reason in a red banner (422), and nothing is written. The dock receives against these
(station/workflows/receiving.py).
"""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, flash, get_flashed_messages, make_response, redirect, render_template, request, url_for
from sqlalchemy import select

from .. import auth, get_db, quantities
from ..models import Item, Supplier
from ..services import expected
from ..services.errors import DomainError, Invalid
from ..services.expected import ExpectedLineIn
from .common import clean_scan

bp = Blueprint("expected_admin", __name__)

FORM_ROWS = 3  # empty line rows a fresh form starts with
MAX_ROWS = expected.MAX_LINES


def _field(name: str, max_len: int = 60) -> str:
    return clean_scan(request.form.get(name))[:max_len]


def _form_rows() -> list[dict]:
    """The line rows as typed, to draw again when the form is refused."""
    columns = [request.form.getlist(name)[:MAX_ROWS] for name in ("sku", "qty", "supplier_lot", "ssccs")]
    width = max((len(c) for c in columns), default=0)
    columns = [c + [""] * (width - len(c)) for c in columns]
    return [{"sku": clean_scan(sku)[:40], "qty": clean_scan(qty)[:12], "supplier_lot": clean_scan(lot)[:40],
             "ssccs": " ".join(ssccs.split())[:2000]} for sku, qty, lot, ssccs in zip(*columns)]


def _lines(rows: list[dict]) -> list[ExpectedLineIn]:
    """The typed lines, blank rows skipped: Invalid for a quantity that is no number ("12", "12.5", "12,5"),
    naming its line; the service refuses more decimals than the item is counted in."""
    wanted = []
    for row in rows:
        if not any(row.values()):
            continue
        n, text = len(wanted) + 1, row["qty"]
        try:
            qty = quantities.parse(text)
        except quantities.QuantityError:
            raise Invalid(f"Line {n} ({row['sku'] or 'no SKU'}): the quantity must be a number like 12 or 12.5 "
                          f"(got {text or 'nothing'!r}).", code="invalid_qty") from None
        ssccs = tuple(s for s in row["ssccs"].replace(",", " ").split() if s)
        wanted.append(ExpectedLineIn(qty=qty, sku=row["sku"] or None, supplier_lot=row["supplier_lot"] or None,
                                     ssccs=ssccs))
    return wanted


def _due(text: str) -> dt.date | None:
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise Invalid(f"The date {text!r} is not a date; pick one from the calendar.", code="invalid_date") from None


def _page(message: str | None = None, status: int = 200, form: dict | None = None, rows: list | None = None,
          closing: int | None = None):
    messages = get_flashed_messages(with_categories=True)
    if message:
        messages.append(("error", message))
    with get_db().read() as s:
        response = make_response(render_template(
            "expected_admin.html", receipts=expected.open_receipts(s), messages=messages, form=form or {},
            suppliers=s.execute(select(Supplier.code, Supplier.name).order_by(Supplier.name)).all(),
            skus=s.execute(select(Item.sku, Item.name).order_by(Item.sku).limit(2000)).all(),
            rows=rows or [{}] * FORM_ROWS, closing=closing), status)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/expected")
@auth.requires("orders")
def index():
    """The open expected receipts, due first, with what came in of each line; the form to enter one."""
    return _page()


@bp.get("/expected/line-row")
@auth.requires("orders")
def line_row():
    """One empty line row for the form; htmx appends it to the rows."""
    return render_template("partials/expected_line_row.html", row={})


@bp.get("/expected/no-row")
@auth.requires("orders")
def no_row():
    """Nothing: a line row's Remove button swaps its row away with this empty answer."""
    return ""


@bp.post("/expected")
@auth.requires("orders")
def enter():
    """Enter what a supplier will deliver; the same again (same supplier, reference and lines) changes nothing."""
    form = {"supplier": _field("supplier", 20), "reference": _field("reference", 40),
            "expected_on": _field("expected_on", 10)}
    rows = _form_rows()
    try:
        lines = _lines(rows)
        with get_db().write() as s:
            row, created = expected.enter_expected_receipt(
                s, supplier_code=form["supplier"], reference=form["reference"], lines=lines,
                expected_on=_due(form["expected_on"]), by=auth.sessions.actor())
            reference, name, count = row.reference, row.supplier.name, len(row.lines)
    except DomainError as exc:
        return _page(exc.message + " Nothing was saved.", 422, form, rows)
    flash(f"Expected from {name}: {reference}, {count} line{'s' if count != 1 else ''}." if created else
          f"{reference} from {name} was already entered just like this — nothing changed.",
          "ok" if created else "info")
    return redirect(url_for(".index"), 303)


@bp.post("/expected/<int:expected_id>/close")
@auth.requires("orders")
def close(expected_id: int):
    """Close an open expected receipt short, with the reason the rest will not come."""
    try:
        with get_db().write() as s:
            row = expected.close_short(s, expected.get(s, expected_id), request.form.get("reason", "")[:400],
                                       by=auth.sessions.actor())
            reference, name = row.reference, row.supplier.name
    except DomainError as exc:
        return _page(exc.message + " Nothing was changed.", exc.status, closing=expected_id)
    flash(f"{reference} from {name} is closed: the dock no longer receives against it.", "ok")
    return redirect(url_for(".index"), 303)
