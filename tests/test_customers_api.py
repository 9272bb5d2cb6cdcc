"""GET/POST/PATCH /api/v1/customers on SQLite and PostgreSQL: add, change, deactivate, list in keyset
pages; refusals in words that change nothing; reading for every role, writing for supervisors and admins."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from station.models import Customer, Role
from station.services.tokens import create_token


@pytest.fixture
def db(app):
    return app.extensions["station.db"]


@pytest.fixture
def tokens(db, site):
    with db.write() as s:
        return {role: create_token(s, role.value, role) for role in (Role.SUPERVISOR, Role.PICKER, Role.ADMIN)}


@pytest.fixture
def api(client, tokens):
    def call(method: str, path: str, body=None, role: Role = Role.SUPERVISOR):
        return client.open("/api/v1" + path, method=method, json=body,
                           headers={"Authorization": f"Bearer {tokens[role]}"})
    return call


def customers(db) -> list[tuple]:
    with db.read() as s:
        return s.execute(select(Customer.code, Customer.name, Customer.gln, Customer.min_shelf_life_days,
                                Customer.active).order_by(Customer.code)).all()


def refused(response, status: int, code: str) -> str:
    assert response.status_code == status, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == code, error
    return error["message"]


def test_add_change_and_deactivate_a_customer(api, db):
    made = api("POST", "/customers", {"code": "FRESH", "name": "FreshMart", "gln": "4000000000020",
                                      "min_shelf_life_days": 30})
    assert made.status_code == 201, made.get_json()
    assert made.headers["Location"] == "/api/v1/customers/FRESH"
    assert made.get_json() == {"code": "FRESH", "name": "FreshMart", "gln": "4000000000020",
                               "min_shelf_life_days": 30, "active": True}
    changed = api("PATCH", "/customers/FRESH", {"name": "FreshMart Centrum", "min_shelf_life_days": None})
    assert changed.status_code == 200, changed.get_json()
    # Only the fields given change: the GLN stays, the shelf life demand is removed.
    assert changed.get_json() == {"code": "FRESH", "name": "FreshMart Centrum", "gln": "4000000000020",
                                  "min_shelf_life_days": None, "active": True}
    assert api("PATCH", "/customers/FRESH", {"active": False}).get_json()["active"] is False
    assert api("GET", "/customers/FRESH", role=Role.PICKER).get_json()["active"] is False
    assert ("FRESH", "FreshMart Centrum", "4000000000020", None, False) in customers(db)


def test_list_in_keyset_pages_and_by_activity(api, db):
    for code in ("C1", "C2", "C3", "C4"):
        assert api("POST", "/customers", {"code": code, "name": f"Customer {code}"}).status_code == 201
    api("PATCH", "/customers/C2", {"active": False})
    seen, after = [], None
    while True:
        page = api("GET", "/customers?limit=2" + (f"&after={after}" if after else ""), role=Role.PICKER).get_json()
        seen += [c["code"] for c in page["data"]]
        after = page["next_after"]
        if after is None:
            break
    assert seen == ["C1", "C2", "C3", "C4", "SHOP"]
    active = api("GET", "/customers?active=false").get_json()["data"]
    assert [c["code"] for c in active] == ["C2"]


@pytest.mark.parametrize("body, status, code, words", [
    ({"code": "SHOP", "name": "Another"}, 409, "customer_exists", "Customer SHOP already exists"),
    ({"code": "NEW", "name": "X", "gln": "4000000000021"}, 422, "invalid_gln", "check digit"),
    ({"code": "NEW", "name": "X", "min_shelf_life_days": -1}, 422, "invalid", "min_shelf_life_days"),
    ({"code": "NEW", "name": "X", "min_shelf_life_days": "30"}, 422, "invalid", "min_shelf_life_days"),
    ({"code": "NEW", "name": ""}, 422, "invalid", "name"),
    ({"code": "bad code!", "name": "X"}, 422, "invalid", "code"),
    ({"code": "NEW", "name": "X", "colour": "red"}, 422, "invalid", "colour"),
])
def test_bad_customers_are_refused_in_words_and_change_nothing(api, db, body, status, code, words):
    before = customers(db)
    message = refused(api("POST", "/customers", body), status, code)
    assert words in message
    assert customers(db) == before


def test_a_gln_belongs_to_one_customer(api, db):
    api("POST", "/customers", {"code": "A", "name": "A", "gln": "4000000000020"})
    api("POST", "/customers", {"code": "B", "name": "B"})
    before = customers(db)
    message = refused(api("PATCH", "/customers/B", {"gln": "4000000000020", "name": "Bee"}), 409, "gln_exists")
    assert message == "GLN 4000000000020 already belongs to customer A."
    assert customers(db) == before  # the name given with it did not change either
    refused(api("PATCH", "/customers/NOPE", {"name": "x"}), 404, "unknown_customer")
    refused(api("PATCH", "/customers/B", {"name": None}), 422, "invalid_name")
    assert customers(db) == before


def test_only_supervisors_and_admins_write_customers(api, db):
    before = customers(db)
    response = api("POST", "/customers", {"code": "P", "name": "P"}, role=Role.PICKER)
    assert response.status_code == 403
    assert api("PATCH", "/customers/SHOP", {"active": False}, role=Role.PICKER).status_code == 403
    assert customers(db) == before
    assert api("POST", "/customers", {"code": "P", "name": "P"}, role=Role.ADMIN).status_code == 201
    assert api("GET", "/customers", role=Role.PICKER).status_code == 200


def test_catalog_create_customer_still_works(db, site):
    from station.services import catalog
    with db.write() as s:
        made = catalog.create_customer(s, code="OLD", name="Old way")
        assert (made.code, made.active, made.min_shelf_life_days) == ("OLD", True, None)
