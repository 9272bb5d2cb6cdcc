"""The API's request and response bodies (pydantic), and how domain objects become responses.

Requests are strict (a quantity is a JSON integer, a date a "YYYY-MM-DD" string) and refuse
unknown fields, so a typo is an error rather than a silently ignored value. The services check
the rules again; these models describe the shape, and keep text within its column's length.
"""
from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from ..models import Item, LocationKind, Lot, LotStatus, RemovalStrategy, Supplier
from ..models import Location as LocationRow
from .. import clock
from ..services import dates
from ..services.catalog import CODE
from ..services.lots import LotDetails, StockLine
from ..services.suggest import Suggestion

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
MAX_QTY = 100_000_000


def _code(max_length: int):
    return Annotated[str, Field(min_length=1, max_length=max_length, pattern=CODE.pattern)]


def _text(max_length: int, min_length: int = 1):
    return Annotated[str, Field(min_length=min_length, max_length=max_length, pattern=NO_CONTROL)]


Sku, LocationCode, SupplierCode, UnitCode = _code(40), _code(30), _code(20), _code(16)
Name, Reason, SupplierLot, Barcode = _text(200), _text(200), _text(40), _text(60)
LocationName = _text(120, min_length=0)
Gtin = Annotated[str, Field(pattern=GTIN)]
Qty = Annotated[int, Field(gt=0, le=MAX_QTY, description="A whole number in the item's unit.")]


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


class ItemIn(Request):
    sku: Sku = Field(description="The item's SKU, unique on the site.")
    name: Name = Field(description="What people call the item.")
    gtins: list[Gtin] = Field(
        default_factory=list, max_length=20, description="GTIN-8/12/13/14 barcodes of the item.")
    unit: UnitCode = Field("ea", description="The unit quantities are counted in.")
    shelf_life_days: Annotated[int, Field(ge=0, le=36_500)] | None = Field(
        None, description="Sets the expiry of received lots when the supplier gives none.")
    removal_strategy: RemovalStrategy = RemovalStrategy.FIFO
    refuse_younger_lots: bool = Field(False, description=REFUSE_YOUNGER)


class ItemChangeIn(Request):
    refuse_younger_lots: bool = Field(description=REFUSE_YOUNGER)


class ItemOut(BaseModel):
    sku: str
    name: str
    gtins: list[str] = Field(description="As GTIN-14.")
    unit: str
    shelf_life_days: int | None
    removal_strategy: RemovalStrategy
    refuse_younger_lots: bool = Field(description=REFUSE_YOUNGER)

    @classmethod
    def of(cls, item: Item) -> ItemOut:
        return cls(sku=item.sku, name=item.name, gtins=[g.gtin for g in item.gtins], unit=item.unit,
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
    qty: Qty
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
    qty: int
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
    on_hand: int
    stock: list[StockOut]

    @classmethod
    def fields_of(cls, lot: Lot, stock: list[StockLine]) -> dict:
        return dict(
            lot_number=lot.lot_number, item=ItemRef(sku=lot.item.sku, name=lot.item.name),
            status=lot.status, expiry=lot.expiry, produced=lot.produced_on, received=lot.received_on,
            supplier=lot.supplier.code if lot.supplier else None, supplier_lot=lot.supplier_lot,
            on_hand=lot.on_hand,
            stock=[StockOut(location=s.location_code, qty=s.qty, sscc=s.sscc) for s in stock])

    @classmethod
    def of(cls, lot: Lot, stock: list[StockLine]) -> LotOut:
        return cls(**cls.fields_of(lot, stock))


class MovementOut(BaseModel):
    ts: dt.datetime
    kind: str
    qty: int
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
    def of_details(cls, details: LotDetails) -> LotDetailOut:
        return cls(
            **cls.fields_of(details.lot, details.stock),
            days_to_expiry=details.days_to_expiry,
            history=[MovementOut(ts=_utc(h.ts), kind=h.kind, qty=h.qty, from_location=h.from_location,
                                 to_location=h.to_location, operator=h.operator, customer=h.customer,
                                 reference=h.reference, reason=h.reason) for h in details.history],
            events=[LotEventOut(ts=_utc(e.ts), action=e.action, from_status=e.from_status,
                                to_status=e.to_status, reason=e.reason,
                                operator=details.event_who(e))
                    for e in details.events])


# --- suggestions -----------------------------------------------------------------------------


class SuggestQuery(BaseModel):
    qty: Qty


class AllocationOut(BaseModel):
    lot_number: str
    location: str
    qty: int
    expiry: dt.date | None


class SuggestionOut(BaseModel):
    item: ItemRef
    strategy: RemovalStrategy
    requested: int
    allocated: int
    short: int = Field(description="How much of the request no pickable stock covers.")
    allocations: list[AllocationOut] = Field(description="In the order to pick them.")

    @classmethod
    def of(cls, item: Item, suggestion: Suggestion) -> SuggestionOut:
        return cls(item=ItemRef(sku=item.sku, name=item.name), strategy=suggestion.strategy,
                   requested=suggestion.requested, allocated=suggestion.allocated,
                   short=suggestion.short,
                   allocations=[AllocationOut(lot_number=a.lot_number, location=a.location_code,
                                              qty=a.qty, expiry=a.expiry)
                                for a in suggestion.allocations])


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
                                      "supplier.")
    action: str | None = Field(description="What the workflow should do: receive, show_lot, show_item, "
                                           "show_pallet, show_location, select, sign_in, confirm, "
                                           "cancel, undo, next, reprint.")


# --- printing --------------------------------------------------------------------------------


PrinterName = Annotated[str, Field(min_length=1, max_length=60, pattern=NO_CONTROL)]
RequestId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]


class PrintRequestIn(Request):
    """Bad values (copies out of range, an unknown printer or template) are refused with 400."""

    printer: PrinterName | None = Field(
        None, description="The printer's name. Default: the site's only active printer.")
    template: Annotated[str, Field(min_length=1, max_length=40)] = Field(
        "lot", description="lot: the lot label; pallet: a GS1 logistic label with a newly drawn SSCC "
                           "(or the sscc given, one of the lot's pallets).")
    copies: int = Field(1, description="How many labels, 1 to 1000.",
                        json_schema_extra={"minimum": 1, "maximum": 1000})
    request_id: RequestId | None = Field(
        None, description="Your id for this request: sending it again returns the same job and "
                          "prints nothing more.")
    sscc: Annotated[str, Field(pattern=SSCC)] | None = Field(
        None, description="pallet: the SSCC of one of the lot's pallets, to print its label again.")


class PrintJobOut(BaseModel):
    id: int
    status: Literal["queued", "sending", "sent", "printed", "failed", "cancelled"] = Field(
        description="queued: waiting (or retrying, see next_attempt_at); sending; sent: the printer (or "
                    "its spooler) took it — on a tcp:// printer it is waiting in the printer's buffer until "
                    "its counters show it done (last_error starting 'Not confirmed' when they never will), on "
                    "cups://, file:// and serial printers 'sent' is the last state known; printed: the "
                    "printer's own counters showed it done (sim:// printers: spooled); failed: see "
                    "last_error; cancelled. A job the printer lost unprinted (restarted with it in its "
                    "buffer) is queued again once, then failed.")
    printer: str
    template: str
    lot_number: str | None
    copies: int
    label_size: str
    dpi: int
    sscc: str | None = Field(description="The SSCC on a pallet label.")
    attempts: int = Field(description="Tries so far.")
    last_error: str | None = Field(description="Why the last try did not print, in words.")
    next_attempt_at: dt.datetime | None = Field(description="When a queued job is tried again.")
    created_at: dt.datetime
    sent_at: dt.datetime | None
    reprint_of: int | None = Field(description="The job this one prints again.")
    request_id: str | None

    @classmethod
    def of(cls, job, printer: str, lot_number: str | None) -> PrintJobOut:
        return cls(id=job.id, status=job.status.value, printer=printer, template=job.template,
                   lot_number=lot_number, copies=job.copies, label_size=job.label_size, dpi=job.dpi,
                   sscc=job.sscc, attempts=job.attempts, last_error=job.last_error,
                   next_attempt_at=job.next_attempt_at and _utc(job.next_attempt_at),
                   created_at=_utc(job.created_at), sent_at=job.sent_at and _utc(job.sent_at),
                   reprint_of=job.reprint_of_id, request_id=job.request_id)


class PrinterOut(BaseModel):
    name: str
    url: str
    label_size: str
    dpi: int
    active: bool
    state: str = Field(description="ready, offline, paper_out, head_open, ribbon_out, paused, buffer_full "
                                   "or unknown, as the print worker last read it.")
    state_text: str = Field(description="The state in words.")
    state_detail: str | None
    state_checked_at: dt.datetime | None
    queued: int = Field(description="Jobs waiting or being sent.")


class PrinterList(BaseModel):
    data: list[PrinterOut]


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


# --- moves and production runs (the floor) ------------------------------------------------------


LotNumber = Annotated[str, Field(min_length=1, max_length=40, pattern=NO_CONTROL)]
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
    qty: int
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
    qty: int
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
    qty: int | None = Field(description="How much was made.")
    components: list[RunComponentOut] = Field(description="In the order scanned.")
    output_lot: LotOut | None = Field(description="The lot made, once finished.")
    print_jobs: list[int] = Field(description="Label jobs of the output lot, newest first.")


# --- picks and shipments -------------------------------------------------------------------------


OrderNumber = Annotated[str, Field(min_length=1, max_length=30, pattern=NO_CONTROL)]
PickLot = Annotated[str, Field(min_length=1, max_length=40, pattern=NO_CONTROL)]


class PickIn(Request):
    order: OrderNumber = Field(description="The order number, e.g. SO-24101.")
    line: Annotated[int, Field(ge=1, le=100_000)] = Field(description="The order line number (1, 2, ...).")
    lot: PickLot = Field(description="Our lot number of the lot picked.")
    location: LocationCode | None = Field(
        None, description="Where it is taken from. Default: the suggested place for the suggested lot, "
                          "else where the lot has most stock (not a shipping lane).")
    qty: Qty
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
    qty: int
    from_location: str
    to_location: str = Field(description="The shipping lane it was picked to.")
    followed_suggestion: bool
    override_reason: str | None
    line_picked: int = Field(description="How much of the line is picked now.")
    line_open: int = Field(description="How much the line still needs.")
    order_status: Literal["open", "picking", "picked", "shipped", "cancelled"]


class ShipmentIn(Request):
    order: OrderNumber = Field(description="The order to ship: everything picked for it leaves the site.")


class ShippedOut(BaseModel):
    line: int
    item: ItemRef
    lot_number: str
    qty: int
    from_location: str


class ShipmentLineOut(BaseModel):
    line: int
    item: ItemRef
    ordered: int
    shipped: int = Field(description="Less than ordered: the line shipped short.")
    short_qty: int = Field(description="What the line shipped without (0: shipped in full).")
    short_reason: str | None = Field(
        description="Why it shipped short: the picker's reason from the short pick, or "
                    "\"Shipped short\" when none was given; null when shipped in full.")


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
    qty: int
    from_location: str = Field(description="The shipping lane the goods are taken from.")
    to_location: str = Field(description="Where they go back: the place the pick took them from.")
    reason: str | None
    line_picked: int = Field(description="How much of the line is picked now.")
    line_open: int = Field(description="How much the line needs again.")
    order_status: Literal["open", "picking", "picked", "shipped", "cancelled"]
