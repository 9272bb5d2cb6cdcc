"""The audit trail: the movement ledger and the lot events, filtered, newest first, page by page.

Filters name things as people know them (a lot number, a SKU, a location code, an operator's badge,
a station's name) and dates are the site's calendar dates; `resolve` turns them into ids once and
refuses a name that matches nothing, so a typo gives a clear error instead of an empty export.

Pages are keyset pages over the id (``id < cursor ORDER BY id DESC``): the indexes of migration 0006
(operator, station, from/to location, lot — each with id) let a page of a 5-million-row ledger cost
the same as the first. The CSV export walks the same query through a server-side cursor in chunks
(`yield_per`), so memory stays flat however many rows it sends.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, replace
from typing import Iterator

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, aliased

from .. import clock
from ..db import Database
from ..ids import MAX_DIGITS, MAX_ID
from ..spreadsheet import csv_line, qty_cell, safe_cell
from ..models import (ApiToken, Customer, Item, Location, Lot, LotEvent, Movement, Operator, Order, OrderLine,
                      StationDevice)
from .actor import who_column
from .errors import Invalid

PAGE = 50
MAX_PAGE = 1000
EXPORT_CHUNK = 2000  # rows fetched per round trip while streaming


# --- filters ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    """What the user asked for, as typed (every field optional)."""

    lot: str | None = None  # lot number
    item: str | None = None  # SKU
    location: str | None = None  # location code (goods moved from or to it)
    operator: str | None = None  # badge
    station: str | None = None  # station name
    date_from: dt.date | None = None  # site-local dates, both included
    date_to: dt.date | None = None

    def as_args(self) -> dict[str, str]:
        """The filters as query-string arguments (for links and the export)."""
        values = {"lot": self.lot, "item": self.item, "location": self.location, "operator": self.operator,
                  "station": self.station, "from": self.date_from and self.date_from.isoformat(),
                  "to": self.date_to and self.date_to.isoformat()}
        return {k: v for k, v in values.items() if v}


@dataclass(frozen=True)
class Resolved:
    """The filters as ids and UTC bounds."""

    lot_id: int | None = None
    item_id: int | None = None
    location_id: int | None = None
    operator_id: int | None = None
    station_id: int | None = None
    start: dt.datetime | None = None  # ts >= start
    end: dt.datetime | None = None  # ts < end


def _clean(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def parse_date(text: str | None, what: str) -> dt.date | None:
    """A YYYY-MM-DD date typed or picked in a form; Invalid in words for anything else."""
    text = _clean(text)
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise Invalid(f"The {what} date must be a date like 2026-06-15 (got {text[:20]!r}).",
                      code="invalid_date", field=what) from None


def filters_from(args) -> Filters:
    """Filters from a query string (a page form or the API); bad dates are Invalid."""
    return Filters(lot=_clean(args.get("lot")), item=_clean(args.get("item")),
                   location=_clean(args.get("location")), operator=_clean(args.get("operator")),
                   station=_clean(args.get("station")), date_from=parse_date(args.get("from"), "from"),
                   date_to=parse_date(args.get("to"), "to"))


def day_bounds(date_from: dt.date | None, date_to: dt.date | None) -> tuple[dt.datetime | None, dt.datetime | None]:
    """Site-local dates (both included) as UTC instants: [start of `date_from`, start of the day after
    `date_to`)."""
    zone = clock.site_zone()

    def instant(day: dt.date | None, days_after: int) -> dt.datetime | None:
        try:
            return dt.datetime.combine(day + dt.timedelta(days=days_after), dt.time(0),
                                       tzinfo=zone).astimezone(dt.timezone.utc) if day else None
        except OverflowError:  # 9999-12-31 or 0001-01-01: the calendar's ends, so no bound at all
            return None

    return instant(date_from, 0), instant(date_to, 1)


def _one(session: Session, column, value: str, what: str, field: str) -> int:
    found = session.scalar(select(column.table.c.id).where(column == value))
    if found is None:
        raise Invalid(f"There is no {what} {value!r} — check the spelling, or clear that filter.",
                      code=f"unknown_{field}", field=field)
    return found


def resolve(session: Session, f: Filters) -> Resolved:
    """Ids for the names in `f`; Invalid naming the filter when one matches nothing."""
    if f.date_from and f.date_to and f.date_from > f.date_to:
        raise Invalid(f"The 'from' date {f.date_from} is after the 'to' date {f.date_to} — swap them.",
                      code="invalid_range", field="from")
    start, end = day_bounds(f.date_from, f.date_to)
    return Resolved(
        lot_id=_one(session, Lot.lot_number, f.lot, "lot", "lot") if f.lot else None,
        item_id=_one(session, Item.sku, f.item, "item with SKU", "item") if f.item else None,
        location_id=_one(session, Location.code, f.location, "location", "location") if f.location else None,
        operator_id=_one(session, Operator.badge, f.operator, "operator with badge", "operator")
        if f.operator else None,
        station_id=_one(session, StationDevice.name, f.station, "station", "station") if f.station else None,
        start=start, end=end)


# --- the ledger ------------------------------------------------------------------------------------

From, To = aliased(Location, name="from_loc"), aliased(Location, name="to_loc")


def _ledger_where(r: Resolved) -> list:
    where = []
    if r.lot_id is not None:
        where.append(Movement.lot_id == r.lot_id)
    if r.item_id is not None:
        where.append(Movement.lot_id.in_(select(Lot.id).where(Lot.item_id == r.item_id)))
    if r.location_id is not None:
        where.append(or_(Movement.from_location_id == r.location_id, Movement.to_location_id == r.location_id))
    if r.operator_id is not None:
        where.append(Movement.operator_id == r.operator_id)
    if r.station_id is not None:
        where.append(Movement.station_id == r.station_id)
    if r.start is not None:
        where.append(Movement.ts >= r.start)
    if r.end is not None:
        where.append(Movement.ts < r.end)
    return where


def ledger_query(r: Resolved, *, before: int | None = None, overrides_only: bool = False):
    """The ledger rows matching `r`, newest (highest id) first, as plain columns."""
    stmt = (
        select(Movement.id, Movement.ts, Movement.kind, Lot.lot_number, Item.sku, Item.name.label("item_name"),
               Item.unit, Movement.qty, From.code.label("from_code"), To.code.label("to_code"),
               who_column(Operator.name, ApiToken.name).label("operator_name"),
               Operator.badge.label("operator_badge"),
               StationDevice.name.label("station_name"), Customer.code.label("customer_code"),
               Order.number.label("order_number"), Movement.reference, Movement.reason, Movement.raw_scan,
               Movement.followed_suggestion, Item.qty_decimals.label("decimals"))
        .join(Lot, Lot.id == Movement.lot_id).join(Item, Item.id == Lot.item_id)
        .outerjoin(From, From.id == Movement.from_location_id).outerjoin(To, To.id == Movement.to_location_id)
        .outerjoin(Operator, Operator.id == Movement.operator_id)
        .outerjoin(ApiToken, ApiToken.id == Movement.token_id)
        .outerjoin(StationDevice, StationDevice.id == Movement.station_id)
        .outerjoin(Customer, Customer.id == Movement.customer_id)
        .outerjoin(OrderLine, OrderLine.id == Movement.order_line_id)
        .outerjoin(Order, Order.id == OrderLine.order_id)
        .where(*_ledger_where(r))
        .order_by(Movement.id.desc())
    )
    if overrides_only:
        stmt = stmt.where(Movement.followed_suggestion.is_(False))
    if before is not None:
        stmt = stmt.where(Movement.id < before)
    return stmt


@dataclass(frozen=True)
class Page:
    rows: list
    next_cursor: int | None  # pass as `before` for the next page; None on the last page


def _location_page_ids(session: Session, r: Resolved, before: int | None, want: int) -> list[int]:
    """The newest `want` ids moved from or to r.location_id: two index walks (from_location_id, id) and
    (to_location_id, id), merged — an OR would make the database sort every movement of a busy dock."""
    rest = replace(r, location_id=None)
    ids: set[int] = set()
    for column in (Movement.from_location_id, Movement.to_location_id):
        stmt = select(Movement.id).where(*_ledger_where(rest), column == r.location_id)
        if before is not None:
            stmt = stmt.where(Movement.id < before)
        ids.update(session.scalars(stmt.order_by(Movement.id.desc()).limit(want)))
    return sorted(ids, reverse=True)[:want]


def ledger_page(session: Session, r: Resolved, *, before: int | None = None, limit: int = PAGE) -> Page:
    limit = max(1, min(limit, MAX_PAGE))
    # The page's ids first, from the movements table and its indexes alone; then the joins for those
    # rows only (joined first, the database would join every row in a date range before sorting it).
    if r.location_id is not None:
        ids = _location_page_ids(session, r, before, limit + 1)
    else:
        stmt = select(Movement.id).where(*_ledger_where(r))
        if before is not None:
            stmt = stmt.where(Movement.id < before)
        ids = list(session.scalars(stmt.order_by(Movement.id.desc()).limit(limit + 1)))
    rows = session.execute(ledger_query(Resolved()).where(Movement.id.in_(ids))).all() if ids else []
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, rows[-1].id if more else None)


# --- lot events and override picks ------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    """A hold, release, recall, expiry (a lot event) or an override pick (a ledger row)."""

    source: str  # "event" or "override"
    id: int
    ts: dt.datetime
    action: str  # hold, quarantine, release, recall, expire, ... or "override pick"
    lot_number: str
    sku: str
    change: str  # "available → hold", or "12 ea from A-01"
    reason: str | None
    operator_name: str | None
    station_name: str | None


@dataclass(frozen=True)
class EventPage:
    rows: list[Event]
    next_cursor: str | None  # "e<lot event id>.m<movement id>"; None on the last page


def _event_where(r: Resolved) -> list:
    where = []
    if r.lot_id is not None:
        where.append(LotEvent.lot_id == r.lot_id)
    if r.item_id is not None:
        where.append(LotEvent.lot_id.in_(select(Lot.id).where(Lot.item_id == r.item_id)))
    if r.operator_id is not None:
        where.append(LotEvent.operator_id == r.operator_id)
    if r.station_id is not None:
        where.append(LotEvent.station_id == r.station_id)
    if r.start is not None:
        where.append(LotEvent.ts >= r.start)
    if r.end is not None:
        where.append(LotEvent.ts < r.end)
    return where


def parse_event_cursor(text: str | None) -> tuple[int | None, int | None, bool, bool]:
    """(before lot event id, before movement id, events done, overrides done) from a cursor."""
    if not text:
        return None, None, False, False
    try:
        e, m = text.split(".")
        if not (e.startswith("e") and m.startswith("m")):
            raise ValueError
        ev, mv = e[1:], m[1:]
        return (_cursor_id(ev), _cursor_id(mv), ev == "-", mv == "-")
    except ValueError:
        raise Invalid("That page link is damaged — go back to the first page.", code="invalid_cursor",
                      field="cursor") from None


def _cursor_id(text: str) -> int | None:
    """One id of an events cursor; ValueError when no row can have it (beyond ids.MAX_ID)."""
    if text in ("", "-"):
        return None
    if not (text.isascii() and text.isdigit()) or len(text) > MAX_DIGITS or int(text) > MAX_ID:
        raise ValueError(text)
    return int(text)


def _event_cursor(ev: int | None, mv: int | None, ev_done: bool, mv_done: bool) -> str:
    return f"e{'-' if ev_done else (ev or '')}.m{'-' if mv_done else (mv or '')}"


def events_page(session: Session, r: Resolved, *, cursor: str | None = None, limit: int = PAGE) -> EventPage:
    """Lot events and override picks (followed_suggestion false) merged newest first. Each stream is
    read in id order from its own cursor, so pages are complete and never overlap. A location
    filter keeps only override picks (a lot event has no place)."""
    limit = max(1, min(limit, MAX_PAGE))
    ev_before, mv_before, ev_done, mv_done = parse_event_cursor(cursor)
    events: list[Event] = []
    if not ev_done and r.location_id is None:
        stmt = (select(LotEvent.id, LotEvent.ts, LotEvent.action, Lot.lot_number, Item.sku, LotEvent.from_status,
                       LotEvent.to_status, LotEvent.reason, who_column(Operator.name, ApiToken.name),
                       StationDevice.name)
                .join(Lot, Lot.id == LotEvent.lot_id).join(Item, Item.id == Lot.item_id)
                .outerjoin(Operator, Operator.id == LotEvent.operator_id)
                .outerjoin(ApiToken, ApiToken.id == LotEvent.token_id)
                .outerjoin(StationDevice, StationDevice.id == LotEvent.station_id)
                .where(*_event_where(r)).order_by(LotEvent.id.desc()).limit(limit + 1))
        if ev_before is not None:
            stmt = stmt.where(LotEvent.id < ev_before)
        for row in session.execute(stmt):
            events.append(Event("event", row[0], _utc(row[1]), row[2], row[3], row[4],
                                f"{_value(row[5])} → {_value(row[6])}", row[7], row[8], row[9]))
    picks: list[Event] = []
    if not mv_done:
        for row in session.execute(ledger_query(r, before=mv_before, overrides_only=True).limit(limit + 1)):
            picks.append(Event("override", row.id, _utc(row.ts), "override pick", row.lot_number, row.sku,
                               f"{qty_cell(row.qty, row.decimals):,} {row.unit} from {row.from_code or '—'}"
                               + (f", order {row.order_number}" if row.order_number else ""),
                               row.reason, row.operator_name, row.station_name))
    # Merge the two newest-first streams; what is taken moves each stream's own cursor.
    merged: list[Event] = []
    i = j = 0
    while len(merged) < limit and (i < len(events) or j < len(picks)):
        if j >= len(picks) or (i < len(events) and events[i].ts >= picks[j].ts):
            merged.append(events[i])
            i += 1
        else:
            merged.append(picks[j])
            j += 1
    if i == len(events) and j == len(picks):
        return EventPage(merged, None)
    ev_last = next((e.id for e in reversed(merged) if e.source == "event"), ev_before)
    mv_last = next((e.id for e in reversed(merged) if e.source == "override"), mv_before)
    # A stream read to its end (fewer than limit + 1 rows, all taken) is done.
    ev_now_done = ev_done or r.location_id is not None or (len(events) <= limit and i == len(events))
    mv_now_done = mv_done or (len(picks) <= limit and j == len(picks))
    if ev_now_done and mv_now_done:
        return EventPage(merged, None)
    return EventPage(merged, _event_cursor(ev_last, mv_last, ev_now_done, mv_now_done))


def _value(status) -> str:
    return getattr(status, "value", status)


def _utc(ts: dt.datetime) -> dt.datetime:
    return ts if ts.tzinfo else ts.replace(tzinfo=dt.timezone.utc)


# --- CSV -------------------------------------------------------------------------------------------

CSV_HEADER = ["id", "time (site)", "kind", "lot", "sku", "item", "qty", "unit", "from", "to", "operator",
              "badge", "station", "customer", "order", "reference", "reason", "followed suggestion",
              "raw scan"]


def _local_iso(ts: dt.datetime, zone) -> str:
    return _utc(ts).astimezone(zone).isoformat(timespec="seconds")


def ledger_csv_row(row, zone) -> list:
    followed = "" if row.followed_suggestion is None else ("yes" if row.followed_suggestion else "no")
    return [row.id, _local_iso(row.ts, zone), _value(row.kind), row.lot_number, row.sku, row.item_name,
            qty_cell(row.qty, row.decimals), row.unit, row.from_code or "", row.to_code or "", row.operator_name or "", row.operator_badge or "",
            row.station_name or "", row.customer_code or "", row.order_number or "", row.reference or "",
            row.reason or "", followed, row.raw_scan or ""]


def stream_csv(db: Database, stmt, to_row, header: list[str], *, limit: int | None = None,
               chunk: int = EXPORT_CHUNK) -> Iterator[str]:
    """The header, then the rows of `stmt` as CSV text in pieces of about `chunk` rows, read through a
    server-side cursor (`yield_per`): memory stays flat however many rows there are. The session is
    opened here and closed when the generator ends or is closed (a client that hangs up)."""
    if limit is not None:
        stmt = stmt.limit(limit)
    zone = clock.site_zone()
    yield csv_line(header)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    with db.read() as session:
        result = session.execute(stmt.execution_options(yield_per=chunk, stream_results=True))
        try:
            for partition in result.partitions():
                for row in partition:
                    writer.writerow([safe_cell(v) for v in to_row(row, zone)])
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        finally:
            result.close()


def ledger_csv(db: Database, r: Resolved, *, limit: int | None = None) -> Iterator[str]:
    return stream_csv(db, ledger_query(r), ledger_csv_row, CSV_HEADER, limit=limit)

