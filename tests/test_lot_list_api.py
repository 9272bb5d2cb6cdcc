"""GET /api/v1/lots on SQLite and PostgreSQL: filters by item, status, location and expiry, keyset pages
that neither repeat nor skip a lot, bad filters refused in words (422 naming the field), every role may
look, the OpenAPI document describes it, and the filters walk an index instead of every lot."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text

from station import clock
from station.api import lot_list_views, openapi  # noqa: F401 - fill the route registry
from station.models import LotStatus, Role
from station.services import catalog
from station.services.lot_search import LotFilter, lot_query
from station.services.tokens import create_token

D = dt.timedelta


@pytest.fixture
def db(app):
    return app.extensions["station.db"]


@pytest.fixture
def get(client, db):
    with db.write() as s:
        secret = create_token(s, "reader", Role.PICKER)

    def call(query: str = ""):
        return client.get("/api/v1/lots" + query, headers={"Authorization": f"Bearer {secret}"})

    return call


@pytest.fixture
def site(site):
    today = clock.today()
    site.lot("milk_soon", "MILK", 6, location="A-01", expiry=today + D(days=5))
    site.lot("milk_late", "MILK", 50, location="A-02", expiry=today + D(days=20))
    site.lot("milk_held", "MILK", 10, location="A-01", expiry=today + D(days=3), hold="Seal check")
    site.lot("bolt", "BOLT", 10, location="A-02")
    site.lot("cake", "CAKE", 4, location="DOCK", expiry=today + D(days=8))
    site.move("milk_late", 20, "A-02", "A-01")
    return site


def numbers(response) -> list[str]:
    assert response.status_code == 200, response.get_json()
    return [lot["lot_number"] for lot in response.get_json()["data"]]


def test_every_lot_oldest_first_with_its_stock(get, site):
    body = get().get_json()
    assert [lot["lot_number"] for lot in body["data"]] == [
        site["milk_soon"], site["milk_late"], site["milk_held"], site["bolt"], site["cake"]]
    assert body["next_after"] is None
    late = body["data"][1]
    assert (late["item"], late["status"], late["on_hand"]) == ({"sku": "MILK", "name": "Milk 1 L"}, "available", "50")
    assert [(s["location"], s["qty"]) for s in late["stock"]] == [("A-01", "20"), ("A-02", "30")]
    assert late["expiry"] == (clock.today() + D(days=20)).isoformat()


def test_filters_by_item_status_location_and_expiry(get, site):
    today = clock.today()
    assert numbers(get("?item=MILK")) == [site["milk_soon"], site["milk_late"], site["milk_held"]]
    assert numbers(get("?status=hold")) == [site["milk_held"]]
    assert numbers(get("?status=available&item=MILK")) == [site["milk_soon"], site["milk_late"]]
    assert numbers(get("?location=A-01")) == [site["milk_soon"], site["milk_late"], site["milk_held"]]
    assert numbers(get("?location=A-02&item=BOLT")) == [site["bolt"]]
    assert numbers(get("?location=SHIP")) == []
    # before/after are strict, soonest expiry first; lots without an expiry (BOLT) are left out of both
    assert numbers(get(f"?expires_before={(today + D(days=8)).isoformat()}")) == [
        site["milk_held"], site["milk_soon"]]
    assert numbers(get(f"?expires_after={(today + D(days=5)).isoformat()}")) == [site["cake"], site["milk_late"]]
    assert numbers(get(f"?expires_after={(today + D(days=3)).isoformat()}"
                       f"&expires_before={(today + D(days=20)).isoformat()}")) == [site["milk_soon"], site["cake"]]
    assert numbers(get(f"?item=MILK&expires_after={(today + D(days=4)).isoformat()}")) == [
        site["milk_soon"], site["milk_late"]]


def test_pages_by_expiry_follow_the_cursor(get, site):
    today = clock.today()
    site.lot("cake_twin", "CAKE", 1, location="A-01", expiry=today + D(days=8))  # the same day as `cake`
    first = get(f"?expires_after={today.isoformat()}&limit=3").get_json()
    assert [lot["lot_number"] for lot in first["data"]] == [site["milk_held"], site["milk_soon"], site["cake"]]
    rest = get(f"?expires_after={today.isoformat()}&limit=3&after={first['next_after']}").get_json()
    assert [lot["lot_number"] for lot in rest["data"]] == [site["cake_twin"], site["milk_late"]]
    assert rest["next_after"] is None
    with site.read() as s:  # a cursor that is no lot of an expiry list (BOLT has no expiry)
        bolt_id = catalog.lot_by_number(s, site["bolt"]).id
    bad = get(f"?expires_after={today.isoformat()}&after={bolt_id}")
    assert bad.status_code == 422 and bad.get_json()["error"]["field"] == "after"


def test_pages_follow_the_cursor_without_repeating_or_skipping(get, site):
    seen, after = [], None
    pages = 0
    while True:
        body = get("?limit=2" + (f"&after={after}" if after else "")).get_json()
        seen += [lot["lot_number"] for lot in body["data"]]
        pages += 1
        after = body["next_after"]
        if after is None:
            break
        # a lot received between two pages comes at the end, never in a page already read
        if pages == 1:
            site.lot("new", "BOLT", 1, location="A-01")
    assert seen == [site["milk_soon"], site["milk_late"], site["milk_held"], site["bolt"], site["cake"], site["new"]]
    assert pages == 3


@pytest.mark.parametrize("query, field, words", [
    ("?item=NOPE", "item", "NOPE"),
    ("?location=Z-99", "location", "Z-99"),
    ("?status=lost", "status", "available"),
    ("?expires_before=2026-02-31", "expires_before", "date"),
    ("?expires_after=2026-06-20&expires_before=2026-06-10", "expires_after", "earlier day"),
    ("?limit=0", "limit", "1"),
    ("?after=-3", "after", "1"),
    ("?colour=red", "colour", ""),
])
def test_bad_filters_are_422_in_words(get, site, query, field, words):
    response = get(query)
    assert response.status_code == 422, response.get_json()
    error = response.get_json()["error"]
    assert field in (error.get("field") or "") + error["message"], error
    assert words in error["message"], error


def test_without_a_token_it_is_refused(client, site):
    assert client.get("/api/v1/lots").status_code == 401


def test_openapi_describes_the_filters_and_the_page(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    op = doc["paths"]["/api/v1/lots"]["get"]
    names = {p["name"] for p in op["parameters"]}
    assert {"item", "status", "location", "expires_before", "expires_after", "after", "limit"} <= names
    schema = op["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema["$ref"].endswith("/LotPage")


def _plan(session, query) -> str:
    statement = query.compile(session.get_bind(), compile_kwargs={"literal_binds": True})
    prefix = "EXPLAIN QUERY PLAN " if session.get_bind().dialect.name == "sqlite" else "EXPLAIN "
    return "\n".join(" ".join(str(c) for c in row) for row in session.execute(text(prefix + str(statement))))


def test_filters_use_an_index_not_a_walk_over_every_lot(db, site):
    today = clock.today()
    with db.write() as s:
        if s.get_bind().dialect.name == "postgresql":
            s.execute(text("SET LOCAL enable_seqscan = off"))  # a tiny table: ask which index it can use
        milk = catalog.item_by_sku(s, "MILK")
        a01 = catalog.location_by_code(s, "A-01")
        plans = {
            "item": _plan(s, lot_query(LotFilter(item=milk)).limit(101)),
            "expiry": _plan(s, lot_query(LotFilter(expires_before=today + D(days=4))).limit(101)),
            "status": _plan(s, lot_query(LotFilter(status=LotStatus.HOLD)).limit(101)),
            "location": _plan(s, lot_query(LotFilter(location=a01)).limit(101)),
        }
    wanted = {"item": ("ix_lots_item_id", "ix_lots_fifo", "ix_lots_fefo"), "expiry": ("ix_lots_expiry",),
              "status": ("ix_lots_status",), "location": ("ix_stock_location_id", "ix_stock_lot_id")}
    for name, plan in plans.items():
        assert any(index in plan for index in wanted[name]), (name, plan)
        assert "SCAN lots\n" not in plan + "\n" and "Seq Scan on lots" not in plan, (name, plan)
