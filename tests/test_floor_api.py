"""Moves and production runs over the JSON API, on SQLite and PostgreSQL: what they change, and that a
refusal (in words) changes nothing."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from actions import Api
from factories import assert_books_balance
from station.models import (HandlingUnit, Lot, LotLink, Movement, MovementKind, PrintJob,
                            ProductionRun, ProductionRunComponent, Role, RunStatus, Stock)
from station.services import catalog, holds
from station.services.tokens import create_token

SSCC = "376130321109103420"


def refused(response, status: int, code: str, *words: str) -> dict:
    assert response.status_code == status, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == code, error
    for word in words:
        assert word in error["message"], error
    return error


@pytest.fixture
def api(client, database) -> Api:
    with database.write() as s:
        token = create_token(s, "floor", Role.SUPERVISOR)
    return Api(client, token)


@pytest.fixture
def site(site):
    """The small site, plus: a BOLT pallet at DOCK, MILK at A-01 and A-02, and a held MILK lot at LINE-1."""
    site.lot("pallet", "BOLT", 120, location="DOCK", sscc=SSCC)
    site.lot("milk", "MILK", 50, location="A-01")
    site.lot("other milk", "MILK", 30, location="A-02")
    site.move("milk", 20, "A-01", "LINE-1")
    site.lot("held", "MILK", 10, location="LINE-1", hold="Cold chain alarm")
    site.printer("line-zebra")
    return site


def snapshot(database) -> tuple:
    """Everything a refused request must leave alone."""
    with database.read() as s:
        return (sorted(s.execute(select(Stock.lot_id, Stock.location_id, Stock.handling_unit_id, Stock.qty)).all()),
                s.scalar(select(func.count()).select_from(Movement)),
                s.scalar(select(func.count()).select_from(Lot)),
                sorted(s.execute(select(ProductionRun.id, ProductionRun.status)).all()),
                s.scalar(select(func.count()).select_from(ProductionRunComponent)),
                s.scalar(select(func.count()).select_from(PrintJob)),
                sorted(s.execute(select(HandlingUnit.id, HandlingUnit.location_id)).all()))


# --- moves -----------------------------------------------------------------------------------


def test_a_pallet_moves_whole_by_its_sscc(api, site, database):
    response = api.post("/moves", {"sscc": SSCC, "to": "A-01"})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body | {"id": 0, "ts": ""} == {"id": 0, "ts": "", "lot_number": site["pallet"], "sscc": SSCC,
                                          "qty": "120", "from_location": "DOCK", "to_location": "A-01"}
    with database.read() as s:
        unit = s.scalar(select(HandlingUnit).where(HandlingUnit.sscc == SSCC))
        assert unit.location.code == "A-01"
        row = s.get(Movement, body["id"])
        assert (row.kind, row.qty, row.handling_unit_id) == (MovementKind.MOVE, 120, unit.id)
        assert_books_balance(s)


def test_part_of_a_lot_moves_from_the_location_named(api, site, database):
    refused(api.post("/moves", {"lot": site["milk"], "qty": 5, "to": "A-02"}), 422, "choose_location",
            "2 places", "A-01 (30)", "LINE-1 (20)")
    response = api.post("/moves", {"lot": site["milk"], "qty": 5, "from": "A-01", "to": "A-02"})
    assert response.status_code == 201, response.get_json()
    lot = api.get(f"/lots/{site['milk']}").get_json()
    assert {(s["location"], s["qty"]) for s in lot["stock"]} == {("A-01", "25"), ("A-02", "5"), ("LINE-1", "20")}
    # No quantity: all of the lot at the source.
    assert api.post("/moves", {"lot": site["milk"], "from": "A-02", "to": "A-01"}).get_json()["qty"] == "5"


@pytest.mark.parametrize("body,status,code,words", [
    ({"sscc": SSCC, "to": "NOWHERE"}, 422, "unknown_location", ["NOWHERE"]),
    ({"sscc": SSCC, "from": "A-02", "to": "A-01"}, 422, "wrong_location", ["is at DOCK"]),
    ({"sscc": SSCC, "to": "DOCK"}, 422, "same_location", ["already at DOCK"]),
    ({"sscc": SSCC, "qty": 121, "to": "A-01"}, 409, "insufficient_stock", ["Only 120"]),
    ({"sscc": "376130321109103437", "to": "A-01"}, 422, "unknown_sscc", ["not been received"]),
    ({"lot": "NO-SUCH-LOT", "to": "A-01"}, 422, "unknown_lot", ["NO-SUCH-LOT"]),
    ({"lot": "X", "sscc": SSCC, "to": "A-01"}, 422, "invalid", ["a lot or an sscc"]),
    ({"to": "A-01"}, 422, "invalid", ["a lot or an sscc"]),
    ({"sscc": SSCC, "to": "A-01", "qty": 0}, 422, "invalid", ["qty"]),
    ({"sscc": SSCC, "to": "A-01", "from_": "DOCK"}, 422, "invalid", ["from_"]),
])
def test_a_refused_move_says_why_and_changes_nothing(api, site, database, body, status, code, words):
    before = snapshot(database)
    refused(api.post("/moves", body), status, code, *words)
    assert snapshot(database) == before


# --- production runs ---------------------------------------------------------------------------


def test_a_run_consumes_its_components_and_makes_a_linked_lot_with_labels(api, site, database):
    response = api.post("/production-runs", {"item": "CAKE"})  # the site's only line
    assert response.status_code == 201, response.get_json()
    run = response.get_json()
    assert (run["status"], run["item"]["sku"], run["location"], run["components"]) == ("open", "CAKE", "LINE-1", [])
    assert response.headers["Location"].endswith(f"/api/v1/production-runs/{run['id']}")

    base = f"/production-runs/{run['id']}"
    first = api.post(base + "/components", {"lot": site["milk"], "qty": 15})  # from the line, where it is
    assert first.status_code == 201, first.get_json()
    second = api.post(base + "/components", {"lot": site["pallet"], "qty": 40})  # only on the DOCK pallet
    assert second.status_code == 201, second.get_json()
    parts = second.get_json()["components"]
    assert [(p["lot_number"], p["location"], p["qty"]) for p in parts] == [
        (site["milk"], "LINE-1", "15"), (site["pallet"], "DOCK", "40")]
    before = snapshot(database)
    assert api.get(base).get_json()["components"] == parts  # scanned, not consumed yet
    assert snapshot(database) == before

    done = api.post(base + "/finish", {"qty": 12, "copies": 2})
    assert done.status_code == 200, done.get_json()
    run = done.get_json()
    assert run["status"] == "finished" and run["qty"] == "12" and run["finished_at"]
    output = run["output_lot"]
    assert output["item"]["sku"] == "CAKE" and output["on_hand"] == "12"
    assert output["stock"] == [{"location": "LINE-1", "qty": "12", "sscc": None}]
    assert len(run["print_jobs"]) == 1
    job = api.get(f"/print-jobs/{run['print_jobs'][0]}").get_json()
    assert (job["printer"], job["lot_number"], job["copies"]) == ("line-zebra", output["lot_number"], 2)
    assert api.get(base).get_json() == run

    with database.read() as s:
        lot = s.scalar(select(Lot).where(Lot.lot_number == output["lot_number"]))
        links = {(s.get(Lot, link.component_lot_id).lot_number, link.qty)
                 for link in s.scalars(select(LotLink).where(LotLink.output_lot_id == lot.id))}
        assert links == {(site["milk"], 15), (site["pallet"], 40)}
        consumed = s.execute(select(Movement.qty, Movement.reference).where(
            Movement.kind == MovementKind.CONSUME)).all()
        assert sorted(consumed) == [(15, f"production run {run['id']}"), (40, f"production run {run['id']}")]
        assert_books_balance(s)
    assert api.get(f"/lots/{site['pallet']}").get_json()["on_hand"] == "80"


def test_one_open_run_per_line_and_a_run_is_finished_once(api, site, database):
    run = api.post("/production-runs", {"item": "CAKE", "location": "LINE-1"}).get_json()
    refused(api.post("/production-runs", {"item": "BOLT", "location": "LINE-1"}), 409, "run_open",
            f"already running run {run['id']}", "CAKE")
    refused(api.post("/production-runs", {"item": "CAKE", "location": "A-01"}), 422, "not_a_line", "A-01")
    refused(api.post("/production-runs", {"item": "PIE"}), 422, "unknown_item", "PIE")
    base = f"/production-runs/{run['id']}"
    refused(api.post(base + "/finish", {"qty": 5}), 422, "no_components", "scan the lots used")
    api.post(base + "/components", {"lot": site["milk"], "qty": 1})
    assert api.post(base + "/finish", {"qty": 5, "print": False}).get_json()["print_jobs"] == []
    before = snapshot(database)
    refused(api.post(base + "/finish", {"qty": 5}), 409, "run_finished", "already finished")
    refused(api.post(base + "/components", {"lot": site["milk"], "qty": 1}), 409, "run_finished")
    refused(api.post(base + "/cancel"), 409, "run_finished")
    assert snapshot(database) == before
    refused(api.get("/production-runs/999999"), 404, "unknown_run")
    # The line is free again.
    assert api.post("/production-runs", {"item": "CAKE"}).status_code == 201


def test_refused_components_say_why_and_change_nothing(api, site, database):
    run = api.post("/production-runs", {"item": "CAKE"}).get_json()
    base = f"/production-runs/{run['id']}"
    before = snapshot(database)
    refused(api.post(base + "/components", {"lot": site["held"], "qty": 1}), 409, "lot_not_pickable",
            "is on hold — QA release needed", "cannot be used")
    refused(api.post(base + "/components", {"lot": site["milk"], "qty": 21}), 409, "insufficient_stock",
            "Only 20", "LINE-1")
    refused(api.post(base + "/components", {"lot": site["milk"], "qty": 1, "location": "SHIP"}), 409,
            "insufficient_stock", "Only 0")
    refused(api.post(base + "/components", {"lot": site["milk"], "qty": 1, "location": "MARS"}), 422,
            "unknown_location", "MARS")
    refused(api.post(base + "/components", {"lot": "NOPE", "qty": 1}), 422, "unknown_lot")
    refused(api.post("/production-runs/999999/components", {"lot": site["milk"], "qty": 1}), 404, "unknown_run")
    assert snapshot(database) == before
    # What this run already claims counts against what is left.
    assert api.post(base + "/components", {"lot": site["milk"], "qty": 15}).status_code == 201
    refused(api.post(base + "/components", {"lot": site["milk"], "qty": 6}), 409, "insufficient_stock",
            "Only 5", "15 already scanned")
    # Taken back again.
    component = api.get(base).get_json()["components"][0]["id"]
    assert api.delete(f"{base}/components/{component}").get_json()["components"] == []
    refused(api.delete(f"{base}/components/{component}"), 422, "no_component")


def test_a_finish_refused_at_the_last_moment_changes_nothing(api, site, database):
    run = api.post("/production-runs", {"item": "CAKE"}).get_json()
    base = f"/production-runs/{run['id']}"
    api.post(base + "/components", {"lot": site["milk"], "qty": 10})
    api.post(base + "/components", {"lot": site["pallet"], "qty": 10})
    with database.write() as s:  # QA stops the milk after it was scanned
        holds.hold(s, catalog.lot_by_number(s, site["milk"]), "Lab result pending")
    before = snapshot(database)
    refused(api.post(base + "/finish", {"qty": 3}), 409, "lot_not_pickable", site["milk"], "on hold")
    assert snapshot(database) == before
    with database.write() as s:
        holds.release(s, catalog.lot_by_number(s, site["milk"]), "Lab result fine")
    # A label nobody can print refuses the finish too: no lot without its labels.
    refused(api.post(base + "/finish", {"qty": 3, "printer": "nope"}), 400, "unknown_printer", "nope")
    assert snapshot(database) == before
    assert api.post(base + "/finish", {"qty": 3}).get_json()["status"] == "finished"


def test_a_cancelled_run_consumed_nothing(api, site, database):
    run = api.post("/production-runs", {"item": "CAKE"}).get_json()
    base = f"/production-runs/{run['id']}"
    api.post(base + "/components", {"lot": site["milk"], "qty": 10})
    with database.read() as s:
        stock = s.scalar(select(func.sum(Stock.qty)))
    cancelled = api.post(base + "/cancel").get_json()
    assert cancelled["status"] == "cancelled" and cancelled["output_lot"] is None
    with database.read() as s:
        assert s.scalar(select(func.sum(Stock.qty))) == stock
        assert s.get(ProductionRun, run["id"]).status is RunStatus.CANCELLED
    refused(api.post(base + "/components", {"lot": site["milk"], "qty": 1}), 409, "run_cancelled")


def test_the_floor_operations_are_in_the_openapi_document(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    paths = doc["paths"]
    assert set(paths["/api/v1/moves"]) == {"post"}
    assert set(paths["/api/v1/production-runs/{run_id}"]) == {"get"}
    for path in ("/api/v1/production-runs", "/api/v1/production-runs/{run_id}/components",
                 "/api/v1/production-runs/{run_id}/finish", "/api/v1/production-runs/{run_id}/cancel"):
        assert "post" in paths[path], path
    move = doc["components"]["schemas"]["MoveIn"]
    assert {"lot", "sscc", "qty", "from", "to"} <= set(move["properties"]) and move["required"] == ["to"]
