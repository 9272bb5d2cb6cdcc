"""The event feed an ERP polls (issue 16): every committed event, in commit order, from a cursor.

    GET /events?after=<next>&types=a,b&limit=   {"events": [...], "next": "<cursor>"}
    GET /events/types                           every type, what it means, its schema number

Workflow "events" (supervisor and admin tokens: an ERP's integration token is one of these); the floor
roles get 403. Positions are given at commit in commit order (services/events.py), so a reader asking
for what comes after its cursor never skips an event that committed late and never sees one twice.
A garbage cursor, one past the newest event, an unknown type or a limit out of 1..1000 is a 422 naming
the field; nothing is read.
"""
from __future__ import annotations

from typing import Callable, TypeVar

from .. import get_db
from ..services import events
from ..services.errors import Invalid
from .core import route
from .event_schemas import EventPage, EventQuery, EventTypeList, EventTypeOut

T = TypeVar("T")


def _field(parse: Callable[[str | None], T], value: str | None, field: str) -> T:
    """The service's refusal of a query value, naming the parameter like the other list routes do."""
    try:
        return parse(value)
    except Invalid as exc:
        raise Invalid(exc.message, code=exc.code, field=field, **exc.details) from None


@route("GET", "/events", query=EventQuery, response=EventPage, workflow="events", action="Reading the event feed")
def event_feed(query: EventQuery) -> dict:
    """Events in commit order after a cursor: pass each page's next as after to follow the feed."""
    after = _field(events.parse_cursor, query.after, "after")
    types = _field(events.parse_types, query.types, "types")
    with get_db().read() as session:
        page = events.feed(session, after=after, types=types, limit=query.limit)
    # Straight from the service's dicts (already the EventOut shape): an ERP reads up to 1,000 a page.
    return {"events": page.events, "next": str(page.next)}


@route("GET", "/events/types", response=EventTypeList, workflow="events", action="Reading the event feed")
def event_types() -> EventTypeList:
    """Every event type, with what it means and the version of its data."""
    return EventTypeList(data=[EventTypeOut(type=name, description=words, schema=events.SCHEMA)
                               for name, words in events.TYPES.items()])
