"""Receipts as the dock page (station/workflows/receiving.py) and the JSON API (api/views.py) book
them: what a pallet label says (label_fields), and the booking itself — the goods received and the
lot's labels queued, in one transaction, once per receipt token.

The receipt being filled on the page (its draft) is the receiving workflow's: station/workflows/
receipt_draft.py. No Flask here.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import clock, quantities
from ..gs1 import normalise_sscc
from ..models import ExpectedReceiptLine, HandlingUnit, Item, Location, Lot, LotStatus, PrintJob, StationDevice, Supplier
from ..scanning import Resolution
from . import expected, holds, printing, receiving
from .actor import Actor
from .errors import Conflict, DomainError, Invalid

TOKEN = re.compile(r"^[A-Za-z0-9]{8,32}$")


def valid_token(token: str | None) -> bool:
    """A receipt token as new_draft (workflows/receipt_draft.py) makes them."""
    return isinstance(token, str) and bool(TOKEN.match(token))


def label_fields(res: Resolution) -> dict:
    """The receipt fields a resolved scan carries (only those it has)."""
    f, r = res.fields or {}, res.records or {}
    out: dict = {}
    item = r.get("item")
    if isinstance(item, dict) and item.get("sku"):
        out.update(sku=item["sku"], item_name=item.get("name") or "", unit=item.get("unit") or "",
                   decimals=item.get("decimals") or 0, variable_measure=bool(item.get("variable_measure")))
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
    count = f.get("units") or f.get("count")
    if f.get("qty"):  # the label's quantity in the item's unit (scanning/measures.py): a pack, a count, a weight
        out["qty"] = quantities.parse(f["qty"])
    elif "sku" not in out and isinstance(count, int) and count > 0:
        out["qty"] = count  # an unknown GTIN's count, kept for the item a supervisor adds with that GTIN
    if isinstance(f.get("pieces"), int) and f["pieces"] > 0:
        out["pieces"] = f["pieces"]
    if f.get("sscc"):
        out["sscc"] = f["sscc"]
    supplier = r.get("supplier")
    if isinstance(supplier, dict) and supplier.get("code"):
        out.update(supplier=supplier["code"], supplier_name=supplier.get("name") or "")
    return out


# --- booking a receipt ----------------------------------------------------------------------------


@dataclass
class Receipt:
    """A booked receipt: its lot, the pallet it came on, and its label jobs."""

    lot: Lot
    qty: quantities.Qty
    location: Location | None
    sscc: str | None
    jobs: list[PrintJob]
    label_note: str | None = None  # why no labels were queued, in words
    repeated: bool = False  # this receipt was confirmed before; nothing new was booked
    booked: expected.Booked | None = None  # the expected receipt line it was received against
    not_expected: str | None = None  # "Not expected from <supplier>: ..." when the supplier expects others
    still_missing: str | None = None  # what the expected receipt still waits for, in words
    quarantined: str | None = None  # why the lot went straight into quarantine (expired on receipt)
    pieces: int | None = None  # the cases a variable-measure item's weight (qty) came in


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
         token: str | None = None, expected_line: ExpectedReceiptLine | None = None,
         pieces: int | None = None) -> Receipt:
    """Receive the goods (services.receiving.receive) and queue the lot's labels, in one transaction.

    `copies` defaults to the item's labels per receipt (0: none). The labels go to `printer`, else
    the station's printer, else the site's only active printer; when there is none (or the label
    cannot be made) the receipt is still booked and `label_note` says why there are no labels.
    With a `token`, a receipt confirmed twice is booked once (its label job carries the token).

    The supplier is the one given, else the expected receipt's, else the item's usual one (supplier_of);
    the goods are counted against `expected_line`, else the line expected_line_of finds. Goods already
    past their expiry are booked into quarantine (see quarantine_if_expired). `pieces`: the cases of a
    variable-measure item, `qty` being their weight.
    """
    earlier = _repeat(session, token)
    if earlier is not None:
        return earlier
    refuse_known_pallet(session, sscc)
    unit_sscc = normalise_sscc(sscc) if sscc else None
    line = expected_line if expected_line is not None else expected_line_of(session, item, supplier, unit_sscc)
    supplier = supplier_of(session, item, supplier, line)
    if line is not None and line.expected.supplier_id != supplier.id:
        line = None  # expected from another supplier than the label's: not this delivery
    lot = receiving.receive(session, item=item, qty=qty, location=location, supplier=supplier,
                            supplier_lot=supplier_lot, expiry=expiry, produced=produced, sscc=sscc, by=by,
                            expected_reference=line.expected.reference if line is not None else None,
                            pieces=pieces)
    quarantined = quarantine_if_expired(session, lot, by)
    booked = expected.book_against(session, line, qty, unit_sscc) if line is not None else None
    not_expected = None
    if booked is None and expected.open_from(session, supplier):
        not_expected = f"Not expected from {supplier.name}: {item.sku} {item.name}."
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
    return Receipt(lot=lot, qty=qty, location=location, sscc=unit_sscc, jobs=jobs, label_note=note, pieces=pieces,
                   booked=booked, not_expected=not_expected, quarantined=quarantined,
                   still_missing=expected.missing_words(booked.line.expected) if booked else None)


# --- whose goods, what was expected, and goods out of date --------------------------------------------


def expected_line_of(session: Session, item: Item, supplier: Supplier | None,
                     sscc: str | None) -> ExpectedReceiptLine | None:
    """The expected receipt line a pallet is received against: its announced SSCC's, else the only open
    line expecting the item (from the label's supplier when it names one); None when none or several."""
    if sscc:
        pallet = expected.open_pallet(session, sscc)
        if pallet is not None and pallet.line.item_id == item.id:
            return pallet.line
    lines = expected.open_lines_for(session, item, supplier)
    return lines[0] if len(lines) == 1 else None


def supplier_of(session: Session, item: Item, supplier: Supplier | None,
                line: ExpectedReceiptLine | None) -> Supplier:
    """Whose goods these are: the label's (or the one given), else the expected receipt's, else the item's
    usual supplier. Never silently none: Invalid asks for it."""
    found = supplier or (line.expected.supplier if line is not None else None) or item.supplier
    if found is None:
        raise Invalid(f"Whose goods are these? The label names no supplier, no expected receipt names one and "
                      f"item {item.sku} has no usual supplier — choose the supplier.",
                      code="supplier_required", field="supplier", missing=["supplier"])
    return found


EXPIRED_REASON = "expired on receipt"


def quarantine_if_expired(session: Session, lot: Lot, by: Actor) -> str | None:
    """Goods already past their expiry go straight into quarantine (recorded, never picked); the words."""
    if lot.expiry is None or lot.expiry >= clock.today():
        return None
    if lot.status is LotStatus.AVAILABLE:
        holds.hold(session, lot, EXPIRED_REASON, status=LotStatus.QUARANTINE, by=by)
    return (f"Expired on {lot.expiry.isoformat()}: lot {lot.lot_number} is in quarantine — put the pallet "
            f"aside for a supervisor.")
