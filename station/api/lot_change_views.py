"""Splitting a lot and correcting its stock over the API (services.splits, services.stock).

    POST /lots/<n>/split    {qty, location?, print?, printer?, station?}   -> 201 the parent and the new lot
    POST /lots/<n>/adjust   {location, counted | delta, reason}          -> the lot as it is now

Both are supervisor work (the lot card's forms are the supervisor's too). A refusal is the API's JSON
error in words; nothing changes (a split whose label cannot be asked for is refused before it is made).
"""
from __future__ import annotations

from typing import Annotated

from flask import Response
from pydantic import BaseModel, Field, model_validator
from sqlalchemy import select

from .. import get_db
from ..models import StationDevice
from ..services import catalog, splits, stock
from ..services.errors import Invalid, NotFound
from ..services.lots import stock_lines
from .core import api_actor, route
from .lot_schemas import LotOut
from .print_schemas import PrintJobOut
from .schemas import LocationCode, PrinterName, Qty, QtyDelta, QtyOrZero, Reason, Request


class SplitIn(Request):
    qty: Qty = Field(description="How much of the lot gets a number of its own.")
    location: LocationCode | None = Field(
        None, description="Where that part is; may be left out when the lot is in one place only.")
    print: bool = Field(False, description="Queue the new lot's label.")
    printer: PrinterName | None = Field(None, description="The printer (default: the station's, else the site's "
                                                          "only active printer).")
    station: Annotated[str, Field(min_length=1, max_length=60)] | None = Field(
        None, description="The station the split is made at (its printer prints the label).")


class SplitOut(BaseModel):
    parent: LotOut
    lot: LotOut = Field(description="The new lot.")
    print_job: PrintJobOut | None = None


class AdjustIn(Request):
    location: LocationCode
    counted: QtyOrZero | None = Field(
        None, description="What is really there now (give this or delta).")
    delta: QtyDelta | None = Field(
        None, description="The correction: more (+) or fewer (-) than the books say (give this or counted).")
    reason: Reason = Field(description="Why (counted, damaged, found …); mandatory.")

    @model_validator(mode="after")
    def _one_amount(self) -> AdjustIn:
        if (self.counted is None) == (self.delta is None):
            raise ValueError("Give counted (what is there now) or delta (the correction), one of them.")
        return self


def _referenced(find, session, value: str, field: str):
    try:
        return find(session, value)
    except NotFound as exc:
        raise Invalid(exc.message, code=exc.code, field=field) from None


def _station(session, name: str) -> StationDevice:
    found = session.scalar(select(StationDevice).where(StationDevice.name == name))
    if found is None:
        raise Invalid(f"There is no station called {name!r}.", code="unknown_station", field="station")
    return found


@route("POST", "/lots/<path:lot_number>/split", body=SplitIn, response=SplitOut, status=201, errors=(404, 409),
       workflow="supervisor", action="Splitting a lot")
def split_lot(lot_number: str, body: SplitIn) -> Response:
    """Give part of a lot a lot number of its own (same goods, linked in the genealogy), label optional."""
    from .print_views import _job_out

    with get_db().write() as session:
        lot = catalog.lot_by_number(session, lot_number)
        location = _referenced(catalog.location_by_code, session, body.location, "location") \
            if body.location else None
        station = _station(session, body.station) if body.station else None
        done = splits.split_off(session, lot, body.qty, location, by=api_actor(), print_label=body.print,
                                printer=body.printer, station=station)
        session.flush()
        out = SplitOut(parent=LotOut.of(lot, stock_lines(session, lot.id)),
                       lot=LotOut.of(done.child, stock_lines(session, done.child.id)),
                       print_job=_job_out(session, done.job) if done.job else None)
    return Response(out.model_dump_json(), status=201, mimetype="application/json")


@route("POST", "/lots/<path:lot_number>/adjust", body=AdjustIn, response=LotOut, errors=(404, 409),
       workflow="supervisor", action="Correcting a lot's stock")
def adjust_lot(lot_number: str, body: AdjustIn) -> LotOut:
    """Correct a lot's stock at a location (to what is counted, or by a delta), with a reason on the ledger."""
    with get_db().write() as session:
        lot = catalog.lot_by_number(session, lot_number)
        location = _referenced(catalog.location_by_code, session, body.location, "location")
        if body.counted is not None:
            stock.adjust_to(session, lot, location, body.counted, body.reason, by=api_actor())
        else:
            stock.adjust(session, lot, location, body.delta, body.reason, by=api_actor())
        return LotOut.of(lot, stock_lines(session, lot.id))
