"""POST /api/v1/resolve over a real database (SQLite and PostgreSQL): every scanned string gets a
200 with the resolution; only a malformed request is refused."""
from __future__ import annotations

import pytest

from station.models import Role
from station.services.tokens import create_token

from factories import gtin13

BOLT14 = "0" + gtin13("400000000001")


@pytest.fixture
def headers(database) -> dict:
    with database.write() as session:
        return {"Authorization": f"Bearer {create_token(session, 'scanner', Role.PICKER)}"}


def post(client, headers, body, **kw):
    return client.post("/api/v1/resolve", json=body, headers=headers, **kw)


def test_resolve_needs_a_token(client, site):
    response = client.post("/api/v1/resolve", json={"code": "]C101" + BOLT14})
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthorized"


def test_a_gs1_label_resolves_to_its_item(client, headers, site):
    response = post(client, headers, {"code": "]C101" + BOLT14 + "10L-1\u001d17270331"})
    assert response.status_code == 200 and response.mimetype == "application/json"
    body = response.get_json()
    assert body["ok"] is True and body["kind"] == "gs1" and body["symbology"] == "]C1"
    assert body["fields"]["gtin"] == BOLT14 and body["fields"]["lot"] == "L-1"
    assert body["fields"]["expiry"] == "2027-03-31"
    assert body["records"]["item"]["sku"] == "BOLT"
    assert body["action"] == "show_item"
    assert body["code"] == "]C101" + BOLT14 + "10L-1␝17270331"


def test_the_workflow_decides_the_action(client, headers, site):
    body = post(client, headers, {"code": gtin13("400000000001"), "workflow": "receiving"}).get_json()
    assert (body["ok"], body["kind"], body["action"]) == (True, "gtin", "receive")


@pytest.mark.parametrize("code,kind,error", [
    ("HELLO WORLD", "unknown", "not_recognised"),
    ("4000000000014", "rejected", "bad_check_digit"),
    ("", "rejected", "empty"),
    ("AB\u0000C", "rejected", "control_character"),
    ("X" * 4096, "rejected", "too_long"),
])
def test_any_scanned_string_gets_a_200_with_the_reason(client, headers, site, code, kind, error):
    response = post(client, headers, {"code": code})
    assert response.status_code == 200
    body = response.get_json()
    assert (body["ok"], body["kind"], body["error"]) == (False, kind, error)
    assert body["message"] and body["action"] is None


@pytest.mark.parametrize("body,field", [
    ({}, "code"),
    ({"code": 4000000000013}, "code"),
    ({"code": None}, "code"),
    ({"code": "X" * 4097}, "code"),
    ({"code": "LOT:1", "workflow": "Receiving!"}, "workflow"),
    ({"code": "LOT:1", "extra": 1}, "extra"),
])
def test_a_malformed_request_is_422(client, headers, site, body, field):
    response = post(client, headers, body)
    assert response.status_code == 422, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == "invalid" and error["fields"][0]["field"] == field


def test_resolve_is_in_the_openapi_document(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    op = doc["paths"]["/api/v1/resolve"]["post"]
    assert set(op["responses"]) == {"200", "400", "401", "422"}
    assert op["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ResolveIn"}
    assert doc["components"]["schemas"]["ResolveIn"]["required"] == ["code"]
