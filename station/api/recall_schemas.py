"""The recall API's bodies (pydantic): start a recall, record its progress, close it, read its report."""
from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field, model_validator
from pydantic_core import PydanticCustomError

from ..services import recalls
from .schemas import LocationCode, LotNumber, Qty, QtyOut, Reason, Request, SupplierCode, SupplierLot, _text

Note = _text(200, min_length=0)


class RecallIn(Request):
    lot: LotNumber | None = Field(None, description="Our lot number the recall starts from (or give supplier "
                                                    "and supplier_lot).")
    supplier: SupplierCode | None = Field(None, description="The supplier's code, for a recall of their lot.")
    supplier_lot: SupplierLot | None = Field(None, description="The supplier's lot number: every lot of ours "
                                                               "received with it is a source.")
    reason: Reason = Field(description="Why (a complaint, a supplier notice); written on every lot stopped.")

    @model_validator(mode="after")
    def _one_source(self) -> RecallIn:
        supplier_given = self.supplier is not None or self.supplier_lot is not None
        if self.lot is not None and supplier_given:
            raise PydanticCustomError("recall_source", "Give lot, or supplier and supplier_lot — not both.")
        if self.lot is None and (self.supplier is None or self.supplier_lot is None):
            raise PydanticCustomError("recall_source", "Give lot, or supplier and supplier_lot.")
        return self


class RetrievedIn(Request):
    lot: LotNumber = Field(description="An affected lot of the recall.")
    qty: Qty = Field(description="How much more came back into the quarantine place. In all at most what was "
                                 "on site when the recall began plus what had been shipped of it.")
    location: LocationCode | None = Field(None, description="Taken from this place on site (a move into the "
                                                            "quarantine place). Default: the lot's only place.")
    customer: SupplierCode | None = Field(None, description="Sent back by this customer, who received the lot (a "
                                                            "return into the quarantine place).")
    note: Note | None = None

    @model_validator(mode="after")
    def _one_source(self) -> RetrievedIn:
        if self.location is not None and self.customer is not None:
            raise PydanticCustomError("retrieval_source", "Give location or customer, not both.")
        return self


class NotifiedIn(Request):
    customer: SupplierCode = Field(description="The customer's code.")
    note: Note | None = Field(None, description="How they were told (who, phone, e-mail).")


class CloseIn(Request):
    reason: Reason = Field(description="Why the recall can close.")
    accept_unnotified: bool = Field(
        False, description="Close although some customers are not marked notified (409 without it); the "
                           "reason should say why. Closing never releases the lots: they stay recalled.")


class RecallListQuery(BaseModel):
    status: Literal["open", "closed"] | None = Field(None, description="Only open or only closed recalls.")


class PlaceOut(BaseModel):
    location: str
    qty: QtyOut


class RecallLotOut(BaseModel):
    lot_number: str
    sku: str
    item: str
    unit: str
    depth: int = Field(description="0: a source lot; 1: made from it; 2: made from those; …")
    status_before: str
    status_now: str
    on_hand_at_start: QtyOut
    on_hand_now: QtyOut
    shipped: QtyOut
    retrieved: QtyOut
    stock_now: list[PlaceOut] = Field(description="Where its stock is now, by location.")
    also_in_open_recalls: list[str]


class ShipmentOut(BaseModel):
    order: str | None
    shipped_at: dt.datetime
    lot_number: str
    qty: QtyOut


class RecallCustomerOut(BaseModel):
    code: str
    name: str
    shipped: QtyOut
    notified_at: dt.datetime | None
    notified_by: str | None
    note: str | None
    shipments: list[ShipmentOut]


class RecallEventOut(BaseModel):
    ts: dt.datetime
    action: str = Field(description="open, retrieve, notify or close.")
    operator: str | None
    station: str | None
    lot_number: str | None
    customer: str | None
    qty: QtyOut | None
    note: str | None


class ProgressOut(BaseModel):
    lots: int
    lots_stopped: int
    stock_at_start: QtyOut
    stock_now: QtyOut
    shipped: QtyOut
    retrieved: QtyOut
    to_retrieve: QtyOut = Field(description="All that can come back: stock on site at the start plus shipped.")
    customers: int
    notified: int


class RecallOut(BaseModel):
    number: str
    status: str
    reason: str
    source: str
    lot_number: str | None
    supplier: str | None
    supplier_lot: str | None
    opened_at: dt.datetime
    opened_by: str | None
    closed_at: dt.datetime | None
    closed_by: str | None
    close_reason: str | None
    progress: ProgressOut
    lots: list[RecallLotOut]
    customers: list[RecallCustomerOut]
    events: list[RecallEventOut]

    @classmethod
    def of(cls, r: recalls.Report) -> RecallOut:
        return cls(
            number=r.number, status=r.status, reason=r.reason, source=r.source, lot_number=r.lot_number,
            supplier=r.supplier_code, supplier_lot=r.supplier_lot, opened_at=r.opened_at, opened_by=r.opened_by,
            closed_at=r.closed_at, closed_by=r.closed_by, close_reason=r.close_reason,
            progress=ProgressOut(lots=len(r.lots), lots_stopped=r.lots_stopped, stock_at_start=r.stock_at_start,
                                 stock_now=r.stock_now, shipped=r.shipped, retrieved=r.retrieved,
                                 to_retrieve=r.to_retrieve, customers=len(r.customers), notified=r.notified),
            lots=[RecallLotOut(lot_number=lot.lot_number, sku=lot.sku, item=lot.item_name, unit=lot.unit,
                               depth=lot.depth, status_before=lot.status_before, status_now=lot.status_now,
                               on_hand_at_start=lot.on_hand_at_start, on_hand_now=lot.on_hand_now,
                               shipped=lot.shipped_qty, retrieved=lot.retrieved_qty,
                               stock_now=[PlaceOut(location=p.location, qty=p.qty) for p in lot.stock_now],
                               also_in_open_recalls=list(lot.other_recalls)) for lot in r.lots],
            customers=[RecallCustomerOut(code=c.code, name=c.name, shipped=c.shipped_qty, notified_at=c.notified_at,
                                         notified_by=c.notified_by, note=c.note,
                                         shipments=[ShipmentOut(order=s.order, shipped_at=s.ts,
                                                                lot_number=s.lot_number, qty=s.qty)
                                                    for s in c.shipments]) for c in r.customers],
            events=[RecallEventOut(ts=e.ts, action=e.action, operator=e.operator, station=e.station,
                                   lot_number=e.lot_number, customer=e.customer, qty=e.qty, note=e.note)
                    for e in r.events])


class RecallSummaryOut(BaseModel):
    number: str
    status: str
    reason: str
    source: str
    opened_at: dt.datetime
    closed_at: dt.datetime | None
    lots: int
    retrieved: QtyOut
    to_retrieve: QtyOut
    customers: int
    notified: int


class RecallList(BaseModel):
    recalls: list[RecallSummaryOut]
