"""Events out to the ERP: the outbox every floor change writes into, and the feed that reads it.

Writing
    ``record(session, type, body, key=..., by=actor)`` queues an event in the caller's transaction; at
    its commit (``before_commit``, installed for every session by ``install()``) the queued events are
    inserted, so an event exists exactly when the change it describes was committed (a rolled-back
    savepoint takes the events recorded inside it). The insert moves the ``event_heads`` row on and takes
    the ``position`` numbers — the feed's order — after it; the head's row lock is held to the commit
    (SQLite serialises writers already), so the next writer numbers only after this one has committed:
    positions follow commit order and have no gaps, and a reader that asks for ``position > cursor``
    never skips an event that commits later and never sees one twice. The lock is held only from that
    one statement (PostgreSQL; two on SQLite) to the commit, not for the whole transaction. Straight to
    the driver, not the ORM: this runs on every receipt, pick and move (the outbox must add under 10 %).

Bodies
    A body stands alone (the ERP need not call back): ``services/event_bodies.py`` gives the same shape
    for the same thing (a lot, an item, a location) in every event type. Quantities are decimal strings
    (``event_bodies.qty_text``: "40", "12.345"), never JSON numbers a reader would take through a float.
    Every event carries ``"schema": 1``; a change that breaks a reader of a type makes a new schema number
    for it.

Reading
    ``feed(session, after, types, limit)`` — what ``GET /api/v1/events`` answers.
"""
from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any, Iterable

from sqlalchemy import event as sa_event
from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from .. import clock
from ..models import Event, EventHead, Operator
from ..models import StationDevice as Station
from .actor import NOBODY, Actor
from .errors import Invalid

SCHEMA = 1
HEAD = "events"

# Every type Station writes, with what it means (the OpenAPI document and the subscription page show these).
TYPES: dict[str, str] = {
    "receipt.booked": "Goods received: a new lot (or more of one) booked at a location, pallet SSCC if any.",
    "lot.moved": "Stock of a lot moved from one location to another (put-away, move, pallet move).",
    "pick.confirmed": "A picker picked a quantity of a lot for an order line.",
    "pick.undone": "A pick was taken back: the stock is at its location again.",
    "order.shipped": "An order shipped complete: every line, lot and quantity.",
    "order.short_shipped": "An order shipped with lines short: what went, what did not and why.",
    "lot.held": "A lot was put on hold or in quarantine: it may not be picked.",
    "lot.released": "A held or quarantined lot was released.",
    "lot.recalled": "A lot was recalled.",
    "lot.expired": "A lot passed its expiry date and was marked expired.",
    "production.finished": "A production run made a lot from component lots.",
    "count.booked": "A stock count was booked: the differences, lot by lot.",
    "return.booked": "A customer return was booked into quarantine.",
    "label.failed": "A print job gave up: the label was not printed.",
}

_QUEUE = "station.events.queue"


@dataclass(frozen=True)
class Recorded:
    """An event waiting in its transaction for the commit that writes it."""

    uid: str
    type: str
    key: str
    transaction: Any  # the SessionTransaction it was recorded in: a savepoint rolled back drops it


def record(session: Session, type: str, body: dict[str, Any], *, key: str, by: Actor = NOBODY,
           at: dt.datetime | None = None) -> Recorded:
    """Add an event of `type` to this transaction; `key` orders deliveries ("lot:<number>",
    "order:<number>"). Written at commit with its position; gone with a rollback (of the transaction, or
    of the savepoint it was recorded in), like the change it describes."""
    return record_many(session, type, [(key, body)], by=by, at=at)[0]


def record_many(session: Session, type: str, keyed_bodies: Iterable[tuple[str, dict[str, Any]]], *,
                by: Actor = NOBODY, at: dt.datetime | None = None) -> list[Recorded]:
    """`record` for many events of one type (the expiry job marks thousands of lots in a run), in order."""
    if type not in TYPES:
        raise ValueError(f"unknown event type {type!r}")
    at = at or clock.now()
    transaction = session.get_nested_transaction() or session.get_transaction()
    queue = session.info.setdefault(_QUEUE, [])
    made = []
    for key, body in keyed_bodies:
        uid = str(uuid.uuid4())
        queue.append((transaction, (uid, type, SCHEMA, at, by.station_id, by.operator_id, by.token_id, key[:100],
                                    body)))
        made.append(Recorded(uid, type, key[:100], transaction))
    return made


def _soft_rollback(session: Session, previous) -> None:
    """A rolled-back transaction or savepoint takes the events recorded in it (and in savepoints inside it)."""
    queue = session.info.get(_QUEUE)
    if queue:
        queue[:] = [(t, row) for t, row in queue if not _within(t, previous)]


def _within(transaction, outer) -> bool:
    while transaction is not None:
        if transaction is outer:
            return True
        transaction = transaction.parent
    return False


def _before_commit(session: Session) -> None:
    queue = session.info.pop(_QUEUE, None)
    if queue:
        write_queued(session, [row for _, row in queue])


# --- writing at commit, in commit order ------------------------------------------------------------------

_COLUMNS_IN = ("uid", "type", "schema", "occurred_at", "station_id", "operator_id", "token_id", "key", "body")


def write_queued(session: Session, rows: list[tuple]) -> None:
    """Insert `rows` (values in _COLUMNS_IN order) numbered after the head, moving the head on, in the
    transaction that is committing: the head's row lock (taken by its UPDATE) is held to the commit, so the
    next writer numbers after this one has committed — positions in commit order, no gaps. PostgreSQL:
    one statement; SQLite (writers serialised already): the head's UPDATE ... RETURNING, then the rows."""
    connection = session.connection()
    dialect = connection.dialect
    processors = [Event.__table__.c[name].type._cached_bind_processor(dialect) for name in _COLUMNS_IN]
    values = [[value if process is None or value is None else process(value)
               for process, value in zip(processors, row)] for row in rows]
    cursor = connection.connection.dbapi_connection.cursor()
    try:
        if dialect.name == "postgresql":
            written = _write_postgresql(cursor, values)
        else:
            written = _write_sqlite(cursor, values)
        if not written:  # no head row (a database whose tables were emptied by hand): make it, then again
            _seed(session)
            write = _write_postgresql if dialect.name == "postgresql" else _write_sqlite
            if not write(cursor, values):
                raise RuntimeError("the event head could not be made")
    finally:
        cursor.close()


# Constant statements (no SQL is built from strings here): the rows go in as arrays on PostgreSQL.
_INSERT_POSTGRESQL = (
    "WITH head AS (UPDATE event_heads SET last_position = last_position + %(n)s WHERE name = %(head)s "
    "RETURNING last_position) "
    "INSERT INTO events (position, uid, type, schema, occurred_at, station_id, operator_id, token_id, key, body) "
    "SELECT head.last_position - %(n)s + v.ord, v.uid, v.type, v.schema, v.occurred_at, v.station_id, "
    "v.operator_id, v.token_id, v.key, v.body::json FROM head CROSS JOIN "
    "unnest(%(uid)s::text[], %(type)s::text[], %(schema)s::int[], %(occurred_at)s::timestamptz[], "
    "%(station_id)s::int[], %(operator_id)s::int[], %(token_id)s::int[], %(key)s::text[], %(body)s::text[]) "
    "WITH ORDINALITY AS v(uid, type, schema, occurred_at, station_id, operator_id, token_id, key, body, ord)")
_MOVE_SQLITE = "UPDATE event_heads SET last_position = last_position + ? WHERE name = ? RETURNING last_position"
_INSERT_SQLITE = ("INSERT INTO events (position, uid, type, schema, occurred_at, station_id, operator_id, token_id, "
                  "key, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")


def _write_postgresql(cursor, values: list[list]) -> bool:
    params = {name: [row[i] for row in values] for i, name in enumerate(_COLUMNS_IN)}
    cursor.execute(_INSERT_POSTGRESQL, {"n": len(values), "head": HEAD, **params})
    return cursor.rowcount == len(values)


def _write_sqlite(cursor, values: list[list]) -> bool:
    n = len(values)
    cursor.execute(_MOVE_SQLITE, (n, HEAD))
    head = cursor.fetchone()
    if head is None:
        return False
    first = head[0] - n + 1
    cursor.executemany(_INSERT_SQLITE, [(first + i, *row) for i, row in enumerate(values)])
    return True


def _seed(session: Session) -> None:
    """The head row of a database whose tables were emptied by hand: from the last event."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    last = session.scalar(select(func.max(Event.position))) or 0
    session.execute(dialect.insert(EventHead).values(name=HEAD, last_position=last)
                    .on_conflict_do_nothing(index_elements=["name"]))


def install() -> None:
    """Write every session's events at its commit (idempotent)."""
    for name, fn in (("before_commit", _before_commit), ("after_soft_rollback", _soft_rollback)):
        if not sa_event.contains(Session, name, fn):
            sa_event.listen(Session, name, fn)


# --- reading ---------------------------------------------------------------------------------------------

MAX_LIMIT = 1000


@dataclass(frozen=True)
class Page:
    events: list[dict[str, Any]]  # as_dict of each
    next: int  # the cursor to ask with next time


def parse_cursor(text: str | None) -> int:
    """A feed cursor as the API takes it: empty (from the start) or the `next` of an earlier page."""
    if text is None or text == "":
        return 0
    if not text.isascii() or not text.isdigit() or len(text) > 18:
        raise Invalid("The cursor 'after' must be the 'next' value of an earlier page (a whole number), or left out "
                      "to start from the first event.", code="invalid_cursor")
    return int(text)


def parse_types(text: str | Iterable[str] | None) -> list[str]:
    """Event types from `types=a,b` (or a list); every one must be known."""
    if text is None:
        return []
    names = [t.strip() for t in (text.split(",") if isinstance(text, str) else text) if t and t.strip()]
    unknown = [t for t in names if t not in TYPES]
    if unknown:
        raise Invalid(f"Unknown event type {unknown[0][:60]!r}; the types are: {', '.join(TYPES)}.",
                      code="unknown_event_type")
    return list(dict.fromkeys(names))


def feed(session: Session, after: int = 0, types: list[str] | None = None, limit: int = 100) -> Page:
    """Committed events after position `after`, in position (= commit) order, at most `limit`."""
    limit = max(1, min(limit, MAX_LIMIT))
    # The newest position first: on PostgreSQL each statement sees what had committed when it began, so
    # the rows below see at least every event up to `newest` — a cursor moved to it skips none.
    newest = session.scalar(select(func.max(Event.position))) or 0
    if after > newest:
        # Never a `next` this feed gave: a database restored from an older backup numbers new events again
        # from its head, and a reader waiting past it would skip them without a word.
        raise Invalid(f"The cursor 'after' ({after}) is past the newest event ({newest}): it is not a 'next' this "
                      "feed gave (was the database restored from an older backup?). Leave 'after' out to read "
                      f"from the first event, or pass after={newest} to read only what comes next.",
                      code="cursor_ahead", field="after")
    query = select(*_COLUMNS).outerjoin(Station, Station.id == Event.station_id) \
        .outerjoin(Operator, Operator.id == Event.operator_id) \
        .where(Event.position > after, Event.position <= newest)
    if types:
        query = query.where(Event.type.in_(types))
    rows = session.execute(query.order_by(Event.position).limit(limit)).all()
    if len(rows) == limit:
        return Page([_as_dict(r) for r in rows], rows[-1].position)
    # Fewer than asked: every event up to `newest` has been looked at (those of other types too).
    return Page([_as_dict(r) for r in rows], max(after, newest))


def by_ids(session: Session, ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """Events by row id, as the feed sends them (the webhook worker's bodies)."""
    rows = session.execute(select(Event.id, *_COLUMNS).outerjoin(Station, Station.id == Event.station_id)
                           .outerjoin(Operator, Operator.id == Event.operator_id)
                           .where(Event.id.in_(list(ids)))).all()
    return {r.id: _as_dict(r) for r in rows}


_COLUMNS = (Event.uid, Event.type, Event.schema, Event.position, Event.occurred_at, Event.key, Event.body,
            Station.name.label("station"), Operator.badge.label("badge"), Operator.name.label("operator"),
            Event.token_id)


def _iso(moment: dt.datetime) -> str:
    """UTC, ISO 8601 with Z (SQLite gives back the naive UTC wall time it stored)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")


def _as_dict(r) -> dict[str, Any]:
    """An event as the feed and the webhooks send it: the envelope, then the type's own `data`."""
    return {"id": r.uid, "type": r.type, "schema": r.schema, "position": r.position,
            "occurred_at": _iso(r.occurred_at), "station": r.station,
            "operator": {"badge": r.badge, "name": r.operator} if r.badge else None,
            "via_api": r.token_id is not None, "key": r.key, "data": r.body}
