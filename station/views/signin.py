"""Signing in and out at a floor station: by badge scan (anywhere on a page), or typed; PIN per role.

    GET  /signin?next=PATH        the sign-in page: scan a badge anywhere, or type it
    POST /signin                  badge, next (the typed form; also works without JavaScript)
    POST /floor/scan              code: a wedge scan on a page without its own scan URL (sign-in,
                                  home, set-up): a bare badge number signs in
    GET  /signin/pin?next=PATH    the PIN step, after a badge of a role that needs a PIN; an operator
                                  with no PIN yet chooses one here (typed twice)
    POST /signin/pin              pin, next (and pin_again, choosing a first PIN)
    POST /signin/cancel           forget the badge waiting for its PIN
    POST /signout                 the Sign-out button
    POST /signout/everywhere      the signed-in operator ends every session of theirs, on every device
    POST /floor/badge             code: a badge scanned on any floor page (station.js): the signed-in
                                  operator's own badge signs out, another badge signs that one in
"""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from flask import (Blueprint, flash, get_flashed_messages, make_response, redirect, render_template, request,
                   session, url_for)

from ..scanning.codes import OPERATOR_PREFIX, without_aim
from .. import auth
from .common import clean_scan

bp = Blueprint("signin", __name__)

def badge_from(code: str | None) -> str:
    """The badge in a scanned or typed code: without an AIM identifier and without OPR:."""
    text = without_aim(clean_scan(code))
    if text[:len(OPERATOR_PREFIX)].upper() == OPERATOR_PREFIX:
        text = text[len(OPERATOR_PREFIX):].strip()
    return text[:40]


def _next() -> str:
    return auth.safe_next(request.values.get("next"))


def _page_next() -> str:
    """Where to go after a badge scanned on a page: that page, or the sign-in page's own ?next=."""
    here = auth.here()
    parts = urlsplit(here)
    if parts.path in (url_for(".page"), url_for(".pin")):
        return auth.safe_next((parse_qs(parts.query).get("next") or [None])[0])
    return auth.safe_next(here)


def _flashes() -> list[tuple[str, str]]:
    return get_flashed_messages(with_categories=True)


def _signin_page(message: str | None = None, status: int = 200, badge: str = ""):
    messages = _flashes()
    if message:
        messages.append(("error", message))
    if request.args.get("timeout") and not message:
        messages.append(("info", "You were signed out after a while without use. Scan your badge to go on."))
    response = make_response(render_template("signin.html", messages=messages, next=_next(), badge=badge,
                                             operator=auth.current_operator()), status)
    response.headers["Cache-Control"] = "no-store"
    return response


class Outcome:
    """What a badge led to: go somewhere (`url`), or a refusal (`message`, `status`)."""

    def __init__(self, url: str | None = None, message: str | None = None, status: int = 200,
                 kind: str = "error") -> None:
        self.url, self.message, self.status, self.kind = url, message, status, kind


def begin(badge: str, next_url: str) -> Outcome:
    """Sign in the operator of `badge`, or send them to the PIN step. A badge nobody has goes to the PIN
    step too, which then answers as for a wrong PIN: the PIN step does not tell which badges exist."""
    if not badge:
        return Outcome(message="Scan your badge, or type its number and press Sign in.", status=400)
    op = auth.load_operator(badge=badge, include_inactive=True)
    if op is not None and auth.load_operator(operator_id=op.id) is None:
        return Outcome(message=f"{op.name}'s badge is no longer active — ask a supervisor.", status=403)
    if op is None or auth.needs_pin(op, auth.pin_hash_of(op.id)):
        auth.sign_out()
        session[auth.PENDING_KEY] = {"badge": op.badge if op else badge, "at": int(auth.sessions.now_seconds())}
        args = {"next": next_url} if next_url != url_for("home.index") else {}
        return Outcome(url=url_for(".pin", **args))
    auth.sign_in(op)
    flash(f"Signed in: {op.name}, {op.role_name}.", "ok")
    return Outcome(url=next_url)


def _fetch_answer(outcome: Outcome):
    """The answer to station.js: HX-Redirect to go on, or a banner."""
    if outcome.url:
        response = auth.banner_response("ok", "One moment…")
        response.headers["HX-Redirect"] = outcome.url
        return response
    return auth.banner_response(outcome.kind, outcome.message, outcome.status)


# --- the sign-in page ----------------------------------------------------------------------------


@bp.get("/signin")
def page():
    return _signin_page()


@bp.post("/signin")
def submit():
    badge = badge_from(request.form.get("badge"))
    outcome = begin(badge, _next())
    if outcome.url:
        return redirect(outcome.url, 303)
    return _signin_page(outcome.message, outcome.status, badge=badge)


@bp.post("/floor/scan")
def scan():
    """A wedge scan on a floor page without a scan URL of its own (sign-in, home, set-up) that was not
    an OPR: code: a bare badge number signs in; anything else is not for this screen."""
    raw = clean_scan(request.form.get("code"))
    badge = badge_from(raw)
    on_signin = urlsplit(auth.here()).path in (url_for(".page"), url_for(".pin"))
    if badge and auth.load_operator(badge=badge, include_inactive=True) is None:
        if on_signin and ":" not in badge and not badge.isdigit():
            return _fetch_answer(begin(badge, _page_next()))  # the PIN step, as for any badge that needs one
        if on_signin:
            return auth.banner_response("error", "That is not a badge — scan the barcode on your badge.", 400)
        return auth.banner_response("error", "This screen takes badges only — open a job first.", 400,
                                     "Lot lookup shows what any code is.")
    return _fetch_answer(begin(badge, _page_next()))


# --- the PIN step --------------------------------------------------------------------------------


class Pending:
    """A badge waiting for its PIN: `op` is None when nobody (active) has it; `first_pin` when the
    operator has no PIN at all and chooses one now (pin_guard.set_first_pin)."""

    def __init__(self, badge: str, op: auth.FloorOperator | None) -> None:
        self.badge, self.op = badge, op
        self.first_pin = op is not None and not auth.pin_hash_of(op.id)


def _pending() -> Pending | None:
    pending = session.get(auth.PENDING_KEY)
    if not isinstance(pending, dict) or auth.sessions.now_seconds() - (pending.get("at") or 0) > auth.PENDING_SECONDS:
        session.pop(auth.PENDING_KEY, None)
        return None
    badge = pending.get("badge")
    if not isinstance(badge, str) or not badge:
        session.pop(auth.PENDING_KEY, None)
        return None
    return Pending(badge, auth.load_operator(badge=badge))


def _pin_page(pending: Pending, message: str | None = None, status: int = 200):
    messages = _flashes()
    if message:
        messages.append(("error", message))
    response = make_response(render_template("signin_pin.html", badge=pending.badge, messages=messages,
                                             next=_next(), first_pin=pending.first_pin), status)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/signin/pin")
def pin():
    pending = _pending()
    if pending is None:
        flash("Scan your badge first.", "info")
        return redirect(url_for(".page", **({"next": request.args["next"]} if request.args.get("next") else {})))
    return _pin_page(pending)


@bp.post("/signin/pin")
def pin_submit():
    pending = _pending()
    if pending is None:
        flash("That took too long — scan your badge again.", "error")
        return redirect(url_for(".page", **({"next": request.form["next"]} if request.form.get("next") else {})),
                        303)
    typed = (request.form.get("pin") or "").strip()[:40]
    op = pending.op
    if op is None:
        ok, why = auth.try_pin_unknown(pending.badge, typed)
    elif pending.first_pin:
        ok, why = auth.pin_guard.set_first_pin(op, typed, (request.form.get("pin_again") or "").strip()[:40])
    else:
        ok, why = auth.try_pin(op, typed)
    if not ok:
        locked = "locked" in why or "Too many" in why
        return _pin_page(pending, why, 429 if locked else 401)
    auth.sign_in(op)
    flash(f"Signed in: {op.name}, {op.role_name}.", "ok")
    return redirect(_next(), 303)


@bp.post("/signin/cancel")
def cancel():
    session.pop(auth.PENDING_KEY, None)
    return redirect(url_for(".page"), 303)


# --- signing out ---------------------------------------------------------------------------------


@bp.post("/signout")
def signout():
    op = auth.sign_out()
    if op:
        flash(f"Signed out: {op.name}. Scan a badge to sign in.", "ok")
    return redirect(url_for(".page"), 303)


@bp.post("/signout/everywhere")
def signout_everywhere():
    """The signed-in operator ends every session of theirs, on every device (a badge left signed in on
    another tablet, a copied cookie): each stops working at its next request."""
    op = auth.current_operator()
    if op is None:  # auth.require_signed_in sends the signed-out to sign in first; kept for safety
        return redirect(url_for(".page"), 303)
    count = auth.sign_out_everywhere(op.id)
    where = "this device" if count <= 1 else f"{count} devices"
    flash(f"Signed out everywhere: {op.name}, on {where}. Scan a badge to sign in.", "ok")
    return redirect(url_for(".page"), 303)


@bp.post("/floor/badge")
def badge():
    """A badge scanned on any floor page."""
    code = badge_from(request.form.get("code"))
    op = auth.current_operator()
    if op is not None and code == op.badge:
        auth.sign_out()
        flash(f"Signed out: {op.name}. Scan a badge to sign in.", "ok")
        response = auth.banner_response("ok", f"Signed out: {op.name}.")
        response.headers["HX-Redirect"] = url_for(".page")
        return response
    return _fetch_answer(begin(code, _page_next()))
