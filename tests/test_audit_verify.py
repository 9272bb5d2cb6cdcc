"""`station audit verify`: someone who holds the SQLite file, or is a PostgreSQL superuser, gets past
the append-only triggers (drops them / turns them off) and edits, deletes, reorders or forges rows —
verify names the first row that does not match and exits 1; an intact database exits 0 and prints each
chain's count, last id and head."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select, text

from factories import basic_site, received_lot
from station.models import ChainHead, Movement
from station.services import chain, holds, scans

STATION_EXE = str(Path(sys.executable).with_name("station"))
TRIGGERS = ("no_update", "no_delete")


@pytest.fixture
def books(db):
    """Six ledger rows, two lot events, three scans."""
    basic_site(db)
    with db.write() as s:
        lots = [received_lot(s, "BOLT", 10 + n, supplier="ACME", supplier_lot=f"S-{n}") for n in range(6)]
        holds.hold(s, lots[0], "QA check")
        holds.release(s, lots[0], "fine")
    for n, code in enumerate(["LOC:A-01", "LOC:A-02", "LOT:nothing"]):
        scans.ingest(db, code, source="wedge", client_id=f"client-{n:04d}")
    return db


def tamper(db, *statements: str, params=None) -> None:
    """What an attacker with the file or a superuser does: triggers out of the way, then raw SQL."""
    with db.engine.begin() as conn:
        if db.is_sqlite:
            for table in chain.CHAINS:
                for trigger in TRIGGERS:
                    conn.execute(text(f"DROP TRIGGER IF EXISTS {table}_{trigger}"))
        else:
            conn.execute(text("SET LOCAL session_replication_role = replica"))
        for statement in statements:
            conn.execute(text(statement), params or {})


def run_verify(db, tmp_path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STATION_")}
    env.update(STATION_DATABASE_URL=db.url, STATION_INSTANCE=str(tmp_path / "instance"))
    return subprocess.run([STATION_EXE, "audit", "verify", *args], env=env, capture_output=True, text=True,
                          timeout=120)


def first_break(db, name: str):
    report = {r.chain: r for r in chain.verify(db)}[name]
    assert not report.ok
    return report.first


def test_an_intact_database_exits_0_and_prints_each_head(books, tmp_path):
    done = run_verify(books, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    with books.read() as s:
        heads = {h.chain: (h.last_id, h.last_hash)
                 for h in s.execute(select(ChainHead.chain, ChainHead.last_id, ChainHead.last_hash))}
    for name, rows in (("movements", 6), ("lot_events", 2), ("scans", 3), ("recall_events", 0)):
        last_id, last_hash = heads.get(name, (0, chain.GENESIS))
        assert f"{name}" in done.stdout and f"ok      {rows} rows  last id {last_id}  head {last_hash}" in done.stdout
    assert "all chains intact" in done.stdout


def test_an_edited_ledger_row_is_named_and_exits_1(books, tmp_path):
    tamper(books, "UPDATE movements SET qty = 99 WHERE id = 3")
    done = run_verify(books, tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "first bad row: movements id 3: content changed" in done.stdout
    assert "TAMPERED" in done.stderr and "movements" in done.stderr
    # The other chains still verify, and --chain walks only the one named.
    assert run_verify(books, tmp_path, "--chain", "lot_events", "--chain", "scans").returncode == 0


@pytest.mark.parametrize("statement, row_id", [
    ("UPDATE scans SET result = '{\"ok\": true}' WHERE id = 2", 2),  # the JSON a page shows
    ("UPDATE scans SET raw = X'4c4f433a412d3033' WHERE id = 1", 1),  # the bytes as scanned
    ("UPDATE scans SET ts = '2020-01-01 00:00:00' WHERE id = 3", 3),
])
def test_an_edited_scan_is_named(books, statement, row_id):
    if not books.is_sqlite:
        statement = statement.replace("X'4c4f433a412d3033'", "'\\x4c4f433a412d3033'::bytea")
        statement = statement.replace("'2020-01-01 00:00:00'", "'2020-01-01 00:00:00+00'")
    tamper(books, statement)
    bad = first_break(books, "scans")
    assert (bad.row_id, bad.what) == (row_id, "content")


def test_an_edited_lot_event_and_a_cleared_hash_are_named(books):
    tamper(books, "UPDATE lot_events SET reason = 'nothing to see' WHERE id = 2")
    assert (first_break(books, "lot_events").row_id, first_break(books, "lot_events").what) == (2, "content")
    tamper(books, "UPDATE lot_events SET chain_hash = NULL WHERE id = 1")
    bad = first_break(books, "lot_events")
    assert (bad.row_id, bad.what) == (1, "unchained")


def test_a_deleted_row_names_the_row_after_it(books, tmp_path):
    tamper(books, "DELETE FROM movements WHERE id = 3")
    done = run_verify(books, tmp_path, "--chain", "movements")
    assert done.returncode == 1
    assert "first bad row: movements id 4: row missing or inserted" in done.stdout
    assert "5 rows  last id 6" in done.stdout


def test_deleting_the_last_rows_is_a_head_mismatch(books):
    tamper(books, "DELETE FROM movements WHERE id >= 5")
    bad = first_break(books, "movements")
    assert bad.what == "head" and bad.row_id == 6 and "ends at row 4" in bad.detail


def test_reordered_rows_are_named(books):
    # Rows 2 and 3 swap places, hashes and all (the ledger row of one lot now comes first).
    tamper(books, "UPDATE movements SET id = -2 WHERE id = 2", "UPDATE movements SET id = 2 WHERE id = 3",
           "UPDATE movements SET id = 3 WHERE id = -2")
    bad = first_break(books, "movements")
    assert (bad.row_id, bad.what) == (2, "order")


def _forged(db, previous_hash: str, values: dict) -> str:
    return chain.make_hash(previous_hash, chain.content_digest("movements", values, db.is_sqlite))


def test_a_forged_row_with_a_valid_link_is_found(books):
    """The forger knows the algorithm (it is in the source): a row chained properly after row 2 and put
    in its own id between 2 and the old row 3 still breaks the link of the row after it."""
    with books.read() as s:
        row2 = s.get(Movement, 2)
        forged = {"ts": row2.ts, "kind": "adjust", "lot_id": row2.lot_id, "qty": 1000,
                  "to_location_id": row2.to_location_id, "reason": "found"}
        forged_hash = _forged(books, row2.chain_hash, forged)
    moves = [f"UPDATE movements SET id = id + 100 WHERE id = {n}" for n in range(6, 2, -1)]
    tamper(books, *moves, "INSERT INTO movements (id, ts, kind, lot_id, qty, to_location_id, reason, chain_hash) "
           "VALUES (3, :ts, 'adjust', :lot, 1000000000, :to, 'found', :h)",  # stored in millionths
           params={"ts": forged["ts"], "lot": forged["lot_id"], "to": forged["to_location_id"], "h": forged_hash})
    bad = first_break(books, "movements")
    assert (bad.row_id, bad.what) == (3, "inserted") and "row 103 was chained directly after row 2" in bad.detail


def test_a_forged_row_at_the_end_is_a_head_mismatch(books):
    with books.read() as s:
        last = s.scalars(select(Movement).order_by(Movement.id.desc())).first()
        forged_hash = _forged(books, last.chain_hash, {"ts": last.ts, "kind": "adjust", "lot_id": last.lot_id,
                                                       "qty": 7, "to_location_id": last.to_location_id})
        ts, lot, to = last.ts, last.lot_id, last.to_location_id
    tamper(books, "INSERT INTO movements (ts, kind, lot_id, qty, to_location_id, chain_hash) "
           "VALUES (:ts, 'adjust', :lot, 7000000, :to, :h)", params={"ts": ts, "lot": lot, "to": to, "h": forged_hash})
    bad = first_break(books, "movements")
    assert bad.what == "head" and "ends at row 6" in bad.detail


def test_a_rewrite_of_every_later_row_and_the_head_is_only_caught_by_an_outside_copy_of_the_head(books, tmp_path):
    """The limit of a chain without an anchor: the edit below is rehashed onward and the head rewritten,
    and verify passes — but the head it prints is not the head recorded before, and given that head
    (--anchor CHAIN:ID:HASH, as a site would have kept it) it names the rewritten row."""
    earlier = {r.chain: r for r in chain.verify(books)}["movements"]
    before = earlier.head_hash
    anchor = f"movements:{earlier.last_id}:{before}"
    assert run_verify(books, tmp_path, "--anchor", anchor).returncode == 0
    with books.read() as s:
        rows = s.execute(chain.raw_select(Movement.__table__, books.engine.dialect.name)
                         .order_by(Movement.id)).mappings().all()
    previous, updates = chain.GENESIS, []
    for row in rows:
        values = dict(row)
        if row["id"] == 2:
            values["qty"] = 500
        previous = chain.make_hash(previous, chain.content_digest("movements", values, books.is_sqlite,
                                                                  stored=True))
        updates.append((row["id"], values["qty"], previous))
    statements = [f"UPDATE movements SET qty = {qty}, chain_hash = '{h}' WHERE id = {i}" for i, qty, h in updates]
    tamper(books, *statements, f"UPDATE chain_heads SET last_hash = '{previous}' WHERE chain = 'movements'")
    after = {r.chain: r for r in chain.verify(books)}["movements"]
    assert after.ok and after.head_hash != before
    done = run_verify(books, tmp_path, "--chain", "scans", "--anchor", anchor)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"first bad row: movements id {earlier.last_id}: recorded head not matched" in done.stdout
