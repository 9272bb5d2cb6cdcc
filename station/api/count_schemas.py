"""The API's bodies for stock counts (base types: api/schemas.py)."""
from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from ..ids import MAX_ID
from .schemas import NO_CONTROL, SSCC, LocationCode, LotNumber, QtyOrZero, QtyOut, Request

Sscc = Annotated[str, Field(pattern=SSCC)]
Counted = Annotated[QtyOrZero, Field(description="What was found, in the item's unit and decimals: 0 for none.")]
CountReason = Annotated[str, Field(min_length=1, max_length=120, pattern=NO_CONTROL)]
Note = Annotated[str, Field(min_length=1, max_length=200, pattern=NO_CONTROL)]
STATUSES = Literal["open", "pending", "booked", "rejected", "cancelled"]


class CountLineIn(Request):
    lot: LotNumber | None = Field(None, description="A lot counted loose (give this or sscc). A lot that is at "
                                                    "the location only on one pallet is counted on that pallet.")
    sscc: Sscc | None = Field(None, description="A pallet counted (give this or lot).")
    qty: Counted
    reason: CountReason | None = Field(None, description="Why it differs from the books; required when it does.")

    @model_validator(mode="after")
    def _one_thing(self) -> CountLineIn:
        if (self.lot is None) == (self.sscc is None):
            raise PydanticCustomError("count_reference", "Give what was counted: a lot or an sscc (one of them).")
        return self


class CountIn(Request):
    location: LocationCode = Field(description="The location counted.")
    lines: list[CountLineIn] = Field(max_length=2000, description=(
        "Every lot and pallet found there with its quantity. A lot or pallet on the books there and not "
        "listed is refused (422 not_counted) when finishing: list it with qty 0 when it is not there."))
    finish: bool = Field(True, description=(
        "true: finish the count in this request — the differences are booked (201, status booked), or wait "
        "for a supervisor when one is above STATION_COUNT_APPROVAL_THRESHOLD (status pending). false: keep "
        "it open (status open); the same token's next POST for the location goes on with it."))


class DecisionIn(Request):
    note: Note | None = Field(None, description="Why (required to reject).")


class CountLineOut(BaseModel):
    lot_number: str
    sscc: str | None
    sku: str
    expected: QtyOut = Field(description="On the books when the count started (or re-read at finishing).")
    counted: QtyOut | None = Field(description="null: not counted yet.")
    difference: QtyOut
    reason: str | None


class CountOut(BaseModel):
    id: int
    location: str
    status: STATUSES
    counted_by: str | None = Field(description="The operator's name, else 'API: <token name>'.")
    started_at: dt.datetime
    finished_at: dt.datetime | None
    decided_by: str | None = Field(description="Who approved or rejected it (a supervisor's name, or 'API').")
    decided_at: dt.datetime | None
    decision_note: str | None
    recount: list[str] = Field(default_factory=list, description=(
        "When finishing found that stock at the location moved while counting: the lots to count again "
        "(their lines are reset to not counted; status stays open)."))
    lines: list[CountLineOut]


class CountQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: STATUSES | None = Field(None, description="Only counts with this status.")
    location: LocationCode | None = Field(None, description="Only counts of this location.")
    cursor: int | None = Field(None, ge=1, le=MAX_ID, description="next_cursor of the previous page: older counts.")
    limit: int = Field(100, ge=1, le=1000)


class CountPage(BaseModel):
    data: list[CountOut] = Field(description="Newest (highest id) first.")
    next_cursor: int | None = Field(description="Pass as cursor for the next page; null on the last page.")
