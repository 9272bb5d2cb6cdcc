"""Receiving at the dock as a service: a scanned pallet label fills the receipt, hand entry completes
it, Confirm books it (lot, stock at the station's dock, ledger row, labels queued). No Flask.

    step(session, state, scan) -> Answer      a scan (from any way in: station/workflows/intake.py)
    fill(session, state, form) -> Answer      the form's values as typed (qty, expiry, supplier_lot)
    choose_item(session, state, sku, form)    the item picked by hand
    cancel(session, state)                    start again with an empty receipt
    confirm(session, state, form, by=, station_id=)   book it (a double tap books once)
    add_item(session, state, sku=, name=, unit=)      a supervisor adds the item of an unknown GTIN
    screen(session, state, station_id) -> dict        what the page shows

The state (JSON, held by the station or the browser's floor session):

    {"draft": {...},   the receipt being filled (station/workflows/receipt_draft.py)
     "done": {...}}    the receipt booked last: its lot, what and where, its label jobs (a second
                       Confirm of the same receipt token shows it again instead of booking)

A scanned or chosen item is matched against the open expected receipts (workflows/receipt_expected.py):
an announced SSCC, or the only open line expecting the item, fills the receipt and is booked against;
"not expected", over-delivery and what is still missing are said in words; goods past their expiry are
booked into quarantine (services/receipts_ui.py). There is always a supplier before Confirm books.

A refusal of a tap is an error Answer whose data may hold "status" (the HTTP status a page answers
with, as the DomainError's) and "bad" (the field to mark). The two barcodes of a pallet label can be
scanned in either order; hand entry survives a scan.
"""
from __future__ import annotations

import dataclasses

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Item, Location, LocationKind, Operator, Role, StationDevice
from ..services import catalog
from ..services.actor import Actor
from ..services.errors import DomainError, Invalid
from . import Answer, Scanned
from . import receipt_draft as drafts
from . import receipt_expected as expecting
from .inputs import held, said

NAME = "receiving"
# Who may add the item of an unknown GTIN: the roles of station.auth.WORKFLOWS["supervisor"], named
# here because station.auth loads Flask (tests/test_workflow_receiving.py checks the two agree).
ADDS_ITEMS = frozenset({Role.SUPERVISOR, Role.ADMIN})


def draft_of(state: dict) -> dict:
    return drafts.usable(state.get("draft"))


def _with(state: dict, **changes) -> dict:
    return {**state, **changes}


# --- a scan -----------------------------------------------------------------------------------------


def step(session: Session, state: dict, scan: Scanned) -> Answer:
    """A scanned pallet label fills the receipt; anything else is refused in words, the receipt kept.
    An Answer with data {"receipt": True} changed the receipt (the page draws it again)."""
    res = scan.resolution
    draft = draft_of(state)
    if res.ok and res.action == "receive":
        merge = drafts.merge_scan(draft, res)
        merge.draft = expecting.match(session, merge.draft)
        warning = merge.draft.get("not_expected") or expecting.over_words(merge.draft)
        detail = drafts.still_needed(merge.draft)
        if warning:
            return Answer("error", warning, "Check the delivery note. " + detail,
                          state=_with(state, draft=merge.draft), data={"receipt": True})
        if merge.draft.get("expected_ref"):
            detail = f"Expected: {merge.draft['expected_ref']}. {detail}"
        return Answer("ok", drafts.filled_words(merge), detail,
                      state=_with(state, draft=merge.draft), data={"receipt": True})
    if res.error == "unknown_gtin":
        draft = drafts.remember_unknown_gtin(draft, res)
        gtin = draft.get("unknown_gtin") or ""
        if _adds_items(session, scan.actor):
            message = f"GTIN {gtin} is not an item here yet."
            detail = "You may add the item below: SKU, name and unit — then the receipt goes on."
        else:
            message = f"GTIN {gtin} is not an item here — do not receive this pallet yet."
            detail = "Put it aside and ask a supervisor to add the item; then scan the label again."
        return Answer("error", message, detail, state=_with(state, draft=draft), data={"receipt": True})
    if res.error == "sscc_already_received":
        return Answer("error", res.message, "Nothing was booked. Put the pallet aside and tell a supervisor.")
    if not res.ok:
        return Answer("error", res.message)
    if res.kind == "lot":
        return Answer("error", "That is one of our own lot labels — scan the supplier's pallet label to receive.")
    if res.kind == "location":
        return Answer("error", "That is a location barcode — scan the supplier's pallet label to receive.")
    if res.kind in ("operator", "command"):
        return Answer("error", res.message)
    return Answer("error", "This label cannot be received here — scan the supplier's pallet label.")


def _adds_items(session: Session, actor: Actor) -> bool:
    if actor.operator_id is None:
        return False
    role = session.scalar(select(Operator.role).where(Operator.id == actor.operator_id))
    return role in ADDS_ITEMS


# --- taps ------------------------------------------------------------------------------------------


def fill(session: Session, state: dict, form: dict) -> Answer:
    """The form as typed, kept so that a scan drawing the receipt again does not lose it. A value
    half typed is not refused yet (Confirm says what is wrong): the receipt then stays as it was."""
    try:
        draft = _typed(session, draft_of(state), form)
    except Invalid:
        return Answer("info", "Kept as it was.")
    return Answer("info", "Kept.", state=_with(state, draft=draft))


def _typed(session: Session, draft: dict, form: dict) -> dict:
    """The draft with the form's values and picks, matched again against what is expected."""
    return expecting.match(session, expecting.take_choices(session, drafts.take_form(draft, form), form))


def choose_item(session: Session, state: dict, sku: str, form: dict) -> Answer:
    """The item chosen by hand (the values typed so far kept with it)."""
    draft = draft_of(state)
    try:
        draft = drafts.take_form(draft, form)
    except Invalid:
        pass  # a half-typed value is not an error yet
    try:
        item = catalog.item_by_sku(session, sku)
    except DomainError as exc:
        return Answer("error", exc.message, data={"status": 422})
    draft.update(drafts.item_fields(item))
    draft.pop("unknown_gtin", None)
    draft = expecting.match(session, draft)
    if draft.get("not_expected"):
        return Answer("error", draft["not_expected"], "Check the delivery note.", state=_with(state, draft=draft))
    return Answer("ok", f"Item {item.sku} {item.name}.", state=_with(state, draft=draft))


def cancel(session: Session, state: dict) -> Answer:
    return Answer("info", "Receipt cleared — scan the next pallet label.",
                  state=_with(state, draft=_next_draft(draft_of(state))))


def confirm(session: Session, state: dict, form: dict, *, by: Actor, station_id: int | None) -> Answer:
    """Book the receipt with the values typed in `form`, at the station's dock, labels to its printer.

    The form's token names the receipt shown: a second Confirm of a receipt booked already (a double
    tap, CONFIRM scanned twice) answers the first booking and books nothing."""
    draft = draft_of(state)
    done = state.get("done")
    token = form.get("token")
    if token and isinstance(done, dict) and done.get("token") == token:
        return received(done, repeated=True)
    try:
        draft = _typed(session, draft, form)
    except Invalid as exc:
        return Answer("error", exc.message, data={"status": 422, "bad": exc.details.get("field")})
    typed = _with(state, draft=draft)  # kept even when the booking is refused
    if draft.get("unknown_gtin") and not draft.get("sku"):
        return Answer("error", f"GTIN {draft['unknown_gtin']} is not an item here — a supervisor must add "
                               f"the item first.", state=typed, data={"status": 422})
    try:
        with session.begin_nested():  # a refusal undoes the booking's writes, not the typed values
            dock, problem = dock_of(session, station_id)
            if dock is None:
                raise Invalid(problem, code="no_dock_location")
            device = session.get(StationDevice, station_id) if station_id is not None else None
            receipt = drafts.book_draft(session, draft, location=dock, station=device,
                                        by=dataclasses.replace(by, raw_scan=draft.get("scan")))
            result = {
                "token": draft["token"], "lot": receipt.lot.lot_number, "qty": receipt.qty or held(draft["qty"]),
                "unit": draft.get("unit") or receipt.lot.item.unit, "decimals": receipt.lot.item.qty_decimals, "sku": receipt.lot.item.sku,
                "item_name": receipt.lot.item.name, "location": dock.code, "sscc": receipt.sscc,
                "jobs": [j.id for j in receipt.jobs], "note": receipt.label_note, "repeated": receipt.repeated,
                "pieces": receipt.pieces,
                "supplier": receipt.lot.supplier.name if receipt.lot.supplier else None,
                **_against_expected(receipt),
            }
    except DomainError as exc:
        gaps = exc.details.get("missing") or []
        bad = gaps[0] if gaps else exc.details.get("field") or ("qty" if exc.code == "too_many_decimals" else None)
        return Answer("error", exc.message, state=typed,
                      data={"status": exc.status if exc.status < 500 else 422, "bad": bad})
    return received(result, repeated=result["repeated"], state={"draft": _next_draft(draft), "done": result})


def _next_draft(draft: dict) -> dict:
    """An empty receipt; the printer chosen on a device bound to no station stays chosen."""
    return {**drafts.new_draft(), **({"printer": draft["printer"]} if draft.get("printer") else {})}


def _against_expected(receipt) -> dict:
    """What the receipt's done card says about the expected delivery and the goods' state, in words."""
    booked = receipt.booked
    return {
        "expected": f"{booked.line.expected.reference} from {booked.line.expected.supplier.name}" if booked else None,
        "over": f"{booked.over} more than expected." if booked and booked.over else None,
        "complete": bool(booked and booked.completed),
        "still_missing": receipt.still_missing, "not_expected": receipt.not_expected,
        "quarantined": receipt.quarantined,
    }


def received(done: dict, *, repeated: bool, state: dict | None = None) -> Answer:
    """The answer of a booked receipt: data {"done": what was booked, "repeated": booked before}.
    Goods booked into quarantine, or not as expected, are an error banner (red) with the same words."""
    cases = f" in {done['pieces']} case{'s' if done['pieces'] != 1 else ''}" if done.get("pieces") else ""
    what = f"{said(done['qty'], done.get('decimals'), done['unit'])}{cases} of {done['sku']} {done['item_name']}"
    detail = f"{what} at {done['location']}" + (f", pallet {done['sscc']}" if done.get("sscc") else "") + "."
    if repeated:
        detail = "Already booked — nothing was booked twice. " + detail
    warnings = [done.get(key) for key in ("quarantined", "not_expected", "over") if done.get(key)]
    if warnings and not repeated:
        return Answer("error", f"Received — lot {done['lot']}. " + " ".join(warnings), detail, state=state,
                      data={"done": done, "repeated": repeated, "status": 200})
    if done.get("still_missing") and not repeated:
        detail += " " + done["still_missing"]
    elif done.get("complete") and not repeated:
        detail += f" Everything expected on {done['expected']} is in."
    return Answer("ok", f"Received — lot {done['lot']}", detail, state=state,
                  data={"done": done, "repeated": repeated})


def add_item(session: Session, state: dict, *, sku: str, name: str, unit: str) -> Answer:
    """A supervisor creates the item of the unknown GTIN the receipt is waiting for; it goes on."""
    draft = draft_of(state)
    gtin = draft.get("unknown_gtin")
    if not gtin:
        return Answer("error", "There is no unknown GTIN waiting — scan the pallet label again.",
                      data={"status": 409})
    try:
        with session.begin_nested():
            item = catalog.create_item(session, sku=sku, name=name, unit=unit or "ea", gtins=[gtin])
            fields = drafts.item_fields(item)
    except DomainError as exc:
        return Answer("error", exc.message, data={"status": 422})
    draft.update(fields, gtin=gtin)
    draft.pop("unknown_gtin", None)
    draft = expecting.match(session, draft)
    return Answer("ok", f"Item {fields['sku']} {fields['item_name']} added with GTIN {gtin} — now complete "
                        f"the receipt.", state=_with(state, draft=draft))


# --- what the page shows ---------------------------------------------------------------------------


def dock_of(session: Session, station_id: int | None) -> tuple[Location | None, str | None]:
    """Where the station receives: its location, else the first dock; (None, why) if neither."""
    device = session.get(StationDevice, station_id) if station_id is not None else None
    if device is not None and device.location_id is not None:
        return session.get(Location, device.location_id), None
    try:
        return catalog.first_location(session, LocationKind.DOCK, "to receive at"), None
    except DomainError as exc:
        return None, exc.message


def screen(session: Session, state: dict, station_id: int | None) -> dict:
    """The receipt as the page shows it: the draft, where it is booked in, the item's labels per
    receipt, what is still missing."""
    draft = draft_of(state)
    dock, problem = dock_of(session, station_id)
    item = session.scalar(select(Item).where(Item.sku == draft["sku"])) if draft.get("sku") else None
    return {"draft": draft, "dock": dock.code if dock else None, "dock_problem": problem,
            "labels": item.labels_per_receipt if item is not None else None, "missing": drafts.missing(draft),
            "over": expecting.over_words(draft),
            "suppliers": expecting.suppliers(session) if draft.get("sku") and draft.get("supplier_from") in (
                None, "usual", "chosen") else [],
            "printers": expecting.printers(session) if station_id is None else []}
