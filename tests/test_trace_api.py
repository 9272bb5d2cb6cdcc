"""GET /api/v1/lots/<lot>/trace on SQLite and PostgreSQL: the exact trace both ways as JSON, 404 for an
unknown lot, 400 in words for a bad direction, a token needed, documented in OpenAPI."""
from __future__ import annotations

import pytest

from station.models import Role
from station.services.tokens import create_token

from test_trace import build_genealogy


@pytest.fixture
def db(app):
    return app.extensions["station.db"]


@pytest.fixture
def get(client, db):
    with db.write() as s:
        secret = create_token(s, "erp", Role.SUPERVISOR)

    def call(path: str):
        return client.get("/api/v1" + path, headers={"Authorization": f"Bearer {secret}"})

    return call


@pytest.fixture
def site(db):
    return build_genealogy(db)


def test_forward_trace_as_json(get, site):
    answer = get(f"/lots/{site.flour}/trace?direction=forward")
    assert answer.status_code == 200
    body = answer.get_json()
    assert (body["lot_number"], body["direction"], body["max_depth"]) == (site.flour, "forward", 2)
    assert {(x["lot_number"], x["depth"]) for x in body["lots"]} == {
        (site.flour, 0), (site.pie, 1), (site.cookie, 1), (site.pie_part, 2)}
    assert {(x["component"], x["output"], x["qty"], x["kind"]) for x in body["links"]} == {
        (site.flour, site.pie, "30", "production"), (site.flour, site.cookie, "40", "production"),
        (site.pie, site.pie_part, "5", "split")}
    assert {(x["lot_number"], x["customer"], x["customer_name"], x["order_number"], x["qty"])
            for x in body["shipments"]} == {(site.pie, "SHOP", "Corner Shop", "O-1", "8"),
                                             (site.pie_part, "BIG", "Big Mart", "O-2", "3"),
                                             (site.cookie, "SHOP", "Corner Shop", "O-3", "10")}
    assert all(x["ts"].endswith(("Z", "+00:00")) for x in body["shipments"])
    assert body["receipts"] == []
    pie = next(x for x in body["lots"] if x["lot_number"] == site.pie)
    assert pie["item"] == {"sku": "PIE", "name": "Apple pie"} and pie["stock"] == [{"location": "LINE-1", "qty": "7"}]
    assert (pie["origin"], pie["status"], pie["on_hand"]) == ("production", "available", "7")


def test_backward_is_the_default(get, site):
    body = get(f"/lots/{site.pie_part}/trace").get_json()
    assert body["direction"] == "backward"
    assert {(x["lot_number"], x["depth"]) for x in body["lots"]} == {
        (site.pie_part, 0), (site.pie, 1), (site.flour, 2), (site.sugar, 2)}
    assert {(x["lot_number"], x["supplier"], x["supplier_lot"], x["qty"], x["sscc"], x["received_by"])
            for x in body["receipts"]} == {
        (site.flour, "ACME", "S-FL-1", "100", "000000000000000017", "Rita Receiver"),
        (site.sugar, "ACME", "S-SU-1", "50", None, "Rita Receiver")}
    assert body["shipments"] == []


def test_refusals_are_json_in_words(get, client, site):
    missing = get("/lots/NOPE-1/trace")
    assert missing.status_code == 404
    assert missing.get_json()["error"] == {"code": "unknown_lot", "message": "No lot 'NOPE-1'."}
    bad = get(f"/lots/{site.pie}/trace?direction=sideways")
    assert bad.status_code == 400
    error = bad.get_json()["error"]
    assert error["code"] == "invalid" and error["message"] == "direction: must be 'backward' or 'forward'"
    assert client.get(f"/api/v1/lots/{site.pie}/trace").status_code == 401


def test_the_lot_route_itself_still_answers(get, site):
    # /lots/<path:lot_number> and /lots/<path:lot_number>/trace live side by side.
    lot = get(f"/lots/{site.pie}").get_json()
    assert lot["lot_number"] == site.pie and "history" in lot


def test_documented_in_openapi(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    op = doc["paths"]["/api/v1/lots/{lot_number}/trace"]["get"]
    assert set(op["responses"]) >= {"200", "400", "401", "404"}
    assert any(p["name"] == "direction" and p["in"] == "query" for p in op["parameters"])
    schemas = doc["components"]["schemas"]
    out = next(v for k, v in schemas.items() if k.startswith("TraceOut"))
    assert {"lots", "links", "receipts", "shipments"} <= set(out["properties"])
