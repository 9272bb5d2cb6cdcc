"""Webhook subscriptions over the API (issue 16): where Station POSTs its events, signed.

    GET   /webhooks                                   every subscription, with its backlog and dead count
    POST  /webhooks                                   {name, url, types?, secret?} -> 201, the secret once
    GET   /webhooks/<id>                              one subscription
    PATCH /webhooks/<id>                              {name?, url?, types?, active?}: only the fields given
    POST  /webhooks/<id>/secret                       a new secret, in this answer only
    POST  /webhooks/<id>/replay                       {from, to}: send a time range of events again
    GET   /webhooks/<id>/deliveries?status=&before=   newest first, keyset pages (next_before)
    POST  /webhooks/<id>/deliveries/redeliver         {ids: [...]} or {all_dead: true}: dead ones again

Admin tokens only (workflow "webhooks"), reading too: a subscription names where the site's data goes.
The secret is in the answer that made it and never again. A URL Station may not send to (not http(s),
a user name or password in it, a private address outside STATION_WEBHOOK_NETWORKS), an unknown event
type or a taken name is refused in words; a refusal changes nothing (each request is one transaction).
"""
from __future__ import annotations

from flask import Response, current_app

from .. import get_db
from ..services import webhooks
from ..services.errors import Invalid
from .core import api_actor, route
from .webhook_schemas import (DeliveryOut, DeliveryPage, DeliveryQuery, RedeliverIn, RedeliverOut, ReplayIn,
                              ReplayOut, SecretOut, WebhookChangeIn, WebhookCreated, WebhookIn, WebhookList,
                              WebhookOut)

ACTION_READ = "Reading the webhook subscriptions"


def _networks():
    return current_app.config.get("WEBHOOK_NETWORKS", ())


def _out(session, sub) -> WebhookOut:
    return WebhookOut.of(sub, webhooks.figures(session, [sub])[sub.id])


@route("GET", "/webhooks", response=WebhookList, workflow="webhooks", action=ACTION_READ)
def list_webhooks() -> WebhookList:
    """Every webhook subscription, by name, with its backlog, dead deliveries and last error."""
    with get_db().read() as session:
        subs = webhooks.subscriptions(session)
        figures = webhooks.figures(session, subs)
        return WebhookList(data=[WebhookOut.of(s, figures[s.id]) for s in subs])


@route("GET", "/webhooks/<int:sub_id>", response=WebhookOut, errors=(404,), workflow="webhooks",
       action=ACTION_READ)
def get_webhook(sub_id: int) -> WebhookOut:
    """One webhook subscription (never its secret)."""
    with get_db().read() as session:
        return _out(session, webhooks.subscription(session, sub_id))


@route("POST", "/webhooks", body=WebhookIn, response=WebhookCreated, status=201, errors=(409,),
       workflow="webhooks", action="Adding a webhook subscription")
def create_webhook(body: WebhookIn) -> Response:
    """Add a subscription: it gets the events committed from now on (send history with a replay). The
    answer holds the secret, once."""
    with get_db().write() as session:
        made = webhooks.create(session, name=body.name, url=body.url, types=body.types, secret=body.secret,
                               networks=_networks(), by=api_actor())
        out = WebhookCreated(**_out(session, made.subscription).model_dump(), secret=made.secret)
    return Response(out.model_dump_json(), status=201, mimetype="application/json",
                    headers={"Location": f"/api/v1/webhooks/{out.id}", "Cache-Control": "no-store"})


@route("PATCH", "/webhooks/<int:sub_id>", body=WebhookChangeIn, response=WebhookOut, errors=(404, 409),
       workflow="webhooks", action="Changing a webhook subscription")
def change_webhook(sub_id: int, body: WebhookChangeIn) -> WebhookOut:
    """Rename, change the URL or the event types, turn off or on; only the fields given change."""
    fields = {key: getattr(body, key) for key in body.model_fields_set}
    for key, value in fields.items():
        if value is None:
            raise Invalid(f"{key} cannot be null; leave it out to keep it.", code="invalid_" + key, field=key)
    with get_db().write() as session:
        sub = webhooks.subscription(session, sub_id, for_update=True)
        webhooks.change(session, sub, by=api_actor(), networks=_networks(), **fields)
        session.flush()
        return _out(session, sub)


@route("POST", "/webhooks/<int:sub_id>/secret", response=SecretOut, errors=(404,), workflow="webhooks",
       action="Rotating a webhook secret")
def rotate_secret(sub_id: int) -> Response:
    """A new signing secret, in this answer only; the old one signs nothing from now on."""
    with get_db().write() as session:
        sub = webhooks.subscription(session, sub_id, for_update=True)
        out = SecretOut(id=sub.id, secret=webhooks.rotate_secret(session, sub, by=api_actor()))
    return Response(out.model_dump_json(), status=200, mimetype="application/json",
                    headers={"Cache-Control": "no-store"})


@route("POST", "/webhooks/<int:sub_id>/replay", body=ReplayIn, response=ReplayOut, errors=(404, 409),
       workflow="webhooks", action="Replaying events to a webhook")
def replay(sub_id: int, body: ReplayIn) -> ReplayOut:
    """Send every event of its types that occurred from `from` to `to` again (at most 100,000 at once)."""
    with get_db().write() as session:
        sub = webhooks.subscription(session, sub_id, for_update=True)
        return ReplayOut(replayed=webhooks.replay(session, sub, body.from_, body.to, by=api_actor()))


@route("GET", "/webhooks/<int:sub_id>/deliveries", query=DeliveryQuery, response=DeliveryPage, errors=(404,),
       workflow="webhooks", action=ACTION_READ)
def list_deliveries(sub_id: int, query: DeliveryQuery) -> DeliveryPage:
    """A subscription's deliveries, newest first, a page at a time (pass next_before as before)."""
    with get_db().read() as session:
        sub = webhooks.subscription(session, sub_id)
        page = webhooks.deliveries(session, sub, status=webhooks.parse_status(query.status), before=query.before,
                                   limit=query.limit)
        return DeliveryPage(data=[DeliveryOut.of(r) for r in page.rows], next_before=page.next_before)


@route("POST", "/webhooks/<int:sub_id>/deliveries/redeliver", body=RedeliverIn, response=RedeliverOut,
       errors=(404, 409), workflow="webhooks", action="Delivering webhook events again")
def redeliver(sub_id: int, body: RedeliverIn) -> RedeliverOut:
    """Dead deliveries pending again, due now, with three more days of retries: the ids given, or all."""
    if body.all_dead == (body.ids is not None):
        raise Invalid("Send either ids (the dead deliveries to send again) or all_dead: true, not both.",
                      code="invalid_redeliver", field="ids")
    with get_db().write() as session:
        sub = webhooks.subscription(session, sub_id, for_update=True)
        ids = None if body.all_dead else body.ids
        return RedeliverOut(redelivered=webhooks.deliver_again(session, sub, ids, by=api_actor()))
