"""Splitting a lot: part of a lot's stock at one place gets a lot number of its own.

The new lot is the same goods (same item, supplier, supplier lot, dates and expiry) under a new
number from its item's scheme, linked to the parent by a lot_links row of kind "split", so a trace
or a recall of either one reaches the other. On the ledger it is booked like production: CONSUME
from the parent and PRODUCE into the child at the same location, with a reference naming the split.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .. import clock
from ..models import LinkKind, Location, Lot, LotLink, LotStatus, MovementKind, PrintJob, StationDevice, Stock
from .actor import NOBODY, Actor
from .errors import InsufficientStock, Invalid
from .numbering import next_lot_number
from .printing import choose_printer, request_labels
from .stock import add_stock, ensure_pickable, record, remove_stock, require_positive


def split_lot(session: Session, lot: Lot, qty: int, location: Location, *, by: Actor = NOBODY,
              on: dt.date | None = None) -> Lot:
    """Take `qty` of `lot` at `location` into a new lot (returned), at the same location.

    Refused in words, with nothing changed, for a quantity that is not a whole number above 0, a
    place that is not a location, a lot that is held, quarantined, recalled or expired, and more
    than the lot has there."""
    qty = require_positive(qty, of=lot)
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


@dataclass
class Split:
    """A split done: the new lot, and the print job of its label (None: no label asked for)."""

    child: Lot
    job: PrintJob | None


def split_off(session: Session, lot: Lot, qty: int, location: Location | None = None, *, by: Actor = NOBODY,
              print_label: bool = False, printer: str | None = None, station=None,
              on: dt.date | None = None) -> Split:
    """split_lot where the place may be left out when the lot is in one place only, and the new lot's
    label queued (print_label) on `printer`, else the station's, else the site's only active printer.
    A print request that cannot be made (no printer, a bad name) is refused before anything changes."""
    if isinstance(station, int):
        station = session.get(StationDevice, station)
    if location is None:
        location = _only_place(session, lot)
    if print_label:
        choose_printer(session, printer, station)  # refused here, before a number is drawn
    child = split_lot(session, lot, qty, location, by=by, on=on)
    job = request_labels(session, child.lot_number, printer=printer, station=station, operator=by.operator_id,
                         token_id=by.token_id) if print_label else None
    return Split(child, job)


def _only_place(session: Session, lot: Lot) -> Location:
    places = session.execute(
        select(Location).join(Stock, Stock.location_id == Location.id)
        .where(Stock.lot_id == lot.id, Stock.qty > 0).group_by(Location.id).order_by(Location.code)
    ).scalars().all()
    if len(places) == 1:
        return places[0]
    if not places:
        raise InsufficientStock(f"Lot {lot.lot_number} has no stock anywhere; nothing can be split off.",
                                available=0)
    raise Invalid(f"Lot {lot.lot_number} is in {len(places)} places ({', '.join(p.code for p in places)}): "
                  f"say which one the part is split off at.", code="choose_location", field="location")
