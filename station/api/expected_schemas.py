"""The expected receipts' API models (api/expected_views.py): a supplier's PO or ASN in, its lines and
what was received against them out."""
from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, Field, model_validator
from pydantic_core import PydanticCustomError

from ..ids import MAX_ID
from ..models import ExpectedReceipt, ExpectedStatus
from .schemas import SSCC, Gtin, Qty, QtyOut, Reason, Request, Sku, SupplierCode, SupplierLot, _text, _utc

Reference = _text(40)
Sscc = Annotated[str, Field(pattern=SSCC)]


class ExpectedLineIn(Request):
    sku: Sku | None = Field(None, description="The item by its SKU (give this or gtin).")
    gtin: Gtin | None = Field(None, description="The item by one of its GTINs (give this or sku).")
    qty: Qty = Field(description="How many the supplier will deliver, in the item's unit.")
    supplier_lot: SupplierLot | None = Field(None, description="The supplier's lot, when the ASN names it.")
    ssccs: list[Sscc] = Field([], max_length=1000,
                              description="The pallets' SSCCs the ASN announces: scanning one at the dock "
                                          "fills the receipt from this line. Each SSCC is expected once.")

    @model_validator(mode="after")
    def _an_item(self) -> ExpectedLineIn:
        if self.sku is None and self.gtin is None:
            raise PydanticCustomError("item_reference", "Give the item: its sku or its gtin.")
        return self


class ExpectedReceiptIn(Request):
    supplier: SupplierCode = Field(description="The supplier's code.")
    reference: Reference = Field(description="The PO or ASN number; unique per supplier. The same body sent "
                                             "again answers the receipt entered (200); another body under "
                                             "the same reference is refused (409).")
    expected_on: dt.date | None = Field(None, description="The day the goods are due (YYYY-MM-DD).")
    lines: list[ExpectedLineIn] = Field(min_length=1, max_length=500)


class CloseIn(Request):
    reason: Reason = Field(description="Why the goods still missing will not come (kept with the receipt).")


# A query parameter's enum is spelled out here: an Enum would be a $ref the query parameters cannot follow.
StatusName = Literal["open", "received", "closed", "cancelled"]


class ExpectedListQuery(BaseModel):
    status: StatusName | None = Field(None, description="Only receipts in this state.")
    after: int | None = Field(None, ge=1, le=MAX_ID, description="next_after of the previous page.")
    limit: int = Field(100, ge=1, le=1000, description="At most this many receipts.")


class ExpectedLineOut(BaseModel):
    line_no: int
    sku: str
    item_name: str
    unit: str
    qty: QtyOut
    received_qty: QtyOut
    missing_qty: QtyOut = Field(description="How many are still to come (0 when in full or over).")
    supplier_lot: str | None
    ssccs: list[str]
    received_ssccs: list[str] = Field(description="The announced pallets received so far.")


class ExpectedReceiptOut(BaseModel):
    id: int
    supplier: str = Field(description="The supplier's code.")
    supplier_name: str
    reference: str
    expected_on: dt.date | None
    status: ExpectedStatus
    created_at: dt.datetime
    closed_at: dt.datetime | None
    close_reason: str | None
    lines: list[ExpectedLineOut]

    @classmethod
    def of(cls, row: ExpectedReceipt) -> ExpectedReceiptOut:
        return cls(
            id=row.id, supplier=row.supplier.code, supplier_name=row.supplier.name, reference=row.reference,
            expected_on=row.expected_on, status=row.status, created_at=_utc(row.created_at),
            closed_at=row.closed_at and _utc(row.closed_at), close_reason=row.close_reason,
            lines=[ExpectedLineOut(
                line_no=line.line_no, sku=line.item.sku, item_name=line.item.name, unit=line.item.unit,
                qty=line.qty, received_qty=line.received_qty, missing_qty=max(line.qty - line.received_qty, 0),
                supplier_lot=line.supplier_lot, ssccs=[p.sscc for p in line.pallets],
                received_ssccs=[p.sscc for p in line.pallets if p.received_at is not None])
                for line in row.lines])


class ExpectedReceiptPage(BaseModel):
    data: list[ExpectedReceiptOut] = Field(description="Oldest (lowest id) first.")
    next_after: int | None = Field(description="Pass as after for the next page; null on the last page.")
