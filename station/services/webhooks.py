"""Webhook subscriptions, for admins: add, change, rotate the secret, see the backlog and the dead
deliveries, deliver dead ones again, replay a time range of events.

Delivery itself (fan-out of new events into deliveries, the worker, the signature) is
services/webhook_delivery's; the contract between the two:

- a new subscription starts at the newest event position (`fanned_position`): it gets events committed
  from then on; history goes out by a replay;
- a replay or "deliver again" writes pending deliveries (replay=true, due now, attempts 0, a new three-day
  window from created_at); the worker claims them like any other.

The secret signs every delivery (HMAC-SHA256). It is shown once: in the answer that made it (create, or
rotate); nothing reads it back afterwards — pages and answers say only that one is set.

Bad input is refused in words before anything is written; nothing here commits (the caller's
`db.write()` does), so a refused request leaves nothing behind. Each change is written to the
`station.webhooks` log (who, which subscription, what) once its transaction commits.
"""
from __future__ import annotations

import datetime as dt
import logging
import secrets
from dataclasses import dataclass
from typing import Iterable

from sqlalchemy import and_, case, event, func, literal, select, update
from sqlalchemy.orm import Session

from .. import clock, webhook_policy
from ..models import ApiToken, DeliveryStatus, Event, Operator, WebhookDelivery, WebhookSubscription
from . import events
from .actor import NOBODY, Actor
from .errors import Conflict, Invalid, NotFound

log = logging.getLogger("station.webhooks")

NAME_MAX = 80
SECRET_MIN, SECRET_MAX = 16, 200
REPLAY_MAX = 100_000  # events in one replay: one transaction, rows a worker gets through in a while
REDELIVER_MAX = 1000  # ids named in one "deliver again"


# --- checking what was typed -----------------------------------------------------------------------


def clean_name(name: str | None) -> str:
    text = " ".join((name or "").split())
    if not text:
        raise Invalid("Give the subscription a name, e.g. 'ERP (Odoo)'.", code="invalid_name", field="name")
    if len(text) > NAME_MAX:
        raise Invalid(f"A name is at most {NAME_MAX} characters (this one has {len(text)}).",
                      code="invalid_name", field="name")
    if not text.isprintable():
        raise Invalid("A name can hold letters, digits and signs only.", code="invalid_name", field="name")
    return text


def clean_url(url: str | None, networks: Iterable) -> str:
    """The URL trimmed; Invalid in webhook_policy's words when Station may not send to it."""
    text = (url or "").strip()
    problem = webhook_policy.refusal(text, networks)
    if problem:
        raise Invalid(problem, code="invalid_url", field="url")
    return text


def clean_types(types: Iterable[str] | str | None) -> list[str]:
    """Known event types, each once; empty means every type."""
    if isinstance(types, str) or (types is not None and not isinstance(types, (list, tuple, set))):
        types = [types] if isinstance(types, str) else list(types)
    try:
        return events.parse_types(list(types or []))
    except Invalid as exc:
        raise Invalid(exc.message, code=exc.code, field="types") from None


def clean_secret(secret: str | None) -> str:
    """A given secret, or a new random one when none is given."""
    if secret is None or secret == "":
        return secrets.token_urlsafe(32)
    if not (SECRET_MIN <= len(secret) <= SECRET_MAX) or not all("!" <= c <= "~" for c in secret):
        raise Invalid(f"A secret is {SECRET_MIN} to {SECRET_MAX} letters, digits or signs, without spaces — "
                      f"or leave it out and Station makes one.", code="invalid_secret", field="secret")
    return secret


# --- who did it, for the log -----------------------------------------------------------------------

_TRACES = "station.webhook_traces"


def _author(session: Session, by: Actor) -> str:
    if by.operator_id is not None:
        row = session.execute(select(Operator.name, Operator.badge).where(Operator.id == by.operator_id)).first()
        if row is not None:
            return f"{row.name} ({row.badge})"
    if by.token_id is not None:
        name = session.scalar(select(ApiToken.name).where(ApiToken.id == by.token_id))
        return f"API token {name!r} ({by.token_id})"
    return "the station command"


def _trace(session: Session, by: Actor, sub: WebhookSubscription, what: str) -> None:
    """Logged at commit: a refused (rolled back) change leaves no line behind."""
    session.info.setdefault(_TRACES, []).append(
        (sub.name, what, _author(session, by), clock.now().strftime("%Y-%m-%d %H:%M:%S UTC")))


@event.listens_for(Session, "after_commit")
def _write_traces(session: Session) -> None:
    for name, what, author, when in session.info.pop(_TRACES, ()):
        log.warning("webhook %r: %s, by %s at %s", name, what, author, when)


@event.listens_for(Session, "after_rollback")
def _drop_traces(session: Session) -> None:
    session.info.pop(_TRACES, None)


# --- finding ---------------------------------------------------------------------------------------


def subscription(session: Session, sub_id: int, *, for_update: bool = False) -> WebhookSubscription:
    stmt = select(WebhookSubscription).where(WebhookSubscription.id == sub_id)
    sub = session.scalar(stmt.with_for_update() if for_update else stmt)
    if sub is None:
        raise NotFound(f"There is no webhook subscription {sub_id}.", code="unknown_subscription")
    return sub


def _name_taken(session: Session, name: str, other_than: int | None = None) -> None:
    query = select(WebhookSubscription.id).where(func.lower(WebhookSubscription.name) == name.lower())
    if other_than is not None:
        query = query.where(WebhookSubscription.id != other_than)
    if session.scalar(query) is not None:
        raise Conflict(f"A subscription named {name!r} exists already; choose another name.",
                       code="name_taken", field="name")


# --- changing --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Created:
    subscription: WebhookSubscription
    secret: str  # shown once, in the answer that made it


def create(session: Session, *, name: str, url: str, types: Iterable[str] | None = None,
           secret: str | None = None, networks: Iterable = (), by: Actor = NOBODY) -> Created:
    """A new, active subscription that gets the events committed from now on."""
    name, url, types, secret = clean_name(name), clean_url(url, networks), clean_types(types), clean_secret(secret)
    _name_taken(session, name)
    newest = session.scalar(select(func.max(Event.position))) or 0
    sub = WebhookSubscription(name=name, url=url, types=types, secret=secret, active=True,
                              fanned_position=newest, created_at=clock.now(), created_by_id=by.operator_id,
                              token_id=by.token_id)
    session.add(sub)
    session.flush()
    _trace(session, by, sub, f"added, sending {_types_words(types)} to {url}")
    return Created(sub, secret)


def change(session: Session, sub: WebhookSubscription, *, by: Actor = NOBODY, networks: Iterable = (),
           **fields) -> list[str]:
    """Change name, url, types and/or active (only those given); what changed, in words. Every field is
    checked before any is set."""
    unknown = set(fields) - {"name", "url", "types", "active"}
    if unknown:
        raise Invalid(f"{sorted(unknown)[0]} cannot be changed here.", code="invalid_field")
    new = {}
    if "name" in fields:
        new["name"] = clean_name(fields["name"])
        _name_taken(session, new["name"], other_than=sub.id)
    if "url" in fields:
        new["url"] = clean_url(fields["url"], networks)
    if "types" in fields:
        new["types"] = clean_types(fields["types"])
    if "active" in fields:
        if not isinstance(fields["active"], bool):
            raise Invalid("active is true or false.", code="invalid_active", field="active")
        new["active"] = fields["active"]
    done = []
    for key, value in new.items():
        old = getattr(sub, key)
        if old == value:
            continue
        setattr(sub, key, value)
        done.append(_change_words(key, old, value))
    if done:
        _trace(session, by, sub, "; ".join(done))
    return done


def _types_words(types: list[str]) -> str:
    return "every event type" if not types else ", ".join(types)


def _change_words(key: str, old, value) -> str:
    if key == "active":
        return "turned on" if value else "turned off"
    if key == "types":
        return f"now sends {_types_words(value)}"
    return f"{key} changed from {old!r} to {value!r}"


def rotate_secret(session: Session, sub: WebhookSubscription, *, by: Actor = NOBODY) -> str:
    """A new random secret (the old one stops signing at once); returned to be shown once."""
    sub.secret = secrets.token_urlsafe(32)
    _trace(session, by, sub, "secret rotated")
    return sub.secret


# --- replay and deliver again ----------------------------------------------------------------------


def aware(moment: dt.datetime | None) -> dt.datetime | None:
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=dt.timezone.utc)
    return moment


def _must_be_active(sub: WebhookSubscription) -> None:
    if not sub.active:
        raise Conflict(f"{sub.name} is turned off: nothing would be sent. Turn it on first.",
                       code="subscription_inactive")


def _takes(sub: WebhookSubscription):
    """The SQL condition: events of the types this subscription takes."""
    return Event.type.in_(sub.types) if sub.types else literal(True)


def replay(session: Session, sub: WebhookSubscription, start: dt.datetime, end: dt.datetime, *,
           by: Actor = NOBODY) -> int:
    """Send again every event of its types that occurred in [start, end]: one pending delivery each, in
    position order (so per key in order). Returns how many."""
    start, end, now = aware(start), aware(end), clock.now()
    if start is None or end is None:
        raise Invalid("Give the start and the end of the time range to replay.", code="invalid_range")
    if start > end:
        raise Invalid("The start of the range is after its end.", code="invalid_range", field="from")
    if end > now + dt.timedelta(minutes=1):
        raise Invalid("The end of the range is in the future; replay what has happened, up to now.",
                      code="invalid_range", field="to")
    _must_be_active(sub)
    where = and_(Event.position.is_not(None), Event.occurred_at >= start, Event.occurred_at <= end, _takes(sub))
    count = session.scalar(select(func.count()).select_from(Event).where(where)) or 0
    if count > REPLAY_MAX:
        raise Invalid(f"That range holds {count:,} events; a replay sends at most {REPLAY_MAX:,} at once. "
                      f"Replay a shorter range, then the next.", code="replay_too_large", count=count)
    if count == 0:
        return 0
    table = WebhookDelivery.__table__
    rows = select(literal(sub.id), Event.id, Event.position, Event.key,
                  literal(DeliveryStatus.PENDING, table.c.status.type), literal(True, table.c.replay.type),
                  literal(0), literal(now, table.c.next_at.type), literal(now, table.c.created_at.type)) \
        .where(where).order_by(Event.position)
    session.execute(table.insert().from_select(
        ["subscription_id", "event_id", "position", "key", "status", "replay", "attempts", "next_at",
         "created_at"], rows))
    _trace(session, by, sub, f"replayed {count} event{'s' if count != 1 else ''} from {start:%Y-%m-%d %H:%M} "
                             f"to {end:%Y-%m-%d %H:%M} UTC")
    return count


def deliver_again(session: Session, sub: WebhookSubscription, ids: Iterable[int] | None = None, *,
                  by: Actor = NOBODY) -> int:
    """Dead deliveries of this subscription pending again, due now, with a new three-day window: the
    ones named by `ids`, or every dead one when `ids` is None. Returns how many."""
    _must_be_active(sub)
    where = and_(WebhookDelivery.subscription_id == sub.id, WebhookDelivery.status == DeliveryStatus.DEAD)
    if ids is not None:
        wanted = sorted({int(i) for i in ids})
        if not wanted:
            raise Invalid("Choose the dead deliveries to send again.", code="no_deliveries", field="ids")
        if len(wanted) > REDELIVER_MAX:
            raise Invalid(f"At most {REDELIVER_MAX} deliveries at once; or send every dead one again.",
                          code="too_many_deliveries", field="ids")
        found = set(session.scalars(select(WebhookDelivery.id).where(where, WebhookDelivery.id.in_(wanted))
                                    .with_for_update()))
        missing = [i for i in wanted if i not in found]
        if missing:
            raise Invalid(f"Delivery {missing[0]} is not a dead delivery of {sub.name} (delivered, still being "
                          f"tried, or another subscription's); nothing was sent again.",
                          code="not_dead", field="ids", ids=missing[:20])
        where = and_(where, WebhookDelivery.id.in_(wanted))
    now = clock.now()
    result = session.execute(update(WebhookDelivery).where(where).values(
        status=DeliveryStatus.PENDING, next_at=now, attempts=0, created_at=now, replay=True, claimed_by=None,
        claimed_until=None).execution_options(synchronize_session=False))
    count = result.rowcount or 0
    if count:
        _trace(session, by, sub, f"{count} dead deliver{'ies' if count != 1 else 'y'} sent again")
    return count


# --- reading ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    backlog: int  # pending deliveries + events after fanned_position of its types
    dead: int
    pending: int
    not_fanned: int


def figures(session: Session, subs: list[WebhookSubscription]) -> dict[int, Figures]:
    """Each subscription's backlog and dead count: one grouped query over the deliveries, one count of
    the events not yet fanned out per subscription (an index range on position)."""
    if not subs:
        return {}
    ids = [s.id for s in subs]
    counts = {(r.subscription_id, r.status): r.n for r in session.execute(
        select(WebhookDelivery.subscription_id, WebhookDelivery.status, func.count().label("n"))
        .where(WebhookDelivery.subscription_id.in_(ids),
               WebhookDelivery.status.in_([DeliveryStatus.PENDING, DeliveryStatus.DEAD]))
        .group_by(WebhookDelivery.subscription_id, WebhookDelivery.status))}
    out = {}
    for sub in subs:
        waiting = session.scalar(select(func.count()).select_from(Event).where(
            Event.position > sub.fanned_position, _takes(sub))) or 0
        pending = counts.get((sub.id, DeliveryStatus.PENDING), 0)
        out[sub.id] = Figures(pending + waiting, counts.get((sub.id, DeliveryStatus.DEAD), 0), pending, waiting)
    return out


def subscriptions(session: Session) -> list[WebhookSubscription]:
    return list(session.scalars(select(WebhookSubscription).order_by(WebhookSubscription.name)))


@dataclass(frozen=True)
class DeliveryRow:
    id: int
    event_uid: str
    type: str
    position: int
    key: str
    occurred_at: dt.datetime
    status: str
    replay: bool
    attempts: int
    next_at: dt.datetime | None
    last_status: int | None
    last_error: str | None
    created_at: dt.datetime
    delivered_at: dt.datetime | None


@dataclass(frozen=True)
class DeliveryPage:
    rows: list[DeliveryRow]
    next_before: int | None  # the id to pass as `before` for the next (older) page


def parse_status(text: str | None) -> DeliveryStatus | None:
    if text is None or text == "":
        return None
    try:
        return DeliveryStatus(text)
    except ValueError:
        raise Invalid(f"There is no delivery status {text[:30]!r}; it is pending, delivered or dead.",
                      code="invalid_status", field="status") from None


def deliveries(session: Session, sub: WebhookSubscription, *, status: DeliveryStatus | None = None,
               before: int | None = None, limit: int = 50) -> DeliveryPage:
    """The subscription's deliveries, newest first, `limit` at a time before the id `before` (keyset)."""
    query = (select(WebhookDelivery.id, Event.uid, Event.type, WebhookDelivery.position, WebhookDelivery.key,
                    Event.occurred_at, WebhookDelivery.status, WebhookDelivery.replay, WebhookDelivery.attempts,
                    case((WebhookDelivery.status == DeliveryStatus.PENDING, WebhookDelivery.next_at),
                         else_=None).label("next_at"),
                    WebhookDelivery.last_status, WebhookDelivery.last_error, WebhookDelivery.created_at,
                    WebhookDelivery.delivered_at)
             .join(Event, Event.id == WebhookDelivery.event_id)
             .where(WebhookDelivery.subscription_id == sub.id))
    if status is not None:
        query = query.where(WebhookDelivery.status == status)
    if before is not None:
        query = query.where(WebhookDelivery.id < before)
    rows = session.execute(query.order_by(WebhookDelivery.id.desc()).limit(limit + 1)).all()
    more = len(rows) > limit
    out = [DeliveryRow(r.id, r.uid, r.type, r.position, r.key, aware(r.occurred_at),
                       DeliveryStatus(r.status).value, bool(r.replay), r.attempts, aware(r.next_at),
                       r.last_status, r.last_error, aware(r.created_at), aware(r.delivered_at))
           for r in rows[:limit]]
    return DeliveryPage(out, out[-1].id if more else None)

