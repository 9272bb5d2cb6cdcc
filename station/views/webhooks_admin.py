"""Webhooks, for admins: where Station POSTs its events (the ERP), and how the sending goes.

    GET  /webhooks                          each subscription: URL, types, backlog, dead count, last delivered,
                                            last error; its dead deliveries; the forms below
    POST /webhooks/add                      name, url, types (ticked), secret (optional): the secret is
                                            shown on the answer, once
    POST /webhooks/<id>/change              name, url, types
    POST /webhooks/<id>/active              active=yes|no: turn on / off
    POST /webhooks/<id>/secret              a new secret, shown on the answer, once
    POST /webhooks/<id>/replay              from, to (UTC date-times): send that range of events again
    GET  /webhooks/<id>/dead                its dead deliveries (HTMX partial)
    POST /webhooks/<id>/redeliver           id=<delivery> (one) or all=yes: dead deliveries again
                                            (HTMX: the dead list comes back; else the page)

Admins only (workflow "webhooks"). A refusal shows the page again with the reason in a red banner and
changes nothing. The same over the API: /api/v1/webhooks (api/webhook_views.py).
"""
from __future__ import annotations

import datetime as dt

from flask import (Blueprint, current_app, flash, get_flashed_messages, make_response, redirect, render_template,
                   request, url_for)

from .. import auth, get_db
from ..services import events, webhooks
from ..services.errors import DomainError, Invalid

bp = Blueprint("webhooks_admin", __name__)

FORM_MAX = 600  # characters kept of a typed field; the service refuses what is longer than it allows
DEAD_SHOWN = 50  # dead deliveries listed per subscription (the API pages through all of them)


def _field(name: str) -> str:
    return (request.form.get(name) or "")[:FORM_MAX]


def _types() -> list[str]:
    return [t[:60] for t in request.form.getlist("types")[:len(events.TYPES) * 2]]


def _networks():
    return current_app.config.get("WEBHOOK_NETWORKS", ())


def _plural(count: int, word: str, many: str | None = None) -> str:
    return f"{count} {word if count == 1 else (many or word + 's')}"


def _cards(session) -> list[dict]:
    subs = webhooks.subscriptions(session)
    figures = webhooks.figures(session, subs)
    cards = []
    for sub in subs:
        fig = figures[sub.id]
        dead = webhooks.deliveries(session, sub, status=webhooks.DeliveryStatus.DEAD, limit=DEAD_SHOWN) \
            if fig.dead else None
        cards.append({"sub": sub, "fig": fig, "dead": dead.rows if dead else [],
                      "last_delivered_at": webhooks.aware(sub.last_delivered_at),
                      "last_error_at": webhooks.aware(sub.last_error_at)})
    return cards


def _page(message: str | None = None, status: int = 200, *, form: dict | None = None, focus: int | None = None,
          edit: dict | None = None, secret: dict | None = None):
    """The page. `form` refills the add form after a refusal (never the secret), `focus` opens the edit
    form of that subscription with `edit` in it, `secret` ({name, secret}) is shown once."""
    messages = get_flashed_messages(with_categories=True)
    if message:
        messages.append(("error", message))
    with get_db().read() as session:
        cards = _cards(session)
        response = make_response(render_template(
            "webhooks_admin.html", cards=cards, messages=messages, types=events.TYPES, form=form or {},
            focus=focus, edit=edit or {}, secret=secret, networks=", ".join(str(n) for n in _networks())), status)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/webhooks")
@auth.requires("webhooks")
def index():
    return _page()


@bp.post("/webhooks/add")
@auth.requires("webhooks")
def add():
    """Add a subscription; the answer shows its secret once (no redirect: nothing stores it to show later)."""
    form = {"name": _field("name"), "url": _field("url"), "types": _types()}
    try:
        with get_db().write() as s:
            made = webhooks.create(s, name=form["name"], url=form["url"], types=form["types"],
                                   secret=_field("secret").strip() or None, networks=_networks(), by=auth.actor())
            name, secret = made.subscription.name, made.secret
    except DomainError as exc:
        return _page(f"{exc.message} Nothing was changed.", exc.status, form=form)
    flash(f"Added {name}: it gets the events from now on (a replay sends earlier ones).", "ok")
    return _page(secret={"name": name, "secret": secret}, status=201)


def _change(sub_id: int, do, refused_edit: dict | None = None):
    """Run `do(session, subscription)` -> (kind, words) for the banner; a refusal shows the page again."""
    try:
        with get_db().write() as s:
            kind, words = do(s, webhooks.subscription(s, sub_id, for_update=True))
    except DomainError as exc:
        return _page(f"{exc.message} Nothing was changed.", exc.status, focus=sub_id, edit=refused_edit)
    flash(words, kind)
    return redirect(url_for(".index") + f"#webhook-{sub_id}", 303)


@bp.post("/webhooks/<int:sub_id>/change")
@auth.requires("webhooks")
def change(sub_id: int):
    edit = {"name": _field("name"), "url": _field("url"), "types": _types()}

    def do(s, sub):
        done = webhooks.change(s, sub, by=auth.actor(), networks=_networks(), **edit)
        if not done:
            return "info", f"{sub.name}: nothing changed."
        return "ok", f"{sub.name}: {'; '.join(done)}."
    return _change(sub_id, do, edit)


@bp.post("/webhooks/<int:sub_id>/active")
@auth.requires("webhooks")
def set_active(sub_id: int):
    active = _field("active") == "yes"

    def do(s, sub):
        if not webhooks.change(s, sub, by=auth.actor(), active=active):
            return "info", f"{sub.name} is {'on' if active else 'off'} already."
        return "ok", (f"{sub.name} is on: waiting events are sent." if active else
                      f"{sub.name} is off: nothing is sent to it; its events wait until it is on again.")
    return _change(sub_id, do)


@bp.post("/webhooks/<int:sub_id>/secret")
@auth.requires("webhooks")
def rotate(sub_id: int):
    try:
        with get_db().write() as s:
            sub = webhooks.subscription(s, sub_id, for_update=True)
            name, secret = sub.name, webhooks.rotate_secret(s, sub, by=auth.actor())
    except DomainError as exc:
        return _page(f"{exc.message} Nothing was changed.", exc.status)
    flash(f"{name} has a new secret: deliveries are signed with it from now on.", "ok")
    return _page(secret={"name": name, "secret": secret})


def _moment(field: str, words: str) -> dt.datetime:
    """A datetime-local field, in UTC."""
    text = _field(field).strip()
    try:
        return dt.datetime.fromisoformat(text).replace(tzinfo=dt.timezone.utc)
    except ValueError:
        raise Invalid(f"Give the {words} of the range as a date and time (UTC).", code="invalid_range",
                      field=field) from None


@bp.post("/webhooks/<int:sub_id>/replay")
@auth.requires("webhooks")
def replay(sub_id: int):
    def do(s, sub):
        count = webhooks.replay(s, sub, _moment("from", "start"), _moment("to", "end"), by=auth.actor())
        if not count:
            return "info", f"No events of {sub.name}'s types happened in that range — nothing to send."
        return "ok", f"{_plural(count, 'event')} will be sent to {sub.name} again, oldest first."
    return _change(sub_id, do)


def _dead_partial(sub_id: int, message: tuple[str, str] | None = None, status: int = 200):
    with get_db().read() as s:
        sub = webhooks.subscription(s, sub_id)
        fig = webhooks.figures(s, [sub])[sub.id]
        rows = webhooks.deliveries(s, sub, status=webhooks.DeliveryStatus.DEAD, limit=DEAD_SHOWN).rows
        card = {"sub": sub, "fig": fig, "dead": rows}
        return make_response(render_template("partials/webhook_dead.html", card=card,
                                             messages=[message] if message else []), status)


@bp.get("/webhooks/<int:sub_id>/dead")
@auth.requires("webhooks")
def dead(sub_id: int):
    try:
        return _dead_partial(sub_id)
    except DomainError as exc:
        return make_response(exc.message, exc.status)


@bp.post("/webhooks/<int:sub_id>/redeliver")
@auth.requires("webhooks")
def redeliver(sub_id: int):
    """One dead delivery (id) or every one (all=yes) again. HTMX gets the dead list back."""
    one = _field("id").strip()
    try:
        ids = None if _field("all") == "yes" else [int(one)] if one.isdigit() and len(one) < 18 else []
        with get_db().write() as s:
            sub = webhooks.subscription(s, sub_id, for_update=True)
            count = webhooks.deliver_again(s, sub, ids, by=auth.actor())
            name = sub.name
    except DomainError as exc:
        if auth.is_htmx():
            try:
                return _dead_partial(sub_id, ("error", f"{exc.message} Nothing was changed."), exc.status)
            except DomainError:
                pass
        return _page(f"{exc.message} Nothing was changed.", exc.status, focus=sub_id)
    words = (f"{_plural(count, 'dead delivery', 'dead deliveries')} of {name} will be sent again now, "
             f"with three more days of retries." if count else f"{name} has no dead deliveries.")
    if auth.is_htmx():
        return _dead_partial(sub_id, ("ok" if count else "info", words))
    flash(words, "ok" if count else "info")
    return redirect(url_for(".index") + f"#webhook-{sub_id}", 303)
