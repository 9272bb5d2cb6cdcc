"""Picking as a service: a scan picks the suggested lot (FIFO/FEFO) of an order's line, or asks why a
younger lot, or refuses it in words; the page's taps set a quantity, give the reason, cancel, choose
a line, report a short pick, take the last pick back and ship the order. No Flask.

    step(session, state, scan) -> Answer           every scan (station/workflows/intake.py calls it)
    override(session, state, reason, by)            the reason for the younger lot the last scan asked about
    cancel(session, state)                          forget the pending lot / location / quantity
    set_qty(session, state, typed)                  the next lot scan picks this many
    short(session, state, reason, by, seen)         the suggested lot is not there (written off)
    choose_line(session, state, line_no)            make line <no> the current one
    next_line(session, state)                       the next open line (CMD:NEXT)
    undo(session, state, by)                        take back the last pick made here (CMD:UNDO)
    ship(session, state, by)                        ship the order (CMD:CONFIRM)

Each returns an Answer whose `state` is the new state; a refusal of a service raises DomainError
(the caller's savepoint undoes its writes, the state stays as it was).

The state (JSON, held by the station or the browser's floor session) is what the picker is in the
middle of, for one order:

    {"order": <order id>, "scan_location": bool,   # the page's rule: the location before the lot
     "line": <order line id>,                       # the line chosen (else the first open one)
     "loc": <location id>,                          # a location scanned first
     "qty": <int or decimal string>,                # a quantity typed for the next lot scan
     "pending": {...},                              # a younger lot waiting for a reason
     "last": <movement id>}                         # the last pick made here, for undo

The pick page writes "order" when it opens (another order's state is not carried over:
pick_list.for_order); the screen it draws is pick_list.screen.
"""
from __future__ import annotations

import functools
from dataclasses import replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Location, Lot, Movement, Order, OrderLine
from ..services import picking
from ..services.actor import Actor
from ..services.errors import DomainError, LotNotPickable
from . import Answer, Scanned
from .inputs import clean_scan, held, parse_qty
from .inputs import said as say
from .pick_list import OPEN, LineView, current, lines, order_of

NAME = "picking"
# What a new scan or a new choice of line makes moot: the location scanned first, the quantity typed
# for the next scan, and the younger lot waiting for a reason.
IN_HAND = ("pending", "loc", "qty")
# Refusals of the scanned lot itself (held, expired, recalled; expiring too soon for the order): the
# banner says which lot to take instead.
LOT_REFUSALS = ("lot_not_pickable", "shelf_life_too_short", "expires_before_due")
NO_ORDER = Answer("error", "No order is open for picking here — open the order's pick page first.")


def _with_order(act):
    """Run `act(session, order, state, ...)` on a copy of the state, for the state's order; the
    answer carries the copy as the new state."""
    @functools.wraps(act)
    def run(session: Session, state: dict, *args, **kwargs) -> Answer:
        order = order_of(session, state)
        if order is None:
            return NO_ORDER
        working = dict(state)
        answer = act(session, order, working, *args, **kwargs)
        return replace(answer, state=working)
    return run


def _forget(state: dict, keys=IN_HAND) -> None:
    for key in keys:
        state.pop(key, None)


# --- scans -----------------------------------------------------------------------------------------


@_with_order
def step(session: Session, order: Order, state: dict, scan: Scanned) -> Answer:
    """One scan on the order: a location (scanned first), a lot, a pallet (SSCC) or a GS1 lot label."""
    res = scan.resolution
    if order.status not in OPEN:
        return Answer("error", f"Order {order.number} is {order.status.value} — nothing more can be picked.")
    if not res.ok:
        return Answer("error", res.message)
    records = res.records or {}
    if res.kind == "location" or (res.kind not in ("sscc", "gs1", "lot") and records.get("location")):
        return _on_location(session, order, state, records["location"])
    lot_record = records.get("lot")
    if lot_record is None and len(records.get("lots") or []) > 1:
        return Answer("error", f"{len(records['lots'])} lots carry this supplier lot — scan the Station "
                               f"lot label (LOT:…) instead.")
    if lot_record is None:
        if records.get("item"):
            item = records["item"]
            return Answer("error", f"That is the barcode of {item['sku']} {item['name']}, not of a lot — "
                                   f"scan the lot label or the pallet label.")
        return Answer("error", f"{res.message} Scan a lot label, a pallet label or a location.")
    lot = session.get(Lot, lot_record["id"])
    unit = records.get("unit")
    location = None
    if state.get("loc"):
        location = session.get(Location, state["loc"])
    elif unit and unit.get("location"):
        location = session.scalar(select(Location).where(Location.code == unit["location"]))
    if state.get("scan_location") and location is None:
        return Answer("error", f"Scan the location first{_where(session, order, state, lot)}, then the lot.")
    raw = clean_scan(scan.raw)  # as the ledger records a pick's scan (Movement.raw_scan)
    return _pick(session, order, state, lot, location, by=replace(scan.actor, raw_scan=raw), raw=raw,
                 label=_label_qty(res.fields or {}))


def _label_qty(fields: dict) -> dict | None:
    """What a scanned label counts (scanning/measures.py): a case GTIN's pack, a catch-weight case's weight
    and pieces; None for a label that counts nothing (a lot label, a pallet)."""
    label = {key: fields[key] for key in ("qty", "pieces") if fields.get(key)}
    return label or None


def _where(session: Session, order: Order, state: dict, lot: Lot) -> str:
    chosen = current(lines(session, order), state)
    if chosen is not None and chosen.next is not None and chosen.next.lot_id == lot.id:
        return f" ({chosen.next.location_code})"
    return ""


def _on_location(session: Session, order: Order, state: dict, location: dict) -> Answer:
    state["loc"] = location["id"]
    state.pop("pending", None)
    chosen = current(lines(session, order), state)
    if chosen is not None and chosen.next is not None:
        a = chosen.next
        if a.location_id != location["id"]:
            return Answer("warn", f"Location {location['code']} — the suggested lot {a.lot_number} is at "
                                  f"{a.location_code}.", "Go there, or scan a lot here and say why.")
        return Answer("ok", f"Location {location['code']} — now scan lot {a.lot_number}.")
    return Answer("ok", f"Location {location['code']} — now scan the lot.")


def _line_for(views: list[LineView], state: dict, lot: Lot) -> LineView | None:
    """The line a lot of this item is for: the current line if it fits, else the first open one."""
    chosen = current(views, state)
    if chosen is not None and chosen.line.item_id == lot.item_id and not chosen.done:
        return chosen
    return next((v for v in views if v.line.item_id == lot.item_id and not v.done), None)


def _pick(session: Session, order: Order, state: dict, lot: Lot, location: Location | None, *, by: Actor,
          raw: str, reason: str | None = None, label: dict | None = None) -> Answer:
    views = lines(session, order)
    view = _line_for(views, state, lot)
    if view is None:
        done = next((v for v in views if v.line.item_id == lot.item_id), None)
        if done is not None:
            return Answer("error", f"Line {done.line.line_no} ({lot.item.sku}) is already picked in full — "
                                   f"lot {lot.lot_number} is not needed.", data={"refused": "line_done"})
        needs = ", ".join(f"{v.line.item.sku}" for v in views if not v.done) or "nothing more"
        return Answer("error", f"Wrong item: lot {lot.lot_number} is {lot.item.sku} {lot.item.name}. "
                               f"This order needs {needs}.", data={"refused": "wrong_item"})
    line = view.line
    typed = held(state.get("qty"))
    qty, pieces = _how_much(line, typed, label, view.open_qty)
    if line.item.variable_measure and qty is None:
        return Answer("error", f"{line.item.sku} is picked by weight: scan the case's own label (with its net "
                               f"weight), or key the case's weight in {line.item.unit}, then scan lot "
                               f"{lot.lot_number}.", data={"refused": "weight_needed"})
    try:
        with session.begin_nested():  # a refused pick writes nothing; what it asks for goes in the state
            movement = picking.pick_line(session, line=line, lot=lot, location=location, qty=qty,
                                         override_reason=reason, by=by, pieces=pieces)
    except DomainError as exc:
        if exc.code == "younger_lot_refused":
            # The item's policy: no reason gets past, so nothing waits for one.
            state.pop("pending", None)
            state["line"] = line.id
            return Answer("error", exc.message, f"No exceptions for {line.item.sku}: scan lot "
                                                f"{exc.details.get('suggested_lot')}.", data=refused(exc))
        if exc.code == "override_reason_required":
            older, where = exc.details.get("suggested_lot"), exc.details.get("suggested_location")
            state["pending"] = {"lot": lot.id, "line": line.id, "loc": location.id if location else None,
                                "qty": typed, "label": label, "raw": raw, "message": exc.message, "lot_number": lot.lot_number,
                                "older": older, "older_at": where}
            state["line"] = line.id
            return Answer("warn", exc.message, f"Scan lot {older} — or choose below why you take "
                                               f"lot {lot.lot_number}.")
        instead = _next_lot(session, line) if exc.code in LOT_REFUSALS else None
        return Answer("error", exc.message, instead, data=refused(exc))
    _forget(state)
    state["last"] = movement.id  # what CMD:UNDO takes back
    session.refresh(line)
    left = picking.open_qty(line)
    unit = line.item.unit
    source = session.get(Location, movement.from_location_id)
    cases = f" ({movement.pieces} case{'s' if movement.pieces != 1 else ''})" if movement.pieces else ""
    said = f"Picked {say(movement.qty, line.item.qty_decimals, unit)}{cases} of lot {lot.lot_number} from {source.code}"
    if reason:
        said += f" (instead of the older lot: {reason})"
    if left == 0:
        state.pop("line", None)  # on to the next open line
        rest = [v for v in lines(session, order) if not v.done]
        following = current(rest, {}) if rest else None
        if following is None:
            return Answer("ok", f"{said}. Line {line.line_no} done — every line is picked.",
                          "Scan CONFIRM or tap Ship to ship the order.")
        return Answer("ok", f"{said}. Line {line.line_no} done.",
                      f"Next: line {following.line.line_no}, {following.line.item.sku}.")
    state["line"] = line.id
    nxt = picking.line_suggestion(session, line)
    if nxt is not None and nxt.allocations:
        a = nxt.allocations[0]
        return Answer("ok", f"{said}. {say(left, line.item.qty_decimals, unit)} more: lot {a.lot_number} at "
                            f"{a.location_code}.")
    return Answer("ok", f"{said}. {say(left, line.item.qty_decimals, unit)} more needed, but no pickable stock "
                        "is left.",
                  "Pick what you can find, or ship the order short.")


def _how_much(line: OrderLine, typed, label: dict | None, open_qty) -> tuple:
    """(qty, pieces) a pick takes. A catch-weight case's label weight is what the case weighs, whatever
    was typed; else the quantity typed (at most what the line needs), else a pack's count from its
    label (a case of 12 is 12: more than the line needs is refused, not cut), else None (pick_line
    decides). A variable-measure pick counts its cases: the label's, else one case keyed."""
    label = label or {}
    weighed = line.item.variable_measure
    if weighed and label.get("qty"):
        return held(label["qty"]), label.get("pieces") or 1
    qty = min(typed, open_qty) if typed is not None else (None if weighed else held(label.get("qty")))
    return qty, ((label.get("pieces") or 1) if weighed and qty is not None else None)


def refused(exc: DomainError) -> dict:
    """What the scan's kept answer (scan_applications) says it was refused for, so the overrides
    report counts it by kind: "lot_hold", "lot_expired", "shelf_life_too_short", "wrong_item", ..."""
    if isinstance(exc, LotNotPickable) and exc.details.get("lot_status"):
        return {"refused": f"lot_{exc.details['lot_status']}"}
    return {"refused": exc.code}


def _next_lot(session: Session, line: OrderLine) -> str | None:
    """The lot to take instead of a refused one, when there is one."""
    nxt = picking.line_suggestion(session, line)
    if nxt is not None and nxt.allocations:
        return f"Take lot {nxt.allocations[0].lot_number} from {nxt.allocations[0].location_code}."
    return None


# --- taps ----------------------------------------------------------------------------------------


@_with_order
def override(session: Session, order: Order, state: dict, reason: str, by: Actor) -> Answer:
    """Pick the younger lot the last scan asked about, for `reason` (one of the page's buttons)."""
    pending = state.get("pending")
    if not pending:
        return Answer("info", "Nothing waits for a reason — scan a lot.")
    if not reason:
        return Answer("error", "Choose why you take this lot.")
    lot = session.get(Lot, pending["lot"])
    location = session.get(Location, pending["loc"]) if pending.get("loc") else None
    label = pending.get("label")
    state["line"] = pending["line"]
    if pending.get("qty"):
        state["qty"] = pending["qty"]
    state.pop("pending", None)
    raw = pending.get("raw") or ""
    return _pick(session, order, state, lot, location, by=replace(by, raw_scan=raw), raw=raw, reason=reason,
                 label=label)


@_with_order
def cancel(session: Session, order: Order, state: dict) -> Answer:
    _forget(state)
    return Answer("info", "Cancelled — nothing was picked. Scan the suggested lot.")


@_with_order
def set_qty(session: Session, order: Order, state: dict, typed: str) -> Answer:
    """The next lot scan picks `typed` (in the item's decimals, up to what the current line still needs)."""
    chosen = current(lines(session, order), state)
    if chosen is None or chosen.done:
        return Answer("error", "No open line to set a quantity for.")
    try:
        qty = parse_qty(typed, of=chosen.line.item)
    except DomainError as exc:
        return Answer("error", exc.message, "Type how many you take.")
    if qty is None:
        return Answer("error", "Type how many you take: a number greater than 0.")
    if qty > chosen.open_qty:
        item = chosen.line.item
        return Answer("error", f"Line {chosen.line.line_no} needs only "
                               f"{say(chosen.open_qty, item.qty_decimals, item.unit)} more.")
    state["qty"], state["line"] = qty, chosen.line.id
    item = chosen.line.item
    return Answer("info", f"The next lot scan picks {say(qty, item.qty_decimals, item.unit)}.")


@_with_order
def short(session: Session, order: Order, state: dict, reason: str, by: Actor,
          seen: tuple[str, str] | None = None) -> Answer:
    """The suggested lot is not (all) at its location: its stock there is written off, for `reason`.
    `seen` is the (lot, location) the worker was shown: stock is written off only if that is still the
    suggestion — a list drawn before another pick or a refresh must not write off a different lot."""
    chosen = current(lines(session, order), state)
    if chosen is None or chosen.done:
        return Answer("error", "No open line to report short.")
    if not reason:
        return Answer("error", "Choose what is wrong at the location.")
    a = chosen.next
    if a is None:
        return Answer("info", f"Line {chosen.line.line_no} has no pickable stock left; it ships short "
                              f"by {chosen.open_qty}.")
    if seen is not None and seen != (a.lot_number, a.location_code):
        return Answer("error", f"The list changed: lot {a.lot_number} at {a.location_code} is suggested now. "
                               "Nothing was written off — look at it, then tap why again.")
    movement = picking.short_pick(session, line=chosen.line, reason=reason, by=by)
    _forget(state)
    state["line"] = chosen.line.id
    nxt = picking.line_suggestion(session, chosen.line)
    item = chosen.line.item
    said = (f"Short recorded: {say(movement.qty, item.qty_decimals, item.unit)} of lot {a.lot_number} at "
            f"{a.location_code} taken off the books ({reason}).")
    if nxt is not None and nxt.allocations:
        b = nxt.allocations[0]
        return Answer("warn", said, f"Next: lot {b.lot_number} at {b.location_code}.")
    return Answer("warn", said, f"No other stock: line {chosen.line.line_no} ships short by "
                                f"{chosen.open_qty}.")


@_with_order
def choose_line(session: Session, order: Order, state: dict, line_no: int) -> Answer:
    line = next((line for line in order.lines if line.line_no == line_no), None)
    if line is None:
        return Answer("error", f"Order {order.number} has no line {line_no}.")
    state["line"] = line.id
    _forget(state)
    return Answer("info", f"Line {line_no}: {line.item.sku} {line.item.name}.")


@_with_order
def next_line(session: Session, order: Order, state: dict) -> Answer:
    views = lines(session, order)
    chosen = current(views, state)
    open_views = [v for v in views if not v.done]
    if not open_views:
        return Answer("info", "Every line is picked — scan CONFIRM to ship.")
    at = views.index(chosen) if chosen in views else -1
    following = next((v for v in views[at + 1:] + views[:at + 1] if not v.done), open_views[0])
    state["line"] = following.line.id
    _forget(state)
    return Answer("info", f"Line {following.line.line_no}: {following.line.item.sku} "
                          f"{following.line.item.name}.")


@_with_order
def undo(session: Session, order: Order, state: dict, by: Actor) -> Answer:
    """Take back the last pick made here (only that one: the state remembers no other)."""
    last = state.get("last")
    movement = session.get(Movement, last) if isinstance(last, int) else None
    if movement is None:
        return Answer("info", "No pick to take back — only the last pick made here can be undone.")
    unpick = picking.undo_pick(session, movement, by=by)
    _forget(state, IN_HAND + ("last",))
    line = session.get(OrderLine, unpick.order_line_id)
    state["line"] = line.id
    back_to = session.get(Location, unpick.to_location_id).code
    staging = session.get(Location, unpick.from_location_id).code
    return Answer("ok", f"Pick taken back: {say(unpick.qty, line.item.qty_decimals, line.item.unit)} of lot {unpick.lot.lot_number} "
                        f"— take it from {staging} and put it back at {back_to}.",
                  f"Line {line.line_no} needs {picking.open_qty(line)} {line.item.unit} again.")


@_with_order
def ship(session: Session, order: Order, state: dict, by: Actor) -> Answer:
    """Ship the order: a line still open ships short only with a reason (the short pick's) or when no
    lot is left for it — services.picking.short_reasons, the rule the API follows too."""
    if order.status not in OPEN:
        return Answer("error", f"Order {order.number} is already {order.status.value}.")
    movements = picking.ship(session, order, by=by)
    _forget(state, [key for key in list(state) if key not in ("order", "scan_location")])
    lots = len({m.lot_id for m in movements})
    short_lines = [line for line in order.lines if line.short_qty]
    shorts = sum(line.short_qty for line in short_lines)
    note = f" ({shorts} short)" if shorts else ""
    detail = "; ".join(f"Line {line.line_no} {line.item.sku} short {line.short_qty} {line.item.unit}: "
                       f"{line.short_reason}" for line in short_lines) or None
    return Answer("ok", f"Order {order.number} shipped to {order.customer.name}: "
                        f"{sum(m.qty for m in movements)} units{note} from {lots} "
                        f"{'lot' if lots == 1 else 'lots'}.", detail)
