"""Receipts as the dock page and the JSON API make them: what a pallet label says, filled into a
draft, completed by hand, checked, then booked in with its lot labels queued.

A *draft* is a plain dict (JSON-ready, so a page can keep it in its session cookie):

    token         a random id of this receipt; confirming it twice books it once
    sku, item_name, unit, gtin, labels   the item (labels: its lot labels per receipt)
    supplier_lot, expiry, expiry_kind ("expiry" | "best before"), produced   dates as YYYY-MM-DD
    qty           int
    sscc          the pallet's SSCC
    supplier, supplier_name              the supplier, found by the label's GLN (412)
    scan          the last raw scan that filled it (for the ledger row)
    unknown_gtin  a GTIN scanned that no item has (the supervisor may create the item)

No Flask here: the page (views/receiving.py) and the API (api/views.py) call the same functions.
"""
from __future__ import annotations

import datetime as dt
import re
import secrets
from dataclasses import dataclass, field

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from .. import clock
from ..gs1 import normalise_sscc
from ..models import HandlingUnit, Item, ItemGtin, Location, Lot, PrintJob, StationDevice
from ..scanning import Resolution
from . import catalog, printing, receiving
from .actor import Actor
from .errors import Conflict, DomainError, Invalid

MAX_QTY = 100_000_000
FIELD_WORDS = {"item": "the item", "qty": "the quantity"}
TOKEN = re.compile(r"^[A-Za-z0-9]{8,32}$")


def new_draft() -> dict:
    return {"token": secrets.token_hex(8)}


def valid_token(token: str | None) -> bool:
    return isinstance(token, str) and bool(TOKEN.match(token))


# --- filling a draft from a scan ------------------------------------------------------------------


@dataclass
class Merge:
    """What a scan did to the draft."""

    draft: dict
    new: bool = False  # it started another receipt (another pallet or item)
    filled: list[str] = field(default_factory=list)  # words: "item", "lot", "expiry", ...


def label_fields(res: Resolution) -> dict:
    """The receipt fields a resolved scan carries (only those it has)."""
    f, r = res.fields or {}, res.records or {}
    out: dict = {}
    item = r.get("item")
    if isinstance(item, dict) and item.get("sku"):
        out.update(sku=item["sku"], item_name=item.get("name") or "", unit=item.get("unit") or "")
    gtin = f.get("gtin") or f.get("content_gtin")
    if gtin:
        out["gtin"] = gtin
    if f.get("lot"):
        out["supplier_lot"] = str(f["lot"])
    if f.get("expiry"):
        out.update(expiry=f["expiry"], expiry_kind="expiry")
    elif f.get("best_before"):
        out.update(expiry=f["best_before"], expiry_kind="best before")
    if f.get("produced"):
        out["produced"] = f["produced"]
    qty = f.get("units") or f.get("count")
    if isinstance(qty, int) and qty > 0:
        out["qty"] = qty
    if f.get("sscc"):
        out["sscc"] = f["sscc"]
    supplier = r.get("supplier")
    if isinstance(supplier, dict) and supplier.get("code"):
        out.update(supplier=supplier["code"], supplier_name=supplier.get("name") or "")
    return out


WORDS = {"sku": "item", "supplier_lot": "lot", "expiry": "date", "produced": "production date",
         "qty": "quantity", "sscc": "pallet number", "supplier": "supplier"}


def merge_scan(draft: dict | None, res: Resolution) -> Merge:
    """The draft with what the scanned label says. A label of another pallet (another SSCC) or of
    another item than the draft's starts a new receipt; otherwise the label's fields are added
    (a pallet's SSCC barcode and its content barcode may be scanned in either order)."""
    draft = dict(draft or {}) or new_draft()
    found = label_fields(res)
    other_pallet = found.get("sscc") and draft.get("sscc") and found["sscc"] != draft["sscc"]
    other_item = found.get("sku") and draft.get("sku") and found["sku"] != draft["sku"]
    new = bool(other_pallet or other_item)
    if new or not valid_token(draft.get("token")):
        draft = new_draft()
    draft.pop("unknown_gtin", None)
    if found.get("sku") and not draft.get("sku"):
        draft.pop("labels", None)
    draft.update(found)
    draft["scan"] = res.code[:400] if res.code else None
    filled = [WORDS[k] for k in WORDS if k in found]
    if found.get("expiry"):
        filled[filled.index("date")] = found["expiry_kind"]
    return Merge(draft, new, filled)


def remember_unknown_gtin(draft: dict | None, res: Resolution) -> dict:
    """Keep what a label with an unknown GTIN says, so the receipt can go on once the item exists."""
    fields = label_fields(res)
    draft = dict(draft or {})
    if (fields.get("sscc") and draft.get("sscc") != fields["sscc"]) or not valid_token(draft.get("token")):
        draft = new_draft()
    for key in ("sku", "item_name", "unit", "labels"):
        draft.pop(key, None)
    draft.update(fields)
    draft["unknown_gtin"] = fields.get("gtin") or (res.fields or {}).get("gtin")
    draft["scan"] = res.code[:400] if res.code else None
    return draft


# --- filling a draft by hand ----------------------------------------------------------------------


def parse_qty(text: str | None) -> int | None:
    """A quantity typed on the keypad: None when empty; Invalid when not a whole number > 0."""
    value = (text or "").strip().replace(" ", "")
    if not value:
        return None
    if not value.isdigit():
        raise Invalid(f"The quantity {value[:20]!r} is not a whole number — use the keypad.",
                      code="invalid_qty", field="qty")
    qty = int(value)
    if qty <= 0:
        raise Invalid("The quantity must be more than 0.", code="invalid_qty", field="qty")
    if qty > MAX_QTY:
        raise Invalid(f"The quantity {qty} is far too large — check it.", code="invalid_qty", field="qty")
    return qty


def parse_day(text: str | None, what: str) -> str | None:
    value = (text or "").strip()
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value).isoformat()
    except ValueError:
        raise Invalid(f"The {what} {value[:20]!r} is not a date — pick it in the calendar.",
                      code="invalid_date", field=what) from None


def item_fields(item: Item) -> dict:
    return {"sku": item.sku, "item_name": item.name, "unit": item.unit,
            "labels": item.labels_per_receipt}


def missing(draft: dict) -> list[str]:
    """What the receipt still needs before it can be confirmed: "item", "qty"."""
    return [key for key in ("item", "qty") if not draft.get("sku" if key == "item" else key)]


def find_items(session: Session, text: str, limit: int = 8) -> list[Item]:
    """Items whose SKU, name or GTIN contains `text` (case-insensitive), SKU matches first."""
    words = " ".join((text or "").split())[:60]
    if not words:
        return []
    like = f"%{words.replace('%', '').replace('_', '')}%"
    query = (select(Item).outerjoin(ItemGtin).where(or_(Item.sku.ilike(like), Item.name.ilike(like),
                                                        ItemGtin.gtin.like(like)))
             .distinct().order_by(Item.sku).limit(limit * 3))
    found = list(session.scalars(query))
    found.sort(key=lambda i: (not i.sku.lower().startswith(words.lower()), i.sku))
    return found[:limit]


# --- booking a receipt ----------------------------------------------------------------------------


@dataclass
class Receipt:
    """A booked receipt: its lot, the pallet it came on, and its label jobs."""

    lot: Lot
    qty: int
    location: Location | None
    sscc: str | None
    jobs: list[PrintJob]
    label_note: str | None = None  # why no labels were queued, in words
    repeated: bool = False  # this receipt was confirmed before; nothing new was booked


def refuse_known_pallet(session: Session, sscc: str | None) -> None:
    """Conflict (409) naming who received the pallet and when, if its SSCC is known here."""
    if not sscc:
        return
    sscc = normalise_sscc(sscc)
    unit = session.scalar(select(HandlingUnit).where(HandlingUnit.sscc == sscc))
    if unit is None:
        return
    who = unit.received_by.name if unit.received_by else "an unknown operator"
    at = unit.received_at if unit.received_at.tzinfo else unit.received_at.replace(tzinfo=dt.timezone.utc)
    local = at.astimezone(clock.site_zone())
    raise Conflict(f"Pallet {sscc} was already received on {local:%Y-%m-%d} at {local:%H:%M} by {who} "
                   f"(lot {unit.lot.lot_number}) — do not receive it again.",
                   code="sscc_already_received", lot_number=unit.lot.lot_number, sscc=sscc,
                   received_by=unit.received_by.name if unit.received_by else None,
                   received_at=at.isoformat())


def request_id_of(token: str) -> str:
    return f"receipt-{token}"


def _repeat(session: Session, token: str | None) -> Receipt | None:
    """The receipt booked before with this token (found by its label job), or None."""
    if not valid_token(token):
        return None
    job = session.scalar(select(PrintJob).where(PrintJob.request_id == request_id_of(token)))
    if job is None or job.lot_id is None:
        return None
    lot = session.get(Lot, job.lot_id)
    return Receipt(lot=lot, qty=0, location=None, sscc=None, jobs=[job], repeated=True)


def book(session: Session, *, item: Item, qty: int, location: Location, by: Actor,
         supplier_lot: str | None = None, expiry: dt.date | None = None, produced: dt.date | None = None,
         sscc: str | None = None, supplier=None, print_labels: bool = True, copies: int | None = None,
         printer: str | None = None, station: StationDevice | None = None,
         token: str | None = None) -> Receipt:
    """Receive the goods (services.receiving.receive) and queue the lot's labels, in one transaction.

    `copies` defaults to the item's labels per receipt (0: none). The labels go to `printer`, else
    the station's printer, else the site's only active printer; when there is none (or the label
    cannot be made) the receipt is still booked and `label_note` says why there are no labels.
    With a `token`, a receipt confirmed twice is booked once (its label job carries the token).
    """
    earlier = _repeat(session, token)
    if earlier is not None:
        return earlier
    refuse_known_pallet(session, sscc)
    lot = receiving.receive(session, item=item, qty=qty, location=location, supplier=supplier,
                            supplier_lot=supplier_lot, expiry=expiry, produced=produced, sscc=sscc, by=by)
    unit_sscc = normalise_sscc(sscc) if sscc else None
    copies = item.labels_per_receipt if copies is None else copies
    jobs: list[PrintJob] = []
    note = None
    if not print_labels or not copies:
        note = "No labels asked for." if not print_labels else f"Item {item.sku} gets no labels on receipt."
    else:
        copies = min(copies, printing.MAX_COPIES)
        try:
            target = printing.choose_printer(session, printer, station)
        except DomainError as exc:
            if printer is not None:
                raise
            note = f"No labels queued: {exc.message}"
        else:
            try:
                with session.begin_nested():
                    jobs.append(printing.request_labels(
                        session, lot.lot_number, printer=target, copies=copies, station=station,
                        operator=by.operator_id, request_id=request_id_of(token) if valid_token(token) else None,
                        token_id=by.token_id))
            except DomainError as exc:
                note = f"No labels queued: {exc.message}"
    return Receipt(lot=lot, qty=qty, location=location, sscc=unit_sscc, jobs=jobs, label_note=note)


def book_draft(session: Session, draft: dict, *, location: Location | None, by: Actor,
               station: StationDevice | None = None) -> Receipt:
    """Book a draft from the page: Invalid when something is missing or wrong."""
    gaps = missing(draft)
    if gaps:
        raise Invalid(f"Still needed: {' and '.join(FIELD_WORDS[g] for g in gaps)}.", code="incomplete",
                      missing=gaps)
    item = catalog.item_by_sku(session, draft["sku"])
    qty = draft["qty"]
    if not isinstance(qty, int) or not 0 < qty <= MAX_QTY:
        raise Invalid("The quantity must be a whole number more than 0.", code="invalid_qty")
    if location is None:
        location = catalog.first_location(session, catalog.LocationKind.DOCK, "to receive at")
    supplier = None
    if draft.get("supplier"):
        supplier = catalog.supplier_by_code(session, draft["supplier"])
    day = lambda key: dt.date.fromisoformat(draft[key]) if draft.get(key) else None  # noqa: E731
    expiry, produced = day("expiry"), day("produced")
    if expiry is not None and expiry < clock.today():
        raise Invalid(f"The {draft.get('expiry_kind') or 'expiry'} date {expiry.isoformat()} has passed — "
                      f"these goods are out of date. Check the label; do not receive them without a "
                      f"supervisor.", code="expired_on_receipt")
    return book(session, item=item, qty=qty, location=location, by=by, supplier=supplier,
                supplier_lot=draft.get("supplier_lot"), expiry=expiry, produced=produced,
                sscc=draft.get("sscc"), station=station, token=draft.get("token"))
