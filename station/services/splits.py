"""Splitting a lot: part of a lot's stock at one place gets a lot number of its own.

The new lot is the same goods (same item, supplier, supplier lot, dates and expiry) under a new
number from its item's scheme, linked to the parent by a lot_links row of kind "split", so a trace
or a recall of either one reaches the other. On the ledger it is booked like production: CONSUME
from the parent and PRODUCE into the child at the same location, with a reference naming the split.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .. import clock
from ..models import LinkKind, Location, Lot, LotLink, LotStatus, MovementKind, Stock
from .actor import NOBODY, Actor
from .errors import InsufficientStock, Invalid
from .numbering import next_lot_number
from .stock import add_stock, ensure_pickable, record, remove_stock, require_positive


def split_lot(session: Session, lot: Lot, qty: int, location: Location, *, by: Actor = NOBODY,
              on: dt.date | None = None) -> Lot:
    """Take `qty` of `lot` at `location` into a new lot (returned), at the same location.

    Refused in words, with nothing changed, for a quantity that is not a whole number above 0, a
    place that is not a location, a lot that is held, quarantined, recalled or expired, and more
    than the lot has there."""
    require_positive(qty)
    if not isinstance(location, Location):
        raise Invalid("Say where the part to split off is: scan or pick a location.", code="invalid_location")
    today = on or clock.today()
    ensure_pickable(lot, today, verb="split")
    here = session.scalar(select(func.coalesce(func.sum(Stock.qty), 0))
                          .where(Stock.lot_id == lot.id, Stock.location_id == location.id))
    if here < qty:
        # Checked before a number is drawn, so a refusal leaves no lot and no counter step behind.
        raise InsufficientStock(f"Only {here} of lot {lot.lot_number} at {location.code}; "
                                f"{qty} cannot be split off.", available=here)
    item = lot.item
    number = next_lot_number(session, item.lot_scheme, today, item=item.sku,
                             supplier=lot.supplier.code if lot.supplier else None, line=location.code)
    child = Lot(lot_number=number, item_id=lot.item_id, supplier_id=lot.supplier_id,
                supplier_lot=lot.supplier_lot, produced_on=lot.produced_on, received_on=lot.received_on,
                expiry=lot.expiry, fifo_date=lot.fifo_date, status=LotStatus.AVAILABLE, on_hand=0,
                # Not "receipt": a later pallet of the same supplier lot must join the parent, not this part.
                origin="split", created_by_id=by.operator_id)
    session.add(child)
    session.flush()
    reference = f"split of {lot.lot_number} into {child.lot_number}"[:80]
    # remove_stock checks again under its conditional update (another worker may have taken some).
    remove_stock(session, lot, location, qty)
    record(session, MovementKind.CONSUME, lot, qty, source=location, by=by, reference=reference)
    add_stock(session, child, location, qty)
    record(session, MovementKind.PRODUCE, child, qty, dest=location, by=by, reference=reference)
    session.add(LotLink(output_lot_id=child.id, component_lot_id=lot.id, qty=qty, kind=LinkKind.SPLIT))
    session.flush()
    return child
