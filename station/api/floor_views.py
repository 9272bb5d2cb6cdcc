"""The floor over the API: moves and production runs, for ERP integration and scripted scanners.

    POST /moves                                 {lot | sscc, qty?, from?, to}      -> 201 the ledger row
    POST /production-runs                       {item, location?}                  -> 201 the run
    GET  /production-runs/<id>                  the run, its components, its output lot and label jobs
    POST /production-runs/<id>/components       {lot, qty, location?}              -> 201 the run
    DELETE /production-runs/<id>/components/<c> take a scanned component back      -> the run
    POST /production-runs/<id>/finish           {qty, expiry?, print?, copies?, printer?, request_id?}
    POST /production-runs/<id>/cancel           stop an open run; nothing was consumed

Every refusal (a held lot, not enough stock, an unknown location, a finished run) is the API's
JSON error with a sentence, and changes nothing: each request is one transaction, rolled back
when the domain refuses.
"""
from __future__ import annotations

from flask import Response, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import get_db
from ..models import (HandlingUnit, Item, Location, LocationKind, Lot, Operator, PrintJob, ProductionRun,
                      ProductionRunComponent, StationDevice)
from ..services import catalog, printing, production_runs, putaway
from ..services.errors import Invalid
from ..services.lots import stock_lines
from ..services.printing import _utc
from .core import api_actor, route, write
from .floor_schemas import MoveIn, MoveOut, RunComponentIn, RunComponentOut, RunFinishIn, RunIn, RunOut
from .lot_schemas import ItemRef, LotOut
from .views import _referenced


def _unit_by_sscc(session: Session, sscc: str) -> HandlingUnit:
    unit = session.scalar(select(HandlingUnit).where(HandlingUnit.sscc == sscc))
    if unit is None:
        raise Invalid(f"Pallet {sscc} has not been received here.", code="unknown_sscc", field="sscc")
    return unit


@route("POST", "/moves", body=MoveIn, response=MoveOut, status=201, errors=(409,),
       workflow="putaway", action="Moving stock", idempotent=True)
def create_move(body: MoveIn) -> MoveOut:
    """Move a pallet or a quantity of a lot to another location (one ledger row)."""
    with write() as session:
        dest = _referenced(catalog.location_by_code, session, body.to, "to")
        source = _referenced(catalog.location_by_code, session, body.from_, "from") if body.from_ else None
        unit = _unit_by_sscc(session, body.sscc) if body.sscc else None
        lot = _referenced(catalog.lot_by_number, session, body.lot, "lot") if body.lot else None
        movement = putaway.move_goods(session, dest=dest, lot=lot, unit=unit, qty=body.qty, source=source,
                                      by=api_actor())
        session.flush()
        number = session.scalar(select(Lot.lot_number).where(Lot.id == movement.lot_id))
        sscc = session.scalar(select(HandlingUnit.sscc).where(HandlingUnit.id == movement.handling_unit_id)) \
            if movement.handling_unit_id else None
        codes = dict(session.execute(select(Location.id, Location.code).where(
            Location.id.in_([movement.from_location_id, movement.to_location_id]))).all())
        return MoveOut(id=movement.id, ts=_utc(movement.ts), lot_number=number, sscc=sscc, qty=movement.qty,
                       from_location=codes[movement.from_location_id], to_location=codes[movement.to_location_id])


# --- production runs -------------------------------------------------------------------------


def run_out(session: Session, run: ProductionRun) -> RunOut:
    item = session.get(Item, run.item_id)
    line = session.get(Location, run.location_id)
    station = session.scalar(select(StationDevice.name).where(StationDevice.id == run.station_id)) \
        if run.station_id else None
    started_by = session.scalar(select(Operator.name).where(Operator.id == run.started_by_id)) \
        if run.started_by_id else None
    parts = session.execute(
        select(ProductionRunComponent, Lot.lot_number, Item.sku, Item.name, Location.code)
        .join(Lot, Lot.id == ProductionRunComponent.lot_id).join(Item, Item.id == Lot.item_id)
        .join(Location, Location.id == ProductionRunComponent.location_id)
        .where(ProductionRunComponent.run_id == run.id).order_by(ProductionRunComponent.id)).all()
    output, jobs = None, []
    if run.output_lot_id is not None:
        lot = session.get(Lot, run.output_lot_id)
        output = LotOut.of(lot, stock_lines(session, lot.id))
        jobs = list(session.scalars(select(PrintJob.id).where(PrintJob.lot_id == lot.id)
                                    .order_by(PrintJob.id.desc())))
    return RunOut(
        id=run.id, status=run.status.value, item=ItemRef(sku=item.sku, name=item.name), location=line.code,
        station=station, started_at=_utc(run.started_at), started_by=started_by,
        finished_at=_utc(run.finished_at), qty=run.qty,
        components=[RunComponentOut(id=p.id, lot_number=number, item=ItemRef(sku=sku, name=name), location=code,
                                    qty=p.qty, scanned_at=_utc(p.scanned_at))
                    for p, number, sku, name, code in parts],
        output_lot=output, print_jobs=jobs)


def _run_url(run: dict) -> str:
    return url_for("api.get_production_run", run_id=run["id"])


def _created(out: RunOut) -> Response:
    return Response(out.model_dump_json(), status=201, mimetype="application/json",
                    headers={"Location": _run_url({"id": out.id})})


@route("POST", "/production-runs", body=RunIn, response=RunOut, status=201, errors=(409,),
       workflow="line", action="Starting a production run", idempotent=True, location=_run_url)
def create_production_run(body: RunIn) -> Response:
    """Start a production run of an item on a line (one open run per line)."""
    with write() as session:
        item = _referenced(catalog.item_by_sku, session, body.item, "item")
        if body.location is not None:
            line = _referenced(catalog.location_by_code, session, body.location, "location")
        else:
            lines = session.scalars(select(Location).where(Location.kind == LocationKind.LINE)
                                    .order_by(Location.code).limit(2)).all()
            if len(lines) != 1:
                raise Invalid("Say which line: " + ("there is no line location." if not lines else
                              "the site has several lines."), code="choose_line", field="location")
            line = lines[0]
        run = production_runs.start(session, item=item, location=line, by=api_actor())
        session.flush()
        out = run_out(session, run)
    return _created(out)


@route("GET", "/production-runs/<int:run_id>", response=RunOut, errors=(404,))
def get_production_run(run_id: int) -> RunOut:
    """A production run: its components, and once finished its lot and label jobs."""
    with get_db().read() as session:
        return run_out(session, production_runs.get_run(session, run_id))


@route("POST", "/production-runs/<int:run_id>/components", body=RunComponentIn, response=RunOut, status=201,
       errors=(404, 409),
       workflow="line", action="Scanning a component into a run")
def add_run_component(run_id: int, body: RunComponentIn) -> Response:
    """Scan a component lot into an open run (checked now, consumed when the run finishes)."""
    with get_db().write() as session:
        run = production_runs.get_run(session, run_id, lock=True)
        lot = _referenced(catalog.lot_by_number, session, body.lot, "lot")
        source = _referenced(catalog.location_by_code, session, body.location, "location") \
            if body.location else None
        production_runs.add_component(session, run, lot, body.qty, location=source, by=api_actor())
        out = run_out(session, run)
    return _created(out)


@route("DELETE", "/production-runs/<int:run_id>/components/<int:component_id>", response=RunOut,
       errors=(404, 409),
       workflow="line", action="Taking a component out of a run")
def remove_run_component(run_id: int, component_id: int) -> RunOut:
    """Take a scanned component out of an open run."""
    with get_db().write() as session:
        run = production_runs.get_run(session, run_id, lock=True)
        production_runs.remove_component(session, run, component_id)
        return run_out(session, run)


@route("POST", "/production-runs/<int:run_id>/finish", body=RunFinishIn, response=RunOut, errors=(404, 409),
       workflow="line", action="Finishing a production run", idempotent=True)
def finish_production_run(run_id: int, body: RunFinishIn) -> RunOut:
    """Finish a run: consume its components, make the new lot linked to them, queue its labels."""
    by = api_actor()
    with write() as session:
        run = production_runs.get_run(session, run_id, lock=True)
        lot = production_runs.finish(session, run, body.qty, expiry=body.expiry, by=by)
        if body.print:
            printing.request_labels(session, lot.lot_number, printer=body.printer, copies=body.copies,
                                    station=run.station_id, request_id=body.request_id, token_id=by.token_id)
        return run_out(session, run)


@route("POST", "/production-runs/<int:run_id>/cancel", response=RunOut, errors=(404, 409),
       workflow="line", action="Cancelling a production run")
def cancel_production_run(run_id: int) -> RunOut:
    """Cancel an open run; nothing it scanned was consumed."""
    with get_db().write() as session:
        run = production_runs.get_run(session, run_id, lock=True)
        production_runs.cancel(session, run, by=api_actor())
        return run_out(session, run)
