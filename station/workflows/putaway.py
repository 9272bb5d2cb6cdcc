"""Put-away: scan a pallet or a lot, say how many (a lot), scan where it goes -> moved.

    step(session, state, scan) -> Answer     a scanned pallet, lot or location (station/workflows/intake.py)
    screen(session, state) -> dict           what the page shows: the stage, the goods, how many there are
    prompt(screen) -> Answer                 what the banner says when nothing has just happened
    cancel / part / choose_source / choose_qty (session, state, …) -> Answer    the page's taps

The state is the move being made: {"sscc"} for a pallet (with "part" and "qty" when only part of it
goes), {"lot", "from", "qty"} for a lot; {} when nothing is being moved. The move itself is
services.putaway.move_goods, which writes the ledger row with the stock change.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import HandlingUnit, Item, Location, Lot
from ..services import catalog, putaway
from ..services.errors import DomainError, NotFound
from . import Answer, Scanned, notes
from .inputs import held, parse_qty, said

NAME = "putaway"


@dataclass
class Goods:
    """What is being moved, as the page shows it."""

    sscc: str | None
    lot_number: str
    sku: str
    name: str
    unit_name: str  # "ea", "kg"
    status: str
    at: str | None  # the pallet's location
    on_pallet: int
    places: list[putaway.Place]
    decimals: int = 0  # the item's: how the page writes its quantities, and whether the keypad has a separator

    @property
    def unit(self) -> str:
        return self.unit_name


def stage(state: dict) -> str:
    """Where the move is: "what" (nothing yet), "source", "qty" or "dest" (scan where it goes)."""
    if not state:
        return "what"
    if state.get("sscc") and not state.get("part"):
        return "dest"
    if state.get("lot") and not state.get("from"):
        return "source"
    if not state.get("qty"):
        return "qty"
    return "dest"


def goods_of(session: Session, state: dict) -> Goods | None:
    """The scanned pallet or lot as it is now (None when it is gone)."""
    if state.get("sscc"):
        unit = session.scalar(select(HandlingUnit).where(HandlingUnit.sscc == state["sscc"]))
        if unit is None or unit.location_id is None:
            return None
        lot, qty = unit.lot, putaway.unit_qty(session, unit)
        at = session.get(Location, unit.location_id).code
    elif state.get("lot"):
        lot = session.scalar(select(Lot).where(Lot.lot_number == state["lot"]))
        if lot is None:
            return None
        qty, at = 0, None
    else:
        return None
    item = session.get(Item, lot.item_id)
    return Goods(state.get("sscc"), lot.lot_number, item.sku, item.name, item.unit, lot.status.value, at, qty,
                 putaway.places(session, lot), item.qty_decimals)


def available(goods: Goods, state: dict) -> int:
    if goods.sscc:
        return goods.on_pallet
    return next((p.qty for p in goods.places if p.code == state.get("from")), 0)


def screen(session: Session, state: dict) -> dict:
    """The move as the page draws it. `state` in the result is {} when the goods are gone: the caller
    keeps that (the move is forgotten)."""
    state = notes.without(state)
    goods = goods_of(session, state)
    if goods is None:
        state = {}
    return {"state": state, "step": stage(state), "goods": goods,
            "available": available(goods, state) if goods else 0}


def prompt(shown: dict) -> Answer:
    """What the banner says when nothing has just happened: the stage to do."""
    step, goods, state = shown["step"], shown["goods"], shown["state"]
    if step == "what":
        return Answer("info", "Scan a pallet or a lot", "Its label: the pallet's SSCC or our lot label. "
                                                         "Then scan where it goes.")
    what = _what(goods, state)
    if step == "source":
        return Answer("info", f"Where is {what} taken from?", "Tap the location, or scan its barcode.")
    if step == "qty":
        return Answer("info", f"How many of {what}?", "Type it on the keypad, then OK.")
    return Answer("info", f"Scan where {what} goes", "The destination location's barcode.")


def _what(goods: Goods | None, state: dict) -> str:
    if goods is None:
        return "it"
    if goods.sscc and not state.get("part"):
        return f"pallet {goods.sscc}"
    qty = f"{said(state['qty'], goods.decimals, goods.unit_name)} of " if held(state.get("qty")) else ""
    return f"{qty}lot {goods.lot_number}"


def _next(session: Session, state: dict) -> Answer:
    """A tap that has nothing to say: the prompt of the stage it leads to, with that state."""
    shown = screen(session, state)
    answer = prompt(shown)
    return Answer(answer.kind, answer.message, answer.detail, state=shown["state"])


# --- the scan step --------------------------------------------------------------------------------


def step(session: Session, state: dict, scan: Scanned) -> Answer:
    """One scan of the put-away page (or of its station's own scanner): a pallet, a lot or a location."""
    return notes.dropped(state, _step(session, notes.without(state), scan))


def _step(session: Session, state: dict, scan: Scanned) -> Answer:
    res = scan.resolution
    if not res.ok:
        return Answer("error", res.message,
                      prompt({"step": stage(state), "goods": None, "state": state}).message if state else None)
    records = res.records or {}
    if records.get("unit"):
        return _pallet(records)
    if records.get("lot") and res.kind in ("lot", "gs1"):
        return _lot(session, records["lot"]["lot_number"])
    if res.kind == "location":
        return _location(session, records["location"]["code"], state, scan)
    if res.kind in ("gtin", "gs1") and records.get("item"):
        item = records["item"]
        return Answer("error", f"That is the barcode of the item {item['sku']} {item['name']}, not of one lot.",
                      "Scan the pallet label (SSCC) or the lot label.")
    return Answer("error", f"{res.message}", "Scan a pallet, a lot or a location here.")


def _pallet(records: dict) -> Answer:
    unit, lot, item = records["unit"], records["lot"], records["item"]
    if not unit.get("qty"):
        return Answer("error", f"Pallet {unit['sscc']} is empty — there is nothing on it to move.", state={})
    where = f" at {unit['location']}" if unit.get("location") else ""
    return Answer("ok", f"Pallet {unit['sscc']}: {said(unit['qty'], item.get('decimals'), item['unit'])} of "
                        f"{item['sku']}, lot "
                        f"{lot['lot_number']}{where}.", "Now scan where it goes.", state={"sscc": unit["sscc"]})


def _lot(session: Session, number: str) -> Answer:
    try:
        lot = catalog.lot_by_number(session, number)
    except NotFound as exc:
        return Answer("error", exc.message, state={})
    found = putaway.places(session, lot)
    item = session.get(Item, lot.item_id)
    status = lot.status.value
    if not found:
        return Answer("error", f"Lot {number} has no stock anywhere — there is nothing to move.", state={})
    blocked = "" if status == "available" else f" It is {status.upper()}: it may be moved, not used."
    if len(found) == 1:
        place = found[0]
        return Answer("ok", f"Lot {number}: {said(place.qty, item.qty_decimals, item.unit)} of {item.sku} at {place.code}.",
                      f"How many go? Type it, then OK.{blocked}", state={"lot": number, "from": place.code})
    where = ", ".join(f"{p.code} ({p.qty})" for p in found)
    return Answer("ok", f"Lot {number} of {item.sku} is in {len(found)} places.",
                  f"{where}. Tap where it is taken from, or scan that location.{blocked}", state={"lot": number})


def _location(session: Session, code: str, state: dict, scan: Scanned) -> Answer:
    now = stage(state)
    if now == "what":
        return Answer("error", f"Location {code} — but scan what to move first.",
                      "Scan the pallet or the lot, then where it goes.")
    if now == "source":
        goods = goods_of(session, state)
        if goods is None or code not in {p.code for p in goods.places}:
            where = ", ".join(p.code for p in goods.places) if goods else "nowhere"
            return Answer("error", f"Lot {state.get('lot')} is not at {code}.",
                          f"It is at {where}: scan one of those, or tap it.")
        return Answer("ok", f"From {code}.", "How many go? Type it, then OK.", state={**state, "from": code})
    if now == "qty":
        return Answer("error", "Type how many first, then OK — then scan where it goes.",
                      f"You scanned location {code}.")
    try:
        with session.begin_nested():  # a refused move undoes its own writes; the scan stays logged
            return _move(session, code, state, scan)
    except DomainError as exc:
        return Answer("error", exc.message, "Nothing was moved. Scan another location, or CANCEL.")


def _move(session: Session, code: str, state: dict, scan: Scanned) -> Answer:
    dest = catalog.location_by_code(session, code)
    unit = session.scalar(select(HandlingUnit).where(HandlingUnit.sscc == state["sscc"])) \
        if state.get("sscc") else None
    lot = catalog.lot_by_number(session, state["lot"]) if state.get("lot") else None
    source = catalog.location_by_code(session, state["from"]) if state.get("from") else None
    movement = putaway.move_goods(session, dest=dest, unit=unit, lot=lot if unit is None else None,
                                  qty=held(state.get("qty")), source=source, by=scan.actor)
    session.flush()
    moved = session.get(Lot, movement.lot_id)
    item = session.get(Item, moved.item_id)
    origin = session.get(Location, movement.from_location_id).code
    words = f"Moved: {said(movement.qty, item.qty_decimals, item.unit)} of {item.sku}, lot {moved.lot_number}, {origin} → {code}."
    detail = (f"Pallet {unit.sscc}. " if unit is not None else "") + "Scan the next pallet or lot."
    return Answer("ok", words, detail, data={"moved": movement.qty}, state={})


# --- the taps -------------------------------------------------------------------------------------


def cancel(session: Session, state: dict) -> Answer:
    """Start again, nothing moved (CMD:CANCEL)."""
    if notes.without(state):
        return Answer("info", "Cancelled — nothing was moved.", "Scan the next pallet or lot.", state={})
    return _next(session, {})


def part(session: Session, state: dict) -> Answer:
    """Only part of the pallet goes: ask how many."""
    state = notes.without(state)
    if state.get("sscc"):
        state = {**state, "part": True, "qty": None}
    return _next(session, state)


def choose_source(session: Session, state: dict, code: str) -> Answer:
    """A lot in several places: the location it is taken from (tapped)."""
    state = notes.without(state)
    goods = goods_of(session, state)
    if goods is None or goods.sscc:
        return _next(session, state)
    if code not in {p.code for p in goods.places}:
        return Answer("error", f"Lot {goods.lot_number} is not at {code[:30]}.", "Tap one of the places shown.")
    return _next(session, {**state, "from": code, "qty": None})


def choose_qty(session: Session, state: dict, typed: str | None) -> Answer:
    """How many of the lot (or off the pallet), typed on the keypad."""
    state = notes.without(state)
    goods = goods_of(session, state)
    if goods is None:
        return _next(session, state)
    try:
        qty = parse_qty(typed, of=session.scalar(select(Item).where(Item.sku == goods.sku)))
    except DomainError as exc:
        return Answer("error", exc.message, "Type the quantity again.")
    most = available(goods, state)
    if qty is None:
        return Answer("error", "Type how many first, then OK.")
    if qty > most:
        where = f"on pallet {goods.sscc}" if goods.sscc else f"at {state.get('from')}"
        return Answer("error", f"Only {said(most, goods.decimals, goods.unit_name)} of lot {goods.lot_number} {where}; {qty} typed.",
                      "Type the quantity again.")
    return _next(session, {**state, "qty": qty})
