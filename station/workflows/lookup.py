"""Lot lookup: scan anything and see what it is — a lot's card, the stock at a location, an item's lots.

    step(session, state, scan) -> Answer    what the scan names, in a worker's words
    shown(session, target) -> (Answer, screen)   the answer again with what the page draws under it

A lookup writes nothing and keeps no state. `Answer.data["target"]` says what the scan named
(`target()`: a lot, a location, an item, a bare code to try as a lot number or SKU, or an answer in
words only). On the page path intake calls the step with no session (the scan was resolved before
the write transaction): the answer is then the resolver's words, and the page asks `shown()` for the
real answer and the card in its own read. A scan of the station's own scanner gets the real answer
here, with the session it was logged in.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Item, Location, Lot, LotStatus, Stock
from ..scanning import Resolution
from ..services import catalog, holds
from ..services.actor import Actor
from ..services.errors import NotFound
from ..services.lots import LotDetails, lot_details
from ..services.stock import BLOCKED
from . import Answer, Scanned
from .inputs import clean_scan, said

NAME = "lookup"
LIST_LIMIT = 30  # lots listed for a location or an item; the page says when there are more
EXPIRY_WARNING_DAYS = 7  # expiry this close is shown in amber
ASK = "Scan a lot, a pallet, a location or an item label."

# Status -> (badge tone, words on the badge).
STATUS = {
    "available": ("ok", "Available"),
    "hold": ("warn", "On hold"),
    "quarantine": ("warn", "Quarantine"),
    "recalled": ("bad", "Recalled"),
    "expired": ("bad", "Expired"),
    "consumed": ("muted", "Consumed"),
}
MOVEMENT = {
    "receive": "Received", "move": "Moved", "adjust": "Adjusted", "pick": "Picked",
    "consume": "Used", "produce": "Produced", "ship": "Shipped", "unpick": "Pick undone",
    "opening": "Opening stock", "count": "Counted", "return": "Returned",
}


def step(session: Session | None, state: dict, scan: Scanned) -> Answer:
    """What the scanned code is. Without a session: the resolver's words, the target to show in data."""
    found = target(scan.resolution, scan.raw)
    if session is None and "answer" not in found:
        return Answer("info", scan.resolution.message, data={"target": found})
    return shown(session, found)[0]


def target(res: Resolution, raw: str) -> dict:
    """What a resolved scan names, as JSON: {"lot", "unit"} | {"location"} | {"item", "only",
    "supplier_lot"} | {"bare", "error", "message"} | {"answer": [kind, message, detail]}."""
    records = res.records or {}
    if not res.ok:
        # The resolver knows codes with their prefix (LOT:…); here a bare lot number (typed fast, or a
        # label's plain lot barcode) is a lot, and a bare SKU an item: shown() tries both.
        return {"bare": clean_scan(raw), "error": res.error, "message": res.message}
    if records.get("lot"):
        return {"lot": records["lot"]["lot_number"], "unit": records.get("unit")}
    if res.kind == "location" and records.get("location"):
        return {"location": records["location"]["id"]}
    if records.get("item"):
        numbers = [lot["lot_number"] for lot in records.get("lots") or []]
        return {"item": records["item"]["id"], "only": numbers or None,
                "supplier_lot": (res.fields or {}).get("lot") if numbers else None}
    if res.kind == "operator":
        return {"answer": ["info", res.message, "Badges sign in and out; they are not looked up here."]}
    return {"answer": ["error", res.message, ASK]}


def shown(session: Session | None, found: dict) -> tuple[Answer, dict]:
    """The answer to a scan that named `found`, and the screen under the banner (read in `session`;
    a lot card reads the lot's relationships, so draw it before the session ends)."""
    data = {"target": found}
    if "answer" in found:
        kind, message, detail = found["answer"]
        return Answer(kind, message, detail, data=data), {}
    if "bare" in found:
        return _bare(session, found, data)
    if "lot" in found:
        return _lot(session, found["lot"], found.get("unit"), data)
    if "location" in found:
        return _location(session, found["location"], data)
    return _item(session, found["item"], data, found.get("only"), found.get("supplier_lot"))


def _bare(session: Session, found: dict, data: dict) -> tuple[Answer, dict]:
    code = found["bare"]
    if lot_exists(session, code):
        return _lot(session, code, None, data)
    item = item_by_sku(session, code)
    if item is not None:
        return _item(session, item, data)
    if found.get("error") == "not_recognised":
        return Answer("error", f"No lot '{code[:60]}' — check the number or scan the label again", ASK,
                      data=data), {}
    return Answer("error", found.get("message") or "", ASK, data=data), {}


def _lot(session: Session, number: str, unit: dict | None, data: dict) -> tuple[Answer, dict]:
    try:
        details = lot_details(session, number)
    except NotFound:
        return Answer("error", f"No lot '{number[:60]}' here.", data=data), {}
    context = card_context(details)
    lot, item = details.lot, details.lot.item
    if unit:
        where = f" at {unit['location']}" if unit.get("location") else " (no longer in stock)"
        message = (f"Pallet {unit['sscc']}: {said(unit.get('qty') or 0, item.qty_decimals, item.unit)} of {item.sku}, "
                   f"lot {lot.lot_number}{where}")
    else:
        message = f"Lot {lot.lot_number}: {item.sku} {item.name}"
    kind = "ok" if context["lot_status"] in ("available", "consumed") else "warn"
    detail = context["warning"] or f"{said(lot.on_hand, item.qty_decimals, item.unit)} on hand."
    return (Answer(kind, message, detail, data=data),
            {"details": details, "query": lot.lot_number, "outcome": "found", **context})


def _location(session: Session, location_id: int, data: dict) -> tuple[Answer, dict]:
    location = session.get(Location, location_id)
    if location is None:
        return Answer("error", "That location is gone.", ASK, data=data), {}
    rows = session.execute(
        select(Lot.lot_number, Lot.status, Lot.expiry, Item.sku, Item.name, Item.unit, Stock.qty, Item.qty_decimals)
        .join(Lot, Lot.id == Stock.lot_id).join(Item, Item.id == Lot.item_id)
        .where(Stock.location_id == location_id, Stock.qty > 0)
        .order_by(Item.sku, Lot.fifo_date, Lot.lot_number).limit(LIST_LIMIT + 1)).all()
    lots, more = [_row(r) for r in rows[:LIST_LIMIT]], len(rows) > LIST_LIMIT
    count = len(lots)
    message = f"Location {location.code}{' — ' + location.name if location.name else ''}"
    detail = ("Nothing is stored here." if not lots else
              f"{count}{'+' if more else ''} lot{'s' if count != 1 else ''} here. Tap one for its card.")
    return Answer("ok", message, detail, data=data), {"lots": lots, "listing": "location", "more": more}


def _item(session: Session, item_id: int, data: dict, only: list[str] | None = None,
          supplier_lot: str | None = None) -> tuple[Answer, dict]:
    item = session.get(Item, item_id)
    if item is None:
        return Answer("error", "That item is gone.", ASK, data=data), {}
    query = (select(Lot.lot_number, Lot.status, Lot.expiry, Item.sku, Item.name, Item.unit, Lot.on_hand,
                    Item.qty_decimals)
             .join(Item, Item.id == Lot.item_id).where(Lot.item_id == item_id))
    query = query.where(Lot.lot_number.in_(only)) if only else query.where(Lot.on_hand > 0)
    rows = session.execute(query.order_by(Lot.fifo_date, Lot.lot_number).limit(LIST_LIMIT + 1)).all()
    lots, more = [_row(r) for r in rows[:LIST_LIMIT]], len(rows) > LIST_LIMIT
    if supplier_lot:
        detail = f"{len(lots)} of our lots carry supplier lot {supplier_lot}. Tap one for its card."
    elif lots:
        detail = (f"{len(lots)}{'+' if more else ''} lot{'s' if len(lots) != 1 else ''} in stock, oldest first. "
                  f"Tap one for its card.")
    else:
        detail = "No lot of it is in stock."
    return (Answer("ok", f"Item {item.sku} — {item.name}", detail, data=data),
            {"lots": lots, "listing": "item", "more": more})


def _row(r) -> dict:
    status = r.status.value if hasattr(r.status, "value") else str(r.status)
    tone, label = STATUS.get(status, ("muted", status))
    return {"lot_number": r.lot_number, "sku": r[3], "name": r[4], "unit": r[5], "qty": r[6], "decimals": r[7],
            "expiry": r.expiry, "status": status, "tone": tone, "label": label}


def lot_exists(session: Session, text: str) -> bool:
    if not text or len(text) > 40:
        return False
    return session.scalar(select(Lot.id).where(Lot.lot_number == text)) is not None


def item_by_sku(session: Session, text: str) -> int | None:
    """The id of the item whose SKU is `text` (any case), or None: a SKU typed or scanned bare."""
    if not text or len(text) > 40:
        return None
    return session.scalar(select(Item.id).where(Item.sku == text)) or \
        session.scalar(select(Item.id).where(Item.sku == text.upper()))


def card_context(details: LotDetails) -> dict:
    """What the card shows beyond the details themselves: the status as a worker should read it."""
    status = details.lot.status.value
    if status == "available" and details.expired:
        status = "expired"  # past its date, whether or not a job has marked it yet
    tone, label = STATUS[status]
    if status == "expired":
        warning = "This lot has expired — it must not be picked or used."
    elif status in ("hold", "quarantine", "recalled"):
        warning = f"This lot {BLOCKED[details.lot.status]}."
    else:
        warning = None
    days = details.days_to_expiry
    expiry_tone = ("none" if days is None else "bad" if days < 0
                   else "warn" if days <= EXPIRY_WARNING_DAYS else "ok")
    return {"lot_status": status, "status_tone": tone, "status_label": label, "warning": warning,
            "expiry_tone": expiry_tone, "movement_words": MOVEMENT}


# --- a supervisor's taps on the lot card: hold, quarantine, release with a reason ----------------

STATUS_WORDS = {LotStatus.HOLD: "is on hold", LotStatus.QUARANTINE: "is in quarantine",
                LotStatus.AVAILABLE: "is released and available again",
                LotStatus.CONSUMED: "is released (no stock left)"}


def action_reason(preset: str, note: str) -> str:
    """The reason recorded: the preset, the note, or both ("QA check — lid seals")."""
    return " — ".join(part for part in (preset, note) if part)


def change_status(session: Session, lot_number: str, action: str, reason: str, actor: Actor) -> Answer:
    """Hold, quarantine or release a lot (services.holds); a refusal raises DomainError, nothing changed.
    data: the lot, what it is now in words, and the reason (the page sets the lot number unbroken)."""
    lot = catalog.lot_by_number(session, lot_number)
    if action == "release":
        event = holds.release(session, lot, reason, by=actor)
    else:
        event = holds.hold(session, lot, reason, by=actor,
                           status=LotStatus.HOLD if action == "hold" else LotStatus.QUARANTINE)
    words = STATUS_WORDS.get(event.to_status, f"is {event.to_status.value}")
    return Answer("ok", f"Lot {lot_number} {words} — {reason}",
                  data={"lot": lot_number, "words": words, "reason": reason})
