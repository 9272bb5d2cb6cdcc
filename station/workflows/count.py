"""Counting stock: scan a location, scan each lot or pallet found there and key how many, finish ->
the differences booked (or waiting for a supervisor above the threshold).

    step(session, state, scan) -> Answer        a location (opens its count), a lot label or a pallet's SSCC
                                                (then its quantity), CMD:DONE (finish counting)
    screen(session, state) -> dict              what the page shows: the stage, the count's lines, the line
                                                being counted, the line asked about, the line needing a reason
    prompt(screen) -> Answer                    what the banner says when nothing has just happened
    key_qty / as_books / forget / done / back / not_here / count_it / give_reason / finish / cancel
      (session, state, by, …) -> Answer         the page's taps; `by` is who taps, at which station

The count is in the database (services.counts: a Count with a line per lot or pallet on the books); the
state holds where the counter is in it: {"count": id, "line": line id being keyed or None, "review": True
once the counter said they are done} ({} when no count is open here). Finishing asks, one by one, about
the lots the books have there that were not scanned ("not here?" / "count it"), then a reason for each
difference, then books — the threshold comes from the page (config COUNT_APPROVAL_THRESHOLD).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Count, CountLine, CountStatus, HandlingUnit, Item, Location, Lot
from ..quantities import Qty
from ..scanning.codes import AIM_PATTERN, COMMAND_PREFIX
from ..services import catalog, counts
from ..services.actor import Actor
from ..services.errors import DomainError, NotFound
from . import Answer, Scanned, notes
from .inputs import parse_qty
from .inputs import said as say

NAME = "count"
# CMD:DONE is not (yet) one of the printed command barcodes (labels/codes.py); a wedge or the API still
# sends it here as text, and the count takes it as "I am done" (the page's Done button is CMD:NEXT too).
DONE = re.compile(rf"^(?:{AIM_PATTERN})?{re.escape(COMMAND_PREFIX)}DONE\s*$", re.IGNORECASE)
MAX_TYPED = 9


@dataclass
class Row:
    """One line of the count as the page shows it."""

    id: int
    lot_number: str
    sku: str
    name: str
    unit: str
    sscc: str | None
    expected: Qty
    counted: Qty | None
    reason: str | None
    decimals: int = 0  # the item's: how the page writes its quantities, and whether the keypad has a separator

    @property
    def diff(self) -> Qty:
        return 0 if self.counted is None else self.counted - self.expected

    @property
    def what(self) -> str:
        return f"Pallet {self.sscc}" if self.sscc else f"Lot {self.lot_number}"


def _count(session: Session, state: dict) -> Count | None:
    count = session.get(Count, state["count"]) if isinstance(state.get("count"), int) else None
    return count if count is not None and count.status is CountStatus.OPEN else None


def _row(session: Session, line: CountLine) -> Row:
    lot = session.get(Lot, line.lot_id)
    item = session.get(Item, lot.item_id)
    unit = session.get(HandlingUnit, line.handling_unit_id) if line.handling_unit_id else None
    return Row(line.id, lot.lot_number, item.sku, item.name, item.unit, unit.sscc if unit else None,
               line.expected_qty, line.counted_qty, line.reason, item.qty_decimals)


def stage(count: Count | None, state: dict) -> str:
    """"location" (scan one), "qty" (key the scanned line), "counting", then — done — "ask" (a lot on the
    books not counted), "reason" (a difference without one), "book" (all answered: finish)."""
    if count is None:
        return "location"
    if state.get("line") is not None:
        return "qty"
    if not state.get("review"):
        return "counting"
    if counts.unanswered(count):
        return "ask"
    if counts.needs_reason(count):
        return "reason"
    return "book"


def screen(session: Session, state: dict) -> dict:
    """The count as the page draws it. `state` in the result is {} when the count is no longer open."""
    state = notes.without(state)
    count = _count(session, state)
    if count is None:
        state = {}
    elif state.get("line") is not None and state["line"] not in {line.id for line in count.lines}:
        state = {**state, "line": None}
    now = stage(count, state)
    rows = [_row(session, line) for line in count.lines] if count else []
    by_id = {row.id: row for row in rows}
    asked = counts.unanswered(count) if now == "ask" else []
    reasons = counts.needs_reason(count) if now == "reason" else []
    return {"state": state, "step": now, "count": count, "rows": rows,
            "location": session.get(Location, count.location_id).code if count else None,
            "current": by_id.get(state.get("line")), "asked": by_id[asked[0].id] if asked else None,
            "left": len(asked) or len(reasons), "reason_for": by_id[reasons[0].id] if reasons else None,
            "reasons": counts.REASONS, "counted": sum(1 for r in rows if r.counted is not None),
            "differences": [r for r in rows if r.diff]}


def prompt(shown: dict) -> Answer:
    """What the banner says when nothing has just happened: the stage to do."""
    step, where = shown["step"], shown["location"]
    if step == "location":
        return Answer("info", "Scan the location to count", "Its location label. Then scan every lot and pallet "
                                                            "you find there.")
    if step == "qty":
        row = shown["current"]
        then = (f" Tap CONFIRM {row.expected} if that is on it, or key what is." if row and row.sscc and row.expected
                else " Key what you count, then OK.")
        return Answer("info", f"How many of {_what(row)}?", _books_words(row, where) + then)
    if step == "counting":
        return Answer("info", f"Counting {where}: scan each lot or pallet",
                      f"{shown['counted']} of {len(shown['rows'])} counted. DONE when you have counted everything.")
    if step == "ask":
        row = shown["asked"]
        return Answer("warn", f"{_cap(_what(row))} — {say(row.expected, row.decimals, row.unit)} on the books: not here?",
                      "Tap NOT HERE, or find it and scan it (or tap COUNT IT).")
    if step == "reason":
        row = shown["reason_for"]
        return Answer("info", f"Why is {_what(row)} {row.expected} → {row.counted}?",
                      "Tap a reason, or type one.")
    n = len(shown["differences"])
    return Answer("info", f"Finish the count of {where}?",
                  f"{n} difference{'s' if n != 1 else ''} to book." if n else "Everything matches the books.")


def _what(row: Row | None) -> str:
    if row is None:
        return "it"
    return f"pallet {row.sscc} (lot {row.lot_number})" if row.sscc else f"lot {row.lot_number} ({row.sku})"


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _books_words(row: Row | None, where: str | None) -> str:
    if row is None:
        return ""
    if row.expected == 0:
        return f"Not on the books at {where}."
    return f"{say(row.expected, row.decimals, row.unit)} on the books."


def _next(session: Session, state: dict, answer: Answer | None = None) -> Answer:
    """A tap's answer (or, with nothing to say, the prompt of the stage it leads to) with that state."""
    shown = screen(session, state)
    said = answer or prompt(shown)
    return Answer(said.kind, said.message, said.detail, state=shown["state"], data=said.data)


# --- the scan step --------------------------------------------------------------------------------


def step(session: Session, state: dict, scan: Scanned) -> Answer:
    """One scan on the count page (or of its station's own scanner): a location, a lot, a pallet, DONE."""
    return notes.dropped(state, _step(session, notes.without(state), scan))


def _step(session: Session, state: dict, scan: Scanned) -> Answer:
    res, count = scan.resolution, _count(session, state)
    if count is None and state:
        state = {}
    if DONE.match(scan.raw.strip()):
        return done(session, state, scan.actor)
    if not res.ok:
        return Answer("error", res.message, _again(count), state=state)
    records = res.records or {}
    if res.kind == "location":
        return _location(session, state, count, records["location"]["code"], scan.actor)
    if count is None:
        return Answer("error", f"{res.message} — but scan the location you count first.",
                      "Its location label.", state=state)
    try:
        if records.get("unit"):
            unit = session.scalar(select(HandlingUnit).where(HandlingUnit.sscc == records["unit"]["sscc"]))
            line = counts.line_for_unit(session, count, unit)
        elif records.get("lot") and res.kind in ("lot", "gs1"):
            line = counts.line_for_lot(session, count, catalog.lot_by_number(session, records["lot"]["lot_number"]))
        elif records.get("item"):
            item = records["item"]
            return Answer("error", f"That is the barcode of the item {item['sku']} {item['name']}, not of one lot.",
                          "Scan the lot label or the pallet label (SSCC).")
        else:
            return Answer("error", res.message, "Scan a lot or a pallet here.")
    except DomainError as exc:
        return Answer("error", exc.message, _again(count))
    row = _row(session, line)
    where = session.get(Location, count.location_id).code
    again = f" Counted {row.counted} already: key it again to change it." if row.counted is not None else ""
    if row.sscc:
        words = f"Pallet {row.sscc}: {row.sku} {row.name}, lot {row.lot_number}."
        detail = (f"{_books_words(row, where)} Tap CONFIRM {row.expected} if that is on it, or key what is."
                  if row.expected else f"{_books_words(row, where)} Key what is on it.")
    else:
        words = f"Lot {row.lot_number}: {row.sku} {row.name}."
        detail = f"{_books_words(row, where)} Key how many you count, then OK."
    return Answer("ok", words, detail + again, state={**state, "line": line.id})


def _again(count: Count | None) -> str:
    return "Scan a lot or a pallet, or DONE." if count is not None else "Scan the location to count."


def _location(session: Session, state: dict, count: Count | None, code: str, by: Actor) -> Answer:
    if count is not None:
        where = session.get(Location, count.location_id).code
        if where == code:
            return Answer("info", f"You are counting {code} already.", "Scan the lots and pallets you find.")
        return Answer("error", f"You are counting {where} — finish that count first (DONE), or cancel it.",
                      f"You scanned location {code}.")
    try:
        count = counts.start(session, catalog.location_by_code(session, code), by=by)
    except DomainError as exc:
        return Answer("error", exc.message, "Nothing was started.", state={})
    n = len(count.lines)
    books = f"{n} lot{'s' if n != 1 else ''} or pallet{'s' if n != 1 else ''} on the books there" if n \
        else "nothing on the books there"
    return Answer("ok", f"Counting {code}: {books}.", "Scan each lot or pallet you find and key how many.",
                  state={"count": count.id, "line": None}, data={"count": count.id})


# --- the taps -------------------------------------------------------------------------------------


def _line(session: Session, state: dict, line_id: object = None) -> tuple[Count | None, CountLine | None]:
    count = _count(session, state)
    if count is None:
        return None, None
    wanted = state.get("line") if line_id is None else _as_id(line_id)
    try:
        return count, counts.line_of(count, wanted)
    except NotFound:
        return count, None


def _as_id(value: object) -> int | None:
    text = str(value or "").strip()
    return int(text) if text.isdigit() and len(text) <= MAX_TYPED else None


def key_qty(session: Session, state: dict, by: Actor, typed: str | None) -> Answer:
    """How many of the scanned lot or pallet were found (keypad; 0: none)."""
    state = notes.without(state)
    count, line = _line(session, state)
    if line is None:
        return _next(session, state)
    try:
        qty = parse_qty(typed, "count", zero=True)
    except DomainError as exc:
        return Answer("error", exc.message, "Key it again.")
    if qty is None:
        return Answer("error", "Key how many first, then OK.", "0 if there is none.")
    return _counted(session, state, count, line, qty)


def as_books(session: Session, state: dict, by: Actor) -> Answer:
    """The scanned pallet holds what the books say (one tap, or CMD:CONFIRM)."""
    state = notes.without(state)
    count, line = _line(session, state)
    if line is None:
        return _next(session, state)
    return _counted(session, state, count, line, line.expected_qty)


def _counted(session: Session, state: dict, count: Count, line: CountLine, qty: Qty) -> Answer:
    try:
        counts.set_counted(count, line, qty)
    except DomainError as exc:
        return Answer("error", exc.message, "Key it again.")
    row = _row(session, line)
    words = f"{row.what}: {say(qty, row.decimals, row.unit)} counted"
    words += f" ({'+' if row.diff > 0 else ''}{row.diff} against the books)." if row.diff else " — as the books say."
    state = {**state, "line": None}
    after = "Scan the next lot or pallet, or DONE." if not state.get("review") else _then(session, state)
    return _next(session, state, Answer("ok", words, after))


def _then(session: Session, state: dict) -> str:
    """What comes next, said after a tap's own answer (while finishing: the next question)."""
    return prompt(screen(session, state)).message


def forget(session: Session, state: dict, by: Actor) -> Answer:
    """Leave the scanned lot without keying it (CMD:CANCEL while keying)."""
    state = notes.without(state)
    return _next(session, {**state, "line": None})


def done(session: Session, state: dict, by: Actor) -> Answer:
    """The counter has counted everything they found (DONE): the questions before finishing begin."""
    state = notes.without(state)
    if _count(session, state) is None:
        return Answer("error", "There is no count open — scan the location to count first.", state={})
    return _next(session, {**state, "line": None, "review": True})


def back(session: Session, state: dict, by: Actor) -> Answer:
    """Back to counting (more to scan)."""
    state = notes.without(state)
    return _next(session, {**state, "line": None, "review": False})


def not_here(session: Session, state: dict, by: Actor, line_id: object) -> Answer:
    """A lot on the books that the counter did not find: counted 0."""
    state = notes.without(state)
    count, line = _line(session, state, line_id)
    if line is None:
        return _next(session, state)
    counts.set_counted(count, line, 0)
    return _next(session, state, Answer("ok", f"{_row(session, line).what}: not here (0 counted).",
                                        _then(session, state)))


def count_it(session: Session, state: dict, by: Actor, line_id: object) -> Answer:
    """The counter found a lot asked about: key its count."""
    state = notes.without(state)
    count, line = _line(session, state, line_id)
    if line is None:
        return _next(session, state)
    return _next(session, {**state, "line": line.id})


def give_reason(session: Session, state: dict, by: Actor, line_id: object, choice: str | None,
                typed: str | None) -> Answer:
    """Why a line differs: one of the reasons shown, or the counter's own words (typed wins)."""
    state = notes.without(state)
    count, line = _line(session, state, line_id)
    if line is None:
        return _next(session, state)
    text = (typed or "").strip() or (choice if choice in counts.REASONS else "")
    try:
        counts.set_reason(count, line, text)
    except DomainError as exc:
        return Answer("error", exc.message)
    return _next(session, state)


def finish(session: Session, state: dict, by: Actor, threshold: int) -> Answer:
    """Book the count (or leave it for a supervisor); when the books moved meanwhile, ask for a recount."""
    state = notes.without(state)
    count = _count(session, state)
    if count is None:
        return _next(session, {})
    where = session.get(Location, count.location_id).code
    try:
        with session.begin_nested():
            result = counts.finish(session, count, by=by, threshold=threshold)
    except DomainError as exc:
        return _next(session, {**state, "review": True}, Answer("error", exc.message))
    if result.status == "recount":
        return _next(session, {**state, "review": True, "line": None}, Answer(
            "warn", f"Stock moved at {where} while you counted — count again: {'; '.join(result.changed)}.",
            "Scan each of those, or tap COUNT IT."))
    rows = [_row(session, line) for line in count.lines if counts.diff(line)]
    words = ", ".join(f"{r.lot_number} {r.expected} → {r.counted}" for r in rows[:4])
    if result.status == "pending":
        return Answer("warn", f"Count {count.id} of {where} waits for a supervisor: {words}.",
                      f"A difference of more than {threshold} needs their approval; nothing is booked until then.",
                      state={}, data={"count": count.id, "status": "pending"})
    said = f"Count {count.id} of {where} booked: {words}." if rows else \
        f"Count {count.id} of {where}: everything matches the books."
    return Answer("ok", said, "Scan the next location to count.", state={},
                  data={"count": count.id, "status": "booked"})


def cancel(session: Session, state: dict, by: Actor) -> Answer:
    """Stop the count: nothing is booked (the button's confirm)."""
    state = notes.without(state)
    count = _count(session, state)
    if count is None:
        return _next(session, {})
    counts.cancel(session, count, by=by)
    return Answer("info", f"Count {count.id} cancelled — nothing was booked.", "Scan the location to count.",
                  state={})
