"""Listing and searching lots over the API (ERP, stock checks, a supervisor's script).

    GET /lots?item=&status=&location=&expires_before=&expires_after=&after=&limit=
        lots by id (first made first), each with its stock by location; keyset pages (next_after)

Every role may look (workflow "lookup"). An unknown item or location is a 422 naming the field, as
is a value that fits no filter (a status that is none, 31 February, expires_after not before
expires_before); nothing is looked up then.
"""
from __future__ import annotations

from .. import get_db
from ..models import LotStatus
from ..services import catalog
from ..services.lot_search import LotFilter, lots_page
from .core import route
from .lot_list_schemas import LotListQuery, LotPage
from .lot_schemas import LotOut
from .views import _referenced


@route("GET", "/lots", query=LotListQuery, response=LotPage)
def list_lots(query: LotListQuery) -> LotPage:
    """Lots by item, status, location and expiry, a page at a time (pass next_after as after)."""
    with get_db().read() as session:
        where = LotFilter(
            item=_referenced(catalog.item_by_sku, session, query.item, "item") if query.item else None,
            status=LotStatus(query.status) if query.status else None,
            location=(_referenced(catalog.location_by_code, session, query.location, "location")
                      if query.location else None),
            expires_before=query.expires_before, expires_after=query.expires_after)
        lots, stock, next_after = lots_page(session, where, after=query.after, limit=query.limit)
        return LotPage(data=[LotOut.of(lot, stock[lot.id]) for lot in lots], next_after=next_after)
