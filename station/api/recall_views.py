"""Recalls over the API (services.recalls), for QA systems and scripts.

    POST /recalls                       {lot | supplier + supplier_lot, reason}   -> 201 the report
    GET  /recalls[?status=open|closed]  every recall with its progress
    GET  /recalls/<number>              the report: lots, stock now, customers, shipments, events
    POST /recalls/<number>/retrieved    {lot, qty, location? | customer?, note?}   -> the report
    POST /recalls/<number>/notified     {customer, note?}                          -> the report
    POST /recalls/<number>/close        {reason, accept_unnotified?}              -> the report

Each event records the calling token (recall_events.token_id: the report's events name it as "API:
erp"); their notes keep the tag "[API token erp]" too, since a customer's notification record has
no token of its own. Refusals are the API's JSON error with a sentence, and change
nothing (each request is one transaction).
"""
from __future__ import annotations

from flask import Response, g, url_for

from .. import get_db
from ..services import recalls
from .core import api_actor, route
from .recall_schemas import (CloseIn, NotifiedIn, RecallIn, RecallList, RecallListQuery, RecallOut, RecallSummaryOut,
                             RetrievedIn)


def _by_token(note: str | None) -> str:
    caller = g.get("api_token")
    tag = f"[API token {caller.name}]" if caller else "[API]"
    return f"{note} {tag}" if note else tag


def _report(session, recall) -> RecallOut:
    session.flush()
    return RecallOut.of(recalls.recall_report(session, recall))


@route("POST", "/recalls", body=RecallIn, response=RecallOut, status=201, errors=(409,),
       workflow="supervisor", action="Starting a recall")
def create_recall(body: RecallIn) -> Response:
    """Start a recall: every affected lot is recalled at once; the answer is the report."""
    with get_db().write() as session:
        recall = recalls.open_recall(session, reason=body.reason, lot=body.lot, supplier=body.supplier,
                                     supplier_lot=body.supplier_lot, note=_by_token(None), by=api_actor())
        out = _report(session, recall)
    return Response(out.model_dump_json(), status=201, mimetype="application/json",
                    headers={"Location": url_for("api.get_recall", number=out.number)})


@route("GET", "/recalls", query=RecallListQuery, response=RecallList,
       workflow="supervisor", action="Reading recalls")
def list_recalls(query: RecallListQuery) -> RecallList:
    """Recalls, open ones first, newest first, with their progress."""
    with get_db().read() as session:
        rows = recalls.recall_list(session, status=query.status)
    return RecallList(recalls=[RecallSummaryOut(**vars(r)) for r in rows])


@route("GET", "/recalls/<number>", response=RecallOut, errors=(404,),
       workflow="supervisor", action="Reading a recall")
def get_recall(number: str) -> RecallOut:
    """A recall's report: each lot and where its stock is now, each customer and shipment, progress."""
    with get_db().read() as session:
        return _report(session, recalls.recall_by_number(session, number))


@route("POST", "/recalls/<number>/retrieved", body=RetrievedIn, response=RecallOut, errors=(404, 409),
       workflow="supervisor", action="Recording stock gathered back in a recall")
def recall_retrieved(number: str, body: RetrievedIn) -> RecallOut:
    """Retrieve stock of an affected lot into the quarantine place: from a place on site, or from a customer."""
    with get_db().write() as session:
        recall = recalls.recall_by_number(session, number, lock=True)
        recalls.record_retrieved(session, recall, body.lot, body.qty, note=_by_token(body.note), by=api_actor(),
                                 location=body.location, customer=body.customer)
        return _report(session, recall)


@route("POST", "/recalls/<number>/notified", body=NotifiedIn, response=RecallOut, errors=(404, 409),
       workflow="supervisor", action="Recording a customer told of a recall")
def recall_notified(number: str, body: NotifiedIn) -> RecallOut:
    """Record that a listed customer was told."""
    with get_db().write() as session:
        recall = recalls.recall_by_number(session, number, lock=True)
        recalls.mark_notified(session, recall, body.customer, note=_by_token(body.note), by=api_actor())
        return _report(session, recall)


@route("POST", "/recalls/<number>/close", body=CloseIn, response=RecallOut, errors=(404, 409),
       workflow="supervisor", action="Closing a recall")
def close_recall(number: str, body: CloseIn) -> RecallOut:
    """Close a recall; its lots stay recalled."""
    with get_db().write() as session:
        recall = recalls.recall_by_number(session, number, lock=True)
        recalls.close_recall(session, recall, reason=body.reason, accept_unnotified=body.accept_unnotified,
                             note=_by_token(None), by=api_actor())
        return _report(session, recall)
