"""Trace over the API, for ERP and recall tooling.

    GET /lots/<lot_number>/trace?direction=backward|forward   -> the trace (services.trace)

An unknown lot is 404, a direction other than backward/forward 400, both with a sentence.
"""
from __future__ import annotations

from .. import get_db
from ..services import catalog
from ..services.trace import trace
from .core import route
from .trace_schemas import TraceOut, TraceQuery


@route("GET", "/lots/<path:lot_number>/trace", query=TraceQuery, response=TraceOut, errors=(404,),
       query_status=400,
       workflow="supervisor", action="Tracing a lot")
def get_lot_trace(lot_number: str, query: TraceQuery) -> TraceOut:
    """A lot's genealogy backward (to its receipts) or forward (to every shipment), at any depth."""
    with get_db().read() as session:
        return TraceOut.of(trace(session, catalog.lot_by_number(session, lot_number), query.direction))
