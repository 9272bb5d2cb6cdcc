"""Operators, for admins: add one, change a role, reset a PIN, disable, enable, print a badge label.
(On the operators_admin blueprint; the page itself is operators_admin.py.)

    POST /operators/add            badge, name, role, pin (optional): a new, active operator
    POST /operators/role           badge, role: another role; their floor sessions end (they sign in again)
    POST /operators/reset-pin      badge: clear the PIN; a supervisor or admin chooses a new one at their
                                   next sign-in
    POST /operators/disable        badge: the badge no longer signs in; every floor session of theirs ends
    POST /operators/enable         badge: let a disabled operator sign in again
    POST /operators/print-badge    badge, printer (optional): queue a badge label (barcode OPR:<badge>)

Admins only (workflow "operators"). Operators are never deleted: their name stays in every history.
A refusal shows the page again with the reason in a red banner and changes nothing.
"""
from __future__ import annotations

from typing import Callable

from flask import flash, redirect, request, url_for

from .. import auth, get_db
from ..models import Printer
from ..services import operators, printing
from ..services.errors import DomainError, Invalid
from .operators_admin import _badge, _page, bp

FORM_MAX = 200  # characters kept of a typed field; the service refuses what is longer than its column


def _field(name: str) -> str:
    return (request.form.get(name) or "")[:FORM_MAX]


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'s' if count != 1 else ''}"


@bp.post("/operators/add")
@auth.requires("operators")
def add():
    """Add an operator; the form comes back filled in (never the PIN) when it is refused."""
    form = {"badge": _field("badge"), "name": _field("name"), "role": _field("role")}
    pin = _field("pin").strip() or None
    try:
        with get_db().write() as s:
            op = operators.add_operator(s, badge=form["badge"], name=form["name"], role=form["role"], pin=pin,
                                        by=auth.actor())
            words = f"Added {op.name} ({op.badge}) as {operators.ROLE_WORDS[op.role]}"
            needs_pin = op.role.value in auth.pin_roles() and pin is None
    except DomainError as exc:
        return _page(f"{exc.message} Nothing was changed.", exc.status, form=form)
    flash(words + (": they choose their PIN at their first sign-in." if needs_pin else "."), "ok")
    return redirect(url_for(".index"), 303)


def _change(do: Callable) -> object:
    """Run `do(session, operator)` for the operator whose badge the form names; it answers (kind, words)
    for the banner. A refusal shows the page again, nothing changed."""
    badge = _badge()
    if not badge:
        return _page("Choose an operator from the list — nothing was changed.", 400)
    try:
        with get_db().write() as s:
            kind, words = do(s, operators.operator_by_badge(s, badge, for_update=True))
    except DomainError as exc:
        return _page(f"{exc.message} Nothing was changed.", exc.status, focus=badge)
    flash(words, kind)
    if auth.current_operator() is None:  # the admin's own sessions ended (their own role changed)
        return redirect(url_for("signin.page"), 303)
    return redirect(url_for(".index"), 303)


@bp.post("/operators/role")
@auth.requires("operators")
def set_role():
    role = _field("role")

    def do(s, op):
        if not operators.set_role(s, op, role, by=auth.actor()):
            return "info", f"{op.name} ({op.badge}) is {operators.ROLE_WORDS[op.role]} already — nothing changed."
        return "ok", (f"{op.name} ({op.badge}) is now {operators.ROLE_WORDS[op.role]}; they sign in again to "
                      f"work as one.")
    return _change(do)


@bp.post("/operators/reset-pin")
@auth.requires("operators")
def reset_pin():
    def do(s, op):
        if op.pin_hash is None:
            return "info", f"{op.name} ({op.badge}) has no PIN — nothing to reset."
        operators.reset_pin(s, op, None, by=auth.actor())
        return "ok", f"PIN cleared for {op.name} ({op.badge}): they choose a new one at their next sign-in."
    return _change(do)


@bp.post("/operators/disable")
@auth.requires("operators")
def disable():
    def do(s, op):
        if not op.active:
            return "info", f"{op.name} ({op.badge}) is disabled already — nothing changed."
        ended = operators.disable(s, op, by=auth.actor())
        return "ok", (f"{op.name} ({op.badge}) is disabled: the badge no longer signs in"
                      + (f", and {_plural(ended, 'session')} ended." if ended else "."))
    return _change(do)


@bp.post("/operators/enable")
@auth.requires("operators")
def enable():
    def do(s, op):
        if not operators.enable(s, op, by=auth.actor()):
            return "info", f"{op.name} ({op.badge}) can sign in already — nothing changed."
        return "ok", f"{op.name} ({op.badge}) can sign in again."
    return _change(do)


@bp.post("/operators/print-badge")
@auth.requires("operators")
def print_badge():
    """Queue a badge label on the printer chosen, else this station's, else the site's only one."""
    printer = _field("printer").strip() or None
    station = auth.current_station()
    me = auth.current_operator()

    def do(s, op):
        if not op.active:
            raise Invalid(f"{op.name} ({op.badge}) is disabled: their badge would not sign in. Enable them "
                          f"first.", code="operator_inactive")
        job = printing.request_label(s, "badge", op.badge, printer=printer,
                                     station=station.id if station else None, operator=me.id if me else None)
        return "ok", f"Badge label for {op.name} ({op.badge}) sent to printer {s.get(Printer, job.printer_id).name}."
    return _change(do)
