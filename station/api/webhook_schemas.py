"""The bodies of webhook subscriptions (api/webhook_views.py). A secret is sent only in the answer that
made it (create, rotate); every other answer says `has_secret` and nothing more."""
from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from ..models import WebhookSubscription
from ..services import webhooks
from .event_schemas import TYPE_WORDS, EventType
from .schemas import NO_CONTROL, Request

SubName = Annotated[str, Field(min_length=1, max_length=webhooks.NAME_MAX, pattern=NO_CONTROL)]
Url = Annotated[str, Field(min_length=1, max_length=500)]
Secret = Annotated[str, Field(min_length=webhooks.SECRET_MIN, max_length=webhooks.SECRET_MAX, pattern=r"^[!-~]+$")]
TYPES_DESCRIPTION = "The event types it gets; empty (or left out) means every type. The types:" + TYPE_WORDS
URL_DESCRIPTION = ("Where the events are POSTed: http:// or https://, no user name or password in it; a receiver "
                   "on a private network must lie in STATION_WEBHOOK_NETWORKS. Redirects are never followed.")


class WebhookIn(Request):
    name: SubName = Field(description="A name for the receiver, unique, e.g. 'ERP (Odoo)'.")
    url: Url = Field(description=URL_DESCRIPTION)
    types: list[EventType] = Field(default_factory=list, max_length=len(webhooks.events.TYPES) * 2,
                                   description=TYPES_DESCRIPTION)
    secret: Secret | None = Field(None, description=(
        "The HMAC-SHA256 key the receiver checks signatures with (16-200 characters, no spaces). Leave it out "
        "and Station makes a random one; either way it is in this answer only, never again."))


class WebhookChangeIn(Request):
    """Only the fields given change."""

    name: SubName | None = Field(None, description="A new name (cannot be null).")
    url: Url | None = Field(None, description=URL_DESCRIPTION)
    types: list[EventType] | None = Field(None, max_length=len(webhooks.events.TYPES) * 2,
                                          description=TYPES_DESCRIPTION + " Applies to events from now on.")
    active: bool | None = Field(None, description=(
        "false: turn off — nothing is sent (deliveries wait, new events are kept for it); true: on again."))


class WebhookOut(BaseModel):
    id: int
    name: str
    url: str
    types: list[str] = Field(description="The event types it gets; empty means every type.")
    active: bool
    has_secret: bool = Field(description="Whether a signing secret is set (the secret itself is never sent again).")
    created_at: dt.datetime
    backlog: int = Field(description="Events waiting to go to it: pending deliveries, and new events of its "
                                     "types not yet queued for it.")
    dead: int = Field(description="Deliveries given up on after three days of retries (send them again with "
                                  "POST …/deliveries/redeliver).")
    last_delivered_at: dt.datetime | None = Field(description="When a delivery last got a 2xx answer.")
    last_error: str | None = Field(description="What went wrong at the last failed attempt, in words.")
    last_error_at: dt.datetime | None

    @classmethod
    def of(cls, sub: WebhookSubscription, figures: webhooks.Figures) -> WebhookOut:
        return cls(id=sub.id, name=sub.name, url=sub.url, types=list(sub.types or []), active=bool(sub.active),
                   has_secret=bool(sub.secret), created_at=webhooks.aware(sub.created_at),
                   backlog=figures.backlog, dead=figures.dead,
                   last_delivered_at=webhooks.aware(sub.last_delivered_at), last_error=sub.last_error,
                   last_error_at=webhooks.aware(sub.last_error_at))


class WebhookCreated(WebhookOut):
    secret: str = Field(description="The signing secret: shown in this answer only. Store it in the receiver now.")


class WebhookList(BaseModel):
    data: list[WebhookOut] = Field(description="By name.")


class SecretOut(BaseModel):
    id: int
    secret: str = Field(description="The new signing secret, shown in this answer only; the old one no longer "
                                    "signs anything.")


class ReplayIn(Request):
    model_config = ConfigDict(extra="forbid", strict=True, validate_by_name=True)

    from_: AwareDatetime = Field(alias="from", description="The start of the range (event occurred_at), ISO 8601 "
                                                           "with a time zone, e.g. 2026-12-01T00:00:00Z.")
    to: AwareDatetime = Field(description="The end of the range (inclusive), not in the future.")


class ReplayOut(BaseModel):
    replayed: int = Field(description=f"How many events were queued to be sent again (at most "
                                      f"{webhooks.REPLAY_MAX:,} per replay).")


class RedeliverIn(Request):
    ids: list[Annotated[int, Field(ge=1)]] | None = Field(None, max_length=webhooks.REDELIVER_MAX, description=(
        "The dead deliveries to send again (ids from GET …/deliveries?status=dead)."))
    all_dead: bool = Field(False, description="true: every dead delivery of this subscription.")


class RedeliverOut(BaseModel):
    redelivered: int = Field(description="How many dead deliveries are pending again (due now, three more days).")


class DeliveryQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["pending", "delivered", "dead"] | None = Field(None, description="Only deliveries in this state.")
    before: int | None = Field(None, ge=1, description="next_before of the previous page: older deliveries.")
    limit: int = Field(50, ge=1, le=500, description="At most this many deliveries.")


class DeliveryOut(BaseModel):
    id: int
    event_id: str = Field(description="The event's id (Station-Event-Id).")
    type: str
    position: int
    key: str
    occurred_at: dt.datetime
    status: Literal["pending", "delivered", "dead"]
    replay: bool = Field(description="Made by a replay or by 'deliver again'.")
    attempts: int
    next_at: dt.datetime | None = Field(description="When it is tried next (pending only).")
    last_status: int | None = Field(description="The receiver's HTTP status at the last attempt.")
    last_error: str | None
    created_at: dt.datetime
    delivered_at: dt.datetime | None

    @classmethod
    def of(cls, row: webhooks.DeliveryRow) -> DeliveryOut:
        return cls(id=row.id, event_id=row.event_uid, type=row.type, position=row.position, key=row.key,
                   occurred_at=row.occurred_at, status=row.status, replay=row.replay, attempts=row.attempts,
                   next_at=row.next_at, last_status=row.last_status, last_error=row.last_error,
                   created_at=row.created_at, delivered_at=row.delivered_at)


class DeliveryPage(BaseModel):
    data: list[DeliveryOut] = Field(description="Newest first.")
    next_before: int | None = Field(description="Pass as before for the next (older) page; null on the last page.")
