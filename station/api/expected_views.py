"""Expected receipts (a supplier's PO or ASN), for an ERP or a supplier portal to send what is coming.

    POST /expected-receipts               enter one (201; the same body again: 200 with the one entered)
    GET  /expected-receipts?status=&after=   a page of them, oldest first (cursor: next_after)
    GET  /expected-receipts/<id>          one, with what was received against each line
    POST /expected-receipts/<id>/close    close it short: the rest will not come (a reason is required)

The dock receives against them (workflows/receiving.py): services/expected.py.
"""
from __future__ import annotations

from flask import Response

from .. import get_db
from ..models import ExpectedStatus
from ..services import expected
from .core import api_actor, route, write
from .expected_schemas import CloseIn, ExpectedListQuery, ExpectedReceiptIn, ExpectedReceiptOut, ExpectedReceiptPage

ENTERING = "Entering what a supplier will deliver"


@route("POST", "/expected-receipts", body=ExpectedReceiptIn, response=ExpectedReceiptOut, status=201,
       errors=(404, 409), also=(200,), workflow="orders", action=ENTERING, idempotent=True,
       location=lambda body: f"/api/v1/expected-receipts/{body['id']}")
def create_expected_receipt(body: ExpectedReceiptIn) -> Response:
    """Enter what a supplier will deliver (201); the same body again answers the one entered (200)."""
    lines = [expected.ExpectedLineIn(qty=line.qty, sku=line.sku, gtin=line.gtin, supplier_lot=line.supplier_lot,
                                     ssccs=tuple(line.ssccs)) for line in body.lines]
    with write() as session:
        row, created = expected.enter_expected_receipt(
            session, supplier_code=body.supplier, reference=body.reference, lines=lines,
            expected_on=body.expected_on, by=api_actor())
        out = ExpectedReceiptOut.of(expected.get(session, row.id))
    return Response(out.model_dump_json(), status=201 if created else 200, mimetype="application/json",
                    headers={"Location": f"/api/v1/expected-receipts/{out.id}"})


@route("GET", "/expected-receipts", query=ExpectedListQuery, response=ExpectedReceiptPage)
def list_expected_receipts(query: ExpectedListQuery) -> ExpectedReceiptPage:
    """Expected receipts, oldest first, a page at a time (pass next_after as after)."""
    with get_db().read() as session:
        rows, next_after = expected.page(session, status=query.status and ExpectedStatus(query.status), after=query.after, limit=query.limit)
        return ExpectedReceiptPage(data=[ExpectedReceiptOut.of(r) for r in rows], next_after=next_after)


@route("GET", "/expected-receipts/<int:expected_id>", response=ExpectedReceiptOut, errors=(404,))
def get_expected_receipt(expected_id: int) -> ExpectedReceiptOut:
    """An expected receipt with what was received against each line."""
    with get_db().read() as session:
        return ExpectedReceiptOut.of(expected.get(session, expected_id))


@route("POST", "/expected-receipts/<int:expected_id>/close", body=CloseIn, response=ExpectedReceiptOut,
       errors=(404, 409), workflow="orders", action="Closing an expected receipt short")
def close_expected_receipt(expected_id: int, body: CloseIn) -> ExpectedReceiptOut:
    """Close an open expected receipt short: the goods still missing will not come (409 when not open)."""
    with write() as session:
        row = expected.close_short(session, expected.get(session, expected_id), body.reason, api_actor())
        return ExpectedReceiptOut.of(expected.get(session, row.id))
