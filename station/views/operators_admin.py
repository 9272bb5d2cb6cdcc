"""Operators, for admins: PIN locks and signed-in sessions.

    GET  /operators                          every operator: role, active, PIN lock (locked until, wrong
                                             PINs, locks in a row), open floor sessions and last activity
    POST /operators/unlock                   badge: clear the badge's PIN lock and its count
    POST /operators/sign-out-everywhere      badge: end every floor session of that operator

Admins only (workflow "operators"). The same from a shell: `station operator unlock BADGE`,
`station operator sign-out-everywhere BADGE`.
"""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, flash, get_flashed_messages, make_response, redirect, render_template, request, url_for
from sqlalchemy import func, select

from .. import get_db
from ..models import FloorSession, Operator
from . import floor
from .common import clean_scan

bp = Blueprint("operators_admin", __name__)


def _aware(ts: dt.datetime | None) -> dt.datetime | None:
    return ts.replace(tzinfo=dt.timezone.utc) if ts is not None and ts.tzinfo is None else ts


def operator_rows(db, now: dt.datetime) -> list[dict]:
    """Every operator with their PIN lock and open floor sessions, locked ones first."""
    idle = dt.timedelta(seconds=floor.idle_seconds())
    with db.read() as s:
        sessions = {r.operator_id: r for r in s.execute(
            select(FloorSession.operator_id, func.count().label("open"),
                   func.max(FloorSession.last_seen_at).label("last_seen"))
            .where(FloorSession.ended_at.is_(None), FloorSession.last_seen_at > now - idle)
            .group_by(FloorSession.operator_id))}
        ops = s.execute(select(Operator.id, Operator.badge, Operator.name, Operator.role, Operator.active,
                               Operator.pin_failures, Operator.pin_locked_until, Operator.pin_lock_count)
                        .order_by(Operator.name)).all()
    rows = []
    for op in ops:
        until = _aware(op.pin_locked_until)
        locked = until is not None and until > now
        open_sessions = sessions.get(op.id)
        rows.append({
            "id": op.id, "badge": op.badge, "name": op.name, "role": floor.ROLE_NAMES.get(op.role, str(op.role)),
            "active": op.active, "locked": locked, "locked_until": until if locked else None,
            "failures": op.pin_failures or 0, "lock_count": op.pin_lock_count or 0,
            "sessions": open_sessions.open if open_sessions else 0,
            "last_seen": _aware(open_sessions.last_seen) if open_sessions else None,
        })
    rows.sort(key=lambda r: (not r["locked"], not (r["failures"] or r["lock_count"]), r["name"]))
    return rows


def _page(message: str | None = None, status: int = 200):
    messages = get_flashed_messages(with_categories=True)
    if message:
        messages.append(("error", message))
    now = dt.datetime.fromtimestamp(floor._now(), dt.timezone.utc)
    response = make_response(render_template("operators_admin.html", rows=operator_rows(get_db(), now),
                                             now=now, messages=messages), status)
    response.headers["Cache-Control"] = "no-store"
    return response


def _operator(badge: str):
    with get_db().read() as s:
        return s.execute(select(Operator.id, Operator.name, Operator.badge)
                         .where(Operator.badge == badge)).first()


def _badge() -> str:
    return clean_scan(request.form.get("badge"))[:40]


@bp.get("/operators")
@floor.requires("operators")
def index():
    return _page()


@bp.post("/operators/unlock")
@floor.requires("operators")
def unlock():
    badge = _badge()
    op = _operator(badge) if badge else None
    if op is None:
        return _page("Choose an operator from the list — nothing was changed.", 400 if not badge else 404)
    if floor.unlock_pin(get_db(), op.id):
        flash(f"PIN lock cleared for {op.name} ({op.badge}): the next wrong PIN starts a new count.", "ok")
    else:
        flash(f"{op.name} ({op.badge}) had no PIN lock — nothing to clear.", "info")
    return redirect(url_for(".index"), 303)


@bp.post("/operators/sign-out-everywhere")
@floor.requires("operators")
def sign_out_everywhere():
    badge = _badge()
    op = _operator(badge) if badge else None
    if op is None:
        return _page("Choose an operator from the list — nothing was changed.", 400 if not badge else 404)
    count = floor.sign_out_everywhere(op.id)
    if floor.current_operator() is None:  # the admin signed themself out
        flash(f"Signed out everywhere: {op.name}, on {count} device{'s' if count != 1 else ''}.", "ok")
        return redirect(url_for("signin.page"), 303)
    flash(f"{op.name} ({op.badge}) is signed out everywhere: {count} session{'s' if count != 1 else ''} ended."
          if count else f"{op.name} ({op.badge}) was not signed in anywhere.", "ok" if count else "info")
    return redirect(url_for(".index"), 303)
