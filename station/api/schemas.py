"""The API's request and response bodies (pydantic), and how domain objects become responses.

Requests are strict (a date is a "YYYY-MM-DD" string, a count a JSON integer) and refuse unknown
fields, so a typo is an error rather than a silently ignored value. A quantity comes as a JSON number
or a decimal string, read exactly (`Qty`), and always goes out as a decimal string (`QtyOut`), so
neither side ever passes it through a binary float. The services check the rules again (an item's
decimals among them); these models describe the shape, and keep text within its column's length.

This module holds the shared field types, the catalogue, scans and errors; the bodies of lots
(lot_schemas), printing (print_schemas), the floor (floor_schemas), recalls, traces and reports have
modules of their own.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import (AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema, field_serializer,
                      model_validator)
from pydantic_core import PydanticCustomError

from .. import clock, quantities
from ..models import Item, LocationKind, RemovalStrategy, Supplier
from ..models import Location as LocationRow
from ..services import dates
from ..services.catalog import CODE

NO_CONTROL = r"^[^\x00-\x1f\x7f]*$"
GTIN = r"^([0-9]{8}|[0-9]{12,14})$"
SSCC = r"^[0-9]{18}$"
GLN = r"^[0-9]{13}$"
# What a pattern mismatch means, for the error message.
PATTERN_WORDS = {
    NO_CONTROL: "must not contain control characters",
    CODE.pattern: "must be letters, digits or . _ / - (starting with a letter or digit)",
    GTIN: "must be a GTIN of 8, 12, 13 or 14 digits",
    SSCC: "must be an SSCC of 18 digits",
    GLN: "must be a GLN of 13 digits",
}
MAX_QTY = quantities.MAX_QTY


def _code(max_length: int):
    return Annotated[str, Field(min_length=1, max_length=max_length, pattern=CODE.pattern)]


def _text(max_length: int, min_length: int = 1):
    return Annotated[str, Field(min_length=min_length, max_length=max_length, pattern=NO_CONTROL)]


Sku, LocationCode, SupplierCode, UnitCode = _code(40), _code(30), _code(20), _code(16)
Name, Reason, SupplierLot, Barcode = _text(200), _text(200), _text(40), _text(60)
LocationName = _text(120, min_length=0)
Gtin = Annotated[str, Field(pattern=GTIN)]
# A quantity in: a JSON number or a decimal string, read exactly (never through a float), at most six
# decimals here and at most the item's own decimals in the service (refused in words, never rounded).
_QTY_IN = ("A number in the item's unit, as a JSON number (12.35) or a decimal string (\"12.35\"); no more "
           "decimals than the item is counted in (items.qty_decimals).")
_EXACT = AfterValidator(quantities.normal)


def qty_in(low: str = "gt", bound: int = 0, high: int = MAX_QTY, description: str | None = _QTY_IN):
    """A quantity in, above (`low` "gt") or from (`low` "ge") `bound`, up to `high`. Its JSON schema says what
    is accepted: a number within the bounds, or a decimal string (its bounds and form are checked by the server,
    which also reads "1e3" or " 5 ", so the schema states no pattern that would call them invalid)."""
    schema = {"type": ["number", "string"], {"gt": "exclusiveMinimum", "ge": "minimum"}[low]: bound, "maximum": high}
    if description:
        schema["description"] = description
    return Annotated[Decimal, Field(**{low: bound}, le=high, decimal_places=quantities.MAX_DECIMALS,
                                    allow_inf_nan=False), _EXACT, WithJsonSchema(schema)]


Qty = qty_in("gt", 0)
QtyOrZero = qty_in("ge", 0)
QtyDelta = qty_in("ge", -MAX_QTY, description=None)
# A quantity out: always a decimal string ("12.35", "40"), so no client reads it through a float.
QtyOut = Annotated[int | Decimal, PlainSerializer(quantities.text, return_type=str),
                   WithJsonSchema({"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?$",
                                   "description": "A decimal string in the item's unit, e.g. \"12.35\"."})]
PrinterName = Annotated[str, Field(min_length=1, max_length=60, pattern=NO_CONTROL)]
LotNumber = Annotated[str, Field(min_length=1, max_length=40, pattern=NO_CONTROL)]
RequestId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]


def _date_check(check):
    def validate(day: dt.date) -> dt.date:
        # Invalid is no ValueError: it leaves pydantic as it is, so the API answers exactly what the
        # service would (422, code invalid_date, the field, the sentence) before anything is looked up.
        check(day, clock.today())
        return day
    return AfterValidator(validate)


# Dates a label can really carry (services/dates.py): a far-off one is a misread or a test value.
ExpiryDate = Annotated[dt.date, _date_check(dates.check_expiry)]
ProducedDate = Annotated[dt.date, _date_check(dates.check_produced)]


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


def _utc(ts: dt.datetime) -> dt.datetime:
    # SQLite gives back naive datetimes; every timestamp is stored in UTC.
    return ts if ts.tzinfo else ts.replace(tzinfo=dt.timezone.utc)


# --- catalogue -------------------------------------------------------------------------------


REFUSE_YOUNGER = ("Picking policy: true refuses a lot younger (FIFO) or expiring later (FEFO) than the "
                  "suggested lot outright (409 younger_lot_refused), whatever the override reason; "
                  "false lets it be picked with an override reason.")


UNIT_WORDS = f"The unit quantities are counted in, one of: {', '.join(quantities.UNITS)}."
DECIMALS_WORDS = ("How many decimals the item is counted in (0: whole numbers; 3: kg to the gram). A quantity "
                  "with more is refused, never rounded. Once the item has stock movements, order lines or "
                  "expected receipts it can be raised, not lowered (409 item_in_use).")
VARIABLE_WORDS = ("Catch weight: each case weighs what its label says (GS1 AI 310n/320n); the unit must be a "
                  f"weight ({', '.join(quantities.WEIGHTS_KG)}).")
PackName = Annotated[str, Field(min_length=1, max_length=20, pattern=NO_CONTROL)]


class PackIn(Request):
    gtin: Gtin = Field(description="The pack's own GTIN (a case's GTIN is not the unit's); unique like any GTIN.")
    name: PackName = Field(description='What the pack is called: "case", "pallet".')
    qty: Qty = Field(description="How much of the item's unit one pack holds: scanning its GTIN counts this much.")


class PackOut(BaseModel):
    gtin: str = Field(description="As GTIN-14.")
    name: str
    qty: QtyOut


class ItemIn(Request):
    sku: Sku = Field(description="The item's SKU, unique on the site.")
    name: Name = Field(description="What people call the item.")
    gtins: list[Gtin] = Field(
        default_factory=list, max_length=20, description="GTIN-8/12/13/14 barcodes of the item.")
    unit: UnitCode = Field("ea", description=UNIT_WORDS)
    qty_decimals: Annotated[int, Field(ge=0, le=quantities.MAX_DECIMALS)] = Field(0, description=DECIMALS_WORDS)
    variable_measure: bool = Field(False, description=VARIABLE_WORDS)
    packs: list[PackIn] = Field(default_factory=list, max_length=10,
                                description="Packaging levels with GTINs of their own (1 case = 12 ea).")
    shelf_life_days: Annotated[int, Field(ge=0, le=36_500)] | None = Field(
        None, description="Sets the expiry of received lots when the supplier gives none.")
    removal_strategy: RemovalStrategy = RemovalStrategy.FIFO
    refuse_younger_lots: bool = Field(False, description=REFUSE_YOUNGER)


class ItemChangeIn(Request):
    """Only the fields given change."""

    refuse_younger_lots: bool | None = Field(None, description=REFUSE_YOUNGER)
    unit: UnitCode | None = Field(None, description=UNIT_WORDS + " Only while nothing is counted in it yet (no "
                                                                 "stock movements, order lines, expected receipts).")
    qty_decimals: Annotated[int, Field(ge=0, le=quantities.MAX_DECIMALS)] | None = Field(
        None, description=DECIMALS_WORDS)
    variable_measure: bool | None = Field(None, description=VARIABLE_WORDS)
    packs: list[PackIn] | None = Field(None, max_length=10, description="The item's packs, replacing all of them "
                                                                       "([]: none).")

    @model_validator(mode="after")
    def _something(self) -> ItemChangeIn:
        if all(getattr(self, name) is None for name in type(self).model_fields):
            raise PydanticCustomError("nothing_to_change", "Give what to change: refuse_younger_lots, unit, "
                                                           "qty_decimals, variable_measure or packs.")
        return self


class ItemOut(BaseModel):
    sku: str
    name: str
    gtins: list[str] = Field(description="As GTIN-14: the GTINs of the item's own unit (packs: see packs).")
    unit: str
    qty_decimals: int = Field(description=DECIMALS_WORDS)
    variable_measure: bool = Field(description=VARIABLE_WORDS)
    packs: list[PackOut]
    shelf_life_days: int | None
    removal_strategy: RemovalStrategy
    refuse_younger_lots: bool = Field(description=REFUSE_YOUNGER)

    @classmethod
    def of(cls, item: Item) -> ItemOut:
        packs = sorted((g for g in item.gtins if g.pack_qty is not None), key=lambda g: (g.pack_qty, g.gtin))
        return cls(sku=item.sku, name=item.name, gtins=[g.gtin for g in item.gtins if g.pack_qty is None],
                   unit=item.unit, qty_decimals=item.qty_decimals, variable_measure=bool(item.variable_measure),
                   packs=[PackOut(gtin=g.gtin, name=g.pack_name or "", qty=g.pack_qty) for g in packs],
                   shelf_life_days=item.shelf_life_days, removal_strategy=item.removal_strategy,
                   refuse_younger_lots=bool(item.refuse_younger_lots))


class LocationIn(Request):
    code: LocationCode = Field(description="The location's code, unique on the site.")
    kind: LocationKind
    name: LocationName = Field("", description="A longer description.")
    barcode: Barcode | None = Field(
        None, description="What its barcode scans as; the code when not given.")


class LocationOut(BaseModel):
    code: str
    barcode: str
    name: str
    kind: LocationKind

    @classmethod
    def of(cls, location: LocationRow) -> LocationOut:
        return cls(code=location.code, barcode=location.barcode, name=location.name,
                   kind=location.kind)


class SupplierIn(Request):
    code: SupplierCode = Field(description="The supplier's code, unique on the site.")
    name: Name = Field(description="The supplier's name.")
    gln: Annotated[str, Field(pattern=GLN)] | None = Field(
        None, description="GS1 Global Location Number, unique.")


class SupplierOut(BaseModel):
    code: str
    name: str
    gln: str | None

    @classmethod
    def of(cls, supplier: Supplier) -> SupplierOut:
        return cls(code=supplier.code, name=supplier.name, gln=supplier.gln)


class PageQuery(BaseModel):
    limit: int = Field(100, ge=1, le=1000, description="At most this many records.")
    offset: int = Field(0, ge=0, le=2_000_000_000, description="Skip this many records first.")


class Page(BaseModel):
    next_offset: int | None = Field(description="The offset of the next page; null on the last page.")


class ItemPage(Page):
    data: list[ItemOut]


class LocationPage(Page):
    data: list[LocationOut]


class SupplierPage(Page):
    data: list[SupplierOut]


# --- scans -----------------------------------------------------------------------------------


class ResolveIn(Request):
    code: Annotated[str, Field(max_length=4096)] = Field(
        description="The scan as the scanner sent it: GS (\\u001d) or '|' for FNC1, an AIM prefix "
                    "such as ]C1 and a trailing CR/LF are all fine. Every string gets a 200 answer.")
    workflow: Annotated[str, Field(min_length=1, max_length=30, pattern=r"^[a-z_]+$")] | None = Field(
        None, description="Where the scan happens (lookup, receiving, putaway, picking, line, ...); "
                          "decides the suggested action. Default: lookup.")


class ResolutionOut(BaseModel):
    ok: bool = Field(description="Green banner (true) or red (false).")
    kind: Literal["gs1", "gtin", "sscc", "lot", "location", "operator", "command", "unknown", "rejected"]
    message: str = Field(description="One sentence for the worker.")
    code: str = Field(description="The scan as read, control characters made visible (GS as ␝).")
    symbology: str | None = Field(description="The AIM symbology identifier, e.g. ]C1.")
    error: str | None = Field(description="Why not ok, for programs: bad_check_digit, invalid_date, "
                                          "unknown_gtin, sscc_already_received, not_recognised, ...")
    fields: dict = Field(description="What the code says: gtin, sscc, lot, expiry, units, ai: {...}.")
    records: dict = Field(description="What it matched: item, lot, lots, unit, location, operator, "
                                      "supplier. Its quantities (on_hand, qty, qty_received) are decimal strings.")
    action: str | None = Field(description="What the workflow should do: receive, show_lot, show_item, "
                                           "show_pallet, show_location, select, sign_in, confirm, "
                                           "cancel, undo, next, reprint.")

    @field_serializer("records")
    def _quantities_as_text(self, records: dict) -> dict:
        # The resolver's records are shared with the floor pages, which format them; the API answers their
        # quantities as decimal strings like everywhere else.
        return _qty_text(records)


_RECORD_QTYS = frozenset({"on_hand", "qty", "qty_received"})


def _qty_text(node):
    # On every resolve answer, so it walks only the containers (type checks, no call per leaf).
    if type(node) is list:
        return [_qty_text(v) if type(v) in (dict, list) else v for v in node]
    out = {}
    for key, value in node.items():
        kind = type(value)
        if kind is dict or kind is list:
            value = _qty_text(value)
        elif key in _RECORD_QTYS and (kind is int or kind is Decimal):  # a bool's type is bool, not int
            value = quantities.text(value)
        out[key] = value
    return out


# --- errors ----------------------------------------------------------------------------------


class FieldError(BaseModel):
    field: str | None
    message: str


class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="allow")

    code: str = Field(description="Stable, for programs: unknown_lot, sscc_already_received, ...")
    message: str = Field(description="A sentence for people.")
    fields: list[FieldError] | None = Field(None, description="With code 'invalid': each bad field.")


class ErrorOut(BaseModel):
    error: ErrorDetail
