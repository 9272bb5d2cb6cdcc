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
def site(site):
    """MILK (FEFO): `soon` (6 at A-01) is suggested before `later` (50 at A-02); `held` and `expired`
    must not leave; BOLT 10 at A-01. Order SO-7: 10 MILK, 4 BOLT."""
    today, days = clock.today(), dt.timedelta
    site.lot("soon", "MILK", 6, location="A-01", expiry=today + days(5))
    site.lot("later", "MILK", 50, location="A-02", expiry=today + days(20))
    site.lot("held", "MILK", 10, location="A-01", expiry=today + days(3), hold="Seal check")
    site.lot("expired", "MILK", 10, location="A-02", expiry=today - days(1), produced=today - days(20),
             on=today - days(20))
    site.lot("bolt", "BOLT", 10, location="A-01")
    site.order("SO-7", [("MILK", 10), ("BOLT", 4)])
    return site


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
        "order": "SO-7", "line": 1, "lot_number": site["soon"], "qty": "6", "from_location": "A-01",
        "to_location": "SHIP", "followed_suggestion": True, "override_reason": None, "line_picked": "6",
        "line_open": "4", "order_status": "picking"}
    assert body["item"] == {"sku": "MILK", "name": "Milk 1 L"}

    assert api("/picks", {"order": "SO-7", "line": 1, "lot": site["later"], "qty": 4}).status_code == 201
    last = api("/picks", {"order": "SO-7", "line": 2, "lot": site["bolt"], "location": "A-01", "qty": 4})
    assert last.get_json()["order_status"] == "picked"

    shipped = api("/shipments", {"order": "SO-7"})
    assert shipped.status_code == 201, shipped.get_json()
    out = shipped.get_json()
    assert out["order"] == "SO-7" and out["status"] == "shipped" and out["customer"] == "SHOP"
    assert [(l["line"], l["ordered"], l["shipped"]) for l in out["lines"]] == [(1, "10", "10"), (2, "4", "4")]
    assert sorted((s["lot_number"], s["qty"], s["from_location"]) for s in out["shipped"]) == sorted(
        [(site["soon"], "6", "SHIP"), (site["later"], "4", "SHIP"), (site["bolt"], "4", "SHIP")])
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
    assert set(body["required"]) == {"order", "line"}  # the lot and qty, or the label (code) that says them
    assert [option["required"] for option in body["anyOf"]] == [["lot"], ["code"]]
    assert {"override_reason", "code", "qty", "pieces"} <= set(body["properties"])


# --- the item's policy: refuse a younger lot ---------------------------------------------------------


@pytest.fixture
def token(db):
    with db.write() as s:
        return create_token(s, "supervisor", Role.SUPERVISOR)


def call(client, token, method: str, path: str, body=None):
    return client.open("/api/v1" + path, method=method, json=body, headers={"Authorization": f"Bearer {token}"})


def test_an_item_created_with_the_policy_shows_it(client, token, db, site):
    made = call(client, token, "POST", "/items", {"sku": "AMOX", "name": "Amoxicillin 500 mg",
                                                   "removal_strategy": "FEFO", "refuse_younger_lots": True})
    assert made.status_code == 201, made.get_json()
    assert made.get_json()["refuse_younger_lots"] is True
    assert call(client, token, "GET", "/items/AMOX").get_json()["refuse_younger_lots"] is True
    plain = call(client, token, "POST", "/items", {"sku": "PLAIN", "name": "Plain"}).get_json()
    assert plain["refuse_younger_lots"] is False
    listed = {i["sku"]: i["refuse_younger_lots"] for i in call(client, token, "GET", "/items?limit=100").get_json()["data"]}
    assert listed["AMOX"] is True and listed["MILK"] is False
    error(call(client, token, "POST", "/items", {"sku": "X1", "name": "X", "refuse_younger_lots": "yes"}), 422,
          "invalid")


def test_a_supervisor_switches_the_policy_on_and_a_younger_lot_is_refused_whatever_the_reason(api, client, token,
                                                                                              db, site):
    changed = call(client, token, "PATCH", "/items/MILK", {"refuse_younger_lots": True})
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["sku"] == "MILK" and changed.get_json()["refuse_younger_lots"] is True
    before = state(db)
    for reason in (None, "Customer asked for a single lot on the order"):
        body = {"order": "SO-7", "line": 1, "lot": site["later"], "qty": 4}
        if reason:
            body["override_reason"] = reason
        refused = error(api("/picks", body), 409, "younger_lot_refused")
        assert refused["message"] == (f"Lot {site['later']} expires later than lot {site['soon']} — take "
                                      f"{site['soon']} from A-01; this item must go soonest-expiring first.")
        assert refused["suggested_lot"] == site["soon"] and refused["suggested_location"] == "A-01"
    assert state(db) == before

    off = call(client, token, "PATCH", "/items/MILK", {"refuse_younger_lots": False})
    assert off.get_json()["refuse_younger_lots"] is False
    error(api("/picks", {"order": "SO-7", "line": 1, "lot": site["later"], "qty": 4}), 409,
          "override_reason_required")
    assert api("/picks", {"order": "SO-7", "line": 1, "lot": site["soon"], "qty": 6}).status_code == 201


def test_changing_the_policy_of_an_unknown_item_or_with_a_bad_body(client, token, site):
    error(call(client, token, "PATCH", "/items/NOPE", {"refuse_younger_lots": True}), 404, "unknown_item")
    error(call(client, token, "PATCH", "/items/MILK", {}), 422, "invalid")
    error(call(client, token, "PATCH", "/items/MILK", {"refuse_younger_lots": True, "name": "x"}), 422, "invalid")
    assert call(client, token, "GET", "/items/MILK").get_json()["refuse_younger_lots"] is False


# --- taking a pick back ------------------------------------------------------------------------------


def test_a_pick_taken_back_over_the_api(api, db, site):
    pick = api("/picks", {"order": "SO-7", "line": 1, "lot": site["soon"], "qty": 6}).get_json()
    undone = api(f"/picks/{pick['id']}/undo", {"reason": "Wrong pallet scanned"})
    assert undone.status_code == 201, undone.get_json()
    body = undone.get_json()
    assert {k: body[k] for k in ("kind", "undoes", "reference", "order", "line", "lot_number", "qty",
                                  "from_location", "to_location", "reason", "line_picked", "line_open",
                                  "order_status")} == {
        "kind": "unpick", "undoes": pick["id"], "reference": f"undo of movement {pick['id']}", "order": "SO-7",
        "line": 1, "lot_number": site["soon"], "qty": "6", "from_location": "SHIP", "to_location": "A-01",
        "reason": "Wrong pallet scanned", "line_picked": "0", "line_open": "10", "order_status": "open"}
    assert body["item"] == {"sku": "MILK", "name": "Milk 1 L"}
    with db.read() as s:
        row = s.get(Movement, body["id"])
        assert row.kind is MovementKind.UNPICK and row.order_line_id is not None
        f.assert_books_balance(s)

    before = state(db)
    again = error(api(f"/picks/{pick['id']}/undo", {}), 409, "already_undone")
    assert again["message"] == f"The pick of 6 ea of lot {site['soon']} from A-01 has already been taken back."
    assert error(api(f"/picks/{body['id']}/undo", {}), 409, "not_a_pick")["message"] == (
        f"Movement {body['id']} is a pick taken back, not a pick — only a pick can be taken back.")
    error(api("/picks/999999/undo", {}), 404, "unknown_movement")
    error(api(f"/picks/{pick['id']}/undo", {"reason": "x" * 201}), 422, "invalid")
    assert state(db) == before


def test_undo_then_ship_and_no_undo_after_shipping(api, db, site):
    first = api("/picks", {"order": "SO-7", "line": 1, "lot": site["soon"], "qty": 6}).get_json()
    api("/picks", {"order": "SO-7", "line": 1, "lot": site["later"], "qty": 4})
    bolt = api("/picks", {"order": "SO-7", "line": 2, "lot": site["bolt"], "qty": 4}).get_json()
    assert bolt["order_status"] == "picked"
    assert api(f"/picks/{bolt['id']}/undo", {}).get_json()["order_status"] == "picking"
    # BOLT is still there to pick: the API ships it short only with a reason, as the page does
    before = state(db)
    refused = error(api("/shipments", {"order": "SO-7"}), 409, "short_reason_required")
    assert refused["message"] == (f"Not everything is picked: line 2 (BOLT) still needs 4 ea and lot {site['bolt']} "
                                  f"is at A-01. Pick it, report it short, or give the reason it ships short.")
    assert refused["lines"] == [2]
    assert state(db) == before
    error(api("/shipments", {"order": "SO-7", "short_reason": "   "}), 409, "short_reason_required")  # blank: none
    assert state(db) == before
    shipped = api("/shipments", {"order": "SO-7", "short_reason": "Customer takes BOLT next week"}).get_json()
    assert [(l["line"], l["ordered"], l["shipped"], l["short_qty"], l["short_reason"]) for l in shipped["lines"]] == [
        (1, "10", "10", "0", None), (2, "4", "0", "4", "Customer takes BOLT next week")]
    assert sorted(s["lot_number"] for s in shipped["shipped"]) == sorted([site["soon"], site["later"]])
    before = state(db)
    late = error(api(f"/picks/{first['id']}/undo", {}), 409, "order_closed")
    assert late["message"] == f"Order SO-7 is shipped — the pick of 6 ea of lot {site['soon']} cannot be taken back."
    assert state(db) == before
    with db.read() as s:
        f.assert_books_balance(s)


def test_the_shipment_shows_each_short_line_with_its_reason(api, db, site):
    from station.services import picking

    api("/picks", {"order": "SO-7", "line": 1, "lot": site["soon"], "qty": 6})
    with db.write() as s:  # the picker found none of `later` at A-02, and said so
        order = s.scalar(select(Order).where(Order.number == "SO-7"))
        picking.short_pick(s, line=order.lines[0], reason="Not at the location")
    api("/picks", {"order": "SO-7", "line": 2, "lot": site["bolt"], "qty": 4})
    out = api("/shipments", {"order": "SO-7"}).get_json()
    assert [(l["line"], l["shipped"], l["short_qty"], l["short_reason"]) for l in out["lines"]] == [
        (1, "6", "4", "Not at the location"), (2, "4", "0", None)]


def test_the_undo_and_the_item_change_are_in_the_openapi_document(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    undo = doc["paths"]["/api/v1/picks/{movement_id}/undo"]["post"]
    assert set(undo["responses"]) >= {"201", "401", "404", "409", "422"}
    change = doc["paths"]["/api/v1/items/{sku}"]["patch"]
    assert set(change["responses"]) >= {"200", "401", "404", "422"}
    schemas = doc["components"]["schemas"]
    assert "refuse_younger_lots" in next(v for k, v in schemas.items() if k.startswith("ItemOut"))["properties"]
    assert "refuse_younger_lots" in next(v for k, v in schemas.items() if k.startswith("ItemIn"))["properties"]
    line = next(v for k, v in schemas.items() if k.startswith("ShipmentLineOut"))
    assert {"short_qty", "short_reason"} <= set(line["properties"])
    shipment = next(v for k, v in schemas.items() if k.startswith("ShipmentIn"))
    assert "short_reason_required" in shipment["properties"]["short_reason"]["description"]
    assert next(v for k, v in schemas.items() if k.startswith("PickUndoOut"))["properties"]["kind"]
