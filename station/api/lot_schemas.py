"""The API's bodies for lots: receipts, holds, a lot's stock, movements and events, and pick
suggestions (base types and rules: api/schemas.py)."""
from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from ..models import Item, Lot, LotStatus, RemovalStrategy
from ..services.lots import LotCard, StockLine
from ..services.suggest import Suggestion
from .print_schemas import PrintJobOut
from .schemas import (
    NO_CONTROL,
    SSCC,
    ExpiryDate,
    Gtin,
    LocationCode,
    ProducedDate,
    Qty,
    QtyOut,
    Reason,
    Request,
    Sku,
    SupplierCode,
    SupplierLot,
    _utc,
)

# --- lots ------------------------------------------------------------------------------------


class ReceiptLabelsIn(Request):
    copies: Annotated[int, Field(ge=0, le=1000)] | None = Field(
        None, description="How many lot labels; default: the item's labels per receipt (0: none).")
    printer: Annotated[str, Field(min_length=1, max_length=60, pattern=NO_CONTROL)] | None = Field(
        None, description="The printer's name; default: the station's printer, else the site's only "
                          "active printer.")


class ReceiptIn(Request):
    model_config = ConfigDict(json_schema_extra={"anyOf": [
        {"required": ["gtin"], "properties": {"gtin": {"type": "string"}}},
        {"required": ["sku"], "properties": {"sku": {"type": "string"}}},
        {"required": ["code"], "properties": {"code": {"type": "string"}}},
    ]})

    code: Annotated[str, Field(min_length=1, max_length=512)] | None = Field(
        None, description="The supplier's pallet or case label as scanned (GS1-128 / DataMatrix element "
                          "string with or without ]C1, FNC1 as GS or '|', the (01)… printed form, or a "
                          "Digital Link). Its GTIN (01/02), lot (10), expiry (17, else best before 15), "
                          "production date (11), SSCC (00) and supplier GLN (412) fill the receipt; a "
                          "field also given in the body must agree with the label.")
    gtin: Gtin | None = Field(
        None, description="The item by one of its GTINs (give this, sku, or a code that carries one).")
    sku: Sku | None = Field(None, description="The item by its SKU (give this, gtin, or a code).")
    qty: Qty | None = Field(
        None, description="How much, in the item's unit (a JSON number or a decimal string). Required unless "
                          "the code counts it: a case GTIN's pack, AI 30/37, or a catch-weight item's net "
                          "weight (310n/320n). A label's net weight is what is booked: a different qty is "
                          "refused (label_mismatch); a qty given with a counting label is what arrived.")
    pieces: Annotated[int, Field(ge=1, le=1_000_000)] | None = Field(
        None, description="A variable-measure (catch-weight) item: how many cases weigh `qty` (from the "
                          "label's AI 30/37 when the code carries it). Refused for any other item.")
    supplier: SupplierCode | None = Field(None, description="The supplier's code.")
    supplier_lot: SupplierLot | None = Field(None, description="The supplier's own lot number.")
    expiry: ExpiryDate | None = Field(
        None, description="From the label; else from the item's shelf life. From 2000-01-01 to 50 years ahead.")
    produced: ProducedDate | None = Field(
        None, description="Production date; from 2000-01-01, not in the future.")
    location: LocationCode | None = Field(
        None, description="Where the goods are put; the station's location, else the first dock (by "
                          "code) when not given.")
    sscc: Annotated[str, Field(pattern=SSCC)] | None = Field(
        None, description="The pallet's SSCC; a pallet is received only once (409 names who received "
                          "it and when).")
    station: Annotated[str, Field(min_length=1, max_length=60, pattern=NO_CONTROL)] | None = Field(
        None, description="The station receiving (its name): its location and printer are the defaults, "
                          "and the ledger row names it.")
    labels: ReceiptLabelsIn | None = Field(
        None, description="Queue lot labels for the new lot; the answer lists their print jobs.")

    @model_validator(mode="after")
    def _one_item_reference(self) -> ReceiptIn:
        if self.gtin is None and self.sku is None and self.code is None:
            raise PydanticCustomError("item_reference", "Give the item: its gtin or its sku, or a scanned code.")
        if self.gtin is not None and self.sku is not None:
            raise PydanticCustomError("item_reference", "Give the item by gtin or by sku, not both.")
        return self


class HoldIn(Request):
    reason: Reason = Field(description="Why the lot is stopped.")
    status: Literal["hold", "quarantine"] = "hold"


class ReleaseIn(Request):
    reason: Reason = Field(description="Why the lot may be used again.")


class ItemRef(BaseModel):
    sku: str
    name: str


class StockOut(BaseModel):
    location: str
    qty: QtyOut
    sscc: str | None


class LotOut(BaseModel):
    lot_number: str
    item: ItemRef
    status: LotStatus
    expiry: dt.date | None
    produced: dt.date | None
    received: dt.date | None
    supplier: str | None = Field(description="The supplier's code.")
    supplier_lot: str | None
    on_hand: QtyOut
    unit: str = Field(description="The unit every quantity of the lot is in (the item's).")
    stock: list[StockOut]

    @classmethod
    def fields_of(cls, lot: Lot, stock: list[StockLine]) -> dict:
        return dict(
            lot_number=lot.lot_number, item=ItemRef(sku=lot.item.sku, name=lot.item.name),
            status=lot.status, expiry=lot.expiry, produced=lot.produced_on, received=lot.received_on,
            supplier=lot.supplier.code if lot.supplier else None, supplier_lot=lot.supplier_lot,
            on_hand=lot.on_hand, unit=lot.item.unit,
            stock=[StockOut(location=s.location_code, qty=s.qty, sscc=s.sscc) for s in stock])

    @classmethod
    def of(cls, lot: Lot, stock: list[StockLine]) -> LotOut:
        return cls(**cls.fields_of(lot, stock))


class MovementOut(BaseModel):
    ts: dt.datetime
    kind: str
    qty: QtyOut
    from_location: str | None
    to_location: str | None
    operator: str | None
    customer: str | None
    reference: str | None
    reason: str | None


class LotEventOut(BaseModel):
    ts: dt.datetime
    action: str
    from_status: LotStatus
    to_status: LotStatus
    reason: str
    operator: str | None


class ReceiptOut(LotOut):
    print_jobs: list[PrintJobOut] | None = Field(
        None, description="The lot labels queued (only when the receipt asked for labels); follow "
                          "GET /print-jobs/{id} for their state.")
    label_note: str | None = Field(
        None, description="Why no labels were queued although asked for (no printer, 0 copies...).")


class LotDetailOut(LotOut):
    days_to_expiry: int | None
    history: list[MovementOut] = Field(description="Movements, newest first (the latest 200).")
    events: list[LotEventOut] = Field(description="Status changes, newest first.")

    @classmethod
    def of_card(cls, card: LotCard) -> LotDetailOut:
        lot = card.lot
        return cls(
            lot_number=lot.lot_number, item=ItemRef(sku=lot.sku, name=lot.item_name), status=lot.status,
            expiry=lot.expiry, produced=lot.produced_on, received=lot.received_on, supplier=lot.supplier,
            supplier_lot=lot.supplier_lot, on_hand=lot.on_hand, unit=lot.unit,
            stock=[StockOut(location=s.location_code, qty=s.qty, sscc=s.sscc) for s in card.stock],
            days_to_expiry=card.days_to_expiry,
            history=[MovementOut(ts=_utc(h.ts), kind=h.kind, qty=h.qty, from_location=h.from_location,
                                 to_location=h.to_location, operator=h.operator, customer=h.customer,
                                 reference=h.reference, reason=h.reason) for h in card.history],
            events=[LotEventOut(ts=_utc(e.ts), action=e.action, from_status=e.from_status, to_status=e.to_status,
                                reason=e.reason, operator=e.who) for e in card.events])


# --- suggestions -----------------------------------------------------------------------------


class SuggestQuery(BaseModel):
    qty: Qty


class AllocationOut(BaseModel):
    lot_number: str
    location: str
    qty: QtyOut
    expiry: dt.date | None


class SuggestionOut(BaseModel):
    item: ItemRef
    strategy: RemovalStrategy
    requested: QtyOut
    allocated: QtyOut
    short: QtyOut = Field(description="How much of the request no pickable stock covers.")
    allocations: list[AllocationOut] = Field(description="In the order to pick them.")

    @classmethod
    def of(cls, item: Item, suggestion: Suggestion) -> SuggestionOut:
        return cls(item=ItemRef(sku=item.sku, name=item.name), strategy=suggestion.strategy,
                   requested=suggestion.requested, allocated=suggestion.allocated,
                   short=suggestion.short,
                   allocations=[AllocationOut(lot_number=a.lot_number, location=a.location_code,
                                              qty=a.qty, expiry=a.expiry)
                                for a in suggestion.allocations])
