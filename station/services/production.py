"""Production on the line: consume component lots and make a new lot linked to them.

Event (services/events.py), in the production's transaction:
    production.finished   lot (the new lot, event_bodies.lot_facts), qty, location (the line), reference
                          ("production run <id>"), components: each part used (lot, qty, from)
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.orm import Session

from .. import clock
from ..models import Item, Location, Lot, LotLink, LotStatus, Movement, MovementKind
from . import events
from .actor import NOBODY, Actor
from .errors import Invalid
from .event_bodies import location_facts, lot_facts, lot_key, qty_text
from .numbering import next_lot_number
from .stock import add_stock, ensure_pickable, record, remove_stock, require_positive


@dataclass(frozen=True)
class Component:
    """A quantity of a component lot taken from a location for a production run."""

    lot: Lot
    location: Location
    qty: int


def consume(session: Session, lot: Lot, location: Location, qty: int, *, reference: str | None = None,
            by: Actor = NOBODY, on: dt.date | None = None) -> Movement:
    """Use `qty` of `lot` from `location` up in production."""
    qty = require_positive(qty, of=lot)
    ensure_pickable(lot, on, verb="used")
    remove_stock(session, lot, location, qty)
    return record(session, MovementKind.CONSUME, lot, qty, source=location, by=by, reference=reference)


def produce(session: Session, *, item: Item, qty: int, location: Location,
            components: list[Component] = (), line_code: str | None = None,
            expiry: dt.date | None = None, reference: str | None = None,
            by: Actor = NOBODY, on: dt.date | None = None) -> Lot:
    """Make `qty` of `item` at `location` from `components`; the new lot is linked to each of them."""
    qty = require_positive(qty, of=item)
    today = on or clock.today()
    if expiry is None and item.shelf_life_days is not None:
        expiry = today + dt.timedelta(days=item.shelf_life_days)
    if expiry is not None and expiry < today:
        raise Invalid(f"The expiry date {expiry.isoformat()} is already past.", code="invalid_date")
    lot = Lot(
        lot_number=next_lot_number(session, item.lot_scheme, today, item=item.sku, line=line_code),
        item_id=item.id, produced_on=today, expiry=expiry, fifo_date=today,
        status=LotStatus.AVAILABLE, on_hand=0, origin="production", created_by_id=by.operator_id,
    )
    session.add(lot)
    session.flush()
    reference = reference or f"production of {lot.lot_number}"
    links: dict[int, int] = {}
    for part in components:
        if part.lot.id == lot.id:
            raise Invalid("A lot cannot be a component of itself.", code="invalid_component")
        consume(session, part.lot, part.location, part.qty, reference=reference, by=by, on=today)
        links[part.lot.id] = links.get(part.lot.id, 0) + part.qty
    for component_id, used in links.items():
        session.add(LotLink(output_lot_id=lot.id, component_lot_id=component_id, qty=used))
    add_stock(session, lot, location, qty)
    record(session, MovementKind.PRODUCE, lot, qty, dest=location, by=by, reference=reference)
    events.record(session, "production.finished", {
        "lot": lot_facts(lot), "qty": qty_text(qty), "location": location_facts(location), "reference": reference,
        "components": [{"lot": lot_facts(part.lot), "qty": qty_text(part.qty), "from": location_facts(part.location)}
                       for part in components]}, key=lot_key(lot), by=by)
    return lot
