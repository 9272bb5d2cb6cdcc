"""Customer returns over the API (services.returns), for an ERP or a scanner script.

    POST /returns                       {lot | sscc, qty, customer, reason, confirm_unshipped?, reference?}
                                        -> 201 the return: the lot as it is now and where the goods went
    GET  /lots/<n>/receivers            the customers who received the lot: shipped, returned, may return

A refusal (more than the customer received, a customer who never got the lot without
confirm_unshipped, no quarantine place on the site) is the API's JSON error in words; nothing changes.
"""
from __future__ import annotations

from typing import Annotated

from flask import Response
from pydantic import BaseModel, Field, model_validator
from sqlalchemy import select

from .. import get_db
from ..models import HandlingUnit, Location, LotStatus
from ..services import catalog, customers, returns
from ..services.errors import Invalid, NotFound
from ..services.lots import stock_lines
from .core import api_actor, route, write
from .lot_schemas import LotOut
from .schemas import NO_CONTROL, SSCC, LotNumber, Qty, QtyOut, Reason, Request, SupplierCode


class ReturnIn(Request):
    lot: LotNumber | None = Field(None, description="Our lot number (give this or sscc).")
    sscc: Annotated[str, Field(pattern=SSCC)] | None = Field(
        None, description="The pallet's SSCC, for a pallet that comes back (give this or lot). A pallet that "
                          "left whole goes back on its pallet.")
    qty: Qty = Field(description="How much came back. At most what the customer received of the lot, less "
                                 "what they already sent back.")
    customer: SupplierCode = Field(description="The customer's code.")
    reason: Reason = Field(description="Why it came back (damaged, wrong item, refused at delivery …).")
    confirm_unshipped: bool = Field(False, description="The customer never received this lot from us (it came "
                                                       "through a distributor): book it anyway.")
    reference: Annotated[str, Field(min_length=1, max_length=80, pattern=NO_CONTROL)] | None = Field(
        None, description="The customer's return note or RMA number (default: 'return from <customer>').")

    @model_validator(mode="after")
    def _one_source(self) -> ReturnIn:
        if (self.lot is None) == (self.sscc is None):
            raise ValueError("Give the lot number or the pallet's SSCC (one of them).")
        return self


class ReturnOut(BaseModel):
    lot: LotOut
    qty: QtyOut
    customer: str = Field(description="The customer's code.")
    location: str = Field(description="The quarantine place the goods were booked into.")
    sscc: str | None
    status_before: LotStatus = Field(description="The lot's status before the return (it goes to quarantine "
                                                 "unless held, quarantined, recalled or expired already).")


class ReceiverOut(BaseModel):
    customer: str = Field(description="The customer's code.")
    name: str
    shipped: QtyOut
    returned: QtyOut
    may_return: QtyOut


class ReceiverList(BaseModel):
    lot_number: str
    data: list[ReceiverOut]


def _customer(session, code: str):
    try:
        return customers.customer_by_code(session, code)
    except NotFound as exc:
        raise Invalid(exc.message, code=exc.code, field="customer") from None


def _goods(session, body: ReturnIn):
    if body.sscc is not None:
        unit = session.scalar(select(HandlingUnit).where(HandlingUnit.sscc == body.sscc))
        if unit is None:
            raise Invalid(f"No pallet {body.sscc} was ever received here.", code="unknown_sscc", field="sscc")
        return unit.lot, unit
    try:
        return catalog.lot_by_number(session, body.lot), None
    except NotFound as exc:
        raise Invalid(exc.message, code=exc.code, field="lot") from None


@route("POST", "/returns", body=ReturnIn, response=ReturnOut, status=201, errors=(409,),
       workflow="returns", action="Booking a customer return", idempotent=True)
def create_return(body: ReturnIn) -> Response:
    """Book goods a customer sent back into their own lot at the quarantine place."""
    with write() as session:
        lot, unit = _goods(session, body)
        customer = _customer(session, body.customer)
        before = lot.status
        movement = returns.book_return(session, lot=lot, qty=body.qty, customer=customer, reason=body.reason,
                                       unit=unit, confirm_unshipped=body.confirm_unshipped,
                                       reference=body.reference, by=api_actor())
        out = ReturnOut(lot=LotOut.of(lot, stock_lines(session, lot.id)), qty=movement.qty, customer=customer.code,
                        location=session.get(Location, movement.to_location_id).code,
                        sscc=unit.sscc if unit else None, status_before=before)
    return Response(out.model_dump_json(), status=201, mimetype="application/json")


@route("GET", "/lots/<path:lot_number>/receivers", response=ReceiverList, errors=(404,))
def lot_receivers(lot_number: str) -> ReceiverList:
    """The customers who received a lot: how much was shipped to each, returned, and may still come back."""
    with get_db().read() as session:
        lot = catalog.lot_by_number(session, lot_number)
        return ReceiverList(lot_number=lot.lot_number, data=[
            ReceiverOut(customer=r.code, name=r.name, shipped=r.shipped, returned=r.returned, may_return=r.may_return)
            for r in returns.receivers(session, lot)])
