"""Recalls over the JSON API on SQLite and PostgreSQL: start (lot or supplier lot) -> 201 the report,
list, read, retrieved, notified, close; refusals are JSON errors in words and change nothing."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from station.models import Recall, RecallEvent, Role
from station.services.tokens import create_token

from actions import Api
from test_floor_api import refused
from test_recalls import build_site, snapshot, statuses


@pytest.fixture
def api(client, database) -> Api:
    with database.write() as s:
        token = create_token(s, "qa-system", Role.SUPERVISOR)
    return Api(client, token)


def test_start_read_follow_up_and_close(api, database):
    site = build_site(database)
    created = api.post("/recalls", {"lot": site.a, "reason": "Customer complaint"})
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    number = body["number"]
    assert created.headers["Location"].endswith(f"/api/v1/recalls/{number}")
    assert body["status"] == "open" and body["source"] == f"lot {site.a}" and body["lot_number"] == site.a
    lots = {lot["lot_number"]: lot for lot in body["lots"]}
    assert set(lots) == {site.a, site.p, site.q, site.s, site.c}
    assert lots[site.q]["depth"] == 2 and lots[site.s]["status_before"] == "hold"
    assert lots[site.p]["stock_now"] == [{"location": "LINE-1", "qty": "3"}, {"location": "SHIP", "qty": "2"}]
    assert {c["code"]: c["shipped"] for c in body["customers"]} == {"SHOP": "6", "BIG": "21"}
    big = next(c for c in body["customers"] if c["code"] == "BIG")
    assert [(s["order"], s["lot_number"], s["qty"]) for s in big["shipments"]] == [
        ("SO-2", site.a, "10"), ("SO-2", site.q, "3"), ("SO-3", site.c, "8")]
    assert body["progress"] == {"lots": 5, "lots_stopped": 5, "stock_at_start": "68", "stock_now": "68",
                                "shipped": "27", "retrieved": "0", "to_retrieve": "95", "customers": 2, "notified": 0}
    assert body["events"][0]["action"] == "open" and "[API token qa-system]" in body["events"][0]["note"]

    listed = api.get("/recalls").get_json()["recalls"]
    assert [(r["number"], r["status"], r["lots"], r["customers"]) for r in listed] == [(number, "open", 5, 2)]
    assert api.get("/recalls?status=closed").get_json() == {"recalls": []}
    assert api.get(f"/recalls/{number}").get_json() == body

    got = api.post(f"/recalls/{number}/retrieved", {"lot": site.p, "qty": 5, "customer": "SHOP", "note": "van"})
    assert got.status_code == 200 and got.get_json()["progress"]["retrieved"] == "5"
    back = next(lot for lot in got.get_json()["lots"] if lot["lot_number"] == site.p)
    assert {"location": "Q-DOCK", "qty": "5"} in back["stock_now"]  # booked into the quarantine place
    refused(api.post(f"/recalls/{number}/retrieved", {"lot": site.p, "qty": 1}), 422, "choose_source",
            "LINE-1 (3), SHIP (2)")
    refused(api.post(f"/recalls/{number}/retrieved", {"lot": site.p, "qty": 1, "location": "LINE-1",
                                                      "customer": "SHOP"}), 422, "invalid", "not both")
    refused(api.post(f"/recalls/{number}/retrieved", {"lot": site.p, "qty": 7}), 409, "over_retrieved", "at most 11")
    told = api.post(f"/recalls/{number}/notified", {"customer": "SHOP", "note": "e-mail to QA"})
    shop = next(c for c in told.get_json()["customers"] if c["code"] == "SHOP")
    assert shop["notified_at"] and shop["note"] == "e-mail to QA [API token qa-system]"
    refused(api.post(f"/recalls/{number}/close", {"reason": "done"}), 409, "customers_not_notified", "Big Co")
    api.post(f"/recalls/{number}/notified", {"customer": "BIG"})
    closed = api.post(f"/recalls/{number}/close", {"reason": "Everyone told, stock destroyed"})
    assert closed.status_code == 200 and closed.get_json()["status"] == "closed"
    assert closed.get_json()["lots"][0]["status_now"] == "recalled"
    refused(api.post(f"/recalls/{number}/notified", {"customer": "BIG"}), 409, "recall_closed")


def test_supplier_lot_recall(api, database):
    site = build_site(database)
    created = api.post("/recalls", {"supplier": "ACME", "supplier_lot": "S-77", "reason": "Supplier notice"})
    assert created.status_code == 201
    body = created.get_json()
    assert body["supplier"] == "ACME" and body["supplier_lot"] == "S-77" and body["lot_number"] is None
    assert {lot["lot_number"] for lot in body["lots"] if lot["depth"] == 0} == {site.a, site.a2}


def test_refusals_change_nothing(api, database):
    site = build_site(database)
    with database.read() as s:
        before = (snapshot(s), statuses(s))
    refused(api.post("/recalls", {"lot": "NOPE", "reason": "x"}), 422, "unknown_lot", "There is no lot 'NOPE'")
    refused(api.post("/recalls", {"supplier": "ACME", "supplier_lot": "S-00", "reason": "x"}), 422,
            "no_supplier_lot", "Nothing was received here")
    refused(api.post("/recalls", {"lot": site.a}), 422, "invalid", "reason: is required")
    refused(api.post("/recalls", {"lot": site.a, "reason": ""}), 422, "invalid", "reason")
    refused(api.post("/recalls", {"reason": "x"}), 422, "invalid", "Give lot, or supplier and supplier_lot")
    refused(api.post("/recalls", {"lot": site.a, "supplier": "ACME", "supplier_lot": "S-77", "reason": "x"}), 422,
            "invalid", "not both")
    refused(api.get("/recalls/R-1999-0001"), 404, "unknown_recall", "There is no recall")
    refused(api.post("/recalls/R-1999-0001/close", {"reason": "x"}), 404, "unknown_recall")
    with database.read() as s:
        assert (snapshot(s), statuses(s)) == before
        assert s.scalar(select(Recall.id)) is None and s.scalar(select(RecallEvent.id)) is None
    number = api.post("/recalls", {"lot": site.a, "reason": "first"}).get_json()["number"]
    refused(api.post("/recalls", {"lot": site.a, "reason": "again"}), 409, "already_recalled", number)
    refused(api.post(f"/recalls/{number}/retrieved", {"lot": site.b, "qty": 1}), 422, "lot_not_in_recall")
    refused(api.post(f"/recalls/{number}/retrieved", {"lot": site.a, "qty": 0}), 422, "invalid", "qty")
    refused(api.post(f"/recalls/{number}/notified", {"customer": "OTHER"}), 422, "customer_not_in_recall")


def test_the_routes_are_in_the_openapi_document(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert set(paths["/api/v1/recalls"]) == {"get", "post"}
    for suffix in ("retrieved", "notified", "close"):
        assert "post" in paths["/api/v1/recalls/{number}/" + suffix]
    assert "get" in paths["/api/v1/recalls/{number}"]
    assert "409" in paths["/api/v1/recalls"]["post"]["responses"]


def test_a_token_is_needed(client):
    assert client.get("/api/v1/recalls").status_code == 401
