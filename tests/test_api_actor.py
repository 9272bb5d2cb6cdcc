"""Every API write records its token as the author (and a station only when the token is bound to one), on
SQLite and PostgreSQL; where history shows who did it and no operator did, it says "API: <token name>":
the lot card (page and API), the audit trail (ledger, events, CSV), the trace, a recall's events."""
from __future__ import annotations


import pytest
from sqlalchemy import select

from factories import basic_site, order, printer, received_lot
from station import clock
from station.models import (ApiToken, LotEvent, Movement, MovementKind, PrintJob, PrintJobStatus, RecallEvent, Role,
                            Scan, StationDevice, TokenRole)
from station.services import catalog, holds
from station.services.actor import Actor
from station.services.tokens import create_token
import actions
from actions import text_of

WHO = "API: erp-sync"


class Api(actions.Api):
    """actions.Api whose POST must succeed: it answers the JSON."""

    def post(self, path: str, body: dict | None = None):
        answer = super().post(path, body)
        assert answer.status_code < 300, (path, answer.get_json())
        return answer.get_json()


@pytest.fixture
def db(app):
    database = app.extensions["station.db"]
    basic_site(database)
    with database.write() as s:
        zebra = printer(s, "dock-zebra")
        s.add(StationDevice(name="Dock 1", printer_id=zebra.id))
        order(s, "SO-5", [("BOLT", 10)])
    return database


@pytest.fixture
def api(app, db) -> Api:
    with db.write() as s:
        secret = create_token(s, "erp-sync", Role.SUPERVISOR)
    return Api(app.test_client(), secret)


def token_id(db, name: str = "erp-sync") -> int:
    with db.read() as s:
        return s.scalar(select(ApiToken.id).where(ApiToken.name == name))


def test_every_api_write_records_the_token_and_no_station_of_its_own(api, db):
    lot = api.post("/receipts", {"sku": "BOLT", "qty": 40, "station": "Dock 1", "labels": {"copies": 1}})
    number = lot["lot_number"]
    api.post("/moves", {"lot": number, "qty": 40, "from": "DOCK", "to": "A-01"})
    api.post("/picks", {"order": "SO-5", "line": 1, "lot": number, "location": "A-01", "qty": 10})
    api.post("/shipments", {"order": "SO-5"})
    run = api.post("/production-runs", {"item": "CAKE", "location": "LINE-1"})
    api.post(f"/production-runs/{run['id']}/components", {"lot": number, "qty": 5, "location": "A-01"})
    made = api.post(f"/production-runs/{run['id']}/finish", {"qty": 3, "print": False})
    api.post(f"/lots/{number}/hold", {"reason": "QA check"})
    api.post(f"/lots/{number}/release", {"reason": "QA fine"})
    job = api.post(f"/lots/{number}/labels", {"printer": "dock-zebra"})
    recall = api.post("/recalls", {"lot": made["output_lot"]["lot_number"], "reason": "Allergen"})
    api.post(f"/recalls/{recall['number']}/close", {"reason": "Destroyed"})
    me = token_id(db)
    with db.write() as s:
        kinds = [(m.kind, m.token_id, m.operator_id, m.station_id) for m in s.scalars(select(Movement))]
        assert {k for k, *_ in kinds} == {MovementKind.RECEIVE, MovementKind.MOVE, MovementKind.PICK,
                                          MovementKind.SHIP, MovementKind.CONSUME, MovementKind.PRODUCE}
        # The body's station is where the goods came in (its printer), not who: the token is not bound to it.
        assert all((token, operator, station) == (me, None, None) for _, token, operator, station in kinds), kinds
        events = s.scalars(select(LotEvent)).all()
        assert {e.action for e in events} == {"hold", "release", "recall"}
        assert all(e.token_id == me and e.operator_id is None for e in events)
        assert [(e.action, e.token_id) for e in s.scalars(select(RecallEvent))] == [("open", me), ("close", me)]
        jobs = s.scalars(select(PrintJob).order_by(PrintJob.id)).all()
        assert len(jobs) == 2 and all(j.token_id == me for j in jobs)
        s.get(PrintJob, job["id"]).status = PrintJobStatus.SENT
    again = api.post(f"/print-jobs/{job['id']}/reprint")
    with db.read() as s:
        assert s.get(PrintJob, again["id"]).token_id == me


def test_history_says_api_and_the_token_name_where_no_operator_did_it(api, db, client, signed_in):
    number = api.post("/receipts", {"sku": "BOLT", "qty": 40})["lot_number"]
    api.post(f"/lots/{number}/hold", {"reason": "QA check"})
    # The API's lot: history and status changes name the token.
    lot = api.get(f"/lots/{number}").get_json()
    assert [h["operator"] for h in lot["history"]] == [WHO]
    assert [e["operator"] for e in lot["events"]] == [WHO]
    # The trace names who received it.
    trace = api.get(f"/lots/{number}/trace?direction=backward").get_json()
    assert [r["received_by"] for r in trace["receipts"]] == [WHO]
    # The pages: the lot card (both tables), the audit trail's ledger and events, its CSV.
    signed_in(client, "supervisor")
    card = text_of(client.get(f"/lots/{number}").text)
    assert card.count(WHO) == 2, card
    assert WHO in text_of(client.get("/audit").text)
    assert WHO in text_of(client.get("/audit?tab=events").text)
    csv = client.get("/audit.csv").text
    assert f",{WHO}," in csv, csv
    assert WHO in text_of(client.get(f"/trace/{number}?direction=backward").text)


def test_a_recalls_events_name_the_token(api, db):
    number = api.post("/receipts", {"sku": "MILK", "qty": 5})["lot_number"]
    report = api.post("/recalls", {"lot": number, "reason": "Allergen"})
    assert [(e["action"], e["operator"]) for e in report["events"]] == [("open", WHO)]


def test_an_operators_write_has_no_token_and_history_shows_the_operator(app, db, client, signed_in):
    me = signed_in(client, "supervisor", name="Maria Keller")
    with db.write() as s:
        number = received_lot(s, "BOLT", 5, on=clock.today()).lot_number
        holds.hold(s, catalog.lot_by_number(s, number), "QA", by=Actor(operator_id=me.id))
    with db.read() as s:
        assert s.scalar(select(LotEvent.token_id)) is None and s.scalar(select(Movement.token_id)) is None
    card = text_of(client.get(f"/lots/{number}").text)
    assert "Maria Keller" in card and "API:" not in card


def test_an_agent_tokens_scan_records_the_token_and_its_station(app, db):
    with db.write() as s:
        s.add(StationDevice(name="Dock PC", scanner_url="agent://"))
        s.flush()
        secret = create_token(s, "dock agent", TokenRole.AGENT, station="Dock PC")
    client = app.test_client()
    answer = client.post("/api/v1/scans", json={"station": "Dock PC", "client_id": "agent-scan-0001",
                                                "code": "LOC:A-01"},
                         headers={"Authorization": f"Bearer {secret}"})
    assert answer.status_code == 201, answer.get_json()
    with db.read() as s:
        scan = s.get(Scan, answer.get_json()["scan_id"])
        token = s.scalar(select(ApiToken).where(ApiToken.name == "dock agent"))
        assert (scan.token_id, scan.station_id) == (token.id, token.station_id)
