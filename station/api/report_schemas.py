"""Models of the report API: expiry, the ledger (movements) and its filters."""
from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from ..ids import MAX_ID
from .schemas import QtyOut


class ExpiryQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    days: int = Field(30, ge=1, le=365, description="Lots expiring within this many days from the site's today.")


class ExpiryLotOut(BaseModel):
    lot_number: str
    sku: str
    item_name: str
    unit: str
    expiry: dt.date
    days_left: int = Field(description="Negative: expired that many days ago.")
    status: str
    on_hand: QtyOut
    stock: dict[str, QtyOut] = Field(description="Quantity by location code.")


class ExpiryWeekOut(BaseModel):
    label: str
    start: dt.date | None = Field(description="The week's first day; null for the expired bucket.")
    lots: int
    qty: dict[str, QtyOut] = Field(description="Quantity by unit.")


class ExpiryOut(BaseModel):
    today: dt.date = Field(description="The site's calendar date the report is judged by.")
    days: int
    expiring_total: int
    expiring: list[ExpiryLotOut] = Field(description="Soonest first (at most 500).")
    expired_total: int
    expired: list[ExpiryLotOut] = Field(description="Expired lots with stock on site (at most 500).")
    weeks: list[ExpiryWeekOut] = Field(description="Stock by expiry week: expired, then 12 weeks from today.")


class MovementQuery(BaseModel):
    """Every filter is optional; a name that matches nothing is refused (422), not answered empty."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    lot: str | None = Field(None, max_length=40, description="Lot number.")
    item: str | None = Field(None, max_length=40, description="Item SKU.")
    location: str | None = Field(None, max_length=30, description="Location code: goods moved from or to it.")
    operator: str | None = Field(None, max_length=40, description="Operator badge.")
    station: str | None = Field(None, max_length=60, description="Station name.")
    date_from: dt.date | None = Field(None, alias="from", description="First site-local day (YYYY-MM-DD).")
    date_to: dt.date | None = Field(None, alias="to", description="Last site-local day, included.")


class MovementPageQuery(MovementQuery):
    cursor: int | None = Field(None, ge=1, le=MAX_ID, description="next_cursor of the previous page: rows older than it.")
    limit: int = Field(100, ge=1, le=1000)


class MovementOut(BaseModel):
    id: int
    ts: dt.datetime
    kind: str
    lot_number: str
    sku: str
    item_name: str
    qty: QtyOut
    unit: str
    from_location: str | None
    to_location: str | None
    operator: str | None = Field(description="The operator's name.")
    operator_badge: str | None
    station: str | None
    customer: str | None
    order: str | None
    reference: str | None
    reason: str | None
    raw_scan: str | None
    followed_suggestion: bool | None


class MovementPage(BaseModel):
    data: list[MovementOut] = Field(description="Newest (highest id) first.")
    next_cursor: int | None = Field(description="Pass as cursor for the next page; null on the last page.")
