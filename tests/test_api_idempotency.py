"""request_id on API writes (receipts, moves, picks, production runs, shipments), on SQLite and PostgreSQL:
a retry after a lost answer gets the first answer and books nothing twice — also when the retries race
(PostgreSQL, real concurrent transactions); the same id on another route is a 409 in words; a refused
request stores nothing; bad ids are refused in words."""
from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import create_engine, func, select, text

from actions import Api
from factories import basic_site, order, received_lot
from station import clock, create_app
from station.models import ApiRequest, Lot, Movement, MovementKind, ProductionRun, Role
from station.services.tokens import create_token

SSCC = "376130321109103420"


def count(db, model, *where) -> int:
    with db.read() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


@pytest.fixture
def db(app):
    database = app.extensions["station.db"]
    basic_site(database)
    return database


@pytest.fixture
def api(app, db) -> Api:
    with db.write() as s:
        secret = create_token(s, "erp-sync", Role.SUPERVISOR)
    return Api(app.test_client(), secret)


def test_a_retried_receipt_books_one_lot_and_answers_the_same_body(api, db):
    body = {"sku": "BOLT", "qty": 40, "supplier": "ACME", "supplier_lot": "B-7731", "request_id": "erp-rcpt-0001"}
    first = api.post("/receipts", body)
    assert first.status_code == 201, first.get_json()
    again = api.post("/receipts", body)
    assert again.status_code == 201, again.get_json()
    assert again.get_json() == first.get_json()
    assert again.headers.get("Idempotent-Replayed") == "true" and "Idempotent-Replayed" not in first.headers
    assert count(db, Lot) == 1 and count(db, Movement) == 1
    with db.read() as s:
        [stored] = s.scalars(select(ApiRequest)).all()
        assert (stored.request_id, stored.endpoint, stored.status) == ("erp-rcpt-0001", "POST /receipts", 201)
        assert stored.body == first.get_json()
    # Without a request_id nothing is remembered: a second POST is a second receipt (a new lot).
    plain = {k: v for k, v in body.items() if k != "request_id"}
    assert api.post("/receipts", plain).status_code == 201
    assert count(db, Movement) == 2 and count(db, ApiRequest) == 1


def test_a_retried_pallet_receipt_gets_its_answer_not_already_received(api, db):
    body = {"sku": "BOLT", "qty": 40, "sscc": SSCC, "request_id": "pallet:7731.a"}
    first = api.post("/receipts", body)
    assert first.status_code == 201
    again = api.post("/receipts", body)  # without request_id this is 409 sscc_already_received
    assert (again.status_code, again.get_json()) == (201, first.get_json())
    assert count(db, Lot) == 1
    refused = api.post("/receipts", {**body, "request_id": "pallet:7731.b"})
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "sscc_already_received"


def test_the_same_request_id_on_another_route_is_409_in_words_and_changes_nothing(api, db):
    first = api.post("/receipts", {"sku": "BOLT", "qty": 40, "request_id": "same-id-01"})
    assert first.status_code == 201
    lot = first.get_json()["lot_number"]
    moves = count(db, Movement)
    answer = api.post("/moves", {"lot": lot, "qty": 5, "to": "A-02", "request_id": "same-id-01"})
    assert answer.status_code == 409, answer.get_json()
    error = answer.get_json()["error"]
    assert error["code"] == "request_id_reused" and error["first_endpoint"] == "POST /receipts"
    assert "already used by this token for POST /receipts" in error["message"]
    assert "Nothing was done" in error["message"]
    assert count(db, Movement) == moves and count(db, ApiRequest) == 1
    # Another token's ids are its own: the same id books for it.
    with db.write() as s:
        other = Api(api.client, create_token(s, "wms", Role.RECEIVER))
    assert other.post("/receipts", {"sku": "MILK", "qty": 3, "request_id": "same-id-01"}).status_code == 201
    assert count(db, ApiRequest) == 2 and count(db, Lot) == 2


def test_a_refused_request_stores_nothing_and_its_retry_is_done_afresh(api, db):
    refused = api.post("/receipts", {"sku": "NOPE", "qty": 40, "request_id": "fix-then-retry"})
    assert refused.status_code == 422
    assert count(db, ApiRequest) == 0
    done = api.post("/receipts", {"sku": "BOLT", "qty": 40, "request_id": "fix-then-retry"})
    assert done.status_code == 201 and count(db, Lot) == 1


@pytest.mark.parametrize("request_id, words", [
    ("short", "request_id: must be 8 to 64 letters, digits or _ . : -"),
    ("x" * 65, "request_id: must be 8 to 64 letters, digits or _ . : -"),
    ("has space 1", "request_id: must be 8 to 64 letters, digits or _ . : -"),
    (12345678, "request_id: must be a valid string"),
])
def test_a_bad_request_id_is_refused_in_words(api, db, request_id, words):
    answer = api.post("/receipts", {"sku": "BOLT", "qty": 40, "request_id": request_id})
    assert answer.status_code == 422, answer.get_json()
    assert words in answer.get_json()["error"]["message"]
    assert count(db, Lot) == 0 and count(db, ApiRequest) == 0


def test_moves_picks_shipments_and_runs_retried_are_done_once(api, db):
    today = clock.today()
    with db.write() as s:
        bolt = received_lot(s, "BOLT", 100, location="A-01", on=today).lot_number
        order(s, "SO-9", [("BOLT", 10)])

    def twice(path, body):
        first, again = api.post(path, body), api.post(path, body)
        assert first.status_code in (200, 201), first.get_json()
        assert (again.status_code, again.get_json()) == (first.status_code, first.get_json()), path
        return first

    twice("/moves", {"lot": bolt, "qty": 30, "from": "A-01", "to": "A-02", "request_id": "move-0001"})
    assert count(db, Movement, Movement.kind == MovementKind.MOVE) == 1
    twice("/picks", {"order": "SO-9", "line": 1, "lot": bolt, "location": "A-01", "qty": 10,
                     "request_id": "pick-0001"})
    assert count(db, Movement, Movement.kind == MovementKind.PICK) == 1
    twice("/shipments", {"order": "SO-9", "request_id": "ship-0001"})
    assert count(db, Movement, Movement.kind == MovementKind.SHIP) == 1

    started = twice("/production-runs", {"item": "CAKE", "location": "LINE-1", "request_id": "run-start-1"})
    run_id = started.get_json()["id"]
    again = api.post("/production-runs", {"item": "CAKE", "location": "LINE-1", "request_id": "run-start-1"})
    assert again.headers["Location"] == started.headers["Location"] == f"/api/v1/production-runs/{run_id}"
    assert count(db, ProductionRun) == 1
    assert api.client.post(f"/api/v1/production-runs/{run_id}/components", headers=api.headers,
                           json={"lot": bolt, "qty": 2, "location": "A-02"}).status_code == 201
    finished = twice(f"/production-runs/{run_id}/finish", {"qty": 5, "print": False, "request_id": "run-fin-1"})
    assert finished.get_json()["status"] == "finished"
    assert count(db, Movement, Movement.kind == MovementKind.PRODUCE) == 1
    assert count(db, Movement, Movement.kind == MovementKind.CONSUME) == 1
    with db.read() as s:
        assert set(s.scalars(select(ApiRequest.endpoint))) == {
            "POST /moves", "POST /picks", "POST /shipments", "POST /production-runs",
            f"POST /production-runs/{run_id}/finish"}


def test_the_openapi_document_describes_request_id(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    schemas = doc["components"]["schemas"]
    for name in ("ReceiptIn", "MoveIn", "PickIn", "ShipmentIn", "RunIn", "RunFinishIn"):
        prop = schemas[name]["properties"]["request_id"]
        assert "first answer" in prop["description"], name
        assert prop["anyOf"][0]["pattern"] == "^[A-Za-z0-9_.:-]{8,64}$", name
    receipt = doc["paths"]["/api/v1/receipts"]["post"]
    assert "request_id" in receipt["description"] and "request_id_reused" in receipt["responses"]["409"]["description"]
    assert "Idempotent-Replayed" in receipt["responses"]["201"]["headers"]
    assert "request_id" not in schemas["HoldIn"]["properties"]


# --- racing retries on PostgreSQL ----------------------------------------------------------------


def test_racing_retries_on_postgresql_book_once(pg_url, tmp_path, monkeypatch):
    """Eight clients send the same receipt with one request_id at once. A lock on api_requests held by the
    test keeps every transaction open at its last step, so they truly overlap; released, the unique
    (token_id, request_id) lets one commit, and each other one rolls back whole and answers its body."""
    from conftest import _empty_postgres
    from station.db import Database

    database = Database(pg_url)
    _empty_postgres(database)
    database.dispose()
    monkeypatch.setenv("STATION_INSTANCE", str(tmp_path / "instance"))
    app = create_app({"TESTING": True, "DATABASE_URL": pg_url})
    db = app.extensions["station.db"]
    basic_site(db)
    with db.write() as s:
        secret = create_token(s, "erp-sync", Role.RECEIVER)
    body = {"sku": "BOLT", "qty": 40, "request_id": "race-rcpt-0001"}
    clients = 8
    answers: list = [None] * clients
    gate = threading.Barrier(clients)

    def send(i: int) -> None:
        client = app.test_client()
        gate.wait()
        answers[i] = client.post("/api/v1/receipts", json=body, headers={"Authorization": f"Bearer {secret}"})

    holder = create_engine(pg_url)
    with holder.connect() as lock:
        lock.execute(text("LOCK TABLE api_requests IN EXCLUSIVE MODE"))
        threads = [threading.Thread(target=send, args=(i,)) for i in range(clients)]
        for t in threads:
            t.start()
        waiting = 0
        deadline = time.monotonic() + 60  # a safeguard against a hang, not the synchronisation
        while waiting < clients:
            assert time.monotonic() < deadline, f"only {waiting} of {clients} requests reached the database"
            lock.execute(text("SELECT pg_stat_clear_snapshot()"))  # a fresh look, not the transaction's first
            waiting = lock.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()")).scalar()
            time.sleep(0.02)
        lock.rollback()  # releases the table lock: the transactions go on
        for t in threads:
            t.join()
    holder.dispose()
    try:
        assert all(a is not None for a in answers)
        statuses = [a.status_code for a in answers]
        assert statuses == [201] * clients, [a.get_json() for a in answers]
        assert all(a.get_json() == answers[0].get_json() for a in answers)
        assert sum(1 for a in answers if a.headers.get("Idempotent-Replayed") == "true") == clients - 1
        assert count(db, Lot) == 1 and count(db, Movement) == 1 and count(db, ApiRequest) == 1
    finally:
        db.dispose()


def test_a_request_id_costs_a_receipt_one_insert_and_none_without_it(api, db):
    """The receipt path is hot: with a request_id it runs exactly one statement more (the INSERT into
    api_requests, in its own transaction); without one, no statement touches api_requests."""
    from sqlalchemy import event

    def statements(body: dict) -> list[str]:
        seen: list[str] = []

        def record(conn, cursor, statement, *args):
            seen.append(" ".join(statement.split()))

        event.listen(db.engine, "before_cursor_execute", record)
        try:
            assert api.post("/receipts", body).status_code == 201
        finally:
            event.remove(db.engine, "before_cursor_execute", record)
        return seen

    api.post("/receipts", {"sku": "BOLT", "qty": 1})  # first-use look-ups (token, scheme) out of the count
    plain = statements({"sku": "BOLT", "qty": 2})
    keyed = statements({"sku": "BOLT", "qty": 3, "request_id": "cost-0000001"})
    assert not any("api_requests" in s for s in plain), plain
    extra = [s for s in keyed if "api_requests" in s]
    assert len(extra) == 1 and extra[0].startswith("INSERT INTO api_requests"), extra
    assert len(keyed) == len(plain) + 1, (plain, keyed)
