"""The bodies of customers and orders (api/customer_views.py, api/order_views.py)."""
from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, Field

from ..models import Customer, Order, OrderStatus
from ..services.customers import MAX_SHELF_LIFE_DAYS
from ..services.orders import MAX_LINES, MAX_QTY
from .schemas import GLN, PATTERN_WORDS, Name, QtyOut, Reason, Request, Sku, SupplierCode, _utc, qty_in

# Printable ASCII, no space at either end: what an ERP's order number looks like.
ORDER_NUMBER = r"^[!-~]([ -~]*[!-~])?$"
PATTERN_WORDS.setdefault(ORDER_NUMBER, "must be printable letters, digits or punctuation, "
                                       "with no space at either end")
OrderNumber = Annotated[str, Field(min_length=1, max_length=30, pattern=ORDER_NUMBER)]
CustomerCode = SupplierCode
Gln = Annotated[str, Field(pattern=GLN)]
ShelfLife = Annotated[int, Field(ge=0, le=MAX_SHELF_LIFE_DAYS)]
Priority = Annotated[int, Field(ge=1, le=9)]
LineQty = qty_in("gt", 0, MAX_QTY)


# --- customers -------------------------------------------------------------------------------------


MIN_SHELF_LIFE = ("Days of shelf life a lot must still have on the day it ships to this customer; picking "
                  "skips and refuses lots with less. null: any lot.")


class CustomerIn(Request):
    code: CustomerCode = Field(description="The customer's code, unique on the site; never changes.")
    name: Name = Field(description="The customer's name.")
    gln: Gln | None = Field(None, description="GS1 Global Location Number, unique.")
    min_shelf_life_days: ShelfLife | None = Field(None, description=MIN_SHELF_LIFE)


class CustomerChangeIn(Request):
    """Only the fields given change; null removes a GLN or a minimum shelf life."""

    name: Name | None = Field(None, description="The customer's name (cannot be null).")
    gln: Gln | None = Field(None, description="GS1 Global Location Number; null removes it.")
    min_shelf_life_days: ShelfLife | None = Field(None, description=MIN_SHELF_LIFE)
    active: bool | None = Field(None, description="false: no new orders can be entered for the customer.")


class CustomerOut(BaseModel):
    code: str
    name: str
    gln: str | None
    min_shelf_life_days: int | None = Field(description=MIN_SHELF_LIFE)
    active: bool

    @classmethod
    def of(cls, customer: Customer) -> CustomerOut:
        return cls(code=customer.code, name=customer.name, gln=customer.gln,
                   min_shelf_life_days=customer.min_shelf_life_days, active=bool(customer.active))


class CustomerQuery(BaseModel):
    after: Annotated[str, Field(max_length=20)] | None = Field(
        None, description="next_after of the previous page: customers whose code sorts after it.")
    active: bool | None = Field(None, description="true: only active customers; false: only inactive ones.")
    limit: int = Field(100, ge=1, le=1000, description="At most this many customers.")


class CustomerPage(BaseModel):
    data: list[CustomerOut] = Field(description="By code.")
    next_after: str | None = Field(description="Pass as after for the next page; null on the last page.")


# --- orders ------------------------------------------------------------------------------------------


class OrderLineBody(Request):
    sku: Sku = Field(description="The item's SKU; each SKU once per order.")
    qty: LineQty = Field(description="How many, in the item's unit.")


class OrderIn(Request):
    number: OrderNumber = Field(description="The order number, unique on the site (your ERP's).")
    customer: CustomerCode = Field(description="The customer's code; the customer must be active.")
    due_on: dt.date | None = Field(None, description="The day it must ship (YYYY-MM-DD); /pick lists earlier "
                                                     "due dates first within a priority, none last.")
    priority: Priority = Field(5, description="1 is picked first, 9 last.")
    lines: list[OrderLineBody] = Field(min_length=1, max_length=MAX_LINES)


class OrderLinesIn(Request):
    lines: list[OrderLineBody] = Field(min_length=1, max_length=MAX_LINES,
                                       description="The order's new lines, replacing all of them.")


class CancelIn(Request):
    reason: Reason = Field(description="Why the order is cancelled (shown on the order).")


class OrderLineOut(BaseModel):
    line: int
    sku: str
    name: str
    qty: QtyOut
    picked: QtyOut = Field(description="Picked so far (picks taken back not counted).")
    short: QtyOut = Field(description="What the order shipped without (set when it ships).")
    short_reason: str | None


class OrderOut(BaseModel):
    number: str
    customer: str = Field(description="The customer's code.")
    customer_name: str
    status: OrderStatus
    priority: int
    due_on: dt.date | None
    created_at: dt.datetime
    shipped_at: dt.datetime | None
    cancelled_at: dt.datetime | None
    cancel_reason: str | None
    lines: list[OrderLineOut]

    @classmethod
    def of(cls, order: Order) -> OrderOut:
        return cls(
            number=order.number, customer=order.customer.code, customer_name=order.customer.name,
            status=order.status, priority=order.priority, due_on=order.due_on, created_at=_utc(order.created_at),
            shipped_at=_utc(order.shipped_at) if order.shipped_at else None,
            cancelled_at=_utc(order.cancelled_at) if order.cancelled_at else None,
            cancel_reason=order.cancel_reason,
            lines=[OrderLineOut(line=line.line_no, sku=line.item.sku, name=line.item.name, qty=line.qty,
                                picked=line.picked_qty, short=line.short_qty, short_reason=line.short_reason)
                   for line in order.lines])


STATUS_WORDS = ("Only orders of these statuses, comma-separated (open,picking); the parameter may also be "
                "repeated (status=open&status=picking). Statuses: " + ", ".join(s.value for s in OrderStatus))


class OrderQuery(BaseModel):
    status: Annotated[str, Field(max_length=100)] | None = Field(None, description=STATUS_WORDS)
    customer: Annotated[str, Field(max_length=20)] | None = Field(None, description="Only this customer's orders.")
    after: Annotated[str, Field(max_length=30)] | None = Field(
        None, description="next_after of the previous page: orders whose number sorts after it.")
    limit: int = Field(50, ge=1, le=200, description="At most this many orders.")


class OrderPage(BaseModel):
    data: list[OrderOut] = Field(description="By order number.")
    next_after: str | None = Field(description="Pass as after for the next page; null on the last page.")
