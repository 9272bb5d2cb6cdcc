"""The JSON API speaks exact decimal quantities (issue 17), on SQLite and PostgreSQL: an item counted in kg to
the gram takes 12.345 as a JSON number or as "12.345", answers every quantity as a decimal string, refuses a
fourth decimal in words without booking anything, and keeps ledger = stock = lot on-hand to the last digit
through moves, splits, adjustments, counts, picks and shipments. And the items API: unit, decimals, variable
measure and packs."""
from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from station import quantities
from station.api import openapi, views  # noqa: F401 - fill the route registry
from station.models import Item, ItemGtin, Lot, Movement, Role
from station.services.tokens import create_token

from actions import Api
from factories import assert_books_balance, gtin13

GS = "\x1d"
FLOUR_GTIN = gtin13("400000000077")
CASE_GTIN = gtin13("400000000078")


class ItemApi(Api):
    def patch(self, path: str, json: dict):
        return self.client.patch("/api/v1" + path, json=json, headers=self.headers)


@pytest.fixture
def api(client, database) -> ItemApi:
    with database.write() as session:
        return ItemApi(client, create_token(session, "erp", Role.SUPERVISOR))


@pytest.fixture
def flour(api, site) -> dict:
    """FLOUR, counted in kg with 3 decimals, made through the API."""
    made = api.post("/items", {"sku": "FLOUR", "name": "Flour T550", "unit": "kg", "qty_decimals": 3,
                               "gtins": [FLOUR_GTIN]})
    assert made.status_code == 201, made.get_json()
    return made.get_json()


def receive(api: Api, qty, **body) -> dict:
    answer = api.post("/receipts", {"sku": "FLOUR", "qty": qty, "location": "A-01", "supplier": "ACME", **body})
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()


def error(response, status: int, code: str, *words: str) -> dict:
    assert response.status_code == status, response.get_json()
    body = response.get_json()["error"]
    assert body["code"] == code, body
    for word in words:
        assert word in body["message"], body
    return body


def books(database) -> tuple:
    """What the ledger, stock and lots hold, checked to agree; to compare before and after a refusal."""
    with database.read() as session:
        assert_books_balance(session)
        return (session.scalar(select(func.count()).select_from(Movement)),
                sorted((lot.lot_number, lot.on_hand) for lot in session.scalars(select(Lot))))


def test_decimal_receipts_add_up_exactly_and_answer_decimal_strings(api, flour, database):
    assert (flour["unit"], flour["qty_decimals"], flour["variable_measure"], flour["packs"]) == ("kg", 3, False, [])
    first = receive(api, "12.345", supplier_lot="MILL-7")
    assert (first["on_hand"], first["unit"], first["stock"]) == ("12.345", "kg",
                                                                [{"location": "A-01", "qty": "12.345", "sscc": None}])
    lot = first["lot_number"]
    assert receive(api, 0.1, supplier_lot="MILL-7")["lot_number"] == lot  # a JSON number, read exactly
    again = receive(api, "0.2", supplier_lot="MILL-7")
    assert (again["lot_number"], again["on_hand"]) == (lot, "12.645")

    other = receive(api, 0.1, supplier_lot="MILL-8")["lot_number"]
    assert receive(api, 0.2, supplier_lot="MILL-8")["on_hand"] == "0.3"  # not 0.30000000000000004
    detail = api.get(f"/lots/{other}").get_json()
    assert (detail["on_hand"], [h["qty"] for h in detail["history"]]) == ("0.3", ["0.2", "0.1"])
    scanned = api.post("/resolve", {"code": other}).get_json()
    assert (scanned["kind"], scanned["records"]["lot"]["on_hand"]) == ("lot", "0.3")
    whole = receive(api, 40, supplier_lot="MILL-9")
    assert whole["on_hand"] == "40"  # a whole quantity is a decimal string too, without padding

    with database.read() as session:
        held = session.scalar(select(Lot.on_hand).where(Lot.lot_number == other))
        assert held == Decimal("0.3") and isinstance(held, Decimal)
    books(database)
    suggestion = api.get("/items/FLOUR/suggestions", query_string={"qty": "12.35"}).get_json()
    assert (suggestion["requested"], suggestion["allocated"], suggestion["short"]) == ("12.35", "12.35", "0")
    assert [(a["lot_number"], a["qty"]) for a in suggestion["allocations"]] == [(lot, "12.35")]


@pytest.mark.parametrize("qty", [12.3456, "12.3456"])
def test_more_decimals_than_the_item_is_counted_in_are_refused_and_nothing_is_booked(api, flour, database, qty):
    receive(api, "1.5")
    before = books(database)
    refused = error(api.post("/receipts", {"sku": "FLOUR", "qty": qty, "location": "A-01", "supplier": "ACME"}), 422,
                    "too_many_decimals", "12.3456", "3 decimals", "kg")
    assert "round" not in refused["message"]
    assert books(database) == before


def test_a_whole_number_item_refuses_a_fraction_in_words(api, site, database):
    before = books(database)
    error(api.post("/receipts", {"sku": "BOLT", "qty": 2.5}), 422, "too_many_decimals", "2.5", "whole numbers")
    error(api.post("/receipts", {"sku": "BOLT", "qty": "2,5"}), 422, "invalid", "qty: must be a number like 12")
    error(api.post("/receipts", {"sku": "BOLT", "qty": 1.0000001}), 422, "invalid", "qty: has more decimals")
    # A JSON number longer than a binary float keeps would be read rounded (to 1): refused instead.
    long = api.client.post("/api/v1/receipts", data='{"sku": "BOLT", "qty": 1.0000000000000001}',
                           headers={**api.headers, "Content-Type": "application/json"})
    error(long, 422, "inexact_number", "1.0000000000000001", "decimal string")
    assert api.post("/receipts", {"sku": "BOLT", "qty": 2, "sscc": "376130321109103420"}).status_code == 201
    before = books(database)
    assert books(database) == before


def test_moves_splits_adjustments_counts_picks_and_shipments_keep_the_books_exact(api, flour, database):
    lot = receive(api, "10.5")["lot_number"]

    moved = api.post("/moves", {"lot": lot, "qty": "2.005", "from": "A-01", "to": "A-02"})
    assert moved.status_code == 201, moved.get_json()
    assert moved.get_json()["qty"] == "2.005"
    places = {s["location"]: s["qty"] for s in api.get(f"/lots/{lot}").get_json()["stock"]}
    assert places == {"A-01": "8.495", "A-02": "2.005"}

    split = api.post(f"/lots/{lot}/split", {"qty": 0.25, "location": "A-02"})
    assert split.status_code == 201, split.get_json()
    parent, child = split.get_json()["parent"], split.get_json()["lot"]
    assert (parent["on_hand"], child["on_hand"]) == ("10.25", "0.25")

    adjusted = api.post(f"/lots/{lot}/adjust", {"location": "A-02", "delta": "-0.005", "reason": "spilt"})
    assert adjusted.status_code == 200, adjusted.get_json()
    assert adjusted.get_json()["on_hand"] == "10.245"
    counted = api.post(f"/lots/{lot}/adjust", {"location": "A-02", "counted": 1.7, "reason": "weighed"})
    assert {s["location"]: s["qty"] for s in counted.get_json()["stock"]} == {"A-01": "8.495", "A-02": "1.7"}
    error(api.post(f"/lots/{lot}/adjust", {"location": "A-02", "delta": "0.0001", "reason": "x"}), 422,
          "too_many_decimals")
    books(database)

    count = api.post("/counts", {"location": "A-02", "lines": [
        {"lot": lot, "qty": "1.75", "reason": "found some"}, {"lot": child["lot_number"], "qty": "0.25"}]})
    assert count.status_code == 201, count.get_json()
    lines = {line["lot_number"]: line for line in count.get_json()["lines"]}
    assert {k: lines[lot][k] for k in ("expected", "counted", "difference")} == {
        "expected": "1.7", "counted": "1.75", "difference": "0.05"}
    assert lines[child["lot_number"]]["difference"] == "0"
    assert count.get_json()["status"] == "booked"  # 0.05 kg is under the approval threshold
    assert api.get(f"/lots/{lot}").get_json()["on_hand"] == "10.245"
    books(database)

    order = api.post("/orders", {"number": "SO-KG", "customer": "SHOP", "lines": [{"sku": "FLOUR", "qty": "1.25"}]})
    assert order.status_code == 201, order.get_json()
    assert [(line["qty"], line["picked"], line["short"]) for line in order.get_json()["lines"]] == [("1.25", "0", "0")]
    pick = api.post("/picks", {"order": "SO-KG", "line": 1, "lot": lot, "location": "A-01", "qty": "0.75"})
    assert pick.status_code == 201, pick.get_json()
    picked = pick.get_json()
    assert (picked["qty"], picked["line_picked"], picked["line_open"]) == ("0.75", "0.75", "0.5")
    books(database)

    shipped = api.post("/shipments", {"order": "SO-KG", "short_reason": "mill late"})
    assert shipped.status_code == 201, shipped.get_json()
    line = shipped.get_json()["lines"][0]
    assert (line["ordered"], line["shipped"], line["short_qty"]) == ("1.25", "0.75", "0.5")
    assert [s["qty"] for s in shipped.get_json()["shipped"]] == ["0.75"]
    receivers = api.get(f"/lots/{lot}/receivers").get_json()["data"]
    assert [(r["shipped"], r["returned"], r["may_return"]) for r in receivers] == [("0.75", "0", "0.75")]
    books(database)


def test_the_openapi_document_says_quantities_go_in_as_numbers_or_strings_and_out_as_strings(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    schemas = doc["components"]["schemas"]
    receipt_qty = schemas["ReceiptIn"]["properties"]["qty"]  # optional: a scanned label may count it
    [qty_in] = [option for option in receipt_qty["anyOf"] if option.get("type") != "null"]
    assert qty_in["type"] == ["number", "string"] and qty_in["exclusiveMinimum"] == 0
    assert "decimal string" in receipt_qty["description"]
    counted = schemas["CountLineIn"]["properties"]["qty"]
    assert counted["type"] == ["number", "string"] and counted["minimum"] == 0
    for model, field in (("LotOut", "on_hand"), ("StockOut", "qty"), ("PickOut", "line_open"),
                         ("SuggestionOut", "short"), ("ItemOut", "packs")):
        prop = schemas[model]["properties"][field]
        out = schemas["PackOut"]["properties"]["qty"] if field == "packs" else prop
        assert out["type"] == "string" and "pattern" in out, (model, field, prop)
    assert schemas["ExpiryLotOut"]["properties"]["stock"]["additionalProperties"]["type"] == "string"


# --- the items API: unit, decimals, variable measure, packs -------------------------------------------


def test_an_item_with_packs_answers_them_and_a_pack_gtin_stays_unique(api, site, database):
    made = api.post("/items", {"sku": "EGG", "name": "Liquid egg", "unit": "L", "qty_decimals": 1,
                               "gtins": [gtin13("400000000081")],
                               "packs": [{"gtin": gtin13("400000000082"), "name": "case", "qty": 12},
                                         {"gtin": gtin13("400000000083"), "name": "pallet", "qty": "480"}]})
    assert made.status_code == 201, made.get_json()
    item = made.get_json()
    assert item["gtins"] == ["0" + gtin13("400000000081")]
    assert item["packs"] == [{"gtin": "0" + gtin13("400000000082"), "name": "case", "qty": "12"},
                             {"gtin": "0" + gtin13("400000000083"), "name": "pallet", "qty": "480"}]
    assert api.get("/items/EGG").get_json() == item
    with database.read() as session:
        rows = session.execute(select(ItemGtin.gtin, ItemGtin.pack_qty, ItemGtin.pack_name)
                               .order_by(ItemGtin.gtin).where(ItemGtin.gtin.like("%40000000008%"))).all()
    assert [tuple(r) for r in rows] == [("0" + gtin13("400000000081"), None, None),
                                        ("0" + gtin13("400000000082"), 12, "case"),
                                        ("0" + gtin13("400000000083"), 480, "pallet")]

    def nut(**fields):
        return api.post("/items", {"sku": "NUT", "name": "Nut", **fields})

    error(nut(packs=[{"gtin": gtin13("400000000082"), "name": "case", "qty": 6}]), 409, "gtin_exists", "EGG")
    error(nut(packs=[{"gtin": gtin13("400000000001"), "name": "case", "qty": 6}]), 409, "gtin_exists", "BOLT")
    error(nut(gtins=[gtin13("400000000091")], packs=[{"gtin": gtin13("400000000091"), "name": "case", "qty": 6}]),
          422, "duplicate_gtin", "own")
    error(nut(packs=[{"gtin": gtin13("400000000092"), "name": "case", "qty": 1.5}]), 422, "too_many_decimals",
          "whole numbers")
    error(nut(packs=[{"gtin": gtin13("400000000092"), "name": "case", "qty": 0}]), 422, "invalid", "packs[0].qty")
    error(nut(packs=[{"gtin": gtin13("400000000092"), "name": "", "qty": 6}]), 422, "invalid", "packs[0].name")
    with database.read() as session:
        assert session.scalar(select(Item.id).where(Item.sku == "NUT")) is None


def test_units_decimals_and_variable_measure_are_checked(api, site):
    def item(**fields):
        return api.post("/items", {"sku": "X1", "name": "X", **fields})

    refused = error(item(unit="kilo"), 422, "invalid_unit", "'kilo'", "kg", "mL", "ea")
    assert all(unit in refused["message"] for unit in quantities.UNITS)
    error(item(qty_decimals=7), 422, "invalid", "qty_decimals:")
    error(item(qty_decimals=-1), 422, "invalid", "qty_decimals:")
    error(item(unit="ea", variable_measure=True), 422, "invalid_unit", "weighed", "kg", "lb")
    cheese = item(unit="kg", qty_decimals=3, variable_measure=True)
    assert cheese.status_code == 201, cheese.get_json()
    assert (cheese.get_json()["variable_measure"], cheese.get_json()["unit"]) == (True, "kg")


def test_decimals_can_be_raised_but_not_lowered_once_the_item_has_moved(api, flour, database):
    assert api.patch("/items/FLOUR", {"qty_decimals": 2}).get_json()["qty_decimals"] == 2  # nothing booked yet
    assert api.patch("/items/FLOUR", {"qty_decimals": 3}).get_json()["qty_decimals"] == 3
    receive(api, "1.234", supplier_lot="MILL-1")
    refused = error(api.patch("/items/FLOUR", {"qty_decimals": 2}), 409, "item_in_use",
                    "stock movements", "3 decimals", "not lowered to 2", "Nothing was changed")
    assert "FLOUR" in refused["message"]
    error(api.patch("/items/FLOUR", {"unit": "g"}), 409, "item_in_use", "unit cannot become g")
    error(api.patch("/items/FLOUR", {"qty_decimals": 2, "refuse_younger_lots": True}), 409, "item_in_use")
    item = api.get("/items/FLOUR").get_json()
    assert (item["unit"], item["qty_decimals"], item["refuse_younger_lots"]) == ("kg", 3, False)

    raised = api.patch("/items/FLOUR", {"qty_decimals": 4})
    assert raised.status_code == 200 and raised.get_json()["qty_decimals"] == 4
    assert receive(api, "0.0001", supplier_lot="MILL-1")["on_hand"] == "1.2341"
    books(database)


def test_patching_packs_replaces_them(api, flour, database):
    sack = {"gtin": CASE_GTIN, "name": "sack", "qty": "25"}
    changed = api.patch("/items/FLOUR", {"packs": [sack]})
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["packs"] == [{"gtin": "0" + CASE_GTIN, "name": "sack", "qty": "25"}]
    assert changed.get_json()["gtins"] == ["0" + FLOUR_GTIN]
    bigger = api.patch("/items/FLOUR", {"packs": [{**sack, "qty": 25.5}]})  # the same GTIN holds more now
    assert bigger.get_json()["packs"][0]["qty"] == "25.5"
    error(api.patch("/items/FLOUR", {"packs": [sack, {**sack, "name": "bag"}]}), 422, "duplicate_gtin")
    error(api.patch("/items/FLOUR", {"qty_decimals": 0}), 422, "too_many_decimals", "25.5")
    assert api.get("/items/FLOUR").get_json()["qty_decimals"] == 3
    assert api.patch("/items/FLOUR", {"packs": []}).get_json()["packs"] == []
    error(api.patch("/items/FLOUR", {}), 422, "invalid", "Give what to change")
    with database.read() as session:
        assert session.scalar(select(func.count()).select_from(ItemGtin).where(ItemGtin.gtin == "0" + CASE_GTIN)) == 0


@pytest.fixture
def beef_gtin(api, site) -> str:
    """BEEF, weighed case by case (variable measure, kg to 3 decimals), made through the API: its GTIN."""
    gtin = "9" + gtin13("400000000301")[:-1]
    gtin = gtin + str(_check(gtin))
    made = api.post("/items", {"sku": "BEEF", "name": "Beef brisket", "unit": "kg", "qty_decimals": 3,
                               "variable_measure": True, "gtins": [gtin]})
    assert made.status_code == 201, made.get_json()
    return gtin


def test_a_catch_weight_receipt_by_api_books_its_cases_as_pieces_from_the_body_or_the_label(api, beef_gtin,
                                                                                           database):
    body = {"location": "A-01", "supplier": "ACME"}
    typed = api.post("/receipts", {"sku": "BEEF", "qty": "123.456", "pieces": 10, **body})
    assert typed.status_code == 201, typed.get_json()
    assert typed.get_json()["on_hand"] == "123.456"
    # The label says 40 cases (37) of 493.210 kg (3103): the pieces come from it.
    labelled = api.post("/receipts", {"code": f"]C102{beef_gtin}3740\x1d3103493210", "qty": "493.21", **body})
    assert labelled.status_code == 201, labelled.get_json()
    # Pieces for an item counted by the piece are refused in words; so are 0 cases. Nothing is booked.
    error(api.post("/receipts", {"sku": "BOLT", "qty": 5, "pieces": 2, **body}), 422, "pieces_not_weighed", "BOLT")
    error(api.post("/receipts", {"sku": "BEEF", "qty": 5, "pieces": 0, **body}), 422, "invalid", "pieces")
    with database.read() as s:
        pieces = s.execute(select(Movement.qty, Movement.pieces).join(Lot).join(Item)
                           .where(Item.sku == "BEEF").order_by(Movement.id)).all()
    assert [(quantities.text(q), p) for q, p in pieces] == [("123.456", 10), ("493.21", 40)]


def _check(body: str) -> int:
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def test_a_catch_weight_case_is_received_and_picked_over_the_api_by_its_label_alone(api, beef_gtin, database):
    beef = beef_gtin
    # A pallet of 8 cases weighing 100.25 kg (37, 3102): no qty in the body, the label weighs it.
    pallet = api.post("/receipts", {"code": f"]C102{beef}378{GS}3102010025{GS}10B-1", "location": "A-01",
                                    "supplier": "ACME"})
    assert pallet.status_code == 201, pallet.get_json()
    lot = pallet.get_json()["lot_number"]
    assert pallet.get_json()["on_hand"] == "100.25"
    assert api.post("/orders", {"number": "SO-BEEF", "customer": "SHOP",
                                "lines": [{"sku": "BEEF", "qty": 30}]}).status_code == 201
    case = f"]C101{beef}3103012340{GS}10B-1"  # one case of 12.340 kg, by the supplier's lot B-1
    before = books(database)
    # A body that says another weight, another case count or another lot than the label is refused.
    error(api.post("/picks", {"order": "SO-BEEF", "line": 1, "code": case, "qty": "12.3"}), 422, "label_mismatch",
          "12.340 kg", "12.3")
    error(api.post("/picks", {"order": "SO-BEEF", "line": 1, "code": case, "pieces": 2}), 422, "label_mismatch")
    error(api.post("/picks", {"order": "SO-BEEF", "line": 1, "code": case, "lot": "L-NOPE"}), 422, "label_mismatch",
          lot)
    error(api.post("/picks", {"order": "SO-BEEF", "line": 1, "code": "]C1nonsense"}), 422, "bad_gs1")
    error(api.post("/picks", {"order": "SO-BEEF", "line": 1, "lot": lot}), 422, "qty_required")
    assert books(database) == before
    picked = api.post("/picks", {"order": "SO-BEEF", "line": 1, "code": case})
    assert picked.status_code == 201, picked.get_json()
    assert (picked.get_json()["lot_number"], picked.get_json()["qty"], picked.get_json()["line_open"]) == (
        lot, "12.34", "17.66")
    with database.read() as s:
        last = s.scalars(select(Movement).order_by(Movement.id.desc())).first()
        assert (last.qty, last.pieces) == (Decimal("12.34"), 1) and "3103012340" in last.raw_scan  # the label's
    books(database)
