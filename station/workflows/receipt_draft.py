"""The receipt being filled at the dock (the receiving workflow's draft): what a pallet label says,
completed by hand, checked, then booked (services/receipts_ui.book).

A *draft* is a plain JSON dict, kept in the receiving workflow's state (station/workflows/receiving.py):

    token         a random id of this receipt; confirming it twice books it once
    sku, item_name, unit, gtin, labels   the item (labels: its lot labels per receipt)
    supplier_lot, expiry, expiry_kind ("expiry" | "best before"), produced   dates as YYYY-MM-DD
    qty           int, or a decimal string ("12.35": JSON keeps a Decimal so) — read it with inputs.held
    decimals      the item's (how the page writes the quantity; the keypad's separator key)
    variable_measure                     a catch-weight item: qty is the weight, and the page asks for it
    pieces        the cases a variable-measure item's weight came in (the label's count, else 1 a case)
    counted       how many one-case labels filled qty (and pieces): each further one of the same goods adds
    sscc          the pallet's SSCC
    supplier, supplier_name              the supplier, found by the label's GLN (412), else the expected
                  receipt's, else the item's usual one, else chosen on the page (supplier_from says which)
    scan          the last raw scan that filled it (for the ledger row)
    unknown_gtin  a GTIN scanned that no item has (the supervisor may create the item)
    expected_line ... printer            what it is received against, and the printer chosen on a device
                  bound to no station (workflows/receipt_expected.py)

No Flask here.
"""
from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass, field

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from .. import clock, quantities
from ..models import Item, ItemGtin, Location, StationDevice
from ..scanning import Resolution
from ..services import catalog, dates, expected
from ..services.actor import Actor
from ..services.errors import Invalid
from ..quantities import Qty
from ..services.receipts_ui import Receipt, book, label_fields, valid_token
from .inputs import held

MAX_QTY = 100_000_000
FIELD_WORDS = {"item": "the item", "qty": "the quantity", "supplier": "the supplier (pick it below)",
               "expected": "which delivery it is"}
# What a label filled, in the banner's words (the receipt's keys in the order the banner names them).
WORDS = {"sku": "item", "supplier_lot": "lot", "expiry": "date", "produced": "production date",
         "qty": "quantity", "sscc": "pallet number", "supplier": "supplier"}


def new_draft() -> dict:
    return {"token": secrets.token_hex(8)}


def usable(draft: object) -> dict:
    """`draft` when it is one (state written by an older release may not be), else a new one."""
    if isinstance(draft, dict) and valid_token(draft.get("token")):
        return dict(draft)
    return new_draft()


# --- filling a draft from a scan ------------------------------------------------------------------


@dataclass
class Merge:
    """What a scan did to the draft."""

    draft: dict
    new: bool = False  # it started another receipt (another pallet or item)
    filled: list[str] = field(default_factory=list)  # words: "item", "lot", "expiry", ...


def merge_scan(draft: dict | None, res: Resolution) -> Merge:
    """The draft with what the scanned label says. A label of another pallet (another SSCC) or of
    another item than the draft's starts a new receipt; otherwise the label's fields are added
    (a pallet's SSCC barcode and its content barcode may be scanned in either order). A label of one
    case (a pack GTIN, a catch-weight case with its weight) adds its case to the draft filled by the
    same goods' case labels: forty case labels are the pallet's forty cases and their total weight."""
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
    found = _one_more_case(draft, found, res)
    draft.update(found)
    if "counted" not in found:
        draft.pop("counted", None)
    draft["scan"] = res.code[:400] if res.code else None
    filled = [WORDS[k] for k in WORDS if k in found]
    if found.get("expiry"):
        filled[filled.index("date")] = found["expiry_kind"]
    return Merge(draft, new, filled)


def _one_more_case(draft: dict, found: dict, res: Resolution) -> dict:
    """`found` with the draft's cases added when the label is one case (no SSCC, no count) of the goods
    the draft's case labels counted so far (same item, same supplier lot, no pallet); a case without
    a weight leaves the total weight to be keyed. One case is not a pallet's count: a case label on a
    pallet's receipt names the goods only, and a pallet's label drops what case labels counted."""
    fields = res.fields or {}
    one_case = not (fields.get("sscc") or fields.get("units") or fields.get("count"))
    if fields.get("sscc") and draft.get("counted") and "qty" not in found:
        draft.pop("qty", None)
        draft.pop("pieces", None)
    if not one_case or not (found.get("qty") or found.get("pieces")):
        return found
    if draft.get("sscc"):
        return {k: v for k, v in found.items() if k not in ("qty", "pieces")}
    same = (draft.get("counted") and draft.get("sku") == found.get("sku")
            and found.get("supplier_lot") in (None, draft.get("supplier_lot")))
    if not same:
        return {**found, "counted": 1}
    more = {**found, "counted": draft["counted"] + 1}
    if draft.get("pieces") and found.get("pieces"):
        more["pieces"] = draft["pieces"] + found["pieces"]
    before = held(draft.get("qty"))
    if before is not None and found.get("qty"):
        more["qty"] = quantities.normal(before + found["qty"])
    else:
        more.pop("qty", None)
        draft.pop("qty", None)
    return more


def filled_words(merge: Merge) -> str:
    """The banner of a label that filled the receipt: what it now says."""
    draft = merge.draft
    what = f"{draft['sku']} {draft.get('item_name', '')}".strip() if draft.get("sku") else "Pallet"
    if draft.get("qty"):
        what = f"{quantities.said(held(draft['qty']), draft.get('decimals'), draft.get('unit'))} × {what}"
    if draft.get("pieces"):
        what += f" in {draft['pieces']} case{'s' if draft['pieces'] != 1 else ''}"
    if (draft.get("counted") or 0) > 1:
        what += f" ({draft['counted']} labels scanned)"
    if draft.get("supplier_lot"):
        what += f", lot {draft['supplier_lot']}"
    prefix = "New pallet: " if merge.new else ""
    return f"{prefix}{what} — filled from the label."


def remember_unknown_gtin(draft: dict | None, res: Resolution) -> dict:
    """Keep what a label with an unknown GTIN says, so the receipt can go on once the item exists."""
    fields = label_fields(res)
    draft = dict(draft or {})
    if (fields.get("sscc") and draft.get("sscc") != fields["sscc"]) or not valid_token(draft.get("token")):
        draft = new_draft()
    for key in ("sku", "item_name", "unit", "labels", "decimals", "variable_measure", "pieces", "counted"):
        draft.pop(key, None)
    draft.update(fields)
    draft["unknown_gtin"] = fields.get("gtin") or (res.fields or {}).get("gtin")
    draft["scan"] = res.code[:400] if res.code else None
    return draft


# --- filling a draft by hand ----------------------------------------------------------------------


def parse_qty(text: str | None) -> Qty | None:
    """A quantity typed on the keypad ("12", "12.35", "12,35"): None when empty; Invalid when not a
    number > 0. Whether it fits the item's decimals is the booking's check (services/receiving.py)."""
    value = (text or "").strip().replace(" ", "")
    if not value:
        return None
    try:
        qty = quantities.parse(value)
    except quantities.QuantityError:
        raise Invalid(f"The quantity {value[:20]!r} is not a number — use the keypad.",
                      code="invalid_qty", field="qty") from None
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


def take_form(draft: dict, form: dict) -> dict:
    """The typed values of the receipt form (qty, expiry, supplier_lot: those present) put into the
    draft; Invalid for a bad one."""
    draft = dict(draft)
    if "qty" in form:
        typed = parse_qty(form.get("qty"))
        if typed != held(draft.get("qty")):
            draft.pop("counted", None)  # typed over what the case labels added up: the typed figure stands
        draft["qty"] = typed
    if "expiry" in form:
        expiry = parse_day(form.get("expiry"), "expiry date")
        if expiry is not None:  # a typo like 0202-03-31 is refused now, not at Confirm
            dates.check_expiry(dt.date.fromisoformat(expiry), clock.today())
        if expiry != draft.get("expiry"):
            draft["expiry_kind"] = draft.get("expiry_kind") or "expiry"
        draft["expiry"] = expiry
    if "supplier_lot" in form:
        text = " ".join((form.get("supplier_lot") or "").split())
        if len(text) > 40:
            raise Invalid("A supplier lot has at most 40 characters.", code="invalid_supplier_lot")
        draft["supplier_lot"] = text or None
    return {k: v for k, v in draft.items() if v is not None}


def item_fields(item: Item) -> dict:
    return {"sku": item.sku, "item_name": item.name, "unit": item.unit, "decimals": item.qty_decimals,
            "labels": item.labels_per_receipt, "variable_measure": item.variable_measure}


def field_words(gap: str, draft: dict) -> str:
    """What a gap is called: a variable-measure item's quantity is its weight."""
    if gap == "qty" and draft.get("variable_measure"):
        return f"the weight ({draft.get('unit') or 'kg'})"
    return FIELD_WORDS[gap]


def missing(draft: dict) -> list[str]:
    """What the receipt still needs before it can be confirmed: "item", "qty", and once the item is
    known "supplier" (whose goods: never silently none) and "expected" (when several deliveries expect
    the item and none is picked)."""
    gaps = [key for key in ("item", "qty") if not draft.get("sku" if key == "item" else key)]
    if draft.get("sku") and not draft.get("supplier"):
        gaps.append("supplier")
    if draft.get("expected_choices") and not draft.get("expected_line"):
        gaps.append("expected")
    return gaps


def still_needed(draft: dict) -> str:
    """What the banner of a scan that filled the receipt says to do next."""
    gaps = missing(draft)
    if gaps:
        return "Now enter " + " and ".join(field_words(g, draft) for g in gaps) + "."
    return "Check it, then press Confirm (or scan CONFIRM)."


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


# --- booking it -----------------------------------------------------------------------------------


def book_draft(session: Session, draft: dict, *, location: Location | None, by: Actor,
               station: StationDevice | None = None) -> Receipt:
    """Book a draft: Invalid when something is missing or wrong."""
    gaps = missing(draft)
    if gaps:
        raise Invalid(f"Still needed: {' and '.join(field_words(g, draft) for g in gaps)}.", code="incomplete",
                      missing=gaps)
    item = catalog.item_by_sku(session, draft["sku"])
    qty = held(draft["qty"])
    if qty is None or not 0 < qty <= MAX_QTY:
        raise Invalid("The quantity must be a number more than 0.", code="invalid_qty", field="qty")
    pieces = draft.get("pieces") if item.variable_measure else None
    if location is None:
        location = catalog.first_location(session, catalog.LocationKind.DOCK, "to receive at")
    supplier = catalog.supplier_by_code(session, draft["supplier"])
    line = expected.line_by_id(session, draft["expected_line"]) if draft.get("expected_line") else None
    day = lambda key: dt.date.fromisoformat(draft[key]) if draft.get(key) else None  # noqa: E731
    # Goods already past their expiry are booked into quarantine by `book` (never picked), not refused:
    # they are at the dock either way, and a lot in quarantine is on the books for a supervisor to decide.
    return book(session, item=item, qty=qty, location=location, by=by, supplier=supplier,
                supplier_lot=draft.get("supplier_lot"), expiry=day("expiry"), produced=day("produced"),
                sscc=draft.get("sscc"), station=station, token=draft.get("token"), expected_line=line,
                printer=draft.get("printer") if station is None else None, pieces=pieces)
