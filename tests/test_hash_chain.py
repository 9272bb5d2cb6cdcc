"""The append-only tables are hash chains (services/chain.py): every write path chains its rows in the
same transaction, the migration chains the rows that were there before it exactly as the application
would have, and writers on PostgreSQL at once leave one intact chain whose id order is its chain order."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading

import pytest
from sqlalchemy import func, insert, select, text
from sqlalchemy.exc import IntegrityError

from conftest import _empty_postgres
from factories import TODAY, basic_site, received_lot
from station import clock, schema
from station.config import ROOT
from station.db import Database
from station.models import ChainHead, LotEvent, Movement, Recall, RecallEvent, Scan
from station.services import catalog, chain, expiry, holds, receiving, scans

MODELS = {"movements": Movement, "lot_events": LotEvent, "recall_events": RecallEvent, "scans": Scan}


def _write_everything(db) -> None:
    """Rows in all four chains through every write path: the unit of work (receipts, holds, the scan
    log inside its savepoint), ORM bulk inserts (the expiry job, a recall event) and a Core bulk insert."""
    basic_site(db)
    with db.write() as s:
        lots = [received_lot(s, "BOLT", 5 + n, supplier="ACME", supplier_lot=f"S-{n}") for n in range(3)]
        holds.hold(s, lots[0], "QA check")
        holds.release(s, lots[0], "checked")
        received_lot(s, "MILK", 12, expiry=TODAY - dt.timedelta(days=3))  # due to expire
        recall = Recall(number="R-1", reason="supplier warning", lot_id=lots[1].id)
        s.add(recall)
        s.flush()
        s.execute(insert(RecallEvent), [{"recall_id": recall.id, "action": "open", "lot_id": lots[1].id,
                                         "note": "opened"},
                                        {"recall_id": recall.id, "action": "notify", "note": "told the shop"}])
        s.execute(insert(RecallEvent.__table__), [{"ts": clock.now(), "recall_id": recall.id,
                                                   "action": "retrieve", "qty": 3}])
    with db.write() as s:
        assert expiry.expire_due(s, on=TODAY)  # the job's ORM bulk insert of lot events
    for n, code in enumerate(["LOT:nothing", "\x1d0104000000000019", "LOC:A-01", "LOC:A-01"]):
        scans.ingest(db, code, source="wedge", client_id=f"client-{n:04d}")
    with db.write() as s:  # a scan joining a caller's transaction, then a ledger row after it
        scans.ingest(s, "LOC:A-02", source="sim://dock")
        receiving.receive(s, item=catalog.item_by_sku(s, "CAKE"), qty=2,
                          location=catalog.location_by_code(s, "DOCK"), on=TODAY)


def _ok(db, chains=None):
    reports = chain.verify(db, chains)
    for report in reports:
        assert report.ok, (report.chain, report.first)
    return {r.chain: r for r in reports}


def test_every_write_path_chains_its_rows(db):
    _write_everything(db)
    reports = _ok(db)
    with db.read() as s:
        for name, model in MODELS.items():
            count = s.scalar(select(func.count()).select_from(model))
            assert count >= 2 and reports[name].count == count, name
            assert s.scalar(select(func.count()).select_from(model).where(model.chain_hash.is_(None))) == 0
            last = s.execute(select(model.id, model.chain_hash).order_by(model.id.desc()).limit(1)).one()
            head = s.get(ChainHead, name)
            assert (head.last_id, head.last_hash) == (last.id, last.chain_hash) == (reports[name].last_id,
                                                                                     reports[name].head_hash)


def test_a_row_hash_is_its_content_and_the_previous_hash(db):
    """Recomputed here from the definition, not through chain.py's own walk."""
    basic_site(db)
    with db.write() as s:
        received_lot(s, "BOLT", 5)
        received_lot(s, "BOLT", 7)
    with db.read() as s:
        first, second = [(row.id, row.ts, row.kind, row.lot_id, row.qty, row.to_location_id, row.chain_hash)
                         for row in s.scalars(select(Movement).order_by(Movement.id))]
        assert second[0] > first[0]

    def content(row):
        _, ts, kind, lot_id, qty, to_location_id, _ = row
        columns = {"ts": ts.replace(tzinfo=None) if db.is_sqlite else ts.astimezone(dt.timezone.utc).replace(tzinfo=None),
                   "kind": kind.value, "lot_id": lot_id, "qty": qty, "to_location_id": to_location_id}
        columns["ts"] = columns["ts"].isoformat(timespec="microseconds")
        doc = {"v": "station-chain/1", "t": "movements", "c": columns}
        return hashlib.sha256(json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()).hexdigest()

    for previous, row in ((chain.GENESIS, first), (first[-1], second)):
        digest = content(row)
        assert row[-1] == hashlib.sha256((previous + digest).encode()).hexdigest()[:32] + digest[:32]


def test_a_rolled_back_savepoint_leaves_no_gap_in_the_chain(db):
    """The scan log's savepoint loses a client-id race (IntegrityError): the rows written after it in
    the same transaction chain onto the last row that exists, not onto the one rolled back."""
    basic_site(db)
    scans.ingest(db, "LOC:A-01", source="wedge", client_id="client-0001")
    with db.write() as s:
        duplicate = Scan(source="wedge", raw=b"LOC:A-02", text="LOC:A-02", client_id="client-0001", kind="x",
                         ok=False, message="dup", result={})
        with pytest.raises(IntegrityError):
            with s.begin_nested():
                s.add(duplicate)
        scans.ingest(s, "LOC:A-02", source="wedge", client_id="client-0002")
        received_lot(s, "BOLT", 5)
    reports = _ok(db)
    assert reports["scans"].count == 2 and reports["movements"].count == 1


def test_a_failed_transaction_leaves_the_head_where_it_was(db):
    basic_site(db)
    with db.write() as s:
        received_lot(s, "BOLT", 5)
    with pytest.raises(RuntimeError):
        with db.write() as s:
            received_lot(s, "BOLT", 6)
            s.flush()
            raise RuntimeError("the request failed after its flush")
    with db.write() as s:
        received_lot(s, "BOLT", 7)
    assert _ok(db)["movements"].count == 2


def test_raw_inserts_that_would_skip_the_chain_are_refused(db):
    basic_site(db)
    with db.write() as s:
        lot = received_lot(s, "BOLT", 5)
        with pytest.raises(chain.ChainError):
            s.execute(insert(LotEvent).values(lot_id=lot.id, action="hold", from_status="available",
                                              to_status="hold", reason="by hand"))


def test_the_migration_chains_existing_rows_exactly_as_the_application_does(db):
    """Rows written with the chain, then down to 0010 (no hashes, no heads) and up again: the
    backfill gives every row the very hash the application gave it, and the heads match."""
    _write_everything(db)
    with db.read() as s:
        before = {name: s.execute(select(m.id, m.chain_hash).order_by(m.id)).all() for name, m in MODELS.items()}
    schema.migrate(db, "0010", down=True)
    with db.read() as s:
        assert all(s.scalar(select(func.count()).select_from(m).where(m.chain_hash.is_not(None))) == 0
                   for m in MODELS.values())
        assert s.scalar(select(func.count()).select_from(ChainHead)) == 0
    schema.migrate(db, "head")
    with db.read() as s:
        after = {name: s.execute(select(m.id, m.chain_hash).order_by(m.id)).all() for name, m in MODELS.items()}
    assert after == before
    _ok(db)


def test_the_migration_hashes_the_columns_the_models_hash():
    import importlib.util

    spec = importlib.util.spec_from_file_location("m0011", ROOT / "migrations" / "versions" / "0011_hash_chains.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    # A quantity was an int at 0011 and is kind "qty" since 0015: a whole one hashes as the same int.
    now_qty = {"int": "qty"}
    for name, columns in module.COLUMNS.items():
        kinds = dict(chain.KINDS[name])
        for column, kind in columns:
            assert kinds.get(column) in (kind, now_qty.get(kind)), (name, column)


def test_every_hashed_column_has_a_default_the_chain_can_compute():
    for model in MODELS.values():
        for column in model.__table__.columns:
            assert column.server_default is None, column
            if column.default is not None:
                assert column.default.is_scalar or column.default.is_callable, column


@pytest.fixture
def pg_db(pg_url):
    """An empty PostgreSQL database: the concurrency tests are for PostgreSQL alone (SQLite's
    BEGIN IMMEDIATE already puts writers in line)."""
    database = Database(pg_url)
    _empty_postgres(database)
    yield database
    database.dispose()


def test_concurrent_writers_on_postgresql_leave_one_intact_chain(pg_db):
    """Eight threads, each with its own connection, write receipts (movements), holds (lot events) and
    scans at once, many transactions each; the chains verify, and ids follow the chain."""
    db = pg_db
    basic_site(db)
    with db.write() as s:
        seed = received_lot(s, "BOLT", 1000)
    threads, rounds = 8, 12
    start = threading.Barrier(threads)
    errors: list[BaseException] = []
    # Each thread writes through its own Database (own pool, own connections), like separate processes.
    dbs = [Database(db.url) for _ in range(threads)]

    def work(n: int) -> None:
        mine = dbs[n]
        try:
            start.wait()
            for k in range(rounds):
                with mine.write() as s:
                    lot = received_lot(s, "BOLT", 1 + k, supplier="ACME", supplier_lot=f"T{n}-{k}")
                    if k % 3 == 0:
                        holds.hold(s, lot, f"thread {n}")
                scans.ingest(mine, f"LOT:{seed.lot_number}", source="wedge", client_id=f"t{n:02d}-round-{k:03d}")
                with mine.write() as s:  # the scan log first, then the ledger, in one transaction
                    scans.ingest(s, "LOC:A-01", source=f"sim://t{n}", client_id=f"t{n:02d}-both-{k:03d}")
                    received_lot(s, "MILK", 2 + k)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    for d in dbs:
        d.dispose()
    assert errors == []
    reports = _ok(db)
    assert reports["movements"].count == 1 + 2 * threads * rounds
    assert reports["scans"].count == 2 * threads * rounds
    assert reports["lot_events"].count == threads * len(range(0, rounds, 3))


def test_one_flush_of_many_rows_chains_in_id_order(db):
    """A flush that inserts many ledger rows at once (one batched INSERT on PostgreSQL) is hashed in
    the order the rows get their ids."""
    basic_site(db)
    with db.write() as s:
        lot = received_lot(s, "BOLT", 500)
        a01, a02 = catalog.location_by_code(s, "A-01"), catalog.location_by_code(s, "A-02")
        s.add_all([Movement(kind="move", lot=lot, qty=1 + n, from_location=a01, to_location=a02,
                            reason=f"batch {n}") for n in range(60)])
    assert _ok(db)["movements"].count == 61
    with db.read() as s:
        qtys = s.scalars(select(Movement.qty).where(Movement.reason.like("batch %")).order_by(Movement.id)).all()
    assert qtys == list(range(1, 61))


def test_verify_reads_one_snapshot_while_writers_go_on(db):
    basic_site(db)
    with db.write() as s:
        received_lot(s, "BOLT", 5)
    stop = threading.Event()

    def writer():
        while not stop.is_set():
            with db.write() as s:
                received_lot(s, "BOLT", 1)

    t = threading.Thread(target=writer)
    t.start()
    try:
        with db.read() as s:
            start = s.scalar(select(func.count()).select_from(Movement))
        while True:  # until the writer has written a few more rows, verifying all along
            _ok(db, ["movements"])
            with db.read() as s:
                if s.scalar(select(func.count()).select_from(Movement)) >= start + 5:
                    break
    finally:
        stop.set()
        t.join()
    _ok(db)


def test_raw_sql_shows_up_as_an_unchained_row(db):
    basic_site(db)
    with db.write() as s:
        received_lot(s, "BOLT", 5)
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO lot_events (ts, lot_id, action, from_status, to_status, reason) "
                          "SELECT ts, lot_id, 'hold', 'available', 'hold', 'by hand' FROM movements"))
    report = chain.verify(db, ["lot_events"])[0]
    assert not report.ok and report.first.what == "unchained" and report.first.row_id == 1


def test_the_expiry_jobs_bulk_insert_chains_in_id_order(db):
    """The expiry job writes its lot events with one multi-row INSERT (no ORM objects): chained in the
    order of its rows, which is the order their ids are drawn in."""
    basic_site(db)
    with db.write() as s:
        for n in range(40):
            received_lot(s, "MILK", 1 + n, supplier="ACME", supplier_lot=f"OLD-{n}", expiry=TODAY - dt.timedelta(days=1))
        holds.hold(s, received_lot(s, "BOLT", 3), "before the job")
    with db.write() as s:
        assert len(expiry.expire_due(s, on=TODAY)) == 40
    with db.write() as s:  # and the unit of work chains on after it
        holds.hold(s, received_lot(s, "BOLT", 4), "after the job")
    assert _ok(db)["lot_events"].count == 42


def test_a_bulk_insert_after_pending_rows_chains_after_them(db):
    """Rows added but not flushed yet are flushed by the bulk insert's autoflush: they are chained
    first, and the bulk rows after them (not both onto the same head)."""
    basic_site(db)
    with db.write() as s:
        lot = received_lot(s, "BOLT", 5)
        s.flush()
        s.add(LotEvent(lot_id=lot.id, action="note", from_status="available", to_status="available",
                       reason="pending"))
        s.execute(insert(LotEvent), [{"lot_id": lot.id, "action": "note", "from_status": "available",
                                      "to_status": "available", "reason": f"bulk {n}"} for n in range(3)])
    assert _ok(db)["lot_events"].count == 4


def test_times_with_an_offset_hash_as_they_are_stored(db):
    """A scan sent with its own UTC offset (scanned_at 10:42+02:00): SQLite keeps the wall time it is
    given, PostgreSQL the instant; either way the row verifies as read back."""
    basic_site(db)
    plus_two = dt.timezone(dt.timedelta(hours=2))
    scans.ingest(db, "LOC:A-01", source="api", client_id="client-0001", now=clock.now().astimezone(plus_two))
    scans.ingest(db, "LOC:A-02", source="api", client_id="client-0002",
                 now=clock.now().astimezone(dt.timezone(dt.timedelta(hours=-7, minutes=-30))))
    assert _ok(db, ["scans"])["scans"].count == 2


WRITER = """
import pathlib, sys, time
sys.path[:0] = [sys.argv[4]]
from factories import received_lot
from station.db import Database
from station.services import holds, scans
db, n, go = Database(sys.argv[1]), int(sys.argv[2]), pathlib.Path(sys.argv[3])
while not go.exists():
    time.sleep(0.005)
for k in range(12):
    with db.write() as s:
        lot = received_lot(s, "BOLT", 1 + k, supplier="ACME", supplier_lot=f"P{n}-{k}")
        if k % 4 == 0:
            holds.hold(s, lot, f"process {n}")
    scans.ingest(db, "LOC:A-01", source=f"sim://p{n}", client_id=f"p{n:02d}-scan-{k:03d}")
db.dispose()
"""


def test_concurrent_processes_on_postgresql_leave_one_intact_chain(pg_db, tmp_path):
    """The same from four processes (each its own interpreter and connections), released at once."""
    import subprocess
    import sys

    db = pg_db
    basic_site(db)
    go = tmp_path / "go"
    tests = str(ROOT / "tests")
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, db.url, str(n), str(go), tests],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for n in range(4)]
    go.touch()
    outputs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], outputs
    reports = _ok(db)
    assert reports["movements"].count == 48 and reports["scans"].count == 48 and reports["lot_events"].count == 12
