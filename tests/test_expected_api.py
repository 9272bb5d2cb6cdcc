"""The expected receipts API (api/expected_views.py), on SQLite and PostgreSQL: entering one (idempotent),
refusals in words that change nothing, cursor pages, closing short, and who may write."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from actions import Api
from factories import basic_site, gtin13
from labels import gs1
from station.models import ExpectedReceipt, Role
from station.services.tokens import create_token

BOLT_GTIN = gtin13("400000000001")
P1, P2 = gs1.sscc(0, "4000001", 201), gs1.sscc(0, "4000001", 202)
BODY = {"supplier": "ACME", "reference": "ASN-778", "expected_on": "2026-12-09",
        "lines": [{"gtin": BOLT_GTIN, "qty": 40, "supplier_lot": "S-77", "ssccs": [P1, P2]},
                  {"sku": "MILK", "qty": 12}]}


@pytest.fixture
def tokens(app):
    db = app.extensions["station.db"]
    basic_site(db)
    with db.write() as s:
        secrets = {role: create_token(s, role.value, role) for role in (Role.SUPERVISOR, Role.RECEIVER)}
    client = app.test_client()
    return {role: Api(client, secret) for role, secret in secrets.items()} | {"db": db}


@pytest.fixture
def api(tokens):
    return tokens[Role.SUPERVISOR]


def receipts(tokens) -> int:
    with tokens["db"].read() as s:
        return s.scalar(select(func.count(ExpectedReceipt.id)))


def test_entered_once_then_answered_again_and_read_back(tokens, api):
    first = api.post("/expected-receipts", BODY)
    body = first.get_json()
    assert first.status_code == 201, body
    assert first.headers["Location"] == f"/api/v1/expected-receipts/{body['id']}"
    assert (body["supplier"], body["reference"], body["status"], body["expected_on"]) == (
        "ACME", "ASN-778", "open", "2026-12-09")
    assert [(ln["sku"], ln["qty"], ln["missing_qty"], ln["ssccs"]) for ln in body["lines"]] == [
        ("BOLT", "40", "40", sorted([P1, P2])), ("MILK", "12", "12", [])]
    again = api.post("/expected-receipts", BODY)
    assert (again.status_code, again.get_json()["id"]) == (200, body["id"])
    assert api.get(f"/expected-receipts/{body['id']}").get_json() == body
    assert receipts(tokens) == 1


def test_a_request_id_retry_gets_the_first_answer(tokens, api):
    first = api.post("/expected-receipts", {**BODY, "request_id": "erp-asn-778-1"})
    retry = api.post("/expected-receipts", {**BODY, "request_id": "erp-asn-778-1"})
    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry.headers.get("Idempotent-Replayed") == "true"
    assert receipts(tokens) == 1


@pytest.mark.parametrize("change, status, code, words", [
    ({"expected_on": "2026-12-10"}, 409, "expected_exists", "already has an expected receipt ASN-778"),
    ({"lines": [{"sku": "BOLT", "qty": 41}]}, 409, "expected_exists", "other lines"),
])
def test_another_body_under_the_same_reference_is_refused(tokens, api, change, status, code, words):
    api.post("/expected-receipts", BODY)
    answer = api.post("/expected-receipts", {**BODY, **change})
    error = answer.get_json()["error"]
    assert (answer.status_code, error["code"]) == (status, code) and words in error["message"]
    assert receipts(tokens) == 1


@pytest.mark.parametrize("line, status, code, words", [
    ({"sku": "NOPE", "qty": 1}, 404, "unknown_item", "No item with SKU 'NOPE'"),
    ({"gtin": gtin13("499999999999"), "qty": 1}, 404, "unknown_gtin", "No item has GTIN"),
    ({"sku": "BOLT", "qty": 0}, 422, None, "qty"),
    ({"qty": 3}, 422, None, "sku or its gtin"),
    ({"sku": "BOLT", "qty": 3, "ssccs": [P1[:-1] + str((int(P1[-1]) + 1) % 10)]}, 422, "invalid_sscc", "not valid"),
    ({"sku": "BOLT", "qty": 3, "ssccs": ["12345"]}, 422, None, "SSCC of 18 digits"),
])
def test_a_bad_line_is_refused_in_words_and_nothing_is_entered(tokens, api, line, status, code, words):
    answer = api.post("/expected-receipts", {**BODY, "lines": [line]})
    error = answer.get_json()["error"]
    assert answer.status_code == status, error
    assert code is None or error["code"] == code
    assert words in str(error)
    assert receipts(tokens) == 0


def test_a_pallet_already_expected_is_a_conflict(tokens, api):
    api.post("/expected-receipts", BODY)
    answer = api.post("/expected-receipts", {**BODY, "reference": "ASN-779"})
    error = answer.get_json()["error"]
    assert (answer.status_code, error["code"]) == (409, "sscc_already_expected")
    assert "already expected from Acme Foods (reference ASN-778)" in error["message"]
    assert receipts(tokens) == 1


def test_an_unknown_supplier_is_refused(tokens, api):
    answer = api.post("/expected-receipts", {**BODY, "supplier": "NOBODY"})
    assert (answer.status_code, answer.get_json()["error"]["code"]) == (404, "unknown_supplier")
    assert receipts(tokens) == 0


def test_pages_by_cursor_and_status(tokens, api):
    ids = [api.post("/expected-receipts", {**BODY, "reference": f"PO-{n}", "lines": [{"sku": "MILK", "qty": n}]})
           .get_json()["id"] for n in range(1, 6)]
    api.post(f"/expected-receipts/{ids[1]}/close", {"reason": "Cancelled by the supplier"})
    first = api.get("/expected-receipts?limit=2").get_json()
    assert [r["id"] for r in first["data"]] == ids[:2] and first["next_after"] == ids[1]
    rest = api.get(f"/expected-receipts?limit=10&after={first['next_after']}").get_json()
    assert [r["id"] for r in rest["data"]] == ids[2:] and rest["next_after"] is None
    closed = api.get("/expected-receipts?status=closed").get_json()
    assert [r["id"] for r in closed["data"]] == [ids[1]]
    assert api.get("/expected-receipts?status=lost").status_code == 422


def test_closing_short_needs_a_reason_then_refuses_a_second_close(tokens, api):
    rid = api.post("/expected-receipts", BODY).get_json()["id"]
    assert api.post(f"/expected-receipts/{rid}/close", {"reason": ""}).status_code == 422
    assert api.get(f"/expected-receipts/{rid}").get_json()["status"] == "open"
    closed = api.post(f"/expected-receipts/{rid}/close", {"reason": "Supplier out of stock"})
    assert closed.status_code == 200
    assert (closed.get_json()["status"], closed.get_json()["close_reason"]) == ("closed", "Supplier out of stock")
    again = api.post(f"/expected-receipts/{rid}/close", {"reason": "again"})
    assert (again.status_code, again.get_json()["error"]["code"]) == (409, "expected_not_open")
    assert api.post("/expected-receipts/999999/close", {"reason": "x"}).status_code == 404
    assert api.get("/expected-receipts/999999").status_code == 404


def test_a_receiver_token_reads_but_may_not_enter_or_close(tokens, api):
    receiver = tokens[Role.RECEIVER]
    denied = receiver.post("/expected-receipts", BODY)
    assert denied.status_code == 403
    assert receipts(tokens) == 0
    rid = api.post("/expected-receipts", BODY).get_json()["id"]
    assert receiver.post(f"/expected-receipts/{rid}/close", {"reason": "no"}).status_code == 403
    assert receiver.get(f"/expected-receipts/{rid}").get_json()["status"] == "open"


def test_the_routes_are_in_the_openapi_document(tokens, api):
    doc = api.client.get("/api/v1/openapi.json").get_json()
    assert {"/expected-receipts", "/expected-receipts/{expected_id}", "/expected-receipts/{expected_id}/close"} <= {
        path.removeprefix("/api/v1") for path in doc["paths"]}


def test_the_status_query_names_every_status():
    import typing

    from station.api.expected_schemas import StatusName
    from station.models import ExpectedStatus

    assert set(typing.get_args(StatusName)) == {s.value for s in ExpectedStatus}


# --- POST /receipts against them: the supplier rule, the pallets announced, goods out of date ----------------


@pytest.fixture
def receiver(tokens):
    return tokens[Role.RECEIVER]


def lots(tokens) -> list[tuple]:
    from station.models import Lot

    with tokens["db"].read() as s:
        return [(lot.item.sku, lot.on_hand, lot.status.value, lot.supplier.code if lot.supplier else None)
                for lot in s.scalars(select(Lot).order_by(Lot.id))]


def test_a_receipt_with_no_supplier_anywhere_is_refused_in_words(tokens, receiver):
    with tokens["db"].write() as s:
        from station.services import catalog

        catalog.item_by_sku(s, "MILK").supplier_id = None
    answer = receiver.post("/receipts", {"sku": "MILK", "qty": 5})
    error = answer.get_json()["error"]
    assert (answer.status_code, error["code"], error["field"]) == (422, "supplier_required", "supplier")
    assert "Whose goods are these?" in error["message"] and "item MILK has no usual supplier" in error["message"]
    assert lots(tokens) == []
    assert receiver.post("/receipts", {"sku": "MILK", "qty": 5, "supplier": "ACME"}).status_code == 201
    assert lots(tokens) == [("MILK", 5, "available", "ACME")]


def test_a_received_pallet_the_asn_announced_is_booked_against_it(tokens, api, receiver):
    from station.services import catalog

    with tokens["db"].write() as s:
        catalog.create_supplier(s, code="NORTH", name="Northern Mill")
    rid = api.post("/expected-receipts", {**BODY, "supplier": "NORTH"}).get_json()["id"]
    answer = receiver.post("/receipts", {"code": f"]C100{P1}02{BOLT_GTIN.zfill(14)}3720", "qty": 20})
    assert answer.status_code == 201, answer.get_json()
    assert answer.get_json()["supplier"] == "NORTH"  # the expected receipt's, not BOLT's usual Acme
    line = api.get(f"/expected-receipts/{rid}").get_json()["lines"][0]
    assert (line["received_qty"], line["missing_qty"], line["received_ssccs"]) == ("20", "20", [P1])
    # The only open line expecting MILK: booked against it too; the receipt is then complete.
    receiver.post("/receipts", {"code": f"]C100{P2}02{BOLT_GTIN.zfill(14)}3720", "qty": 20})
    receiver.post("/receipts", {"sku": "MILK", "qty": 12})
    assert api.get(f"/expected-receipts/{rid}").get_json()["status"] == "received"


def test_goods_past_their_expiry_are_received_into_quarantine(tokens, receiver):
    answer = receiver.post("/receipts", {"sku": "BOLT", "qty": 5, "expiry": "2020-01-01"})
    body = answer.get_json()
    assert (answer.status_code, body["status"]) == (201, "quarantine"), body
    lot = receiver.get(f"/lots/{body['lot_number']}").get_json()
    assert [(e["to_status"], e["reason"]) for e in lot["events"]] == [("quarantine", "expired on receipt")]
