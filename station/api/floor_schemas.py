"""The API's bodies for the floor: moves, production runs, picks and shipments (base types:
api/schemas.py)."""
from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from .lot_schemas import ItemRef, LotOut
from .schemas import (
    NO_CONTROL,
    SSCC,
    ExpiryDate,
    LocationCode,
    LotNumber,
    PrinterName,
    Qty,
    QtyOut,
    Reason,
    Request,
    RequestId,
    Sku,
)

# --- moves and production runs (the floor) ------------------------------------------------------


Sscc = Annotated[str, Field(pattern=SSCC)]


class MoveIn(Request):
    lot: LotNumber | None = Field(None, description="The lot to move (give this or sscc).")
    sscc: Sscc | None = Field(None, description="The pallet to move (give this or lot).")
    qty: Qty | None = Field(
        None, description="How much. Default: the whole pallet, or all of the lot at the source.")
    from_: LocationCode | None = Field(
        None, alias="from", description="Where it is taken from. Default: the pallet's location, or "
                                        "the lot's only location (a lot in several places needs it).")
    to: LocationCode = Field(description="Where it goes.")

    @model_validator(mode="after")
    def _one_thing(self) -> MoveIn:
        if (self.lot is None) == (self.sscc is None):
            raise PydanticCustomError("move_reference", "Give what to move: a lot or an sscc (one of them).")
        return self


class MoveOut(BaseModel):
    id: int = Field(description="The ledger row.")
    ts: dt.datetime
    lot_number: str
    sscc: str | None = Field(description="The pallet moved (all or part of it).")
    qty: QtyOut
    from_location: str
    to_location: str


class RunIn(Request):
    item: Sku = Field(description="The SKU of the item made.")
    location: LocationCode | None = Field(
        None, description="The line it is made on. Default: the site's only line.")


class RunComponentIn(Request):
    lot: LotNumber = Field(description="The component lot used.")
    qty: Qty
    location: LocationCode | None = Field(
        None, description="Where it is taken from. Default: the run's line when the lot is there, "
                          "else the lot's only location.")


class RunFinishIn(Request):
    qty: Qty = Field(description="How much was made: the new lot's quantity, put at the line.")
    expiry: ExpiryDate | None = Field(
        None, description="Default: from the item's shelf life. From 2000-01-01 to 50 years ahead.")
    print: bool = Field(True, description="Queue the new lot's labels (the run's station printer, "
                                          "else the printer named, else the site's only printer).")
    copies: int = Field(1, description="How many labels, 1 to 1000.",
                        json_schema_extra={"minimum": 1, "maximum": 1000})
    printer: PrinterName | None = Field(None, description="Print on this printer instead.")
    request_id: RequestId | None = Field(
        None, description="Your id for the label request: sending it again prints nothing more.")


class RunComponentOut(BaseModel):
    id: int
    lot_number: str
    item: ItemRef
    location: str
    qty: QtyOut
    scanned_at: dt.datetime


class RunOut(BaseModel):
    id: int
    status: Literal["open", "finished", "cancelled"] = Field(
        description="open: components are being scanned; finished: the output lot was made and the "
                    "components consumed; cancelled: nothing was consumed.")
    item: ItemRef
    location: str = Field(description="The line.")
    station: str | None
    started_at: dt.datetime
    started_by: str | None
    finished_at: dt.datetime | None
    qty: QtyOut | None = Field(description="How much was made.")
    components: list[RunComponentOut] = Field(description="In the order scanned.")
    output_lot: LotOut | None = Field(description="The lot made, once finished.")
    print_jobs: list[int] = Field(description="Label jobs of the output lot, newest first.")


# --- picks and shipments -------------------------------------------------------------------------


OrderNumber = Annotated[str, Field(min_length=1, max_length=30, pattern=NO_CONTROL)]
PickLot = Annotated[str, Field(min_length=1, max_length=40, pattern=NO_CONTROL)]


class PickIn(Request):
    order: OrderNumber = Field(description="The order number, e.g. SO-24101.")
    line: Annotated[int, Field(ge=1, le=100_000)] = Field(description="The order line number (1, 2, ...).")
    model_config = ConfigDict(json_schema_extra={"anyOf": [
        {"required": ["lot"], "properties": {"lot": {"type": "string"}}},
        {"required": ["code"], "properties": {"code": {"type": "string"}}},
    ]})

    lot: PickLot | None = Field(None, description="Our lot number of the lot picked (or give the code of its label).")
    code: Annotated[str, Field(min_length=1, max_length=512)] | None = Field(
        None, description="The label of what is picked, as scanned: our lot label, or a supplier's case label "
                          "(GS1, with its lot). Its lot is the lot picked (a `lot` also given must be the "
                          "same); a case GTIN counts its pack; a catch-weight case gives its net weight "
                          "(310n/320n) as `qty` and its count (30/37, else 1) as `pieces`.")
    location: LocationCode | None = Field(
        None, description="Where it is taken from. Default: the suggested place for the suggested lot, "
                          "else where the lot has most stock (not a shipping lane).")
    qty: Qty | None = Field(
        None, description="How much, in the item's unit (a JSON number or a decimal string). Required unless "
                          "the code counts it; a catch-weight case weighs what its label says (another qty "
                          "is refused: label_mismatch).")
    pieces: Annotated[int, Field(ge=1, le=1_000_000)] | None = Field(
        None, description="A variable-measure (catch-weight) item: how many cases weigh `qty`. Refused for any "
                          "other item.")
    override_reason: Reason | None = Field(
        None, description="Why another lot than the FIFO/FEFO suggestion is picked; required for a "
                          "lot younger than the suggested one (409 override_reason_required without it). "
                          "An item whose policy refuses younger lots refuses them whatever the reason "
                          "(409 younger_lot_refused).")


class PickOut(BaseModel):
    id: int = Field(description="The ledger row (kind pick).")
    ts: dt.datetime
    order: str
    line: int
    item: ItemRef
    lot_number: str
    qty: QtyOut
    from_location: str
    to_location: str = Field(description="The shipping lane it was picked to.")
    followed_suggestion: bool
    override_reason: str | None
    line_picked: QtyOut = Field(description="How much of the line is picked now.")
    line_open: QtyOut = Field(description="How much the line still needs.")
    order_status: Literal["open", "picking", "picked", "shipped", "cancelled"]


class ShipmentIn(Request):
    order: OrderNumber = Field(description="The order to ship: everything picked for it leaves the site.")
    short_reason: Reason | None = Field(
        None, description="Why the lines still open ship short (one reason for the order; a line the picker "
                          "reported short keeps the picker's reason). A line that could still be picked "
                          "and has no reason refuses the shipment: 409 short_reason_required, nothing "
                          "shipped. A line with no lot left that fits the order ships short as \"No "
                          "pickable stock left\" without one.")


class ShippedOut(BaseModel):
    line: int
    item: ItemRef
    lot_number: str
    qty: QtyOut
    from_location: str


class ShipmentLineOut(BaseModel):
    line: int
    item: ItemRef
    ordered: QtyOut
    shipped: QtyOut = Field(description="Less than ordered: the line shipped short.")
    short_qty: QtyOut = Field(description="What the line shipped without (0: shipped in full).")
    short_reason: str | None = Field(
        description="Why it shipped short: the picker's reason from the short pick, else the shipment's "
                    "short_reason, else \"No pickable stock left\"; null when shipped in full.")


class ShipmentOut(BaseModel):
    order: str
    status: Literal["shipped"]
    customer: str = Field(description="The customer's code.")
    shipped_at: dt.datetime
    lines: list[ShipmentLineOut]
    shipped: list[ShippedOut] = Field(description="One ledger row (kind ship) per lot and line: the "
                                                  "forward trace.")


class PickUndoIn(Request):
    reason: Reason | None = Field(None, description="Why the pick is taken back (optional).")


class PickUndoOut(BaseModel):
    id: int = Field(description="The ledger row (kind unpick).")
    ts: dt.datetime
    kind: Literal["unpick"]
    undoes: int = Field(description="The pick movement taken back.")
    reference: str = Field(description='"undo of movement <id>".')
    order: str
    line: int
    item: ItemRef
    lot_number: str
    qty: QtyOut
    from_location: str = Field(description="The shipping lane the goods are taken from.")
    to_location: str = Field(description="Where they go back: the place the pick took them from.")
    reason: str | None
    line_picked: QtyOut = Field(description="How much of the line is picked now.")
    line_open: QtyOut = Field(description="How much the line needs again.")
    order_status: Literal["open", "picking", "picked", "shipped", "cancelled"]
