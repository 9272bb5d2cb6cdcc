"""Webhook deliveries, the worker's side: fan-out, claim, outcome and backoff (no HTTP here; the POST is
station/processes/webhook_post.py, the loop station/processes/webhook_worker.py).

Fan-out
    Each active subscription has a `fanned_position`: the feed position up to which its deliveries have
    been made (a new subscription starts at the newest position then; older events go by a replay). The
    events after it become `WebhookDelivery` rows for the types it takes, and `fanned_position` moves on,
    in one transaction holding the subscription's row (PostgreSQL: FOR UPDATE SKIP LOCKED; SQLite
    serialises writers): each event becomes exactly one delivery per subscription, however many workers
    run. Positions follow commit order with no gaps (services/events.py), so a position seen committed
    means every lower one is committed too: nothing is passed over.

Claim
    A worker takes one pending delivery that is due, not claimed by a live worker, of an active
    subscription, and with no pending delivery of the same subscription and key before it: one key's
    events go out in position order, one at a time, and one key waiting on its backoff does not hold up
    the others. The claim (claimed_by, claimed_until) is written in a short transaction (PostgreSQL: FOR
    UPDATE SKIP LOCKED, and the row is checked again once locked, so a claim committed meanwhile by
    another worker is seen); the POST happens outside any transaction.

Outcome
    Written only while the claim is still the worker's (a conditional UPDATE). A worker killed mid-POST
    leaves a claim that runs out at `claimed_until` (the POST's timeout and a margin, so a live worker
    has always finished its POST by then); another worker then sends it again: at least once. A 2xx is
    delivered; anything else waits `backoff()` and is tried again, until the delivery is older than the
    give-up window: then it is dead (the page's "deliver again" makes it pending).
"""
from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from typing import Any, Mapping

from sqlalchemy import exists, func, insert, or_, select, update
from sqlalchemy.orm import Session, aliased

from .. import clock
from ..models import DeliveryStatus, Event, WebhookDelivery, WebhookSubscription
from . import events

PENDING, DELIVERED, DEAD = DeliveryStatus.PENDING, DeliveryStatus.DELIVERED, DeliveryStatus.DEAD
FAN_OUT_BATCH = 500
MAX_ERROR = 1000


@dataclass(frozen=True)
class Settings:
    """STATION_WEBHOOK_* (station/config.py WEBHOOK_DELIVERY), in the units the worker uses."""

    timeout_s: float = 10.0
    retry_base_s: float = 10.0
    retry_max_s: float = 3600.0
    give_up: dt.timedelta = dt.timedelta(hours=72)

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None = None) -> Settings:
        """From the app's config; from the environment when there is no app (or it lacks them)."""
        if config is None or "WEBHOOK_TIMEOUT_SECONDS" not in config:
            from ..config import webhook_delivery_settings

            config = webhook_delivery_settings()
        return cls(timeout_s=float(config["WEBHOOK_TIMEOUT_SECONDS"]),
                   retry_base_s=float(config["WEBHOOK_RETRY_BASE_SECONDS"]),
                   retry_max_s=float(config["WEBHOOK_RETRY_MAX_SECONDS"]),
                   give_up=dt.timedelta(hours=float(config["WEBHOOK_GIVE_UP_HOURS"])))

    @property
    def claim_for(self) -> dt.timedelta:
        """How long a claim lasts: the name lookup (bounded by `lookup_s`), the POST (bounded by the
        timeout) and a margin for the database, so a live worker is done with its POST before the claim
        runs out and another worker may send the delivery again."""
        return dt.timedelta(seconds=2 * self.timeout_s + 5)

    @property
    def lookup_s(self) -> float:
        """Past this long after the claim the worker does not start the POST (a slow name lookup)."""
        return self.timeout_s + 2


def _utc(moment: dt.datetime) -> dt.datetime:
    """SQLite gives back the naive UTC time it stored."""
    return moment.replace(tzinfo=dt.timezone.utc) if moment.tzinfo is None else moment


# --- fan-out -------------------------------------------------------------------------------------------


def fan_out_needed(session: Session) -> bool:
    """A read: is some active subscription behind the newest event? (Idle workers ask this before taking
    a write transaction, so polling does not hold SQLite's write lock.)"""
    newest = session.scalar(select(func.max(Event.position))) or 0
    behind = select(WebhookSubscription.id).where(WebhookSubscription.active.is_(True),
                                                  WebhookSubscription.fanned_position < newest).limit(1)
    return session.scalar(behind) is not None


def fan_out(session: Session, *, batch: int = FAN_OUT_BATCH, now: dt.datetime | None = None) -> int:
    """Make the deliveries of up to `batch` new events for each active subscription not being fanned out
    by another worker; how many were made. Call inside a write transaction."""
    now = now or clock.now()
    subscriptions = session.execute(
        select(WebhookSubscription.id, WebhookSubscription.fanned_position, WebhookSubscription.types)
        .where(WebhookSubscription.active.is_(True)).order_by(WebhookSubscription.id)
        .with_for_update(skip_locked=True)).all()
    if not subscriptions:
        return 0
    # Read after the locks: every event up to `newest` is committed and visible to the next statements.
    newest = session.scalar(select(func.max(Event.position))) or 0
    made = 0
    for sub in subscriptions:
        if sub.fanned_position >= newest:
            continue
        query = select(Event.id, Event.position, Event.key) \
            .where(Event.position > sub.fanned_position, Event.position <= newest)
        if sub.types:
            query = query.where(Event.type.in_(list(sub.types)))
        rows = session.execute(query.order_by(Event.position).limit(batch)).all()
        if rows:
            session.execute(insert(WebhookDelivery), [
                {"subscription_id": sub.id, "event_id": r.id, "position": r.position, "key": r.key,
                 "status": PENDING, "replay": False, "attempts": 0, "next_at": now, "created_at": now}
                for r in rows])
            made += len(rows)
        # A short batch means every event up to `newest` was looked at (those of other types too).
        fanned = rows[-1].position if len(rows) == batch else newest
        session.execute(update(WebhookSubscription).where(WebhookSubscription.id == sub.id)
                        .values(fanned_position=fanned))
    return made


# --- claim ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    """One delivery a worker holds: where to, signed with what, and the event as sent."""

    id: int
    subscription_id: int
    url: str
    secret: str
    event: dict[str, Any]
    position: int
    key: str
    attempts: int
    created_at: dt.datetime
    claimed_at: dt.datetime


def _due(now: dt.datetime):
    earlier = aliased(WebhookDelivery)
    # `position <=` on its own lets the probe use ix_webhook_deliveries_key's range (the id settles a
    # replayed event pending twice at one position).
    ahead = exists().where(earlier.subscription_id == WebhookDelivery.subscription_id,
                           earlier.key == WebhookDelivery.key, earlier.position <= WebhookDelivery.position,
                           earlier.status == PENDING,
                           or_(earlier.position < WebhookDelivery.position, earlier.id < WebhookDelivery.id))
    return (WebhookDelivery.status == PENDING, WebhookDelivery.next_at <= now,
            or_(WebhookDelivery.claimed_until.is_(None), WebhookDelivery.claimed_until < now),
            WebhookSubscription.active.is_(True), ~ahead)


def anything_due(session: Session, now: dt.datetime | None = None) -> bool:
    """A read: is some delivery ready to be claimed?"""
    query = select(WebhookDelivery.id).join(WebhookSubscription,
                                            WebhookSubscription.id == WebhookDelivery.subscription_id)
    return session.scalar(query.where(*_due(now or clock.now())).limit(1)) is not None


def claim(session: Session, worker_id: str, settings: Settings, *, now: dt.datetime | None = None) -> Claim | None:
    """Claim the next due delivery for `worker_id` (see the module docstring), or None. Call inside a
    write transaction; the claim holds once it commits."""
    now = now or clock.now()
    row = session.execute(
        select(WebhookDelivery.id, WebhookDelivery.subscription_id, WebhookDelivery.event_id,
               WebhookDelivery.position, WebhookDelivery.key, WebhookDelivery.attempts,
               WebhookDelivery.created_at, WebhookSubscription.url, WebhookSubscription.secret)
        .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
        # next_at order walks ix_webhook_deliveries_due and stops at the first claimable row (ordering by
        # position sorted every due row, with its look behind, for each claim: 40 ms at 300 pending).
        .where(*_due(now)).order_by(WebhookDelivery.next_at).limit(1)
        .with_for_update(skip_locked=True, of=WebhookDelivery)).first()
    if row is None:
        return None
    session.execute(update(WebhookDelivery).where(WebhookDelivery.id == row.id)
                    .values(claimed_by=worker_id[:80], claimed_until=now + settings.claim_for))
    event = events.by_ids(session, [row.event_id]).get(row.event_id)
    return Claim(row.id, row.subscription_id, row.url, row.secret, event, row.position, row.key, row.attempts,
                 _utc(row.created_at), now)


# --- outcome -------------------------------------------------------------------------------------------


def backoff(attempts: int, settings: Settings, rng: random.Random | None = None) -> float:
    """Seconds to wait after the `attempts`-th failed try: exponential backoff with full jitter — a random
    time up to base * 2^(attempts-1), at most the cap — so receivers coming back from an outage are not
    hit by every worker's retries at the same moment."""
    bound = min(settings.retry_max_s, settings.retry_base_s * 2.0 ** min(max(attempts, 1) - 1, 60))
    return (rng or random).uniform(0.0, bound)


def _held(claim: Claim, worker_id: str):
    return (WebhookDelivery.id == claim.id, WebhookDelivery.claimed_by == worker_id[:80],
            WebhookDelivery.status == PENDING)


def record_delivered(session: Session, claim: Claim, worker_id: str, status: int, *,
                     now: dt.datetime | None = None) -> bool:
    """The receiver answered 2xx. False when the claim was no longer this worker's (nothing written)."""
    now = now or clock.now()
    done = session.execute(update(WebhookDelivery).where(*_held(claim, worker_id))
                           .values(status=DELIVERED, delivered_at=now, last_status=status, last_error=None,
                                   attempts=WebhookDelivery.attempts + 1, claimed_by=None, claimed_until=None))
    if done.rowcount != 1:
        return False
    session.execute(update(WebhookSubscription).where(
        WebhookSubscription.id == claim.subscription_id,
        or_(WebhookSubscription.last_delivered_at.is_(None), WebhookSubscription.last_delivered_at < now))
        .values(last_delivered_at=now))
    return True


def record_failed(session: Session, claim: Claim, worker_id: str, status: int | None, error: str,
                  settings: Settings, *, now: dt.datetime | None = None,
                  rng: random.Random | None = None) -> DeliveryStatus | None:
    """A failed try: tried again after a backoff, or dead once the delivery is older than the give-up
    window. Returns the new status (None when the claim was no longer this worker's: nothing written)."""
    now = now or clock.now()
    attempts = claim.attempts + 1
    give_up_at = claim.created_at + settings.give_up
    if now >= give_up_at:
        status_now, next_at = DEAD, now
        error = f"{error} Gave up after {attempts} tries over {_span(now - claim.created_at)}."
    else:
        # Never later than the end of the window: the last try is made at its end.
        status_now = PENDING
        next_at = min(now + dt.timedelta(seconds=backoff(attempts, settings, rng)), give_up_at)
    error = error[:MAX_ERROR]
    done = session.execute(update(WebhookDelivery).where(*_held(claim, worker_id))
                           .values(status=status_now, attempts=WebhookDelivery.attempts + 1, next_at=next_at,
                                   last_status=status, last_error=error, claimed_by=None, claimed_until=None))
    if done.rowcount != 1:
        return None
    session.execute(update(WebhookSubscription).where(WebhookSubscription.id == claim.subscription_id)
                    .values(last_error=error, last_error_at=now))
    return status_now


def _span(delta: dt.timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:.0f} hours" if hours >= 2 else f"{delta.total_seconds() / 60:.0f} minutes"
