"""The JSON API under /api/v1 over a real database (SQLite and PostgreSQL): tokens, every
endpoint's answer, every refusal as {"error": {"code", "message"}}, and the OpenAPI document."""
from __future__ import annotations

import datetime as dt
import re
import time
from contextlib import contextmanager

import pytest
from flask import g
from sqlalchemy import event, select, text

from station import clock
from station.api import openapi, views  # noqa: F401 - fill the route registry
from station.api.core import ROUTES
from station.models import ApiToken, LotStatus, Role
from station.services import catalog
from station.services.tokens import create_token

from actions import Api
from factories import gtin13

BOLT_GTIN = gtin13("400000000001")
SSCC = "376130321109103420"
TODAY = clock.today()


def days(n: int) -> str:
    return (TODAY + dt.timedelta(days=n)).isoformat()


class ApiActions(Api):
    """actions.Api, and a receipt in one call."""

    def _headers(self) -> dict:
        return self.headers

    def receive(self, **body) -> dict:
        body.setdefault("sku", "BOLT")
        body.setdefault("qty", 10)
        response = self.post("/receipts", body)
        assert response.status_code == 201, response.get_json()
        return response.get_json()


def assert_error(response, status: int, code: str, *words: str) -> dict:
    """The answer is JSON {"error": {"code", "message"}} with this status and code."""
    assert response.status_code == status, response.data
    assert response.mimetype == "application/json"
    error = response.get_json()["error"]
    assert error["code"] == code, error
    assert isinstance(error["message"], str) and error["message"].strip(), error
    for word in words:
        assert word in error["message"], error
    return error


@pytest.fixture
def token(database) -> str:
    with database.write() as session:
        return create_token(session, "test", Role.SUPERVISOR)


@pytest.fixture
def api(client, token) -> ApiActions:
    return ApiActions(client, token)


@contextmanager
def statements(database):
    """Collect the SQL statements the app runs meanwhile."""
    seen: list[str] = []

    def on_execute(conn, cursor, statement, *args):
        seen.append(statement)

    event.listen(database.engine, "before_cursor_execute", on_execute)
    try:
        yield seen
    finally:
        event.remove(database.engine, "before_cursor_execute", on_execute)


# --- authentication --------------------------------------------------------------------------

# Every placeholder filled (<path:sku> as X, <int:id> as 1): which routes are registered at collection time
# depends on which test modules were imported first.
PROTECTED = [(r.method, "/api/v1" + re.sub(r"<int:\w+>", "1", re.sub(r"<path:\w+>|<\w+>", "X", r.rule)))
             for r in ROUTES if not r.public]


@pytest.mark.parametrize("method,path", PROTECTED)
def test_every_endpoint_but_openapi_needs_a_token(client, method, path):
    response = client.open(path, method=method, json={})
    error = assert_error(response, 401, "unauthorized", "Authorization: Bearer")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert set(error) == {"code", "message"}


@pytest.mark.parametrize("header,code", [
    ("Bearer stn_not-a-real-token", "invalid_token"), ("Basic dXNlcjpwYXNz", "unauthorized"),
    ("Bearer", "unauthorized"), ("Bearer   ", "unauthorized"), ("stn_x", "unauthorized"),
])
def test_a_bad_token_or_scheme_is_refused(client, token, header, code):
    assert_error(client.get("/api/v1/items", headers={"Authorization": header}), 401, code)


def test_a_revoked_token_is_refused_once_the_token_cache_expires(app, api, database):
    app.config["API_TOKEN_CACHE_SECONDS"] = 0.3
    assert api.get("/items").status_code == 200
    with database.write() as session:
        session.scalar(select(ApiToken)).revoked_at = dt.datetime.now(dt.timezone.utc)
    assert api.get("/items").status_code == 200  # still remembered
    time.sleep(0.4)
    assert_error(api.get("/items"), 401, "invalid_token", "revoked")


def test_the_token_and_its_role_are_kept_for_the_request(client, token):
    with client:
        client.get("/api/v1/items", headers={"Authorization": f"bearer {token}"})
        assert (g.api_token.name, g.api_token.role) == ("test", Role.SUPERVISOR)


# --- errors that are not about the domain ----------------------------------------------------


def test_unknown_routes_and_methods_answer_json(api):
    assert_error(api.get("/nothing/here"), 404, "not_found", "/api/v1/nothing/here")
    response = api.client.delete("/api/v1/items", headers=api._headers())
    assert_error(response, 405, "method_not_allowed", "DELETE", "GET, POST")
    assert "POST" in response.headers["Allow"]


def test_pages_outside_the_api_keep_their_html_errors(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404 and response.mimetype == "text/html"


@pytest.mark.parametrize("data,status,code,words", [
    ("{not json", 400, "malformed_json", ("not valid JSON",)),
    ("", 400, "malformed_json", ("empty",)),
    ('{"sku": "BOLT", "qty": 1', 400, "malformed_json", ("not valid JSON",)),
    ("[1, 2]", 422, "invalid", ("JSON object",)),
])
def test_a_body_that_is_not_a_json_object_is_refused(api, site, data, status, code, words):
    response = api.client.post("/api/v1/receipts", data=data, content_type="application/json",
                               headers=api._headers())
    assert_error(response, status, code, *words)


def test_a_server_failure_answers_json_500_without_a_trace(api, db):
    with db.engine.begin() as conn:
        conn.execute(text("ALTER TABLE suppliers RENAME TO suppliers_gone"))
    try:
        response = api.get("/suppliers")
    finally:
        with db.engine.begin() as conn:
            conn.execute(text("ALTER TABLE suppliers_gone RENAME TO suppliers"))
    error = assert_error(response, 500, "internal_error", "logged")
    assert "Traceback" not in response.get_data(as_text=True) and set(error) == {"code", "message"}


# --- receiving -------------------------------------------------------------------------------


def test_receive_by_gtin_onto_the_first_dock(api, site):
    response = api.post("/receipts", {"gtin": "0" + BOLT_GTIN, "qty": 40, "supplier": "ACME",
                                      "supplier_lot": "S-77", "expiry": days(90),
                                      "produced": days(-2), "sscc": SSCC})
    assert response.status_code == 201, response.get_json()
    lot = response.get_json()
    assert lot == {
        "lot_number": lot["lot_number"], "item": {"sku": "BOLT", "name": "Bolt M8"},
        "status": "available", "expiry": days(90), "produced": days(-2), "received": days(0),
        "supplier": "ACME", "supplier_lot": "S-77", "on_hand": "40", "unit": "ea",
        "stock": [{"location": "DOCK", "qty": "40", "sscc": SSCC}],
    }
    assert lot["lot_number"] == TODAY.strftime("%y%m%d") + "-001"


def test_receive_by_sku_at_a_location_takes_expiry_from_shelf_life(api, site):
    lot = api.receive(sku="MILK", qty=12, location="A-01")
    assert (lot["item"]["sku"], lot["expiry"], lot["supplier"], lot["produced"]) == (
        "MILK", days(30), "ACME", None)  # no supplier given: the item's usual one (factories.basic_site)
    assert lot["stock"] == [{"location": "A-01", "qty": "12", "sscc": None}]


def test_the_default_dock_is_the_first_by_code(api, site):
    assert api.post("/locations", {"code": "0-DOCK", "kind": "dock"}).status_code == 201
    assert api.receive()["stock"][0]["location"] == "0-DOCK"


def test_a_pallet_is_received_once(api, site):
    first = api.receive(sscc=SSCC)
    error = assert_error(api.post("/receipts", {"sku": "BOLT", "qty": 5, "sscc": SSCC}),
                         409, "sscc_already_received", SSCC)
    assert error["lot_number"] == first["lot_number"]
    assert api.get(f"/lots/{first['lot_number']}").get_json()["on_hand"] == "10"


@pytest.mark.parametrize("body,code,words", [
    ({"sku": "BOLT", "qty": 1, "expiry": "2026-02-30"}, "invalid", ("expiry:", "valid date")),
    ({"sku": "BOLT", "qty": 1, "expiry": "15/06/2026"}, "invalid", ("expiry:",)),
    ({"sku": "BOLT", "qty": 0}, "invalid", ("qty: must be greater than 0",)),
    ({"sku": "BOLT", "qty": -3}, "invalid", ("qty: must be greater than 0",)),
    ({"sku": "BOLT", "qty": "5 pcs"}, "invalid", ("qty: must be a number like 12 or 12.35",)),
    ({"sku": "BOLT", "qty": True}, "invalid", ("qty: must be a number",)),
    ({"sku": "BOLT", "qty": 2.5}, "too_many_decimals", ("2.5 ea has too many decimals", "whole numbers")),
    ({"sku": "BOLT", "qty": "2.5"}, "too_many_decimals", ("whole numbers",)),
    ({"sku": "BOLT"}, "qty_required", ("Give the qty",)),
    ({"gtin": "4000000000019", "qty": 1}, "invalid_gtin", ("4000000000019",)),
    ({"gtin": "12345", "qty": 1}, "invalid", ("gtin: must be a GTIN",)),
    ({"sku": "NOPE", "qty": 1}, "unknown_item", ("NOPE",)),
    ({"gtin": gtin13("400000000099"), "qty": 1}, "unknown_gtin", ("has GTIN",)),
    ({"qty": 1}, "invalid", ("gtin", "sku")),
    ({"sku": "BOLT", "gtin": BOLT_GTIN, "qty": 1}, "invalid", ("not both",)),
    ({"sku": "BOLT", "qty": 1, "location": "Z-99"}, "unknown_location", ("Z-99",)),
    ({"sku": "BOLT", "qty": 1, "supplier": "NOBODY"}, "unknown_supplier", ("NOBODY",)),
    ({"sku": "BOLT", "qty": 1, "produced": days(3)}, "invalid_date", ("future",)),
    ({"sku": "BOLT", "qty": 1, "produced": days(-1), "expiry": days(-5)}, "invalid_date", ("before",)),
    ({"sku": "BOLT", "qty": 1, "sscc": "376130321109103421"}, "invalid_sscc", ("376130321109103421",)),
    ({"sku": "BOLT", "qty": 1, "supplier_lot": "A\u0000B"}, "invalid", ("supplier_lot: must not",)),
    ({"sku": "BOLT", "qty": 1, "quantity": 3}, "invalid", ("quantity: is not a field",)),
])
def test_bad_receipts_are_refused_with_422_naming_the_problem(api, site, body, code, words):
    error = assert_error(api.post("/receipts", body), 422, code, *words)
    if code == "invalid":
        assert error["fields"] and all("message" in f for f in error["fields"])
    with site.read() as session:
        assert session.scalar(select(catalog.Lot.id)) is None


def test_unknown_references_in_a_body_name_their_field(api, site):
    error = assert_error(api.post("/receipts", {"sku": "BOLT", "qty": 1, "location": "Z-99"}),
                         422, "unknown_location")
    assert error["field"] == "location"


def test_receiving_without_a_dock_needs_a_location(api, database):
    with database.write() as session:
        catalog.create_item(session, sku="BOLT", name="Bolt")
    assert_error(api.post("/receipts", {"sku": "BOLT", "qty": 1}), 422, "no_dock_location", "dock")


# --- lots ------------------------------------------------------------------------------------


def test_a_lot_with_its_stock_and_history(api, site):
    lot = api.receive(sscc=SSCC, supplier="ACME", supplier_lot="S-1")
    api.receive(qty=5, location="A-01", supplier="ACME", supplier_lot="S-1")  # joins the same lot
    response = api.get(f"/lots/{lot['lot_number']}")
    assert response.status_code == 200
    body = response.get_json()
    assert (body["lot_number"], body["on_hand"], body["status"]) == (lot["lot_number"], "15", "available")
    assert body["stock"] == [{"location": "A-01", "qty": "5", "sscc": None},
                             {"location": "DOCK", "qty": "10", "sscc": SSCC}]
    assert [(h["kind"], h["qty"], h["from_location"], h["to_location"]) for h in body["history"]] == [
        ("receive", "5", None, "A-01"), ("receive", "10", None, "DOCK")]
    assert dt.datetime.fromisoformat(body["history"][0]["ts"]).utcoffset() == dt.timedelta(0)
    assert body["events"] == [] and body["days_to_expiry"] is None


def test_an_unknown_lot_is_404(api, site):
    assert_error(api.get("/lots/NO-SUCH-LOT"), 404, "unknown_lot", "NO-SUCH-LOT")
    for hostile in ("x' OR '1'='1", "%25", "L%_*", "ÿ\u202e"):  # read on the cursor: bound, never SQL text
        assert_error(api.get(f"/lots/{hostile}"), 404, "unknown_lot")
    assert_error(api.post("/lots/NO-SUCH-LOT/hold", {"reason": "QA"}), 404, "unknown_lot")


def test_hold_then_release(api, site):
    number = api.receive()["lot_number"]
    held = api.post(f"/lots/{number}/hold", {"reason": "Damaged wrap"})
    assert held.status_code == 200 and held.get_json()["status"] == "hold"
    assert held.get_json()["stock"] == [{"location": "DOCK", "qty": "10", "sscc": None}]
    assert api.get("/items/BOLT/suggestions?qty=1").get_json()["allocations"] == []
    assert_error(api.post(f"/lots/{number}/hold", {"reason": "again"}), 409, "already_held", "on hold")

    released = api.post(f"/lots/{number}/release", {"reason": "Rewrapped"})
    assert released.status_code == 200 and released.get_json()["status"] == "available"
    assert_error(api.post(f"/lots/{number}/release", {"reason": "again"}), 409, "not_held", "nothing")
    assert api.get("/items/BOLT/suggestions?qty=1").get_json()["allocated"] == "1"

    events = api.get(f"/lots/{number}").get_json()["events"]
    assert [(e["action"], e["from_status"], e["to_status"], e["reason"]) for e in events] == [
        ("release", "hold", "available", "Rewrapped"), ("hold", "available", "hold", "Damaged wrap")]


def test_quarantine_and_refused_holds(api, site):
    number = api.receive()["lot_number"]
    response = api.post(f"/lots/{number}/hold", {"reason": "Lab test", "status": "quarantine"})
    assert response.get_json()["status"] == "quarantine"
    assert_error(api.post(f"/lots/{number}/hold", {"reason": "x", "status": "recalled"}),
                 422, "invalid", "status:")
    assert_error(api.post(f"/lots/{number}/release", {"reason": "   "}), 422, "reason_required")
    assert_error(api.post(f"/lots/{number}/release", {}), 422, "invalid", "reason: is required")
    with site.read() as session:
        assert catalog.lot_by_number(session, number).status is LotStatus.QUARANTINE


# --- suggestions -----------------------------------------------------------------------------


def test_fifo_suggestions_take_the_oldest_first_across_lots(api, site):
    middle = api.receive(qty=5, produced=days(-5))["lot_number"]
    newest = api.receive(qty=5, location="A-02")["lot_number"]
    oldest = api.receive(qty=5, produced=days(-9), location="A-01")["lot_number"]
    response = api.get("/items/BOLT/suggestions", query_string={"qty": 12})
    assert response.status_code == 200
    body = response.get_json()
    assert {k: body[k] for k in ("item", "strategy", "requested", "allocated", "short")} == {
        "item": {"sku": "BOLT", "name": "Bolt M8"}, "strategy": "FIFO", "requested": "12",
        "allocated": "12", "short": "0"}
    assert [(a["lot_number"], a["location"], a["qty"]) for a in body["allocations"]] == [
        (oldest, "A-01", "5"), (middle, "DOCK", "5"), (newest, "A-02", "2")]


def test_fefo_suggestions_take_the_first_to_expire_and_report_what_is_short(api, site):
    late = api.receive(sku="MILK", qty=4, expiry=days(20))["lot_number"]
    soon = api.receive(sku="MILK", qty=4, expiry=days(3))["lot_number"]
    body = api.get("/items/MILK/suggestions?qty=10").get_json()
    assert body["strategy"] == "FEFO"
    assert [(a["lot_number"], a["qty"], a["expiry"]) for a in body["allocations"]] == [
        (soon, "4", days(3)), (late, "4", days(20))]
    assert (body["allocated"], body["short"]) == ("8", "2")


@pytest.mark.parametrize("query,words", [
    ("", "qty: is required"), ("?qty=0", "qty: must be greater than 0"),
    ("?qty=abc", "qty: must be a number like 12 or 12.35"), ("?qty=-1", "qty:"),
])
def test_suggestions_need_a_positive_quantity(api, site, query, words):
    assert_error(api.get("/items/BOLT/suggestions" + query), 422, "invalid", words)


def test_suggestions_for_an_unknown_item_are_404(api, site):
    assert_error(api.get("/items/NOPE/suggestions?qty=1"), 404, "unknown_item", "NOPE")


# --- catalogue -------------------------------------------------------------------------------


def test_create_list_and_get_items(api, database):
    response = api.post("/items", {"sku": "JAM/400", "name": "Jam  400 g",
                                   "gtins": [gtin13("590000000001")], "shelf_life_days": 365,
                                   "removal_strategy": "FEFO"})
    assert response.status_code == 201
    item = {"sku": "JAM/400", "name": "Jam 400 g", "gtins": ["0" + gtin13("590000000001")],
            "unit": "ea", "qty_decimals": 0, "variable_measure": False, "packs": [], "shelf_life_days": 365,
            "removal_strategy": "FEFO", "refuse_younger_lots": False}
    assert response.get_json() == item
    assert api.get("/items/JAM/400").get_json() == item  # a SKU with a slash is still one item
    assert api.post("/items", {"sku": "AXE", "name": "Axe", "unit": "pc"}).status_code == 201
    assert api.post("/items", {"sku": "ZIP", "name": "Zip"}).status_code == 201

    first = api.get("/items?limit=2").get_json()
    assert [i["sku"] for i in first["data"]] == ["AXE", "JAM/400"] and first["next_offset"] == 2
    rest = api.get(f"/items?limit=2&offset={first['next_offset']}").get_json()
    assert [i["sku"] for i in rest["data"]] == ["ZIP"] and rest["next_offset"] is None
    assert api.get("/items/JAM/400/suggestions?qty=1").get_json()["short"] == "1"


def test_item_refusals(api, site):
    assert_error(api.get("/items/NOPE"), 404, "unknown_item", "NOPE")
    assert_error(api.post("/items", {"sku": "BOLT", "name": "Again"}), 409, "item_exists", "BOLT")
    assert_error(api.post("/items", {"sku": "NUT", "name": "Nut", "gtins": [BOLT_GTIN]}),
                 409, "gtin_exists", "BOLT")
    assert_error(api.post("/items", {"sku": "NUT", "name": "Nut", "gtins": ["4000000000019"]}),
                 422, "invalid_gtin")
    assert_error(api.post("/items", {"sku": "NUT", "name": "Nut", "removal_strategy": "LIFO"}),
                 422, "invalid", "removal_strategy:")
    assert_error(api.post("/items", {"sku": "NUT NUT", "name": "Nut"}), 422, "invalid", "sku: must be")
    assert_error(api.post("/items", {"sku": "NUT", "name": "Nut", "shelf_life_days": -1}),
                 422, "invalid", "shelf_life_days:")
    assert_error(api.get("/items?limit=0"), 422, "invalid", "limit:")


def test_locations(api, site):
    response = api.post("/locations", {"code": "B-01", "kind": "storage", "name": "Aisle B",
                                       "barcode": "LOC-B-01"})
    assert response.status_code == 201
    assert response.get_json() == {"code": "B-01", "barcode": "LOC-B-01", "name": "Aisle B",
                                   "kind": "storage"}
    codes = [loc["code"] for loc in api.get("/locations").get_json()["data"]]
    assert codes == ["A-01", "A-02", "B-01", "DOCK", "LINE-1", "SHIP"]
    assert_error(api.post("/locations", {"code": "B-01", "kind": "storage"}), 409, "location_exists")
    assert_error(api.post("/locations", {"code": "B-02", "kind": "attic"}), 422, "invalid", "kind:")
    blank = api.post("/locations", {"code": "B-03", "kind": "storage", "barcode": "  "})
    assert blank.get_json()["barcode"] == "B-03"  # a blank barcode falls back to the code


def test_suppliers(api, site):
    response = api.post("/suppliers", {"code": "BETA", "name": "Beta Ltd", "gln": "4000000000020"})
    assert response.status_code == 201
    assert response.get_json() == {"code": "BETA", "name": "Beta Ltd", "gln": "4000000000020"}
    assert [s["code"] for s in api.get("/suppliers").get_json()["data"]] == ["ACME", "BETA"]
    assert_error(api.post("/suppliers", {"code": "BETA", "name": "Again"}), 409, "supplier_exists")
    twin = {"code": "BETA2", "name": "Beta twin", "gln": "4000000000020"}
    assert_error(api.post("/suppliers", twin), 409, "gln_exists", "BETA")
    assert_error(api.post("/suppliers", {"code": "GAMMA", "name": "G", "gln": "123"}),
                 422, "invalid", "gln: must be a GLN")
    assert_error(api.post("/suppliers", {"code": "GAMMA"}), 422, "invalid", "name: is required")


def test_reads_run_the_same_statements_however_many_records(api, database):
    def count(path: str) -> int:
        with statements(database) as seen:
            assert api.get(path).status_code == 200
        return len(seen)

    with database.write() as session:
        catalog.create_location(session, code="DOCK", kind="dock")
        catalog.create_supplier(session, code="S1", name="Supplier")
        catalog.create_item(session, sku="ITEM-0", name="Item", gtins=[gtin13("500000000000")])
    lot = api.receive(sku="ITEM-0", supplier="S1", supplier_lot="L1")["lot_number"]
    few = count("/items"), count(f"/lots/{lot}")
    with database.write() as session:
        for n in range(1, 12):
            catalog.create_item(session, sku=f"ITEM-{n}", name="Item",
                                gtins=[gtin13(f"5000000000{n:02d}"), gtin13(f"5100000000{n:02d}")])
    for _ in range(5):
        assert api.receive(sku="ITEM-0", supplier="S1", supplier_lot="L1")["lot_number"] == lot
        api.post(f"/lots/{lot}/hold", {"reason": "count"})
        api.post(f"/lots/{lot}/release", {"reason": "count"})
    assert (count("/items"), count(f"/lots/{lot}")) == few


# --- OpenAPI ---------------------------------------------------------------------------------


def test_openapi_is_public_and_describes_every_route(client, app):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    doc = response.get_json()
    assert doc["openapi"].startswith("3.1")
    scheme = doc["components"]["securitySchemes"]["bearerAuth"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    assert doc["security"] == [{"bearerAuth": []}]

    served = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("api."):
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
            served |= {(path, m.lower()) for m in rule.methods - {"HEAD", "OPTIONS"}}
    documented = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    assert served == documented  # every route is documented, nothing documented is not served
    promised = {("/api/v1/receipts", "post"), ("/api/v1/moves", "post"), ("/api/v1/picks", "post"),
                ("/api/v1/shipments", "post"), ("/api/v1/production-runs", "post"), ("/api/v1/resolve", "post"),
                ("/api/v1/lots/{lot_number}/labels", "post"), ("/api/v1/print-jobs/{job_id}", "get"),
                ("/api/v1/lots/{lot_number}/label.zpl", "get"), ("/api/v1/lots/{lot_number}/label.png", "get")}
    assert promised <= served, promised - served  # the routes the issues promise to ERP integrators

    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            codes = set(op["responses"])
            if path.endswith("openapi.json"):
                assert op["security"] == [] and codes == {"200"}
                continue
            assert "401" in codes, (path, method)
            for code in codes - {"200", "201", "202"}:
                assert op["responses"][code]["content"]["application/json"]["schema"] == {
                    "$ref": "#/components/schemas/ErrorOut"}
    receipts = doc["paths"]["/api/v1/receipts"]["post"]
    assert set(receipts["responses"]) == {"201", "400", "401", "403", "409", "422"}  # 403: receivers only
    assert receipts["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ReceiptIn"}
    schema = doc["components"]["schemas"]["ReceiptIn"]
    prop = schema["properties"]["qty"]  # optional: a scanned label may count it
    [qty] = [option for option in prop["anyOf"] if option.get("type") != "null"]
    assert "required" not in schema and qty["exclusiveMinimum"] == 0  # a quantity in: above 0 ...
    assert qty["type"] == ["number", "string"] and "decimal string" in prop["description"]  # ... number or string
    assert doc["components"]["schemas"]["LotOut"]["properties"]["on_hand"]["type"] == "string"  # out: a string
    refs = {ref for ref in _refs(doc)}
    assert refs <= {f"#/components/schemas/{name}" for name in doc["components"]["schemas"]}


def _refs(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)
