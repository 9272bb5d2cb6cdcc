"""The bodies of the event feed (GET /events, GET /events/types): its query, the envelope of each event
as the feed and the webhooks send it, and the list of event types with what they mean."""
from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..services import events

# The types as literal values (not an enum): a query parameter's schema is inlined in the OpenAPI document,
# and the document lists every value of a response's `type` with it.
EventType = Literal[tuple(events.TYPES)]
# A Markdown list (OpenAPI descriptions are CommonMark): each type and what it means.
TYPE_WORDS = "".join(f"\n- `{name}`: {words}" for name, words in events.TYPES.items())


class EventQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Strings checked by the view (services/events.parse_cursor, parse_types), which word the refusal.
    after: str | None = Field(None, max_length=40, description=(
        "The `next` of the previous page: the events committed after it. Leave it out to start from the "
        "first event. Treat it as opaque text; store it only once the page's events are processed. A cursor "
        "past the newest event (not one this feed gave: a database restored from an older backup) is refused, "
        "422 cursor_ahead."))
    types: str | None = Field(None, max_length=2000, description=(
        "Only events of these types, comma-separated (e.g. `lot.held,lot.released`); the cursor moves past "
        "events of other types all the same. The types:" + TYPE_WORDS))
    limit: int = Field(100, ge=1, le=events.MAX_LIMIT, description="At most this many events per page.")


class EventOperator(BaseModel):
    badge: str = Field(description="The operator's badge.")
    name: str = Field(description="The operator's name.")


class EventOut(BaseModel):
    # `schema` is a BaseModel attribute already: the field is schema_, read and written as "schema".
    model_config = ConfigDict(validate_by_name=True, serialize_by_alias=True)

    id: str = Field(json_schema_extra={"format": "uuid"},
                    description="The event's own id (a UUID): the same in the feed, every webhook delivery and "
                                "every replay, so a receiver can process each event exactly once by it.")
    type: EventType = Field(description="What happened, one of:" + TYPE_WORDS)
    schema_: int = Field(alias="schema", description=(
        "The version of this type's `data` (1 today); a change that would break a reader of a type gets a "
        "new number."))
    position: int = Field(description="The event's place in commit order: 1, 2, 3 … without gaps.")
    occurred_at: dt.datetime = Field(description="When it happened, UTC (ISO 8601 with Z).")
    station: str | None = Field(description="The station (PC or tablet) it was done at, if any.")
    operator: EventOperator | None = Field(description="The operator who did it, if someone was signed in.")
    via_api: bool = Field(description="True when it was done through the API (by a token), not on the floor.")
    key: str = Field(description='What it is about, for ordering per thing: "lot:<number>" or "order:<number>".')
    data: dict[str, Any] = Field(description=(
        "The type's own facts, standing alone: lot number, item SKU and GTINs, quantities, locations, "
        "supplier lot, expiry, SSCC, order and line as the type has them. Every quantity is a decimal string "
        "in the item's unit (`lot.item.unit`), exact to the last digit: `\"40\"`, `\"12.345\"`, never a JSON "
        "number, so it need never pass through a binary float."))


class EventPage(BaseModel):
    events: list[EventOut] = Field(description="In commit order (position), oldest first.")
    next: str = Field(description=(
        "Pass as `after` to get the events committed after this page. Never null: with no new events it is "
        "the cursor again (poll later with it); it moves past events the `types` filter left out."))


class EventTypeOut(BaseModel):
    model_config = ConfigDict(validate_by_name=True, serialize_by_alias=True)

    type: EventType
    description: str = Field(description="What an event of this type means.")
    schema_: int = Field(alias="schema", description="The current version of its `data`.")


class EventTypeList(BaseModel):
    data: list[EventTypeOut] = Field(description="Every event type Station writes.")
