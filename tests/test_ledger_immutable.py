"""The ledger, lot events, recall events and the scan log are append-only in the database itself: raw
UPDATE and DELETE statements through the engine are refused (and TRUNCATE on PostgreSQL), on SQLite and
PostgreSQL, whatever the application code does. (Getting past the triggers is what the hash chains are
for: tests/test_audit_verify.py.)"""
from __future__ import annotations

import pytest
from sqlalchemy import func, insert, select, text
from sqlalchemy.exc import DBAPIError

from factories import basic_site, received_lot
from station import clock
from station.models import LotEvent, Movement, Recall, RecallEvent, Scan
from station.services import catalog, holds, scans

TABLES = {"movements": Movement, "lot_events": LotEvent, "recall_events": RecallEvent, "scans": Scan}


@pytest.fixture
def books(db):
    """A receipt (a movement), a hold (a lot event), a recall with one event and one scan."""
    basic_site(db)
    with db.write() as s:
        lot = received_lot(s, "BOLT", 5)
        holds.hold(s, lot, "QA check")
        recall = Recall(number="R-1", reason="supplier warning", lot_id=lot.id)
        s.add(recall)
        s.flush()
        s.execute(insert(RecallEvent), [{"ts": clock.now(), "recall_id": recall.id, "action": "open",
                                        "lot_id": lot.id, "note": "opened"}])
    scans.ingest(db, f"LOT:{lot.lot_number}", source="wedge", client_id="client-0001")
    return db


def _count(db, model) -> int:
    with db.read() as s:
        return s.scalar(select(func.count()).select_from(model))


STATEMENTS = {
    "movements": ["UPDATE movements SET qty = 99", "UPDATE movements SET reason = 'edited' WHERE id = 1",
                  "DELETE FROM movements", "DELETE FROM movements WHERE id = 1"],
    "lot_events": ["UPDATE lot_events SET reason = 'edited'", "DELETE FROM lot_events"],
    "recall_events": ["UPDATE recall_events SET note = 'edited'", "DELETE FROM recall_events"],
    "scans": ["UPDATE scans SET message = 'edited'", "UPDATE scans SET ok = ignored WHERE id = 1",
              "DELETE FROM scans", "DELETE FROM scans WHERE id = 1"],
}


@pytest.mark.parametrize("table", sorted(TABLES))
def test_raw_update_and_delete_are_refused(books, table):
    db = books
    model = TABLES[table]
    before = _count(db, model)
    assert before == 1
    for statement in STATEMENTS[table]:
        with pytest.raises(DBAPIError, match="append-only"):
            with db.engine.begin() as conn:
                conn.execute(text(statement))
    assert _count(db, model) == before
    with db.read() as s:  # nothing was edited either
        row = s.scalars(select(model)).one()
        assert "edited" not in (getattr(row, "reason", None), getattr(row, "note", None),
                                getattr(row, "message", None))
        if model is Movement:
            assert row.qty == 5


@pytest.mark.parametrize("table", sorted(TABLES))
def test_truncate_is_refused(books, table):
    """PostgreSQL: TRUNCATE (which skips row triggers) has its own statement trigger. SQLite has no
    TRUNCATE: its equivalent is an unqualified DELETE, whose fast path SQLite turns off when a
    DELETE trigger exists — the trigger checked here and refused above."""
    db = books
    if db.is_sqlite:
        with db.engine.connect() as conn:
            triggers = set(conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger' "
                                             "AND tbl_name = :t"), {"t": table}).scalars())
        assert {f"{table}_no_update", f"{table}_no_delete"} <= triggers
        with pytest.raises(DBAPIError, match="append-only"):
            with db.engine.begin() as conn:
                conn.execute(text(f"DELETE FROM {table}"))
    else:
        with pytest.raises(DBAPIError, match="append-only"):
            with db.engine.begin() as conn:
                conn.execute(text(f"TRUNCATE {table} CASCADE"))
    assert _count(db, TABLES[table]) == 1


def test_the_orm_cannot_edit_a_ledger_row_either(books):
    with pytest.raises(DBAPIError, match="append-only"):
        with books.write() as s:
            s.scalars(select(Movement)).one().qty = 42
    with pytest.raises(DBAPIError, match="append-only"):
        with books.write() as s:
            s.delete(s.scalars(select(LotEvent)).one())
    with pytest.raises(DBAPIError, match="append-only"):
        with books.write() as s:
            s.scalars(select(Scan)).one().message = "nothing happened"
    with books.read() as s:
        assert s.scalar(select(Movement.qty)) == 5 and catalog.lot_by_number(
            s, s.scalar(select(catalog.Lot.lot_number))).status.value == "hold"


