"""The bodies of the lot and print-job lists (GET /lots, GET /print-jobs): their filters and pages."""
from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ..ids import MAX_ID
from ..models import LotStatus, PrintJobStatus
from .lot_schemas import LotOut
from .print_schemas import PrintJobOut
from .schemas import LocationCode, LotNumber, PrinterName, Sku

# The states as literal values, not the enums: a query parameter's schema is inlined in the OpenAPI
# document (api/openapi.py), where an enum's $ref would point nowhere.
LotStatusValue = Literal[tuple(s.value for s in LotStatus)]
JobStatusValue = Literal[tuple(s.value for s in PrintJobStatus)]
After = Field(None, ge=1, le=MAX_ID, description="next_after of the previous page (omit for the first page).")
Limit = Field(100, ge=1, le=1000, description="At most this many per page.")


class LotListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    item: Sku | None = Field(None, description="Only lots of this item (its SKU).")
    status: LotStatusValue | None = Field(None, description="Only lots in this state.")
    location: LocationCode | None = Field(None, description="Only lots with stock at this location now.")
    expires_before: dt.date | None = Field(
        None, description="Only lots expiring before this day (YYYY-MM-DD; not on it). Lots without an "
                          "expiry are left out.")
    expires_after: dt.date | None = Field(
        None, description="Only lots expiring after this day (YYYY-MM-DD; not on it). Lots without an "
                          "expiry are left out.")
    after: int | None = After
    limit: int = Limit


class LotPage(BaseModel):
    data: list[LotOut] = Field(description="Oldest lot (first made) first — with expires_before or "
                                           "expires_after, soonest expiry first, then oldest — each with "
                                           "its stock by location.")
    next_after: int | None = Field(description="Pass as after for the next page; null on the last page.")


class PrintJobListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: JobStatusValue | None = Field(None, description="Only jobs in this state.")
    printer: PrinterName | None = Field(None, description="Only jobs for this printer (its name).")
    lot: LotNumber | None = Field(None, description="Only labels of this lot (its number).")
    after: int | None = After
    limit: int = Limit


class PrintJobPage(BaseModel):
    data: list[PrintJobOut] = Field(description="Oldest job (lowest id) first.")
    next_after: int | None = Field(description="Pass as after for the next page; null on the last page.")
