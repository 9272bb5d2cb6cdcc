"""Receiving: goods arrive, a lot is created (or the supplier's lot resolved) and stock booked in.

Event (services/events.py), in the receipt's transaction:
    receipt.booked   lot (event_bodies.lot_facts: item, supplier, supplier lot, expiry, production date),
                     new_lot, qty, location, sscc (the pallet's, or null), expected_receipt (the reference
                     it was booked against, or null), pieces (the cases of a variable-measure item, or null)
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from .. import clock
from ..gs1 import normalise_sscc
from ..models import HandlingUnit, Item, Location, Lot, LotStatus, MovementKind, Supplier
from . import dates, events
from .actor import NOBODY, Actor
from .errors import Conflict, Invalid
from .event_bodies import location_facts, lot_facts, lot_key, qty_text
from .numbering import next_lot_number
from .stock import add_stock, record, require_positive


def receive(session: Session, *, item: Item, qty: int, location: Location,
            supplier: Supplier | None = None, supplier_lot: str | None = None,
            expiry: dt.date | None = None, produced: dt.date | None = None,
            sscc: str | None = None, by: Actor = NOBODY, on: dt.date | None = None,
            expected_reference: str | None = None, pieces: int | None = None) -> Lot:
    """Book `qty` of `item` in at `location` and return its lot, with its receipt.booked event.

    A further pallet of a supplier lot already received (same item, supplier, supplier lot and
    expiry) joins that lot; anything else gets a new lot number from the item's scheme.
    `expected_reference` names the expected receipt the goods are booked against (for the event).
    `pieces`: the cases a variable-measure (catch-weight) item came in, `qty` being their weight.
    """
    qty = require_positive(qty, of=item)
    pieces = require_pieces(pieces, item)
    today = on or clock.today()
    supplier_lot = _clean_supplier_lot(supplier_lot)
    dates.check_produced(produced, today)
    dates.check_expiry(expiry, today)
    if expiry is None and item.shelf_life_days is not None:
        expiry = (produced or today) + dt.timedelta(days=item.shelf_life_days)
    if expiry and produced and expiry < produced:
        raise Invalid(f"The expiry date {expiry.isoformat()} is before the production date "
                      f"{produced.isoformat()}.", code="invalid_date")
    unit_sscc = normalise_sscc(sscc) if sscc else None
    if unit_sscc:
        _refuse_known_pallet(session, unit_sscc)

    lot = _existing_supplier_lot(session, item, supplier, supplier_lot, expiry)
    new_lot = lot is None
    if new_lot:
        lot = Lot(
            lot_number=next_lot_number(session, item.lot_scheme, today, item=item.sku,
                                       supplier=supplier.code if supplier else None),
            item_id=item.id, supplier_id=supplier.id if supplier else None,
            supplier_lot=supplier_lot, produced_on=produced, received_on=today, expiry=expiry,
            fifo_date=produced or today, status=LotStatus.AVAILABLE, on_hand=0, origin="receipt",
            created_by_id=by.operator_id,
        )
        session.add(lot)
        session.flush()
        for name, value in (("item", item), ("supplier", supplier)):
            if value is None or value in session:  # what the lazy load would find, without its cost
                set_committed_value(lot, name, value)
    unit = None
    if unit_sscc:
        unit = HandlingUnit(sscc=unit_sscc, lot_id=lot.id, location_id=location.id,
                            qty_received=qty, pieces_received=pieces, received_by_id=by.operator_id)
        session.add(unit)
        session.flush()
    add_stock(session, lot, location, qty, unit)
    record(session, MovementKind.RECEIVE, lot, qty, dest=location, by=by,
           handling_unit_id=unit.id if unit else None, pieces=pieces)
    with session.no_autoflush:  # reading the lot's item need not flush the ledger row: the commit does
        body = {"lot": lot_facts(lot, session), "new_lot": new_lot, "qty": qty_text(qty), "location": location_facts(location),
                "sscc": unit_sscc, "expected_receipt": expected_reference, "pieces": pieces}
    events.record(session, "receipt.booked", body, key=lot_key(lot), by=by)
    return lot


def require_pieces(pieces: int | None, item: Item) -> int | None:
    """How many cases a variable-measure item's weight came in: a whole number > 0, or None (not
    counted). A fixed-measure item's quantity is its count already: pieces with it are refused."""
    if pieces is None:
        return None
    if not item.variable_measure:
        raise Invalid(f"{item.sku} is not a variable-measure item: its quantity is its count, so cases are not "
                      f"counted apart from it.", code="pieces_not_weighed")
    if isinstance(pieces, bool) or not isinstance(pieces, int) or not 0 < pieces <= 1_000_000:
        raise Invalid(f"The number of cases must be a whole number greater than 0 (got {pieces!r}).",
                      code="invalid_pieces")
    return pieces


def _clean_supplier_lot(value: str | None) -> str | None:
    text = (value or "").strip()
    if len(text) > 40:
        raise Invalid("A supplier lot has at most 40 characters.", code="invalid_supplier_lot")
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise Invalid("The supplier lot contains control characters.", code="invalid_supplier_lot")
    return text or None


def _refuse_known_pallet(session: Session, sscc: str) -> None:
    unit = session.scalar(select(HandlingUnit).where(HandlingUnit.sscc == sscc))
    if unit is None:
        return
    who = unit.received_by.name if unit.received_by else "an unknown operator"
    when = unit.received_at.strftime("%Y-%m-%d %H:%M")
    raise Conflict(f"Pallet {sscc} was already received on {when} by {who} (lot {unit.lot.lot_number}).",
                   code="sscc_already_received", lot_number=unit.lot.lot_number)


def _existing_supplier_lot(session: Session, item: Item, supplier: Supplier | None,
                           supplier_lot: str | None, expiry: dt.date | None) -> Lot | None:
    if supplier is None or supplier_lot is None:
        return None
    return session.scalar(
        select(Lot).where(Lot.item_id == item.id, Lot.supplier_id == supplier.id,
                          Lot.supplier_lot == supplier_lot, Lot.expiry == expiry,
                          Lot.origin == "receipt")
        .order_by(Lot.id).limit(1)
    )
