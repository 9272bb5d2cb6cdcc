"""The trace's response body (GET /api/v1/lots/<lot>/trace): the lots, their links, and the receipts
(backward) or shipments (forward), as services.trace returns them."""
from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field

from ..services.trace import Trace
from .lot_schemas import ItemRef
from .schemas import QtyOut, _utc


class TraceQuery(BaseModel):
    direction: Literal["backward", "forward"] = Field(
        "backward", description="backward: to the lots it was made from and their suppliers; "
                                "forward: to the lots made from it and the customers who got them.")


class PlaceOut(BaseModel):
    location: str
    qty: QtyOut


class TraceLotOut(BaseModel):
    lot_number: str
    depth: int = Field(description="The fewest links from the traced lot (0: the traced lot).")
    item: ItemRef
    unit: str
    origin: str = Field(description="receipt, production or split")
    status: str = Field(description="available, quarantine, hold, recalled, expired or consumed")
    on_hand: QtyOut
    supplier: str | None = Field(description="The supplier's code.")
    supplier_name: str | None
    supplier_lot: str | None
    received: dt.date | None
    produced: dt.date | None
    expiry: dt.date | None
    stock: list[PlaceOut] = Field(description="Where the lot's stock is now, by location.")


class TraceLinkOut(BaseModel):
    component: str = Field(description="The lot used (or split).")
    output: str = Field(description="The lot made from it (or split off it).")
    qty: QtyOut
    kind: Literal["production", "split"]


class TraceReceiptOut(BaseModel):
    lot_number: str
    supplier: str | None
    supplier_name: str | None
    supplier_lot: str | None
    ts: dt.datetime
    qty: QtyOut
    sscc: str | None = Field(description="The pallet's SSCC, when it came on a labelled pallet.")
    received_by: str | None
    location: str | None


class TraceShipmentOut(BaseModel):
    lot_number: str
    customer: str | None = Field(description="The customer's code.")
    customer_name: str | None
    order_number: str | None
    ts: dt.datetime
    qty: QtyOut
    kind: Literal["ship", "return"] = Field("ship", description="ship: goods that left to the customer; return: "
                                                               "goods that came back from them (order_number: "
                                                               "the return's reference).")


class TraceOut(BaseModel):
    lot_number: str
    direction: Literal["backward", "forward"]
    max_depth: int
    lots: list[TraceLotOut]
    links: list[TraceLinkOut]
    receipts: list[TraceReceiptOut] = Field(description="Backward: every receipt of the lots it came from.")
    shipments: list[TraceShipmentOut] = Field(description="Forward: every shipment of the lot and of every "
                                                          "lot made from it.")

    @classmethod
    def of(cls, t: Trace) -> TraceOut:
        return cls(
            lot_number=t.lot_number, direction=t.direction, max_depth=t.max_depth,
            lots=[TraceLotOut(lot_number=n.lot_number, depth=n.depth, item=ItemRef(sku=n.sku, name=n.item_name),
                              unit=n.unit, origin=n.origin, status=n.status, on_hand=n.on_hand,
                              supplier=n.supplier_code, supplier_name=n.supplier_name, supplier_lot=n.supplier_lot,
                              received=n.received_on, produced=n.produced_on, expiry=n.expiry,
                              stock=[PlaceOut(location=p.location, qty=p.qty) for p in n.places])
                  for n in t.nodes],
            links=[TraceLinkOut(component=e.component, output=e.output, qty=e.qty, kind=e.kind) for e in t.edges],
            receipts=[TraceReceiptOut(lot_number=r.lot_number, supplier=r.supplier_code,
                                      supplier_name=r.supplier_name, supplier_lot=r.supplier_lot, ts=_utc(r.ts),
                                      qty=r.qty, sscc=r.sscc, received_by=r.received_by, location=r.location)
                      for r in t.receipts],
            shipments=[TraceShipmentOut(lot_number=s.lot_number, customer=s.customer_code,
                                        customer_name=s.customer_name, order_number=s.order_number,
                                        ts=_utc(s.ts), qty=s.qty, kind=s.kind) for s in t.shipments])
