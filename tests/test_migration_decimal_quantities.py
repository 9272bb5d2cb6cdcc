"""Migration 0015 (decimal quantities) on a database with a working site's data in it, on a fresh SQLite
file and a fresh PostgreSQL database: every stock figure (stock, lots, the ledger, order lines, counts,
runs, recalls, expected receipts, pallets) reads the same after the upgrade as before it, every other
value of every row is untouched, and every hash chain is still intact, both by revision 0014's own
encoding (a quantity hashed as the integer it was stored as) and by `station audit verify` after it.

The site is made by the real services at head with whole quantities, then the database is taken down to
0014: there it is checked to be exactly what 0014 stores (the plain integers, chains that verify with
0014's column kinds), so what is upgraded is a 0014 database with real data, not a fixture."""
from __future__ import annotations

import importlib.util
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import MetaData, create_engine, select, text, type_coerce
from sqlalchemy.exc import OperationalError
from sqlalchemy.types import NullType

from labels import gs1
from station.config import ROOT
from station.db import Database
from station.models import Base, LocationKind
from station.quantities import SCALE, Quantity
from station.schema import migrate, upgrade
from station.services import (catalog, chain, counts, expected, holds, picking, production_runs, receiving, recalls,
                              scans, stock)
from station.services.chain_encoding import GENESIS, HEADS, column_kinds, content_digest, make_hash, naive_wall
from station.services.chain_verify import raw_select
from station.services.expected import ExpectedLineIn

from conftest import IN_CI, PG_ADMIN_URL
from factories import TODAY, assert_books_balance, basic_site, order

P1, P2 = (gs1.sscc(0, "4000001", n) for n in (501, 502))
MILK_PALLET = gs1.sscc(0, "4000001", 503)


def _migration_0015():
    path = ROOT / "migrations" / "versions" / "0015_decimal_quantities.py"
    spec = importlib.util.spec_from_file_location("migration_0015", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_url(request, tmp_path):
    """A database of its own (this test takes it down to 0014 and up again): a new SQLite file, or a new
    PostgreSQL database dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'at_0014.db'}"
        return
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"station_test_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        admin.dispose()
        message = f"PostgreSQL at {PG_ADMIN_URL} is unreachable: {exc.orig}"
        if IN_CI:
            pytest.fail("CI=true requires PostgreSQL; " + message, pytrace=False)
        pytest.skip(message)
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def busy_site(db) -> None:
    """A site that has used every table with a quantity: an expected receipt booked against (with its
    pallets), receipts loose and on a pallet, a move, a production run, orders picked and shipped (one
    line short), a count with a difference, a hold and release, a recall with goods retrieved, scans."""
    basic_site(db)
    with db.write() as s:
        catalog.create_customer(s, code="BIG", name="Big Co")
        catalog.create_location(s, code="Q-DOCK", kind=LocationKind.QUARANTINE)
        acme = catalog.supplier_by_code(s, "ACME")
        bolt, milk, cake = (catalog.item_by_sku(s, sku) for sku in ("BOLT", "MILK", "CAKE"))
        dock, a01, a02, line = (catalog.location_by_code(s, c) for c in ("DOCK", "A-01", "A-02", "LINE-1"))
        po, _ = expected.enter_expected_receipt(s, supplier_code="ACME", reference="PO-1", lines=[
            ExpectedLineIn(qty=40, sku="BOLT", ssccs=(P1, P2)), ExpectedLineIn(qty=10, sku="MILK")])
        bolt_line = po.lines[0]
        on_pallet = receiving.receive(s, item=bolt, qty=20, location=dock, supplier=acme, supplier_lot="S-1",
                                      sscc=P1, on=TODAY)
        expected.book_against(s, bolt_line, 20, P1)
        a = receiving.receive(s, item=bolt, qty=100, location=a01, supplier=acme, supplier_lot="S-77", on=TODAY)
        receiving.receive(s, item=milk, qty=50, location=dock, supplier=acme, sscc=MILK_PALLET, on=TODAY)
        stock.move(s, a, 30, a01, a02)
        stock.move(s, on_pallet, 7, dock, a01)
        run = production_runs.start(s, item=cake, location=line)
        production_runs.add_component(s, run, a, 12, location=a01, on=TODAY)
        production_runs.add_component(s, run, on_pallet, 3, location=a01, on=TODAY)
        p = production_runs.finish(s, run, 20, on=TODAY)
        so1 = order(s, "SO-1", [("CAKE", 6), ("BOLT", 15)])
        picking.pick(s, lot=p, location=line, qty=6, line=so1.lines[0], on=TODAY)
        picking.pick(s, lot=a, location=a01, qty=10, line=so1.lines[1], on=TODAY)
        picking.ship(s, so1, short_reason="The customer takes what is ready", on=TODAY)
        so2 = order(s, "SO-2", [("BOLT", 4)])
        picking.pick(s, lot=a, location=a02, qty=4, line=so2.lines[0], on=TODAY)  # picked, waiting at SHIP
        holds.hold(s, p, "QA check")
        holds.release(s, p, "Fine")
    with db.write() as s:
        count = counts.start(s, catalog.location_by_code(s, "A-02"))
        for entry in count.lines:
            counts.set_counted(count, entry, entry.expected_qty - 2)
            counts.set_reason(count, entry, "Damaged")
        assert counts.finish(s, count, threshold=1000).status == "booked"
    with db.write() as s:
        recall = recalls.open_recall(s, reason="Metal in the bolts", lot=catalog.lot_by_number(s, a.lot_number))
        recalls.record_retrieved(s, recall, catalog.lot_by_number(s, a.lot_number), 5,
                                 location=catalog.location_by_code(s, "A-02"))
    for n, code in enumerate(["LOC:A-01", f"LOT:{a.lot_number}", "nothing"]):
        scans.ingest(db, code, source="wedge", client_id=f"client-{n:04d}")


def quantity_columns() -> dict[str, tuple[str, ...]]:
    """Every Quantity column of the models, per table."""
    found: dict[str, tuple[str, ...]] = {}
    for table in Base.metadata.sorted_tables:
        names = tuple(c.name for c in table.columns if isinstance(c.type, Quantity))
        if names:
            found[table.name] = names
    return found


def every_row(conn, tables) -> dict[str, list[tuple]]:
    """Every row of every table, in primary-key order, as the given tables read them."""
    return {t.name: [tuple(r) for r in conn.execute(select(t).order_by(*t.primary_key.columns))]
            for t in tables if t.name != "alembic_version"}


def figures(conn, tables, raw: bool = False) -> dict[tuple, object]:
    """Every stock figure: (table, primary key, column) -> value; `raw`: as stored, with no type processing."""
    out = {}
    for name, columns in quantity_columns().items():
        if name not in tables:
            continue
        table = tables[name]
        here = [c for c in columns if c in table.c]
        keys = list(table.primary_key.columns)
        picked = [type_coerce(table.c[c], NullType()) if raw else table.c[c] for c in here]
        for row in conn.execute(select(*keys, *picked).order_by(*keys)):
            key = tuple(row[:len(keys)])
            for column, value in zip(here, row[len(keys):]):
                if value is not None:
                    out[(name, key, column)] = int(value) if raw else value
    return out


def assert_chains_intact_by_0014s_encoding(conn) -> None:
    """Walk each chain as revision 0014 hashed it: its own columns and their kinds (a quantity was an
    INTEGER, hashed as that integer)."""
    meta = MetaData()
    meta.reflect(conn, only=[*chain.CHAINS, HEADS.name])
    kinds_of = {name: column_kinds(meta.tables[name]) for name in chain.CHAINS}
    assert dict(kinds_of["movements"])["qty"] == "int" and dict(kinds_of["recall_events"])["qty"] == "int"
    assert "pieces" not in dict(kinds_of["movements"])
    wall = naive_wall(conn)
    heads = {r.chain: (r.last_id, r.last_hash) for r in conn.execute(select(meta.tables[HEADS.name]))}
    for name in chain.CHAINS:
        table, previous, last_id = meta.tables[name], GENESIS, 0
        for row in conn.execute(raw_select(table, conn.dialect.name).order_by(table.c.id)).mappings():
            assert row["chain_hash"] == make_hash(previous, content_digest(
                name, row, wall, stored=True, kinds=kinds_of[name])), (name, row["id"])
            previous, last_id = row["chain_hash"], row["id"]
        assert last_id, f"{name}: the site wrote no rows to this chain"
        assert heads[name] == (last_id, previous), name


def test_the_migration_rescales_every_quantity_column_that_0014_had():
    """A Quantity column the rescale missed would read a million times too small after the upgrade."""
    rescaled = {table: set(columns) for table, columns in _migration_0015().COLUMNS.items()}
    new_in_0015 = {("item_gtins", "pack_qty")}
    models = {(table, column) for table, columns in quantity_columns().items() for column in columns}
    assert models - new_in_0015 == {(t, c) for t, columns in rescaled.items() for c in columns}


def test_a_0014_database_with_a_sites_data_keeps_every_figure_and_every_chain(fresh_url):
    db = Database(fresh_url)
    upgrade(db)
    busy_site(db)
    tables = {t.name: t for t in Base.metadata.sorted_tables}
    with db.engine.connect() as conn:
        before = figures(conn, tables)
        rows_before = every_row(conn, Base.metadata.sorted_tables)
    with db.read() as s:
        assert_books_balance(s)
    db.dispose()
    assert len(before) > 50 and {name for name, _, _ in before} == set(quantity_columns()) - {"item_gtins"}
    assert all(isinstance(v, int) for v in before.values())

    at_0014 = Database(fresh_url)
    migrate(at_0014, "0014", down=True)
    with at_0014.engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == "0014"
        old = MetaData()
        old.reflect(conn)
        assert "pieces" not in old.tables["movements"].c and "qty_decimals" not in old.tables["items"].c
        # 0014 stores a quantity as the plain integer it is: 100 is 100, not 100,000,000.
        assert figures(conn, old.tables, raw=True) == before
        assert_chains_intact_by_0014s_encoding(conn)
    at_0014.dispose()

    upgraded = Database(fresh_url)
    migrate(upgraded, "head")
    with upgraded.engine.connect() as conn:
        assert figures(conn, tables) == before
        assert figures(conn, tables, raw=True) == {k: v * SCALE for k, v in before.items()}
        assert every_row(conn, Base.metadata.sorted_tables) == rows_before
    reports = chain.verify(upgraded)
    assert [(r.chain, r.ok) for r in reports] == [(name, True) for name in chain.CHAINS], \
        [(r.chain, r.first) for r in reports if not r.ok]
    assert all(r.count for r in reports)
    with upgraded.read() as s:
        assert_books_balance(s)

    # The upgraded site goes on working, in decimals too, and its chains go on from where they were.
    with upgraded.write() as s:
        catalog.create_item(s, sku="FLOUR", name="Flour", unit="kg", qty_decimals=3)
        lot = receiving.receive(s, item=catalog.item_by_sku(s, "FLOUR"), qty=Decimal("12.345"),
                                location=catalog.location_by_code(s, "A-01"), on=TODAY)
        stock.move(s, lot, Decimal("0.345"), catalog.location_by_code(s, "A-01"), catalog.location_by_code(s, "A-02"))
        picking.pick(s, lot=lot, location=catalog.location_by_code(s, "A-02"), qty=Decimal("0.3"), on=TODAY)
    with upgraded.read() as s:
        assert catalog.lot_by_number(s, lot.lot_number).on_hand == Decimal("12.345")
        assert_books_balance(s)
    assert all(r.ok for r in chain.verify(upgraded))
    upgraded.dispose()
