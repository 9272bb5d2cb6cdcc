"""Events the floor writes (services/events.py), on SQLite and PostgreSQL: each change through its real
path (the JSON API, a station's put-away scans) writes exactly one event of its type, in its own
transaction, with a body that stands alone; a refused change writes none."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy import inspect as sa_inspect

from actions import Api
from factories import gtin13
from factories import operator as make_operator
from station import clock
from station.models import Event, Role
from station.services import catalog, event_bodies, events, picking, production, receiving, stock
from station.services.errors import DomainError
from station.services.tokens import create_token
from station.workflows import intake
from station.workflows import putaway as putaway_workflow
from station.workflows.intake import ScanIn

SSCC = "376130321109103420"
TODAY = clock.today()


def days(n: int) -> dt.date:
    return TODAY + dt.timedelta(days=n)


@pytest.fixture
def api(client, database) -> Api:
    with database.write() as s:
        token = create_token(s, "erp", Role.SUPERVISOR)
    return Api(client, token)


@pytest.fixture
def site(site):
    """The small site: MILK (FEFO) `soon` 6 at A-01, `later` 50 at A-02, `held` 10 at A-01 (on hold);
    BOLT 10 at A-01; order SO-1 of 10 MILK and 4 BOLT for SHOP."""
    site.lot("soon", "MILK", 6, location="A-01", expiry=days(5))
    site.lot("later", "MILK", 50, location="A-02", expiry=days(20))
    site.lot("held", "MILK", 10, location="A-01", expiry=days(3), hold="Seal check")
    site.lot("bolt", "BOLT", 10, location="A-01")
    site.order("SO-1", [("MILK", 10), ("BOLT", 4)])
    return site


def head(database) -> int:
    with database.read() as s:
        return s.scalar(select(func.max(Event.position))) or 0


def since(database, mark: int) -> list[dict]:
    """The events committed after position `mark`, as the feed gives them."""
    with database.read() as s:
        return events.feed(s, after=mark, limit=1000).events


def one(database, mark: int, type: str) -> dict:
    """The only event written since `mark`; it is of `type`."""
    written = since(database, mark)
    assert [e["type"] for e in written] == [type], written
    return written[0]


def ok(response, status: int = 201) -> dict:
    assert response.status_code == status, response.get_json()
    return response.get_json()


def refused(response, status: int, code: str) -> None:
    assert response.status_code == status, response.get_json()
    assert response.get_json()["error"]["code"] == code, response.get_json()


# --- receipt.booked --------------------------------------------------------------------------------


def test_a_receipt_against_an_expected_pallet_is_one_event_that_stands_alone(api, site, database):
    ok(api.post("/expected-receipts", {"supplier": "ACME", "reference": "PO-4711",
                                       "lines": [{"sku": "MILK", "qty": 40, "ssccs": [SSCC]}]}))
    mark = head(database)
    lot = ok(api.post("/receipts", {"sku": "MILK", "qty": 40, "sscc": SSCC, "supplier_lot": "S-77",
                                    "expiry": days(12).isoformat(), "produced": days(-2).isoformat(),
                                    "location": "DOCK"}))
    event = one(database, mark, "receipt.booked")
    assert (event["key"], event["schema"], event["via_api"], event["operator"]) == (
        f"lot:{lot['lot_number']}", 1, True, None)
    data = event["data"]
    assert {k: data[k] for k in ("new_lot", "qty", "location", "sscc", "expected_receipt")} == {
        "new_lot": True, "qty": "40", "location": {"code": "DOCK", "kind": "dock"}, "sscc": SSCC,
        "expected_receipt": "PO-4711"}
    assert data["lot"] == {
        "number": lot["lot_number"], "status": "available", "on_hand": "40", "supplier_lot": "S-77",
        "expiry": days(12).isoformat(), "produced_on": days(-2).isoformat(), "received_on": TODAY.isoformat(),
        "origin": "receipt",
        "item": {"sku": "MILK", "name": "Milk 1 L", "unit": "ea", "gtins": ["0" + gtin13("400000000002")]},
        "supplier": {"code": "ACME", "name": "Acme Foods", "gln": "4000000000013"}}


def test_more_of_a_supplier_lot_is_a_receipt_of_the_same_lot(api, site, database):
    first = ok(api.post("/receipts", {"sku": "BOLT", "qty": 5, "supplier": "ACME", "supplier_lot": "B-1"}))
    mark = head(database)
    again = ok(api.post("/receipts", {"sku": "BOLT", "qty": 7, "supplier": "ACME", "supplier_lot": "B-1"}))
    assert again["lot_number"] == first["lot_number"]
    data = one(database, mark, "receipt.booked")["data"]
    assert (data["new_lot"], data["qty"], data["lot"]["on_hand"], data["sscc"], data["expected_receipt"]) == (
        False, "7", "12", None, None)


def test_a_decimal_receipt_tells_its_quantity_as_an_exact_decimal_string(api, site, database):
    """Flour counted in kg to 3 decimals: the feed says "12.345", never a JSON number an ERP would read
    through a binary float; more of the same supplier lot adds up to the last digit."""
    def receive(qty: Decimal) -> str:
        with database.write() as s:
            return receiving.receive(s, item=catalog.item_by_sku(s, "FLOUR"), qty=qty,
                                     location=catalog.location_by_code(s, "DOCK"),
                                     supplier=catalog.supplier_by_code(s, "ACME"), supplier_lot="F-1").lot_number

    with database.write() as s:
        catalog.create_item(s, sku="FLOUR", name="Flour T55", unit="kg", qty_decimals=3)
    mark = head(database)
    number = receive(Decimal("12.345"))
    data = one(database, mark, "receipt.booked")["data"]
    assert (data["qty"], data["lot"]["on_hand"], data["lot"]["item"]["unit"]) == ("12.345", "12.345", "kg")
    mark = head(database)
    assert receive(Decimal("0.005")) == number
    # What an integrator reads over HTTP: strings still, added up to the last digit.
    page = api.get(f"/events?after={mark}&types=receipt.booked")
    assert page.status_code == 200, page.get_json()
    assert [(e["data"]["qty"], e["data"]["lot"]["on_hand"]) for e in page.get_json()["events"]] == [("0.005", "12.35")]
    # One decimal more than the item is counted in is refused in words, and tells nothing.
    mark = head(database)
    with pytest.raises(DomainError, match="too many decimals"):
        receive(Decimal("1.2345"))
    assert since(database, mark) == []


def test_a_refused_receipt_writes_no_event(api, site, database):
    ok(api.post("/receipts", {"sku": "BOLT", "qty": 5, "sscc": SSCC}))
    mark = head(database)
    refused(api.post("/receipts", {"sku": "BOLT", "qty": 5, "sscc": SSCC}), 409, "sscc_already_received")
    refused(api.post("/receipts", {"sku": "BOLT", "qty": 0}), 422, "invalid")
    refused(api.post("/receipts", {"sku": "MILK", "qty": 3, "expiry": days(5).isoformat(),
                                   "produced": days(-1).isoformat(), "supplier": "NOPE"}), 422, "unknown_supplier")
    assert since(database, mark) == []


# --- lot.moved ---------------------------------------------------------------------------------------


def test_a_pallet_moved_by_the_api_is_one_lot_moved(api, site, database):
    number = site.lot("pallet", "BOLT", 120, location="DOCK", sscc=SSCC)
    mark = head(database)
    ok(api.post("/moves", {"sscc": SSCC, "to": "A-02"}))
    event = one(database, mark, "lot.moved")
    assert event["key"] == f"lot:{number}"
    data = event["data"]
    assert {k: data[k] for k in ("qty", "from", "to", "sscc", "pallets")} == {
        "qty": "120", "from": {"code": "DOCK", "kind": "dock"}, "to": {"code": "A-02", "kind": "storage"},
        "sscc": SSCC, "pallets": [{"sscc": SSCC, "qty": "120"}]}
    assert (data["lot"]["number"], data["lot"]["on_hand"]) == (number, "120")


def test_a_refused_move_writes_no_event(api, site, database):
    mark = head(database)
    refused(api.post("/moves", {"lot": site["bolt"], "qty": 11, "to": "A-02"}), 409, "insufficient_stock")
    refused(api.post("/moves", {"lot": site["bolt"], "qty": 3, "to": "A-01"}), 422, "same_location")
    refused(api.post("/moves", {"lot": site["bolt"], "qty": -3, "to": "A-02"}), 422, "invalid")
    assert since(database, mark) == []


def test_a_move_scanned_at_a_station_names_the_station_and_the_operator(site, database):
    site.lot("pallet", "BOLT", 120, location="DOCK", sscc=SSCC)
    site.station("Dock 1", location="DOCK")
    with database.write() as s:
        pat = make_operator(s, badge="OP-PAT", name="Pat Picker", role="picker").id
    mark = head(database)
    for n, code in enumerate([SSCC, "LOC:A-01"]):
        intake.take(database, ScanIn(code=code, source="wedge", station_id=site["Dock 1"], operator_id=pat,
                                     client_id=f"events-floor-{n:04d}"), putaway_workflow.NAME)
    event = one(database, mark, "lot.moved")
    assert (event["station"], event["operator"], event["via_api"]) == (
        "Dock 1", {"badge": "OP-PAT", "name": "Pat Picker"}, False)
    assert (event["data"]["from"]["code"], event["data"]["to"]["code"], event["data"]["qty"]) == ("DOCK", "A-01", "120")


# --- pick.confirmed, pick.undone -------------------------------------------------------------------------


def test_a_pick_is_one_event_keyed_by_its_lot(api, site, database):
    mark = head(database)
    pick = ok(api.post("/picks", {"order": "SO-1", "line": 1, "lot": site["soon"], "qty": 6}))
    event = one(database, mark, "pick.confirmed")
    assert event["key"] == f"lot:{site['soon']}"
    data = event["data"]
    assert {k: data[k] for k in ("order", "line", "customer", "qty", "from", "to", "followed_suggestion",
                                 "override_reason", "pick_id")} == {
        "order": "SO-1", "line": 1, "customer": {"code": "SHOP", "name": "Corner Shop", "gln": None}, "qty": "6",
        "from": {"code": "A-01", "kind": "storage"}, "to": {"code": "SHIP", "kind": "shipping"},
        "followed_suggestion": True, "override_reason": None, "pick_id": pick["id"]}
    assert (data["lot"]["number"], data["lot"]["expiry"], data["lot"]["item"]["sku"]) == (
        site["soon"], days(5).isoformat(), "MILK")


def test_a_pick_against_the_suggestion_carries_its_reason(api, site, database):
    mark = head(database)
    ok(api.post("/picks", {"order": "SO-1", "line": 1, "lot": site["later"], "qty": 4,
                           "override_reason": "Soon pallet blocked in"}))
    data = one(database, mark, "pick.confirmed")["data"]
    assert (data["followed_suggestion"], data["override_reason"], data["from"]["code"]) == (
        False, "Soon pallet blocked in", "A-02")


def test_a_refused_pick_writes_no_event(api, site, database):
    mark = head(database)
    refused(api.post("/picks", {"order": "SO-1", "line": 1, "lot": site["held"], "qty": 2}), 409, "lot_not_pickable")
    refused(api.post("/picks", {"order": "SO-1", "line": 1, "lot": site["soon"], "qty": 0}), 422, "invalid")
    refused(api.post("/picks", {"order": "SO-1", "line": 2, "lot": site["bolt"], "qty": 5}), 409, "over_pick")
    refused(api.post("/picks", {"order": "SO-1", "line": 1, "lot": site["bolt"], "qty": 1}), 409, "wrong_item")
    assert since(database, mark) == []


def test_a_pick_taken_back_is_one_pick_undone(api, site, database):
    pick = ok(api.post("/picks", {"order": "SO-1", "line": 2, "lot": site["bolt"], "qty": 4}))
    mark = head(database)
    ok(api.post(f"/picks/{pick['id']}/undo", {"reason": "Wrong pallet"}))
    event = one(database, mark, "pick.undone")
    data = event["data"]
    assert event["key"] == f"lot:{site['bolt']}"
    assert {k: data[k] for k in ("order", "line", "qty", "from", "to", "pick_id", "reason")} == {
        "order": "SO-1", "line": 2, "qty": "4", "from": {"code": "SHIP", "kind": "shipping"},
        "to": {"code": "A-01", "kind": "storage"}, "pick_id": pick["id"], "reason": "Wrong pallet"}
    assert data["lot"]["on_hand"] == "10"
    mark = head(database)
    refused(api.post(f"/picks/{pick['id']}/undo", {}), 409, "already_undone")
    assert since(database, mark) == []


# --- order.shipped, order.short_shipped ---------------------------------------------------------------


def test_an_order_shipped_complete_lists_every_line_and_lot(api, site, database):
    for body in ({"line": 1, "lot": site["soon"], "qty": 6}, {"line": 1, "lot": site["later"], "qty": 4},
                 {"line": 2, "lot": site["bolt"], "qty": 4}):
        ok(api.post("/picks", {"order": "SO-1", **body}))
    mark = head(database)
    ok(api.post("/shipments", {"order": "SO-1"}))
    event = one(database, mark, "order.shipped")
    data = event["data"]
    assert (event["key"], data["order"], data["customer"]) == (
        "order:SO-1", {"number": "SO-1", "due_on": None}, {"code": "SHOP", "name": "Corner Shop", "gln": None})
    lines = [(line["line"], line["item"]["sku"], line["ordered"], line["shipped"], line["short_qty"],
              line["short_reason"], [(part["lot"]["number"], part["qty"], part["from"]["code"]) for part in line["lots"]])
             for line in data["lines"]]
    assert lines == [(1, "MILK", "10", "10", "0", None, sorted([(site["soon"], "6", "SHIP"),
                                                                (site["later"], "4", "SHIP")], key=lambda p: p[0])),
                     (2, "BOLT", "4", "4", "0", None, [(site["bolt"], "4", "SHIP")])]


def test_an_order_shipped_short_says_what_did_not_go_and_why(api, site, database):
    ok(api.post("/picks", {"order": "SO-1", "line": 1, "lot": site["soon"], "qty": 6}))
    mark = head(database)
    refused(api.post("/shipments", {"order": "SO-1"}), 409, "short_reason_required")
    assert since(database, mark) == []
    ok(api.post("/shipments", {"order": "SO-1", "short_reason": "Truck leaving"}))
    data = one(database, mark, "order.short_shipped")["data"]
    assert [(line["line"], line["ordered"], line["shipped"], line["short_qty"], line["short_reason"],
             len(line["lots"])) for line in data["lines"]] == [
        (1, "10", "6", "4", "Truck leaving", 1), (2, "4", "0", "4", "Truck leaving", 0)]
    mark = head(database)
    refused(api.post("/shipments", {"order": "SO-1"}), 409, "order_closed")
    assert since(database, mark) == []


def test_an_order_with_nothing_picked_ships_nothing_and_writes_nothing(api, site, database):
    mark = head(database)
    refused(api.post("/shipments", {"order": "SO-1"}), 409, "nothing_picked")
    assert since(database, mark) == []


# --- production.finished ---------------------------------------------------------------------------------


def test_a_finished_run_is_one_event_with_its_components(api, site, database):
    site.move("later", 20, "A-02", "LINE-1")
    run = ok(api.post("/production-runs", {"item": "CAKE", "location": "LINE-1"}))
    ok(api.post(f"/production-runs/{run['id']}/components", {"lot": site["later"], "qty": 12}))
    ok(api.post(f"/production-runs/{run['id']}/components", {"lot": site["bolt"], "qty": 2}))
    mark = head(database)
    refused(api.post(f"/production-runs/{run['id']}/finish", {"qty": 0, "print": False}), 422, "invalid")
    assert since(database, mark) == []
    done = ok(api.post(f"/production-runs/{run['id']}/finish", {"qty": 30, "print": False}), 200)
    event = one(database, mark, "production.finished")
    number = done["output_lot"]["lot_number"]
    data = event["data"]
    assert (event["key"], data["qty"], data["location"], data["reference"]) == (
        f"lot:{number}", "30", {"code": "LINE-1", "kind": "line"}, f"production run {run['id']}")
    assert (data["lot"]["number"], data["lot"]["origin"], data["lot"]["on_hand"], data["lot"]["item"]["sku"]) == (
        number, "production", "30", "CAKE")
    assert [(c["lot"]["number"], c["lot"]["item"]["sku"], c["qty"], c["from"]["code"])
            for c in data["components"]] == [(site["later"], "MILK", "12", "LINE-1"), (site["bolt"], "BOLT", "2", "A-01")]


def test_a_run_without_components_finishes_nothing_and_writes_nothing(api, site, database):
    run = ok(api.post("/production-runs", {"item": "CAKE", "location": "LINE-1"}))
    mark = head(database)
    refused(api.post(f"/production-runs/{run['id']}/finish", {"qty": 5, "print": False}), 422, "no_components")
    assert since(database, mark) == []


# --- the services themselves ------------------------------------------------------------------------------


def test_bad_quantities_and_held_lots_given_to_the_services_write_no_event(site, database):
    """What the API's schemas let through to no service: each refusal rolls back its transaction, event
    included."""
    tries = {
        "receipt of 0": lambda s: receiving.receive(s, item=catalog.item_by_sku(s, "BOLT"), qty=0,
                                                     location=catalog.location_by_code(s, "DOCK")),
        "move of 0": lambda s: stock.move(s, catalog.lot_by_number(s, site["bolt"]), 0,
                                          catalog.location_by_code(s, "A-01"), catalog.location_by_code(s, "A-02")),
        "pick of a held lot": lambda s: picking.pick(s, lot=catalog.lot_by_number(s, site["held"]), qty=1,
                                                     location=catalog.location_by_code(s, "A-01")),
        "pick of 0": lambda s: picking.pick(s, lot=catalog.lot_by_number(s, site["soon"]), qty=0,
                                            location=catalog.location_by_code(s, "A-01")),
        "production of 0": lambda s: production.produce(s, item=catalog.item_by_sku(s, "CAKE"), qty=0,
                                                        location=catalog.location_by_code(s, "LINE-1")),
        "production from a held lot": lambda s: production.produce(
            s, item=catalog.item_by_sku(s, "CAKE"), qty=3, location=catalog.location_by_code(s, "LINE-1"),
            components=[production.Component(catalog.lot_by_number(s, site["held"]),
                                              catalog.location_by_code(s, "A-01"), 2)]),
    }
    mark = head(database)
    for name, attempt in tries.items():
        with pytest.raises(DomainError):
            with database.write() as s:
                attempt(s)
        assert since(database, mark) == [], name


def test_the_hot_paths_lot_facts_read_from_the_driver_are_the_lazily_loaded_ones(site, database):
    """event_bodies.lot_facts(lot, session) (the receipt's and move's hot path: the item's GTINs read straight
    from the driver) says what lot_facts(lot) says, GTINs loaded or not."""
    with database.read() as s:
        lot = catalog.lot_by_number(s, site["soon"])
        quick = event_bodies.lot_facts(lot, s)
        assert "gtins" not in sa_inspect(lot.item).dict  # read without loading the collection
        assert quick == event_bodies.lot_facts(lot) == event_bodies.lot_facts(lot, s)
        assert quick["item"]["gtins"] == ["0" + gtin13("400000000002")]
