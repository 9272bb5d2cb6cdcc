"""The API's operations: each parses, calls a domain service, and shapes the answer."""
from __future__ import annotations

from typing import Callable, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from .. import get_db
from ..models import Item, Location, LocationKind, LotStatus, Supplier
from ..scanning import ScanContext, resolve
from ..services import catalog, holds, receiving
from ..services.errors import Invalid, NotFound
from ..services.lots import lot_details, stock_lines
from ..services.suggest import suggest
from .core import route
from .schemas import (HoldIn, ItemIn, ItemOut, ItemPage, LocationIn, LocationOut, LocationPage,
                      LotDetailOut, LotOut, PageQuery, ReceiptIn, ReleaseIn, ResolutionOut, ResolveIn,
                      SuggestionOut, SuggestQuery, SupplierIn, SupplierOut, SupplierPage)

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


@route("POST", "/receipts", body=ReceiptIn, response=LotOut, status=201, errors=(409,))
def create_receipt(body: ReceiptIn) -> LotOut:
    """Receive goods: book a quantity of an item in and answer its lot."""
    with get_db().write() as session:
        if body.gtin is not None:
            item = _referenced(catalog.item_by_gtin, session, body.gtin, "gtin")
        else:
            item = _referenced(catalog.item_by_sku, session, body.sku, "sku")
        if body.location is not None:
            location = _referenced(catalog.location_by_code, session, body.location, "location")
        else:
            location = catalog.first_location(session, LocationKind.DOCK, "to receive at")
        supplier = (_referenced(catalog.supplier_by_code, session, body.supplier, "supplier")
                    if body.supplier is not None else None)
        lot = receiving.receive(session, item=item, qty=body.qty, location=location,
                                supplier=supplier, supplier_lot=body.supplier_lot,
                                expiry=body.expiry, produced=body.produced, sscc=body.sscc)
        return LotOut.of(lot, stock_lines(session, lot.id))


@route("GET", "/lots/<path:lot_number>", response=LotDetailOut, errors=(404,))
def get_lot(lot_number: str) -> LotDetailOut:
    """A lot with its stock by location, movement history and status changes."""
    with get_db().read() as session:
        return LotDetailOut.of_details(lot_details(session, lot_number))


@route("POST", "/lots/<path:lot_number>/hold", body=HoldIn, response=LotOut, errors=(404, 409))
def hold_lot(lot_number: str, body: HoldIn) -> LotOut:
    """Put a lot on hold or in quarantine, so it cannot be picked, used or shipped."""
    with get_db().write() as session:
        lot = catalog.lot_by_number(session, lot_number)
        holds.hold(session, lot, body.reason, status=LotStatus(body.status))
        return LotOut.of(lot, stock_lines(session, lot.id))


@route("POST", "/lots/<path:lot_number>/release", body=ReleaseIn, response=LotOut, errors=(404, 409))
def release_lot(lot_number: str, body: ReleaseIn) -> LotOut:
    """Release a held or quarantined lot."""
    with get_db().write() as session:
        lot = catalog.lot_by_number(session, lot_number)
        holds.release(session, lot, body.reason)
        return LotOut.of(lot, stock_lines(session, lot.id))


# --- catalogue -------------------------------------------------------------------------------


@route("GET", "/items", query=PageQuery, response=ItemPage)
def list_items(query: PageQuery) -> ItemPage:
    """Items, by SKU."""
    with get_db().read() as session:
        items, next_offset = _page(
            session, select(Item).options(selectinload(Item.gtins)).order_by(Item.sku), query)
        return ItemPage(data=[ItemOut.of(i) for i in items], next_offset=next_offset)


@route("POST", "/items", body=ItemIn, response=ItemOut, status=201, errors=(409,))
def create_item(body: ItemIn) -> ItemOut:
    """Add an item to the catalogue."""
    with get_db().write() as session:
        return ItemOut.of(catalog.create_item(session, **body.model_dump()))


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


@route("POST", "/locations", body=LocationIn, response=LocationOut, status=201, errors=(409,))
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


@route("POST", "/suppliers", body=SupplierIn, response=SupplierOut, status=201, errors=(409,))
def create_supplier(body: SupplierIn) -> SupplierOut:
    """Add a supplier."""
    with get_db().write() as session:
        return SupplierOut.of(catalog.create_supplier(session, **body.model_dump()))


# --- scans -----------------------------------------------------------------------------------


@route("POST", "/resolve", body=ResolveIn, response=ResolutionOut)
def resolve_scan(body: ResolveIn) -> ResolutionOut:
    """What a scanned code is, what it matches and what the workflow should do; changes nothing."""
    with get_db().reader() as reader:
        result = resolve(reader, body.code, ScanContext(workflow=body.workflow))
    return ResolutionOut(**result.to_dict())
