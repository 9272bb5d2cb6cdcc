"""The API's operations: each parses, calls a domain service, and shapes the answer."""
from __future__ import annotations

import datetime as dt
from typing import Callable, TypeVar

from flask import Response
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from .. import get_db
from ..models import Item, Location, LocationKind, LotStatus, StationDevice, Supplier
from ..services import catalog, holds, receipts_ui
from ..services.errors import Invalid, NotFound
from ..services.lots import lot_card, stock_lines
from ..services.suggest import suggest
from . import scanned_labels
from .core import ApiError, api_actor, route, write
from .lot_schemas import HoldIn, LotDetailOut, LotOut, ReceiptIn, ReceiptOut, ReleaseIn, SuggestionOut, SuggestQuery
from .print_schemas import PrintJobOut
from .schemas import (ItemChangeIn, ItemIn, ItemOut, ItemPage, LocationIn, LocationOut, LocationPage, PageQuery,
                      ResolutionOut, ResolveIn, SupplierIn, SupplierOut, SupplierPage)

T = TypeVar("T")


def _referenced(find: Callable[[Session, str], T], session: Session, value: str, field: str) -> T:
    """Look up a record named in the body: not finding it is bad input (422), not a 404."""
    try:
        return find(session, value)
    except NotFound as exc:
        raise Invalid(exc.message, code=exc.code, field=field, **exc.details) from None


def _page(session: Session, query, page: PageQuery) -> tuple[list, int | None]:
    rows = list(session.scalars(query.limit(page.limit + 1).offset(page.offset)))
    more = len(rows) > page.limit
    return rows[:page.limit], page.offset + page.limit if more else None


# --- receiving and lots ----------------------------------------------------------------------


@route("POST", "/receipts", body=ReceiptIn, response=ReceiptOut, status=201, errors=(409,),
       workflow="receiving", action="Receiving goods", idempotent=True)
def create_receipt(body: ReceiptIn) -> Response:
    """Receive goods: book a quantity of an item in (by fields or a scanned label) and answer its lot."""
    fields = _label_fields(body)
    with write() as session:
        station = _referenced(_station_by_name, session, body.station, "station") if body.station else None
        if fields.get("gtin") is not None:
            item = _referenced(catalog.item_by_gtin, session, fields["gtin"], "gtin")
        else:
            item = _referenced(catalog.item_by_sku, session, fields["sku"], "sku")
        if body.location is not None:
            location = _referenced(catalog.location_by_code, session, body.location, "location")
        elif station is not None and station.location_id is not None:
            location = session.get(Location, station.location_id)
        else:
            location = catalog.first_location(session, LocationKind.DOCK, "to receive at")
        supplier = (_referenced(catalog.supplier_by_code, session, fields["supplier"], "supplier")
                    if fields.get("supplier") is not None else None)
        by = api_actor(raw_scan=body.code[:400] if body.code else None)
        labels = body.labels
        receipt = receipts_ui.book(
            session, item=item, qty=fields["qty"], location=location, by=by, supplier=supplier,
            supplier_lot=fields.get("supplier_lot"), expiry=fields.get("expiry"),
            produced=fields.get("produced"), sscc=fields.get("sscc"), station=station,
            print_labels=labels is not None, copies=labels.copies if labels else None,
            printer=labels.printer if labels else None, pieces=fields.get("pieces"))
        out = ReceiptOut(**LotOut.fields_of(receipt.lot, stock_lines(session, receipt.lot.id)))
        if labels is not None:
            out.print_jobs = [_print_job_out(session, job) for job in receipt.jobs]
            out.label_note = receipt.label_note
    exclude = None if labels is not None else {"print_jobs", "label_note"}
    return Response(out.model_dump_json(exclude=exclude), status=201, mimetype="application/json")


def _station_by_name(session: Session, name: str) -> StationDevice:
    found = session.scalar(select(StationDevice).where(StationDevice.name == name))
    if found is None:
        raise NotFound(f"There is no station called {name!r}.", code="unknown_station")
    return found


def _print_job_out(session: Session, job) -> PrintJobOut:
    from .print_views import _job_out

    return _job_out(session, job)


# A receipt's fields as the body gives them, and as a scanned label (code) gives them.
_LABEL_KEYS = ("gtin", "supplier_lot", "expiry", "produced", "sscc", "supplier")


def _label_fields(body: ReceiptIn) -> dict:
    """The receipt's item and label fields: the body's, filled from the scanned `code` if given.
    A label that cannot be received (unreadable, unknown GTIN, a pallet received before) is
    refused in the resolver's words; a body field that contradicts the label is a 422."""
    fields = {key: getattr(body, key) for key in ("sku", "qty", "pieces", *_LABEL_KEYS)}
    if body.code is None:
        if body.qty is None:
            raise Invalid("Give the qty (or the code of a label that counts it).", code="qty_required", field="qty")
        return fields
    res = scanned_labels.read(body.code, "receiving")
    if not res.ok or res.action != "receive":
        status = 409 if res.error == "sscc_already_received" else 422
        details = {"field": "code"}
        unit = (res.records or {}).get("unit") or {}
        if res.error == "sscc_already_received":
            details.update(lot_number=((res.records or {}).get("lot") or {}).get("lot_number"),
                           received_by=unit.get("received_by"), received_at=unit.get("received_at"))
        raise ApiError(status, res.error or "not_receivable", res.message if not res.ok else
                       f"This code cannot be received: {res.message}", **details)
    label = receipts_ui.label_fields(res)
    scanned = {"gtin": label.get("gtin"), "supplier_lot": label.get("supplier_lot"),
               "expiry": label.get("expiry") and dt.date.fromisoformat(label["expiry"]),
               "produced": label.get("produced") and dt.date.fromisoformat(label["produced"]),
               "sscc": label.get("sscc"), "supplier": label.get("supplier")}
    if label.get("sku") and body.sku is not None and body.sku != label["sku"]:
        raise Invalid(f"The label is item {label['sku']}, the body says sku {body.sku}.",
                      code="label_mismatch", field="sku")
    for key, value in scanned.items():
        given = fields.get(key)
        if value is None:
            continue
        if given is not None and (catalog.normalise_gtin(given) if key == "gtin" else given) != value:
            raise Invalid(f"The label's {key.replace('_', ' ')} is {value}, the body says {given}.",
                          code="label_mismatch", field=key)
        fields[key] = value
    if fields.get("gtin") is None and fields.get("sku") is None:
        raise Invalid("The code names no item (no GTIN): give the sku or the gtin too.",
                      code="item_reference", field="code")
    fields["qty"], fields["pieces"] = scanned_labels.counted(res, body.qty, body.pieces)
    return fields


@route("GET", "/lots/<path:lot_number>", response=LotDetailOut, errors=(404,))
def get_lot(lot_number: str) -> LotDetailOut:
    """A lot with its stock by location, movement history and status changes."""
    with get_db().reader() as reader:
        return LotDetailOut.of_card(lot_card(reader, lot_number))


@route("POST", "/lots/<path:lot_number>/hold", body=HoldIn, response=LotOut, errors=(404, 409),
       workflow="supervisor", action="Putting a lot on hold")
def hold_lot(lot_number: str, body: HoldIn) -> LotOut:
    """Put a lot on hold or in quarantine, so it cannot be picked, used or shipped."""
    with get_db().write() as session:
        lot = catalog.lot_by_number(session, lot_number)
        holds.hold(session, lot, body.reason, status=LotStatus(body.status), by=api_actor())
        return LotOut.of(lot, stock_lines(session, lot.id))


@route("POST", "/lots/<path:lot_number>/release", body=ReleaseIn, response=LotOut, errors=(404, 409),
       workflow="supervisor", action="Releasing a hold")
def release_lot(lot_number: str, body: ReleaseIn) -> LotOut:
    """Release a held or quarantined lot."""
    with get_db().write() as session:
        lot = catalog.lot_by_number(session, lot_number)
        holds.release(session, lot, body.reason, by=api_actor())
        return LotOut.of(lot, stock_lines(session, lot.id))


# --- catalogue -------------------------------------------------------------------------------


@route("GET", "/items", query=PageQuery, response=ItemPage)
def list_items(query: PageQuery) -> ItemPage:
    """Items, by SKU."""
    with get_db().read() as session:
        items, next_offset = _page(
            session, select(Item).options(selectinload(Item.gtins)).order_by(Item.sku), query)
        return ItemPage(data=[ItemOut.of(i) for i in items], next_offset=next_offset)


@route("POST", "/items", body=ItemIn, response=ItemOut, status=201, errors=(409,),
       workflow="supervisor", action="Adding an item")
def create_item(body: ItemIn) -> ItemOut:
    """Add an item to the catalogue."""
    fields = body.model_dump(exclude={"refuse_younger_lots", "packs"})
    with get_db().write() as session:
        item = catalog.create_item(session, **fields, packs=_packs(body.packs))
        item.refuse_younger_lots = body.refuse_younger_lots
        return ItemOut.of(item)


def _packs(packs) -> list[catalog.Pack] | None:
    return None if packs is None else [catalog.Pack(p.gtin, p.name, p.qty) for p in packs]


@route("PATCH", "/items/<path:sku>", body=ItemChangeIn, response=ItemOut, errors=(404, 409),
       workflow="supervisor", action="Changing an item")
def change_item(sku: str, body: ItemChangeIn) -> ItemOut:
    """Change an item: its picking policy, how it is counted (unit, decimals, variable measure), its packs."""
    with get_db().write() as session:
        item = catalog.item_by_sku(session, sku)
        catalog.change_item(session, item, unit=body.unit, qty_decimals=body.qty_decimals,
                            variable_measure=body.variable_measure, packs=_packs(body.packs))
        if body.refuse_younger_lots is not None:
            item.refuse_younger_lots = body.refuse_younger_lots
        return ItemOut.of(item)


@route("GET", "/items/<path:sku>", response=ItemOut, errors=(404,))
def get_item(sku: str) -> ItemOut:
    """One item."""
    with get_db().read() as session:
        return ItemOut.of(catalog.item_by_sku(session, sku))


@route("GET", "/items/<path:sku>/suggestions", query=SuggestQuery, response=SuggestionOut,
       errors=(404,))
def get_suggestions(sku: str, query: SuggestQuery) -> SuggestionOut:
    """Which lots to pick, from where, in FIFO or FEFO order, to cover a quantity."""
    with get_db().read() as session:
        item = catalog.item_by_sku(session, sku)
        return SuggestionOut.of(item, suggest(session, item, query.qty))


@route("GET", "/locations", query=PageQuery, response=LocationPage)
def list_locations(query: PageQuery) -> LocationPage:
    """Locations, by code."""
    with get_db().read() as session:
        rows, next_offset = _page(session, select(Location).order_by(Location.code), query)
        return LocationPage(data=[LocationOut.of(r) for r in rows], next_offset=next_offset)


@route("POST", "/locations", body=LocationIn, response=LocationOut, status=201, errors=(409,),
       workflow="supervisor", action="Adding a location")
def create_location(body: LocationIn) -> LocationOut:
    """Add a location."""
    with get_db().write() as session:
        return LocationOut.of(catalog.create_location(session, **body.model_dump()))


@route("GET", "/suppliers", query=PageQuery, response=SupplierPage)
def list_suppliers(query: PageQuery) -> SupplierPage:
    """Suppliers, by code."""
    with get_db().read() as session:
        rows, next_offset = _page(session, select(Supplier).order_by(Supplier.code), query)
        return SupplierPage(data=[SupplierOut.of(r) for r in rows], next_offset=next_offset)


@route("POST", "/suppliers", body=SupplierIn, response=SupplierOut, status=201, errors=(409,),
       workflow="supervisor", action="Adding a supplier")
def create_supplier(body: SupplierIn) -> SupplierOut:
    """Add a supplier."""
    with get_db().write() as session:
        return SupplierOut.of(catalog.create_supplier(session, **body.model_dump()))


# --- scans -----------------------------------------------------------------------------------


@route("POST", "/resolve", body=ResolveIn, response=ResolutionOut,
       workflow="lookup")
def resolve_scan(body: ResolveIn) -> ResolutionOut:
    """What a scanned code is, what it matches and what the workflow should do; changes nothing."""
    return ResolutionOut(**scanned_labels.read(body.code, body.workflow).to_dict())
