"""Production runs on a line: start one for an item, scan component lots into it, finish it.

A run records its components as they are scanned; they are consumed when the run finishes, in the
one transaction that makes the output lot (production.produce), links it to its components and
writes the ledger. So a scan taken back or a cancelled run moves no stock, and a refusal at finish
(a component put on hold meanwhile, stock gone) leaves everything as it was.

Every refusal is a DomainError in words an operator understands; the caller's transaction is
rolled back by raising it out of ``Database.write()``.
"""
from __future__ import annotations

import datetime as dt
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from .. import clock
from ..models import (Item, Location, LocationKind, Lot, ProductionRun, ProductionRunComponent, RunStatus,
                      Stock)
from .actor import NOBODY, Actor
from .errors import Conflict, InsufficientStock, Invalid, NotFound
from .production import Component, produce
from .putaway import places
from .stock import ensure_pickable, require_positive


def get_run(session: Session, run_id: int, *, lock: bool = False) -> ProductionRun:
    query = (select(ProductionRun).where(ProductionRun.id == run_id)
             .options(selectinload(ProductionRun.components)))
    if lock:
        query = query.with_for_update()
    run = session.scalar(query)
    if run is None:
        raise NotFound(f"There is no production run {run_id}.", code="unknown_run")
    return run


def open_run_at(session: Session, location_id: int) -> ProductionRun | None:
    """The run a line is working on, if any."""
    return session.scalar(select(ProductionRun).where(ProductionRun.location_id == location_id,
                                                      ProductionRun.status == RunStatus.OPEN))


def recent_runs(session: Session, location_id: int | None = None, limit: int = 5) -> list[ProductionRun]:
    query = select(ProductionRun).order_by(ProductionRun.id.desc()).limit(limit)
    if location_id is not None:
        query = query.where(ProductionRun.location_id == location_id)
    return list(session.scalars(query))


def start(session: Session, *, item: Item, location: Location, by: Actor = NOBODY) -> ProductionRun:
    """Start a run of `item` on the line `location` (one open run per line)."""
    if location.kind is not LocationKind.LINE:
        raise Invalid(f"{location.code} is not a production line — a run is made on a line.",
                      code="not_a_line", field="location")
    running = open_run_at(session, location.id)
    if running is not None:
        raise Conflict(_busy(session, location, running), code="run_open", run_id=running.id)
    run = ProductionRun(item_id=item.id, location_id=location.id, status=RunStatus.OPEN,
                        station_id=by.station_id, started_by_id=by.operator_id)
    try:
        with session.begin_nested():
            session.add(run)
    except IntegrityError:  # another station started a run on this line at the same moment
        running = open_run_at(session, location.id)
        if running is None:
            raise
        raise Conflict(_busy(session, location, running), code="run_open", run_id=running.id) from None
    return run


def _busy(session: Session, location: Location, running: ProductionRun) -> str:
    item = session.get(Item, running.item_id)
    return (f"Line {location.code} is already running run {running.id} ({item.sku} {item.name}) — "
            f"finish or cancel it first.")


def _require_open(run: ProductionRun) -> None:
    if run.status is RunStatus.FINISHED:
        lot = run.output_lot.lot_number if run.output_lot else "?"
        raise Conflict(f"Run {run.id} is already finished (lot {lot}); start a new run.",
                       code="run_finished", run_id=run.id)
    if run.status is RunStatus.CANCELLED:
        raise Conflict(f"Run {run.id} was cancelled; start a new run.", code="run_cancelled", run_id=run.id)


def claimed(session: Session, run: ProductionRun, lot_id: int, location_id: int) -> int:
    """How much of a lot at a location this run has scanned already."""
    return session.scalar(select(func.coalesce(func.sum(ProductionRunComponent.qty), 0)).where(
        ProductionRunComponent.run_id == run.id, ProductionRunComponent.lot_id == lot_id,
        ProductionRunComponent.location_id == location_id)) or 0


def component_source(session: Session, run: ProductionRun, lot: Lot,
                     location: Location | None = None) -> Location:
    """Where a component is taken from: the location given; else the run's line when the lot is
    there; else the only location holding it. Several places and none given: Invalid
    ``choose_location`` with the places in ``details["places"]``."""
    if location is not None:
        return location
    found = places(session, lot)
    if not found:
        raise InsufficientStock(f"Lot {lot.lot_number} has no stock anywhere — it cannot be used.",
                                available=0)
    at_line = [p for p in found if p.location_id == run.location_id]
    if at_line:
        return session.get(Location, at_line[0].location_id)
    if len(found) == 1:
        return session.get(Location, found[0].location_id)
    where = ", ".join(f"{p.code} ({p.qty})" for p in found)
    raise Invalid(f"Lot {lot.lot_number} is in {len(found)} places ({where}) — choose where it is taken from.",
                  code="choose_location", places=[{"location": p.code, "qty": p.qty} for p in found])


def add_component(session: Session, run: ProductionRun, lot: Lot, qty: int, *,
                  location: Location | None = None, by: Actor = NOBODY,
                  on: dt.date | None = None) -> ProductionRunComponent:
    """Record that `qty` of `lot` (from `location`) goes into the run; checked now, consumed at finish."""
    _require_open(run)
    qty = require_positive(qty, of=lot)
    if run.output_lot_id is not None and lot.id == run.output_lot_id:
        raise Invalid("A lot cannot be a component of itself.", code="invalid_component")
    ensure_pickable(lot, on, verb="used")
    source = component_source(session, run, lot, location)
    here = session.scalar(select(func.coalesce(func.sum(Stock.qty), 0)).where(
        Stock.lot_id == lot.id, Stock.location_id == source.id)) or 0
    already = claimed(session, run, lot.id, source.id)
    if here - already < qty:
        also = f" ({already} already scanned into this run)" if already else ""
        raise InsufficientStock(f"Only {max(here - already, 0)} of lot {lot.lot_number} left at {source.code}"
                                f"{also}; {qty} asked.", available=max(here - already, 0))
    part = ProductionRunComponent(run_id=run.id, lot_id=lot.id, location_id=source.id, qty=qty,
                                  operator_id=by.operator_id, raw_scan=by.raw_scan)
    session.add(part)
    session.flush()
    session.expire(run, ["components"])
    return part


def remove_component(session: Session, run: ProductionRun, component_id: int | None = None) -> ProductionRunComponent:
    """Take a scanned component out of an open run again (the last one when no id is given)."""
    _require_open(run)
    query = select(ProductionRunComponent).where(ProductionRunComponent.run_id == run.id)
    if component_id is not None:
        query = query.where(ProductionRunComponent.id == component_id)
    part = session.scalar(query.order_by(ProductionRunComponent.id.desc()).limit(1))
    if part is None:
        raise Invalid("There is no component to take back." if component_id is None else
                      f"Run {run.id} has no component {component_id}.", code="no_component")
    session.delete(part)
    session.flush()
    session.expire(run, ["components"])
    return part


def finish(session: Session, run: ProductionRun, qty: int, *, by: Actor = NOBODY,
           expiry: dt.date | None = None, on: dt.date | None = None) -> Lot:
    """Make `qty` of the run's item at its line from its components: the new lot, linked to each."""
    _require_open(run)
    qty = require_positive(qty, of=run.item)
    parts = list(session.scalars(select(ProductionRunComponent).where(ProductionRunComponent.run_id == run.id)
                                 .order_by(ProductionRunComponent.id)))
    if not parts:
        raise Invalid(f"Run {run.id} has no components — scan the lots used before finishing.",
                      code="no_components")
    item = session.get(Item, run.item_id)
    line = session.get(Location, run.location_id)
    components = [Component(lot=session.get(Lot, p.lot_id), location=session.get(Location, p.location_id),
                            qty=p.qty) for p in parts]
    lot = produce(session, item=item, qty=qty, location=line, components=components, line_code=line.code,
                  expiry=expiry, reference=f"production run {run.id}", by=by, on=on)
    run.status = RunStatus.FINISHED
    run.qty = qty
    run.output_lot_id = lot.id
    run.finished_at = clock.now()
    run.finished_by_id = by.operator_id
    session.flush()
    return lot


def cancel(session: Session, run: ProductionRun, *, by: Actor = NOBODY) -> ProductionRun:
    """Stop an open run without making anything; its components were never consumed."""
    _require_open(run)
    run.status = RunStatus.CANCELLED
    run.finished_at = clock.now()
    run.finished_by_id = by.operator_id
    session.flush()
    return run
