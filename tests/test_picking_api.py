"""POST /api/v1/picks and /api/v1/shipments on SQLite and PostgreSQL: the pick page's rules and words,
as JSON; refusals change nothing; both in the OpenAPI document."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

import factories as f
from station import clock
from station.api import openapi, picking_views  # noqa: F401 - fill the route registry
from station.models import LotStatus, Movement, MovementKind, Order, OrderStatus, Role, Stock
from station.services import holds
from station.services.tokens import create_token


@pytest.fixture
def db(app):
    return app.extensions["station.db"]


@pytest.fixture
def api(client, db):
    with db.write() as s:
        secret = create_token(s, "erp", Role.SUPERVISOR)

    def call(path: str, body):
        return client.post("/api/v1" + path, json=body, headers={"Authorization": f"Bearer {secret}"})

    return call


@pytest.fixture
def site(db):
    """MILK (FEFO): `soon` (6 at A-01) is suggested before `later` (50 at A-02); `held` and `expired`
    must not leave; BOLT 10 at A-01. Order SO-7: 10 MILK, 4 BOLT."""
    f.basic_site(db)
    today, days = clock.today(), dt.timedelta
    with db.write() as s:
        soon = f.received_lot(s, "MILK", 6, location="A-01", expiry=today + days(5), on=today)
        later = f.received_lot(s, "MILK", 50, location="A-02", expiry=today + days(20), on=today)
        held = f.received_lot(s, "MILK", 10, location="A-01", expiry=today + days(3), on=today)
        holds.hold(s, held, "Seal check")
        expired = f.received_lot(s, "MILK", 10, location="A-02", expiry=today - days(1),
                                 produced=today - days(20), on=today - days(20))
        bolt = f.received_lot(s, "BOLT", 10, location="A-01", on=today)
        f.order(s, "SO-7", [("MILK", 10), ("BOLT", 4)])
        return {k: v.lot_number for k, v in dict(soon=soon, later=later, held=held, expired=expired,
                                                  bolt=bolt).items()}


def state(db) -> tuple:
    with db.read() as s:
        return (sorted(s.execute(select(Stock.lot_id, Stock.location_id, Stock.qty)).all()),
                s.scalar(select(Order.status).where(Order.number == "SO-7")),
                len(s.scalars(select(Movement.id).where(Movement.kind == MovementKind.PICK)).all()))


def error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.get_json()
    body = response.get_json()["error"]
    assert body["code"] == code, body
    return body


def test_picking_the_suggested_lot_then_the_rest_and_shipping(api, db, site):
    first = api("/picks", {"order": "SO-7", "line": 1, "lot": site["soon"], "qty": 6})
    assert first.status_code == 201, first.get_json()
    body = first.get_json()
    assert {k: body[k] for k in ("order", "line", "lot_number", "qty", "from_location", "to_location",
                                  "followed_suggestion", "override_reason", "line_picked", "line_open",
                                  "order_status")} == {
        "order": "SO-7", "line": 1, "lot_number": site["soon"], "qty": 6, "from_location": "A-01",
        "to_location": "SHIP", "followed_suggestion": True, "override_reason": None, "line_picked": 6,
        "line_open": 4, "order_status": "picking"}
    assert body["item"] == {"sku": "MILK", "name": "Milk 1 L"}

    assert api("/picks", {"order": "SO-7", "line": 1, "lot": site["later"], "qty": 4}).status_code == 201
    last = api("/picks", {"order": "SO-7", "line": 2, "lot": site["bolt"], "location": "A-01", "qty": 4})
    assert last.get_json()["order_status"] == "picked"

    shipped = api("/shipments", {"order": "SO-7"})
    assert shipped.status_code == 201, shipped.get_json()
    out = shipped.get_json()
    assert out["order"] == "SO-7" and out["status"] == "shipped" and out["customer"] == "SHOP"
    assert [(l["line"], l["ordered"], l["shipped"]) for l in out["lines"]] == [(1, 10, 10), (2, 4, 4)]
    assert sorted((s["lot_number"], s["qty"], s["from_location"]) for s in out["shipped"]) == sorted(
        [(site["soon"], 6, "SHIP"), (site["later"], 4, "SHIP"), (site["bolt"], 4, "SHIP")])
    with db.read() as s:
        assert s.scalar(select(Order.status).where(Order.number == "SO-7")) is OrderStatus.SHIPPED
        f.assert_books_balance(s)
    error(api("/shipments", {"order": "SO-7"}), 409, "order_closed")


def test_a_younger_lot_needs_an_override_reason(api, db, site):
    before = state(db)
    refused = error(api("/picks", {"order": "SO-7", "line": 1, "lot": site["later"], "qty": 10}), 409,
                    "override_reason_required")
    assert refused["message"] == (f"Lot {site['later']} expires later than the suggested lot {site['soon']}, "
                                  f"which is at A-01.")
    assert refused["suggested_lot"] == site["soon"] and refused["suggested_location"] == "A-01"
    assert state(db) == before

    done = api("/picks", {"order": "SO-7", "line": 1, "lot": site["later"], "qty": 10,
                          "override_reason": "Customer asked for a single lot on the order"})
    assert done.status_code == 201
    assert done.get_json()["followed_suggestion"] is False
    assert done.get_json()["override_reason"] == "Customer asked for a single lot on the order"


@pytest.mark.parametrize("which, status, code, words", [
    ("held", 409, "lot_not_pickable", "is on hold — QA release needed"),
    ("expired", 409, "lot_not_pickable", "expired on"),
    ("bolt", 409, "wrong_item", "Wrong item: lot"),
])
def test_refusals_are_json_in_the_pickers_words_and_change_nothing(api, db, site, which, status, code, words):
    before = state(db)
    body = error(api("/picks", {"order": "SO-7", "line": 1, "lot": site[which], "qty": 1}), status, code)
    assert words in body["message"], body
    assert state(db) == before


def test_too_much_or_an_unknown_order_line_lot_or_place(api, db, site):
    before = state(db)
    error(api("/picks", {"order": "SO-7", "line": 1, "lot": site["soon"], "qty": 11}), 409, "over_pick")
    short = error(api("/picks", {"order": "SO-7", "line": 1, "lot": site["soon"], "qty": 8}), 409,
                  "insufficient_stock")
    assert short["message"] == f"Only 6 of lot {site['soon']} at A-01; 8 asked."
    assert error(api("/picks", {"order": "SO-404", "line": 1, "lot": site["soon"], "qty": 1}), 422,
                 "unknown_order")["field"] == "order"
    assert error(api("/picks", {"order": "SO-7", "line": 9, "lot": site["soon"], "qty": 1}), 422,
                 "unknown_line")["field"] == "line"
    assert error(api("/picks", {"order": "SO-7", "line": 1, "lot": "NOPE", "qty": 1}), 422,
                 "unknown_lot")["field"] == "lot"
    assert error(api("/picks", {"order": "SO-7", "line": 1, "lot": site["soon"], "location": "B-99",
                                "qty": 1}), 422, "unknown_location")["field"] == "location"
    invalid = error(api("/picks", {"order": "SO-7", "line": 1, "lot": site["soon"], "qty": 0}), 422, "invalid")
    assert invalid["fields"][0]["field"] == "qty"
    error(api("/picks", {"order": "SO-7", "line": 1, "lot": site["soon"], "qty": 1, "extra": 1}), 422, "invalid")
    assert state(db) == before
    error(api("/shipments", {"order": "SO-7"}), 409, "nothing_picked")
    error(api("/shipments", {"order": "SO-404"}), 422, "unknown_order")


def test_a_recalled_lot_cannot_be_picked(api, db, site):
    with db.write() as s:
        from station.services import catalog
        catalog.lot_by_number(s, site["soon"]).status = LotStatus.RECALLED
    body = error(api("/picks", {"order": "SO-7", "line": 1, "lot": site["soon"], "qty": 1}), 409, "lot_not_pickable")
    assert "is recalled — it must not leave the site" in body["message"]


def test_both_operations_are_in_the_openapi_document(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    pick = doc["paths"]["/api/v1/picks"]["post"]
    ship = doc["paths"]["/api/v1/shipments"]["post"]
    assert set(pick["responses"]) >= {"201", "401", "409", "422"}
    assert set(ship["responses"]) >= {"201", "401", "409", "422"}
    schemas = doc["components"]["schemas"]
    body = next(v for k, v in schemas.items() if k.startswith("PickIn"))
    assert set(body["required"]) == {"order", "line", "lot", "qty"}
    assert "override_reason" in body["properties"]
