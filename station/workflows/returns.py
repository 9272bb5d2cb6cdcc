"""Customer returns at the dock: scan the lot (or the pallet), say how many, which customer, why -> booked.

    step(session, state, scan) -> Answer     a scanned lot or pallet label (station/workflows/intake.py)
    screen(session, state) -> dict           what the page shows: the stage, the goods, the customers
    prompt(screen) -> Answer                 what the banner says when nothing has just happened
    cancel / choose_qty / choose_customer / confirm_customer / book (session, state, …) -> Answer   the taps

The state is the return being entered: {"lot", "sscc"?, "qty"?, "customer"?, "unshipped"?} ({} when
none). Customers who received the lot (its shipments) are offered first; one who never received it
needs "unshipped" (their confirmation tap). Booking is services.returns.book_return: the goods go into
their own lot at the quarantine place, with a RETURN ledger row and (unless stricter) quarantine status.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Customer, HandlingUnit, Item, Location, LocationKind, Lot
from ..services import returns
from ..services.errors import DomainError
from . import Answer, Scanned, notes
from .inputs import clean_scan, held, parse_qty, said

NAME = "returns"
REASONS = ("Damaged", "Wrong item delivered", "Refused at delivery", "Short dated", "Quality complaint",
           "Ordered by mistake")


@dataclass
class Goods:
    """The returned lot (and pallet) as the page shows it."""

    lot_number: str
    sscc: str | None
    sku: str
    name: str
    unit_name: str
    status: str
    decimals: int = 0  # the item's: how the page writes its quantities, and whether the keypad has a separator

    @property
    def unit(self) -> str:
        return self.unit_name


def stage(state: dict) -> str:
    """Where the return is: "what" (scan the goods), "qty", "customer", "confirm" (a customer who never
    received the lot), "reason"."""
    if not state.get("lot"):
        return "what"
    if not state.get("qty"):
        return "qty"
    if not state.get("customer"):
        return "customer"
    if state.get("unshipped") is False:
        return "confirm"
    return "reason"


def _lot(session: Session, state: dict) -> Lot | None:
    return session.scalar(select(Lot).where(Lot.lot_number == state["lot"])) if state.get("lot") else None


def screen(session: Session, state: dict) -> dict:
    """The return as the page draws it (state {} when its lot is gone)."""
    state = notes.without(state)
    lot = _lot(session, state)
    if lot is None:
        state = {}
    goods = receivers = others = customer = None
    if lot is not None:
        item = session.get(Item, lot.item_id)
        goods = Goods(lot.lot_number, state.get("sscc"), item.sku, item.name, item.unit, lot.status.value,
                      item.qty_decimals)
        receivers = returns.receivers(session, lot)
        if stage(state) == "customer":
            known = {r.customer_id for r in receivers}
            others = [c for c in session.scalars(select(Customer).where(Customer.active.is_(True))
                                                 .order_by(Customer.name).limit(200)) if c.id not in known]
        if state.get("customer"):
            customer = session.scalar(select(Customer).where(Customer.code == state["customer"]))
    place = session.scalar(select(Location).where(Location.kind == LocationKind.QUARANTINE).order_by(Location.code).limit(1))
    return {"state": state, "step": stage(state), "goods": goods, "receivers": receivers or [],
            "others": others or [], "customer": customer, "place": place.code if place else None,
            "reasons": REASONS}


def prompt(shown: dict) -> Answer:
    """What the banner says when nothing has just happened: the stage to do."""
    step, goods, state = shown["step"], shown["goods"], shown["state"]
    if step == "what":
        if shown["place"] is None:
            return Answer("warn", "This site has no quarantine place for returns yet",
                          "An admin must add a location of kind 'quarantine' first.")
        return Answer("info", "Scan the returned lot or pallet", "Our lot label, or the pallet's SSCC label.")
    what = f"lot {goods.lot_number}"
    if step == "qty":
        return Answer("info", f"How many of {what} came back?", "Type it on the keypad, then OK.")
    if step == "customer":
        return Answer("info", f"Which customer sent back {said(state['qty'], goods.decimals, goods.unit_name)} of {what}?",
                      "Those who received it are listed first.")
    name = shown["customer"].name if shown["customer"] else state.get("customer")
    if step == "confirm":
        return Answer("warn", f"{name} never received {what}", "Confirm only if it really came from them.")
    return Answer("info", f"Why did {name} send it back?", "Tap a reason (or write one), then Book.")


def _next(session: Session, state: dict) -> Answer:
    shown = screen(session, state)
    answer = prompt(shown)
    return Answer(answer.kind, answer.message, answer.detail, state=shown["state"])


# --- the scan step --------------------------------------------------------------------------------


def step(session: Session, state: dict, scan: Scanned) -> Answer:
    """One scan of the returns page: a lot label or a pallet label starts (or restarts) a return."""
    return notes.dropped(state, _step(session, notes.without(state), scan))


def _step(session: Session, state: dict, scan: Scanned) -> Answer:
    res = scan.resolution
    records = res.records or {}
    unit = records.get("unit") or {}
    lot = (records.get("lot") or {}).get("lot_number")
    if unit.get("sscc") and lot:
        return _start(session, lot, unit["sscc"])
    if lot and res.kind in ("lot", "gs1"):
        return _start(session, lot, None)
    if records.get("item"):
        item = records["item"]
        return Answer("error", f"That is the barcode of the item {item['sku']} {item['name']}, not of one lot.",
                      "Scan our lot label or the pallet's SSCC label.")
    if not res.ok:
        return Answer("error", res.message, "Scan the returned lot's label or the pallet's SSCC label.")
    return Answer("error", f"{res.message}", "Scan a lot or a pallet here: the goods that came back.")


def _start(session: Session, number: str, sscc: str | None) -> Answer:
    lot = session.scalar(select(Lot).where(Lot.lot_number == number))
    if lot is None:
        return Answer("error", f"There is no lot {number[:40]} here.", state={})
    item = session.get(Item, lot.item_id)
    got = returns.receivers(session, lot)
    if not got:
        told = "It was never shipped to anyone — check the label."
    else:
        told = "Received by " + ", ".join(f"{r.name} ({r.shipped})" for r in got[:3]) + \
            (f" and {len(got) - 3} more" if len(got) > 3 else "") + "."
    what = f"Pallet {sscc}, lot {number}" if sscc else f"Lot {number}"
    return Answer("ok", f"{what}: {item.sku} {item.name}.", f"{told} How many came back?",
                  state={"lot": number, **({"sscc": sscc} if sscc else {})})


# --- the taps -------------------------------------------------------------------------------------


def cancel(session: Session, state: dict) -> Answer:
    """Start again, nothing booked (CMD:CANCEL)."""
    if notes.without(state):
        return Answer("info", "Cancelled — nothing was booked.", "Scan the next returned lot or pallet.", state={})
    return _next(session, {})


def choose_qty(session: Session, state: dict, typed: str | None) -> Answer:
    """How many came back (keypad)."""
    state = notes.without(state)
    if not state.get("lot"):
        return _next(session, state)
    try:
        qty = parse_qty(typed, of=_lot(session, state))
    except DomainError as exc:
        return Answer("error", exc.message, "Type the quantity again.")
    if qty is None:
        return Answer("error", "Type how many first, then OK.")
    return _next(session, {k: v for k, v in state.items() if k not in ("customer", "unshipped")} | {"qty": qty})


def choose_customer(session: Session, state: dict, code: str | None) -> Answer:
    """The customer who sent the goods back (tapped); one who never received the lot asks to confirm."""
    state = notes.without(state)
    lot = _lot(session, state)
    if lot is None or not state.get("qty"):
        return _next(session, state)
    code = clean_scan(code)[:20]
    customer = session.scalar(select(Customer).where(Customer.code == code))
    if customer is None:
        return Answer("error", f"There is no customer '{code}'.", "Tap one of the customers shown.")
    got = next((r for r in returns.receivers(session, lot) if r.customer_id == customer.id), None)
    qty = held(state["qty"])
    if got is not None and qty is not None and qty > got.may_return:
        return Answer("error", f"{customer.name} can send back at most {got.may_return} of lot {lot.lot_number} "
                               f"(received {got.shipped}, {got.returned} back already) — not {qty}.",
                      "Type the quantity again, or choose another customer.")
    chosen = {**state, "customer": customer.code, "unshipped": None if got is not None else False}
    return _next(session, {k: v for k, v in chosen.items() if v is not None})


def confirm_customer(session: Session, state: dict) -> Answer:
    """Yes: the goods came from that customer although they never received the lot from us."""
    state = notes.without(state)
    if stage(state) != "confirm":
        return _next(session, state)
    return _next(session, {**state, "unshipped": True})


def book(session: Session, state: dict, reason: str | None, note: str | None, actor) -> Answer:
    """Book the return with its reason (a preset, a written one, or both); state {} when booked."""
    state = notes.without(state)
    if stage(state) != "reason":
        return _next(session, state)
    words = " — ".join(part for part in (clean_scan(reason)[:100], clean_scan(note)[:100]) if part)
    lot = _lot(session, state)
    customer = session.scalar(select(Customer).where(Customer.code == state["customer"]))
    unit = session.scalar(select(HandlingUnit).where(HandlingUnit.sscc == state["sscc"])) \
        if state.get("sscc") else None
    before = lot.status.value
    try:
        with session.begin_nested():  # a refusal undoes its own writes
            movement = returns.book_return(session, lot=lot, qty=held(state["qty"]), customer=customer, reason=words,
                                           unit=unit, confirm_unshipped=bool(state.get("unshipped")), by=actor)
    except DomainError as exc:
        return Answer("error", exc.message, "Change what is wrong, or CANCEL.")
    item = session.get(Item, lot.item_id)
    place = session.get(Location, movement.to_location_id).code
    now = lot.status.value
    status = "It is now in QUARANTINE: QA decides." if now != before else f"It stays {now.upper()}."
    return Answer("ok", f"Returned: {said(movement.qty, item.qty_decimals, item.unit)} of {item.sku}, lot {lot.lot_number}, from "
                        f"{customer.name} → {place}.", f"{status} Scan the next return.",
                  data={"returned": movement.qty, "location": place}, state={})
