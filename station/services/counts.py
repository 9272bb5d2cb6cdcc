"""Stock counts (cycle counts): one location at a time, what is found there against what the books say.

    start(session, location, by=) -> Count            opens a count with a line per lot / pallet on the
                                                      books there (expected_qty), or the counter's own
                                                      open count of that location again
    line_for_lot / line_for_unit(session, count, …)   the line a scanned lot or pallet is counted on
                                                      (added with expected 0 when the books have none)
    set_counted / set_reason                          what the counter keyed, why it differs
    finish(session, count, by=, threshold=) -> Finished   checks every line, re-checks the books, then
                                                      books the differences or leaves them pending
    approve / reject (session, count, by=, note)      a supervisor decides a pending count (never their own)
    cancel(session, count, by=)                       an open count stopped; nothing booked

Booking a difference is a `count` movement through services/stock.py (add_stock / remove_stock and
record, the same functions every other movement uses, so lots.on_hand, the never-negative rule and the
hash chain hold): found goods come from outside to the location, missing goods leave it. Its reference
is "count 17" and its reason says the before and after and why: "count 17: 40 → 36, damaged".

Stock that moves at the location while a count is open (a pick, a put-away) would make the count book
the wrong difference. So the books are read again when the count is finished: a line whose books
changed is put back to "not counted" with the new figure, stock that arrived is added as a line, and
the counter is asked, in words, to count those again. A pending count whose books changed before a
supervisor approved it cannot be approved: it is rejected and counted again.

Booking tells the ERP in the same transaction: one ``count.booked`` event per count (services/events.py,
keyed by the location), with every line — lot, pallet, before, counted, difference, reason — the counter
and, after an approval, the approver.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from .. import clock
from ..models import Count, CountLine, CountStatus, HandlingUnit, Location, Lot, MovementKind, Operator, Stock
from . import events
from .actor import NOBODY, Actor
from .event_bodies import location_facts, lot_facts, operator_facts, qty_text
from .errors import Conflict, Invalid, NotFound
from .stock import add_stock, record, remove_stock, require_counted

MAX_COUNTED = 100_000_000
# The reasons a counter picks from (any other words are typed in full).
REASONS = ("Damaged", "Found — not booked in", "Taken without a scan", "Counted wrong before",
           "In the wrong place")


@dataclass
class Finished:
    """What finishing did: "booked", "pending" (waits for a supervisor) or "recount" (the books moved
    while counting; `changed` says which lots, in words, and their lines are to be counted again)."""

    status: str
    count: Count
    changed: list[str] = field(default_factory=list)


def diff(line: CountLine) -> int:
    return (line.counted_qty or 0) - line.expected_qty if line.counted_qty is not None else 0


def _books(session: Session, location_id: int) -> dict[tuple[int, int | None], int]:
    """Stock on the books at a location now, per (lot id, pallet id or None)."""
    rows = session.execute(
        select(Stock.lot_id, Stock.handling_unit_id, func.sum(Stock.qty))
        .where(Stock.location_id == location_id, Stock.qty > 0)
        .group_by(Stock.lot_id, Stock.handling_unit_id))
    return {(lot, unit): qty for lot, unit, qty in rows}


def open_count_at(session: Session, location_id: int) -> Count | None:
    return session.scalar(select(Count).where(Count.location_id == location_id, Count.status == CountStatus.OPEN)
                          .order_by(Count.id).limit(1))


def get(session: Session, count_id: int) -> Count:
    count = session.get(Count, count_id)
    if count is None:
        raise NotFound(f"There is no count {count_id}.", code="unknown_count")
    return count


def _who(session: Session, count: Count) -> str:
    name = session.scalar(select(Operator.name).where(Operator.id == count.counted_by_id)) \
        if count.counted_by_id else None
    return name or "an API client"


def _local_time(ts: dt.datetime) -> str:
    ts = ts if ts.tzinfo else ts.replace(tzinfo=dt.timezone.utc)  # SQLite: naive UTC
    return ts.astimezone(clock.site_zone()).strftime("%H:%M")


def start(session: Session, location: Location, *, by: Actor = NOBODY) -> Count:
    """Open a count of `location` with every lot and pallet on its books; the counter's own open count
    of it is taken up again. Someone else's open count there is refused (two counts would book twice)."""
    # Two counters starting at the same moment take turns on the location's row (PostgreSQL; SQLite has
    # one writer at a time anyway), so the second one sees the first one's count.
    session.execute(select(Location.id).where(Location.id == location.id).with_for_update())
    running = open_count_at(session, location.id)
    if running is not None:
        mine = by.operator_id is not None and running.counted_by_id == by.operator_id
        if mine or (by.operator_id is None and by.token_id is not None and running.token_id == by.token_id):
            return running
        raise Conflict(f"{location.code} is being counted by {_who(session, running)} since "
                       f"{_local_time(running.started_at)} (count {running.id}) — they finish or cancel it first.",
                       code="count_open", count=running.id)
    count = Count(location_id=location.id, status=CountStatus.OPEN, station_id=by.station_id,
                  counted_by_id=by.operator_id, token_id=by.token_id)
    session.add(count)
    session.flush()
    for (lot_id, unit_id), qty in sorted(_books(session, location.id).items(),
                                         key=lambda kv: (kv[0][0], kv[0][1] or 0)):
        session.add(CountLine(count_id=count.id, lot_id=lot_id, handling_unit_id=unit_id, expected_qty=qty))
    session.flush()
    session.refresh(count)
    return count


def require_open(count: Count) -> None:
    if count.status is not CountStatus.OPEN:
        raise Conflict(f"Count {count.id} is {count.status.value} — it cannot be changed any more.",
                       code="count_closed", count_status=count.status.value)


def _add_line(session: Session, count: Count, lot: Lot, unit: HandlingUnit | None) -> CountLine:
    line = CountLine(count_id=count.id, lot_id=lot.id, handling_unit_id=unit.id if unit else None, expected_qty=0)
    session.add(line)
    session.flush()
    session.refresh(count)
    return line


def line_for_lot(session: Session, count: Count, lot: Lot) -> CountLine:
    """The line a scanned lot label is counted on: its loose stock here; the one pallet it is on here when
    it has no loose stock; a new line (expected 0: found, not on the books here) when it has neither.
    A lot on several pallets here needs the pallet's own label."""
    require_open(count)
    lines = [line for line in count.lines if line.lot_id == lot.id]
    loose = next((line for line in lines if line.handling_unit_id is None), None)
    if loose is not None:
        return loose
    if len(lines) == 1:
        return lines[0]
    if len(lines) > 1:
        ssccs = ", ".join(session.get(HandlingUnit, line.handling_unit_id).sscc for line in lines)
        raise Invalid(f"Lot {lot.lot_number} is on {len(lines)} pallets here ({ssccs}) — scan each pallet's "
                      f"label (SSCC) to count it.", code="scan_the_pallet")
    return _add_line(session, count, lot, None)


def line_for_unit(session: Session, count: Count, unit: HandlingUnit) -> CountLine:
    """The line a scanned pallet is counted on; a pallet the books have at another place is refused
    (counting it here would put it in two places): it is moved here first."""
    require_open(count)
    found = next((line for line in count.lines if line.handling_unit_id == unit.id), None)
    if found is not None:
        return found
    location = session.get(Location, count.location_id)
    if unit.location_id is not None and unit.location_id != count.location_id:
        there = session.get(Location, unit.location_id)
        raise Invalid(f"Pallet {unit.sscc} is on the books at {there.code}, not at {location.code} — move it here "
                      f"with put-away first, then count it.", code="pallet_elsewhere", at=there.code)
    if unit.location_id is None:
        raise Invalid(f"Pallet {unit.sscc} has left the site on the books — tell a supervisor; count its goods "
                      f"by the lot label ({unit.lot.lot_number}).", code="pallet_gone")
    return _add_line(session, count, unit.lot, unit)


def line_of(count: Count, line_id: object) -> CountLine:
    line = next((line for line in count.lines if line.id == line_id), None)
    if line is None:
        raise NotFound(f"Count {count.id} has no such line.", code="unknown_line")
    return line


def set_counted(count: Count, line: CountLine, qty: object) -> CountLine:
    """What was found of the line's lot (0: none here)."""
    require_open(count)
    try:
        fits = not isinstance(qty, bool) and 0 <= qty <= MAX_COUNTED
    except TypeError:
        fits = False
    if not fits:
        raise Invalid(f"The count must be a number, 0 or more (got {str(qty)[:12]!r}).", code="invalid_qty")
    qty = require_counted(qty, line.lot, "count")
    if line.counted_qty != qty:
        line.reason = None  # a reason was for the old difference
    line.counted_qty = qty
    return line


def set_reason(count: Count, line: CountLine, reason: object) -> CountLine:
    require_open(count)
    text = " ".join(str(reason or "").split())
    if not text:
        raise Invalid("Say why it differs: pick a reason or type one.", code="reason_required")
    if len(text) > 120:
        raise Invalid("The reason must be at most 120 characters.", code="reason_too_long")
    line.reason = text
    return line


def unanswered(count: Count) -> list[CountLine]:
    return [line for line in count.lines if line.counted_qty is None]


def needs_reason(count: Count) -> list[CountLine]:
    return [line for line in count.lines if diff(line) and not line.reason]


def over_threshold(count: Count, threshold: int) -> list[CountLine]:
    """The lines whose difference is more than `threshold` units either way (see config.count_approval_threshold)."""
    return [line for line in count.lines if abs(diff(line)) > threshold]


def _lot_words(session: Session, line: CountLine) -> str:
    lot = session.get(Lot, line.lot_id)
    unit = session.get(HandlingUnit, line.handling_unit_id) if line.handling_unit_id else None
    return f"lot {lot.lot_number}" + (f" on pallet {unit.sscc}" if unit else "")


def changed_books(session: Session, count: Count) -> list[tuple[CountLine | None, tuple[int, int | None], int]]:
    """Lines whose books differ from when the count started: (line, key, books now); line None for stock
    that arrived at the location since."""
    now = _books(session, count.location_id)
    seen = set()
    changed = []
    for line in count.lines:
        key = (line.lot_id, line.handling_unit_id)
        seen.add(key)
        if now.get(key, 0) != line.expected_qty:
            changed.append((line, key, now.get(key, 0)))
    changed += [(None, key, qty) for key, qty in now.items() if key not in seen]
    return changed


def _take_status(session: Session, count: Count, old: CountStatus, new: CountStatus) -> None:
    """Move the count from `old` to `new`, once: a second finish or approval racing this one finds the
    status changed and is refused (nothing is booked twice)."""
    done = session.execute(update(Count).where(Count.id == count.id, Count.status == old)
                           .values(status=new).execution_options(synchronize_session=False)).rowcount
    if done != 1:
        session.refresh(count)
        raise Conflict(f"Count {count.id} is {count.status.value} already — nothing was done.",
                       code="count_closed", count_status=count.status.value)
    session.refresh(count)


def finish(session: Session, count: Count, *, by: Actor = NOBODY, threshold: int) -> Finished:
    """The counter is done: every line counted (0 for "not here"), every difference with a reason. The
    books are read again; then the differences are booked, or the count waits for a supervisor when a
    line differs by more than `threshold` units."""
    require_open(count)
    if (left := unanswered(count)):
        names = ", ".join(_lot_words(session, line) for line in left[:5])
        raise Invalid(f"{len(left)} not counted yet: {names} — count it or say it is not here.",
                      code="not_counted", lines=[line.id for line in left])
    if (left := needs_reason(count)):
        names = ", ".join(_lot_words(session, line) for line in left[:5])
        raise Invalid(f"Say why {names} differ{'s' if len(left) == 1 else ''} from the books.",
                      code="reason_required", lines=[line.id for line in left])
    changed = changed_books(session, count)
    if changed:
        return Finished("recount", count, _recount(session, count, changed))
    count.finished_at = clock.now()
    if over_threshold(count, threshold):
        _take_status(session, count, CountStatus.OPEN, CountStatus.PENDING)
        return Finished("pending", count)
    _take_status(session, count, CountStatus.OPEN, CountStatus.BOOKED)
    _book(session, count, by)
    return Finished("booked", count)


def _recount(session: Session, count: Count, changed) -> list[str]:
    words = []
    for line, (lot_id, unit_id), now in changed:
        if line is None:
            line = CountLine(count_id=count.id, lot_id=lot_id, handling_unit_id=unit_id, expected_qty=now)
            session.add(line)
            session.flush()
            words.append(f"{_lot_words(session, line)} arrived ({now} on the books now)")
        else:
            words.append(f"{_lot_words(session, line)} ({line.expected_qty} on the books when you started, "
                         f"{now} now)")
            line.expected_qty, line.counted_qty, line.reason = now, None, None
    session.flush()
    session.refresh(count)
    return words


def _book(session: Session, count: Count, by: Actor, approved_by: str | None = None) -> int:
    """A `count` movement for each difference; the counter, station and token of the count are on it."""
    location = session.get(Location, count.location_id)
    actor = Actor(operator_id=count.counted_by_id, station_id=count.station_id, token_id=count.token_id,
                  raw_scan=by.raw_scan)
    booked = 0
    for line in count.lines:
        delta = diff(line)
        if not delta:
            continue
        lot = session.get(Lot, line.lot_id)
        unit = session.get(HandlingUnit, line.handling_unit_id) if line.handling_unit_id else None
        why = f"count {count.id}: {line.expected_qty} → {line.counted_qty}, {line.reason}"
        if approved_by:
            why += f"; approved by {approved_by}"
        fields = {"reference": f"count {count.id}", "reason": why[:200],
                  "handling_unit_id": unit.id if unit else None}
        if delta > 0:
            add_stock(session, lot, location, delta, unit)
            record(session, MovementKind.COUNT, lot, delta, dest=location, by=actor, **fields)
        else:
            remove_stock(session, lot, location, -delta, unit)
            record(session, MovementKind.COUNT, lot, -delta, source=location, by=actor, **fields)
        booked += 1
    session.flush()
    _tell_booked(session, count, location, by, approved=approved_by is not None)
    return booked


def _tell_booked(session: Session, count: Count, location: Location, by: Actor, *, approved: bool) -> None:
    lines = []
    for line in count.lines:
        unit = session.get(HandlingUnit, line.handling_unit_id) if line.handling_unit_id else None
        lines.append({"lot": lot_facts(session.get(Lot, line.lot_id)), "sscc": unit.sscc if unit else None,
                      "before": qty_text(line.expected_qty), "counted": qty_text(line.counted_qty),
                      "difference": qty_text(diff(line)),
                      "reason": line.reason})
    approval = {"by": _person(session, by.operator_id), "note": count.decision_note} if approved else None
    events.record(session, "count.booked", {
        "count": count.id, "location": location_facts(location),
        "counted_by": _person(session, count.counted_by_id),
        "approval": approval, "lines": lines,
    }, key=f"location:{location.code}", by=by)


def _person(session: Session, operator_id: int | None):
    return operator_facts(session.get(Operator, operator_id)) if operator_id else None


def _own(count: Count, by: Actor) -> bool:
    if by.operator_id is not None:
        return by.operator_id == count.counted_by_id
    return by.token_id is not None and by.token_id == count.token_id


def _decider(session: Session, count: Count, by: Actor, doing: str) -> None:
    if count.status is not CountStatus.PENDING:
        raise Conflict(f"Count {count.id} is {count.status.value}, not waiting for approval — nothing was done.",
                       code="count_not_pending", count_status=count.status.value)
    if _own(count, by):
        raise Conflict(f"Count {count.id} is your own count — another supervisor {doing} it.", code="own_count")


def approve(session: Session, count: Count, *, by: Actor, note: str | None = None,
            approver_name: str | None = None) -> Count:
    """Book a pending count's differences (a supervisor, never the counter). Refused when the books at the
    location changed since the count: the differences would be wrong."""
    _decider(session, count, by, "approves")
    changed = changed_books(session, count)
    if changed:
        words = "; ".join(f"{_lot_words(session, line) if line else 'new stock'}: {line.expected_qty if line else 0}"
                          f" on the books at the count, {now} now" for line, _key, now in changed[:5])
        raise Conflict(f"Stock at this location changed since count {count.id} ({words}) — it cannot be booked. "
                       f"Reject it and count the location again.", code="books_changed")
    _take_status(session, count, CountStatus.PENDING, CountStatus.BOOKED)
    count.decided_by_id, count.decided_at = by.operator_id, clock.now()
    count.decision_note = _note(note, required=False)
    _book(session, count, by, approved_by=approver_name or "API")
    return count


def reject(session: Session, count: Count, *, by: Actor, note: str) -> Count:
    """Refuse a pending count's differences: nothing is booked; the note says why (count again, …)."""
    _decider(session, count, by, "rejects")
    text = _note(note, required=True)
    _take_status(session, count, CountStatus.PENDING, CountStatus.REJECTED)
    count.decided_by_id, count.decided_at, count.decision_note = by.operator_id, clock.now(), text
    return count


def cancel(session: Session, count: Count, *, by: Actor = NOBODY) -> Count:
    """Stop an open count; nothing is booked. The counter, or a supervisor (the caller checks the role)."""
    require_open(count)
    _take_status(session, count, CountStatus.OPEN, CountStatus.CANCELLED)
    count.finished_at = clock.now()
    return count


def _note(note: object, *, required: bool) -> str | None:
    text = " ".join(str(note or "").split())
    if required and not text:
        raise Invalid("Say why the count is rejected (e.g. count it again).", code="note_required")
    if len(text) > 200:
        raise Invalid("The note must be at most 200 characters.", code="note_too_long")
    return text or None
