"""Operators, for admins: the site's people, their PIN locks and signed-in sessions.

    GET  /operators                          every operator: role, active, PIN set or not, PIN lock (locked
                                             until, wrong PINs, locks in a row), open floor sessions and
                                             last activity; the form to add one
    POST /operators/unlock                   badge: clear the badge's PIN lock and its count
    POST /operators/sign-out-everywhere      badge: end every floor session of that operator

Adding, changing the role, resetting the PIN, disabling, enabling and printing a badge label are
operators_edit.py's, on this blueprint. Admins only (workflow "operators"). The same from a shell:
`station operator add|list|set-role|set-pin|reset-pin|disable|enable|unlock|sign-out-everywhere`.
"""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, flash, get_flashed_messages, make_response, redirect, render_template, request, url_for
from sqlalchemy import func, select

from .. import get_db
from ..models import FloorSession, Operator, Printer, Role
from .. import auth
from .common import clean_scan

bp = Blueprint("operators_admin", __name__)


def _aware(ts: dt.datetime | None) -> dt.datetime | None:
    return ts.replace(tzinfo=dt.timezone.utc) if ts is not None and ts.tzinfo is None else ts


def operator_rows(db, now: dt.datetime) -> list[dict]:
    """Every operator with their PIN lock and open floor sessions, locked ones first."""
    idle = dt.timedelta(seconds=auth.idle_seconds())
    with db.read() as s:
        sessions = {r.operator_id: r for r in s.execute(
            select(FloorSession.operator_id, func.count().label("open"),
                   func.max(FloorSession.last_seen_at).label("last_seen"))
            .where(FloorSession.ended_at.is_(None), FloorSession.last_seen_at > now - idle)
            .group_by(FloorSession.operator_id))}
        ops = s.execute(select(Operator.id, Operator.badge, Operator.name, Operator.role, Operator.active,
                               Operator.pin_failures, Operator.pin_locked_until, Operator.pin_lock_count,
                               Operator.pin_hash.is_not(None).label("has_pin"))
                        .order_by(Operator.name)).all()
    rows = []
    for op in ops:
        until = _aware(op.pin_locked_until)
        locked = until is not None and until > now
        open_sessions = sessions.get(op.id)
        rows.append({
            "id": op.id, "badge": op.badge, "name": op.name, "role": auth.ROLE_NAMES.get(op.role, str(op.role)),
            "role_value": Role(op.role).value, "active": op.active, "has_pin": bool(op.has_pin), "locked": locked, "locked_until": until if locked else None,
            "failures": op.pin_failures or 0, "lock_count": op.pin_lock_count or 0,
            "sessions": open_sessions.open if open_sessions else 0,
            "last_seen": _aware(open_sessions.last_seen) if open_sessions else None,
        })
    rows.sort(key=lambda r: (not r["locked"], not (r["failures"] or r["lock_count"]), r["name"]))
    return rows


def _printers(db) -> list[str]:
    with db.read() as s:
        return list(s.scalars(select(Printer.name).where(Printer.active.is_(True)).order_by(Printer.name)))


def _page(message: str | None = None, status: int = 200, form: dict | None = None, focus: str | None = None):
    """The page; `form` refills the add form after a refusal, `focus` is the badge of the row the
    refused change was about (its edit controls shown open)."""
    messages = get_flashed_messages(with_categories=True)
    if message:
        messages.append(("error", message))
    now = dt.datetime.fromtimestamp(auth.sessions.now_seconds(), dt.timezone.utc)
    roles = [(role.value, auth.ROLE_NAMES[role]) for role in Role]
    response = make_response(render_template("operators_admin.html", rows=operator_rows(get_db(), now),
                                             now=now, messages=messages, roles=roles, printers=_printers(get_db()),
                                             form=form or {}, focus=focus,
                                             me=auth.current_operator()), status)
    response.headers["Cache-Control"] = "no-store"
    return response


def _operator(badge: str):
    with get_db().read() as s:
        return s.execute(select(Operator.id, Operator.name, Operator.badge)
                         .where(Operator.badge == badge)).first()


def _badge() -> str:
    return clean_scan(request.form.get("badge"))[:40]


@bp.get("/operators")
@auth.requires("operators")
def index():
    return _page()


@bp.post("/operators/unlock")
@auth.requires("operators")
def unlock():
    badge = _badge()
    op = _operator(badge) if badge else None
    if op is None:
        return _page("Choose an operator from the list — nothing was changed.", 400 if not badge else 404)
    if auth.unlock_pin(get_db(), op.id):
        flash(f"PIN lock cleared for {op.name} ({op.badge}): the next wrong PIN starts a new count.", "ok")
    else:
        flash(f"{op.name} ({op.badge}) had no PIN lock — nothing to clear.", "info")
    return redirect(url_for(".index"), 303)


@bp.post("/operators/sign-out-everywhere")
@auth.requires("operators")
def sign_out_everywhere():
    badge = _badge()
    op = _operator(badge) if badge else None
    if op is None:
        return _page("Choose an operator from the list — nothing was changed.", 400 if not badge else 404)
    count = auth.sign_out_everywhere(op.id)
    if auth.current_operator() is None:  # the admin signed themself out
        flash(f"Signed out everywhere: {op.name}, on {count} device{'s' if count != 1 else ''}.", "ok")
        return redirect(url_for("signin.page"), 303)
    flash(f"{op.name} ({op.badge}) is signed out everywhere: {count} session{'s' if count != 1 else ''} ended."
          if count else f"{op.name} ({op.badge}) was not signed in anywhere.", "ok" if count else "info")
    return redirect(url_for(".index"), 303)
