"""POST /api/v1/receipts covers the dock page's receipt: a scanned GS1 label or fields, a pallet
received before refused with 409 naming who and when, labels queued on request (job ids)."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from station import clock
from station.models import Lot, Operator, PrintJob, Role, StationDevice
from station.services import catalog, receiving
from station.services.actor import Actor
from station.services.tokens import create_token

from factories import basic_site, gtin13, printer

BOLT_GTIN = gtin13("400000000001").zfill(14)
SSCC = "376130321109103420"
EXPIRY = clock.today() + dt.timedelta(days=300)
LABEL = f"]C100{SSCC}02{BOLT_GTIN}37{40}\x1d10S-77\x1d17{EXPIRY:%y%m%d}"


@pytest.fixture
def api(app):
    db = app.extensions["station.db"]
    basic_site(db)
    with db.write() as s:
        zebra = printer(s, "dock-zebra")
        s.add(StationDevice(name="Dock 1", location_id=catalog.location_by_code(s, "A-01").id, printer_id=zebra.id))
        catalog.item_by_sku(s, "BOLT").labels_per_receipt = 3
        secret = create_token(s, "erp", Role.RECEIVER)
    client = app.test_client()

    def post(body):
        return client.post("/api/v1/receipts", json=body, headers={"Authorization": f"Bearer {secret}"})

    post.db = db
    return post


def test_a_scanned_label_is_received_with_its_labels_queued_at_the_station(api):
    response = api({"code": LABEL, "qty": 40, "station": "Dock 1", "labels": {}})
    body = response.get_json()
    assert response.status_code == 201, body
    assert (body["item"]["sku"], body["supplier_lot"], body["expiry"], body["stock"]) == (
        "BOLT", "S-77", EXPIRY.isoformat(), [{"location": "A-01", "qty": "40", "sscc": SSCC}])
    [job] = body["print_jobs"]
    assert (job["printer"], job["copies"], job["status"], job["lot_number"]) == ("dock-zebra", 3, "queued",
                                                                                 body["lot_number"])
    with api.db.read() as s:
        assert s.get(PrintJob, job["id"]).station_id is not None


def test_labels_with_copies_and_without_labels_no_print_jobs_key(api):
    body = api({"sku": "MILK", "qty": 5, "labels": {"copies": 2, "printer": "dock-zebra"}}).get_json()
    assert [j["copies"] for j in body["print_jobs"]] == [2]
    plain = api({"sku": "MILK", "qty": 5}).get_json()
    assert "print_jobs" not in plain and "label_note" not in plain


def test_a_pallet_received_before_is_409_with_who_and_when(api):
    with api.db.write() as s:
        maria = Operator(badge="OP-MK", name="Maria Keller", role=Role.SUPERVISOR)
        s.add(maria)
        s.flush()
        receiving.receive(s, item=catalog.item_by_sku(s, "BOLT"), qty=40,
                          location=catalog.location_by_code(s, "DOCK"), sscc=SSCC, by=Actor(maria.id))
    for body in ({"code": LABEL, "qty": 40}, {"sku": "BOLT", "qty": 40, "sscc": SSCC}):
        response = api(body)
        error = response.get_json()["error"]
        assert response.status_code == 409 and error["code"] == "sscc_already_received", error
        assert "Maria Keller" in error["message"] and error["received_by"] == "Maria Keller"
        assert error["received_at"] and error["lot_number"]
    with api.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Lot)) == 1


@pytest.mark.parametrize("body,status,code,words", [
    ({"code": LABEL, "qty": 40, "supplier_lot": "OTHER"}, 422, "label_mismatch", "S-77"),
    ({"code": LABEL, "qty": 40, "sku": "MILK"}, 422, "label_mismatch", "BOLT"),
    ({"code": f"]C102{gtin13('400000000099').zfill(14)}10X", "qty": 1}, 422, "unknown_gtin", "not an item"),
    ({"code": "garbage", "qty": 1}, 422, "not_recognised", "not recognised"),
    ({"code": LABEL, "qty": 40, "station": "Nowhere"}, 422, "unknown_station", "Nowhere"),
    ({"sku": "MILK", "qty": 1, "labels": {"printer": "nope"}}, 400, "unknown_printer", "nope"),
])
def test_bad_receipts_by_code_are_refused_and_change_nothing(api, body, status, code, words):
    response = api(body)
    error = response.get_json()["error"]
    assert response.status_code == status and error["code"] == code and words in error["message"], error
    with api.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Lot)) == 0


def test_openapi_documents_the_receipt_by_code_and_its_print_jobs(app):
    doc = app.test_client().get("/api/v1/openapi.json").get_json()
    receipt_in = doc["components"]["schemas"]["ReceiptIn"]
    assert {"code", "labels", "station"} <= set(receipt_in["properties"])
    post = doc["paths"]["/api/v1/receipts"]["post"]
    schema = post["responses"]["201"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/ReceiptOut"}
    assert "print_jobs" in doc["components"]["schemas"]["ReceiptOut"]["properties"]
    assert "409" in post["responses"]
