"""Benchmark of the FIFO/FEFO pick suggestion at 10,000 and 1,000,000 lots.

Not a test: it loads a synthetic site into SQLite (and PostgreSQL when one answers), times
`station.services.suggest.suggest()` and prints figures, query plans and whether the targets hold
(1M-lot median within 1.5x of the 10k-lot median; under 2 ms on SQLite).

    .venv/bin/python bench/suggest_bench.py                 # both sizes, SQLite (+ PG if it answers)
    .venv/bin/python bench/suggest_bench.py --sizes 10000   # one size
    .venv/bin/python bench/suggest_bench.py --rebuild       # reload the data
    .venv/bin/python bench/suggest_bench.py --pg postgresql://postgres@127.0.0.1:5432/postgres
    .venv/bin/python bench/suggest_bench.py --no-pg --verify

The loaded databases are kept in bench/data/ (SQLite files) and in the PostgreSQL database
`station_bench` (one schema per size) and reused while their row counts and load parameters
match; loading a million lots takes a few minutes.

The site: 200 items (about 40 % FEFO with shelf lives of 7-365 days, the rest FIFO, half of them
with a long shelf life), 500 locations (4 docks, 8 lines, 480 storage, 8 shipping), 40 suppliers.
Lots arrive at a steady rate (default 1,000 a day, spread over items by a skewed demand), so the
1M database is the same site with 1,000 days of history and the 10k one a site 10 days old.
A lot is still in stock with probability max(2 %, exp(-age/30 days)): old lots are nearly all
empty (status 'consumed'). Lots with stock are mostly 'available', some 'hold', 'quarantine' or
'recalled'; lots past their expiry with stock are 'expired' for half of them and still 'available'
for the other half (Station has no expiry sweep yet, so nothing else changes their status).
Every lot has exactly five movements, e.g. receive (outside -> dock) or produce (outside -> line),
move (-> storage), two picks (storage -> shipping) and a ship (shipping -> outside); some lots are
split over two storage locations, some have picked goods still staged at shipping. Stock rows
are the per-location balances of those movements (storage rows stay at qty 0 once emptied),
and lots.on_hand is the sum of the lot's stock rows. `--verify` checks all of that in SQL.
"""
from __future__ import annotations

import argparse
import bisect
import contextlib
import datetime as dt
import gc
import json
import math
import os
import random
import re
import socket
import sqlite3
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import event, text  # noqa: E402

from station.config import normalise_url  # noqa: E402
from station.db import Database  # noqa: E402
from station.quantities import SCALE  # noqa: E402 - the stored millionths of a unit
from station.schema import upgrade  # noqa: E402
from station.services.suggest import BATCH, suggest  # noqa: E402

DATA = ROOT / "bench" / "data"
AS_OF = dt.date(2025, 6, 30)  # the site's "today" for the data and for every suggest() call
GENERATOR_VERSION = 2  # 2: quantities stored as millionths (station/quantities.py), as the app stores them
N_ITEMS, N_SUPPLIERS = 200, 40
N_DOCKS, N_LINES, N_STORAGE, N_SHIPPING = 4, 8, 480, 8
TAU_DAYS, LIVE_FLOOR = 30.0, 0.02
CHUNK = 20_000  # lots generated and written per batch (keeps memory flat)


# --- the site --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemSpec:
    id: int
    strategy: str  # FIFO / FEFO
    shelf_life: int | None
    produced: bool  # made on the line (origin 'production') rather than bought in
    base_qty: int
    supplier_id: int | None
    weight: float


def site_items(seed: int) -> list[ItemSpec]:
    rng = random.Random(f"items:{seed}")
    ranks = list(range(1, N_ITEMS + 1))
    rng.shuffle(ranks)
    items = []
    for i in range(1, N_ITEMS + 1):
        if rng.random() < 0.4:
            strategy, shelf = "FEFO", rng.choice([7, 14, 21, 30, 45, 60, 90, 120, 180, 270, 365])
        else:
            strategy = "FIFO"
            shelf = None if rng.random() < 0.5 else rng.choice([365, 540, 730, 1095])
        produced = rng.random() < 0.25
        items.append(ItemSpec(
            id=i, strategy=strategy, shelf_life=shelf, produced=produced,
            base_qty=rng.choice([12, 24, 48, 100, 240, 500, 1000]),
            supplier_id=None if produced else rng.randint(1, N_SUPPLIERS),
            weight=1.0 / ranks[i - 1] ** 0.7,
        ))
    return items


def location_rows() -> list[tuple]:
    """(id, code, barcode, name, kind); ids: docks, then lines, storage, shipping."""
    rows = []
    def add(code, kind):
        rows.append((len(rows) + 1, code, f"LOC:{code}", code, kind))
    for i in range(1, N_DOCKS + 1):
        add(f"DOCK-{i:02d}", "dock")
    for i in range(1, N_LINES + 1):
        add(f"LINE-{i:02d}", "line")
    for i in range(N_STORAGE):
        aisle, rest = divmod(i, 40)
        bay, level = divmod(rest, 4)
        add(f"R{aisle + 1:02d}-{bay + 1:02d}-{level + 1}", "storage")
    for i in range(1, N_SHIPPING + 1):
        add(f"SHIP-{i:02d}", "shipping")
    return rows


DOCKS = range(1, N_DOCKS + 1)
LINES = range(N_DOCKS + 1, N_DOCKS + N_LINES + 1)
STORAGE = range(N_DOCKS + N_LINES + 1, N_DOCKS + N_LINES + N_STORAGE + 1)
SHIPPING = range(N_DOCKS + N_LINES + N_STORAGE + 1, N_DOCKS + N_LINES + N_STORAGE + N_SHIPPING + 1)


def static_rows(seed: int) -> dict[str, tuple[list[str], list[tuple]]]:
    created = "2022-01-01 00:00:00.000000"
    items = site_items(seed)
    return {
        "suppliers": (["id", "code", "name", "gln"],
                      [(i, f"SUP{i:03d}", f"Supplier {i}", None) for i in range(1, N_SUPPLIERS + 1)]),
        "locations": (["id", "code", "barcode", "name", "kind"], location_rows()),
        "items": (["id", "sku", "name", "unit", "shelf_life_days", "removal_strategy",
                   "lot_scheme_id", "labels_per_receipt", "created_at"],
                  [(it.id, f"SKU-{it.id:04d}", f"Item {it.id}", "ea", it.shelf_life, it.strategy,
                    None, 1, created) for it in items]),
    }


LOT_COLS = ["id", "lot_number", "item_id", "supplier_id", "supplier_lot", "produced_on",
            "received_on", "expiry", "fifo_date", "status", "on_hand", "origin", "created_at"]
STOCK_COLS = ["id", "lot_id", "location_id", "qty"]
MOVE_COLS = ["id", "ts", "kind", "lot_id", "qty", "from_location_id", "to_location_id",
             "reference", "followed_suggestion"]


class Generator:
    """Deterministic lots, stock and movements for a site of `n_lots` lots, in chunks."""

    def __init__(self, n_lots: int, seed: int, lots_per_day: int, expired_marked: float):
        self.n, self.seed, self.expired_marked = n_lots, seed, expired_marked
        self.items = site_items(seed)
        self.cum = list(_accumulate(it.weight for it in self.items))
        self.span = max(1, math.ceil(n_lots / lots_per_day))  # days of history
        self.first_day = AS_OF - dt.timedelta(days=self.span - 1)
        self._day_str: dict[int, str] = {}
        self._day_tag: dict[int, str] = {}

    def day(self, offset: int) -> str:  # offset: days since first_day
        s = self._day_str.get(offset)
        if s is None:
            d = self.first_day + dt.timedelta(days=offset)
            s = self._day_str[offset] = d.isoformat()
            self._day_tag[offset] = d.strftime("%y%m%d")
        return s

    def ts(self, minute: int) -> str:  # minutes since first_day 00:00
        d, m = divmod(minute, 1440)
        return f"{self.day(d)} {m // 60:02d}:{m % 60:02d}:00.000000"

    def chunks(self):
        stock_id = move_id = 0
        seq_day, seq = -1, 0
        last_minute = self.span * 1440 - 1
        for start in range(0, self.n, CHUNK):
            rng = random.Random(f"lots:{self.seed}:{self.n}:{start}")
            lots, stock, moves = [], [], []
            for lot_id in range(start + 1, min(self.n, start + CHUNK) + 1):
                day = (lot_id - 1) * self.span // self.n
                if day != seq_day:
                    seq_day, seq = day, 0
                seq += 1
                age = self.span - 1 - day
                item = self.items[bisect.bisect_left(self.cum, rng.random() * self.cum[-1])]
                day_s = self.day(day)
                lot_number = f"L{self._day_tag[day]}-{seq:04d}"
                if item.produced:
                    origin, produced_on, received_on, supplier_lot = "production", day_s, None, None
                    fifo_day = day
                    first_kind, first_loc = "produce", rng.choice(LINES)
                else:
                    origin, received_on = "receipt", day_s
                    supplier_lot = f"S{rng.randrange(10**7):07d}"
                    if rng.random() < 0.4:
                        fifo_day = day - rng.randint(1, 30)
                        produced_on = self.day(fifo_day) if fifo_day >= 0 else \
                            (self.first_day + dt.timedelta(days=fifo_day)).isoformat()
                    else:
                        fifo_day, produced_on = day, None
                    first_kind, first_loc = "receive", rng.choice(DOCKS)
                fifo_date = produced_on or received_on
                if item.shelf_life:
                    made = fifo_day if produced_on else day - rng.randint(0, item.shelf_life // 5)
                    exp_date = self.first_day + dt.timedelta(days=made + item.shelf_life)
                    expiry, expired = exp_date.isoformat(), exp_date < AS_OF
                else:
                    expiry, expired = None, False
                qty = max(3, round(item.base_qty * rng.uniform(0.5, 1.5)))

                # Five movements: arrive, put away, two picks, ship (or a split put-away).
                t0 = day * 1440 + 360 + rng.randrange(600)
                t1 = t0 + 10 + rng.randrange(170)
                live = rng.random() < max(LIVE_FLOOR, math.exp(-age / TAU_DAYS))
                pick_span = max(0, min(last_minute - t1, (age + 1) * 1440 if live else int(3 * TAU_DAYS * 1440)))
                t2 = t1 + rng.randrange(pick_span + 1)
                t3 = t2 + rng.randrange(240)
                t4 = t3 + 60 + rng.randrange(420)
                t2, t3, t4 = (min(t, last_minute) for t in (t2, t3, t4))
                s1 = rng.choice(STORAGE)
                ship = rng.choice(SHIPPING)
                ref_in = f"PO-{lot_id:07d}" if first_kind == "receive" else f"WO-{lot_id:07d}"
                ref_out = f"SO-{rng.randrange(10**6):06d}"
                shape = rng.random() if live else 0.0
                if not live or shape < 0.6:  # single storage location, two picks, all shipped
                    picked = qty if not live else qty - min(qty - 2, max(1, round(qty * rng.uniform(0.05, 0.95))))
                    a = rng.randint(1, picked - 1)
                    mv = [(t0, first_kind, qty, None, first_loc, ref_in, None),
                          (t1, "move", qty, first_loc, s1, None, None),
                          (t2, "pick", a, s1, ship, None, rng.random() < 0.95),
                          (t3, "pick", picked - a, s1, ship, None, rng.random() < 0.95),
                          (t4, "ship", picked, ship, None, ref_out, None)]
                    balances = [(s1, qty - picked)]
                elif shape < 0.9:  # put away over two storage locations, one pick shipped
                    s2 = rng.choice(STORAGE)
                    while s2 == s1:
                        s2 = rng.choice(STORAGE)
                    q1 = rng.randint(2, qty - 1)
                    a = rng.randint(1, q1)
                    mv = [(t0, first_kind, qty, None, first_loc, ref_in, None),
                          (t1, "move", q1, first_loc, s1, None, None),
                          (t1 + 5, "move", qty - q1, first_loc, s2, None, None),
                          (t2, "pick", a, s1, ship, None, rng.random() < 0.95),
                          (t4, "ship", a, ship, None, ref_out, None)]
                    balances = [(s1, q1 - a), (s2, qty - q1)]
                else:  # picked goods partly still staged at shipping
                    picked = rng.randint(2, qty)
                    a = rng.randint(1, picked - 1)
                    shipped = rng.randint(1, picked - 1)
                    mv = [(t0, first_kind, qty, None, first_loc, ref_in, None),
                          (t1, "move", qty, first_loc, s1, None, None),
                          (t2, "pick", a, s1, ship, None, rng.random() < 0.95),
                          (t3, "pick", picked - a, s1, ship, None, rng.random() < 0.95),
                          (t4, "ship", shipped, ship, None, ref_out, None)]
                    balances = [(s1, qty - picked), (ship, picked - shipped)]
                on_hand = sum(q for _, q in balances)
                if on_hand == 0:
                    status = "consumed"
                elif expired and rng.random() < self.expired_marked:
                    status = "expired"
                else:
                    r = rng.random()
                    status = ("hold" if r < 0.03 else "quarantine" if r < 0.04
                              else "recalled" if r < 0.042 else "available")
                lots.append((lot_id, lot_number, item.id, item.supplier_id, supplier_lot, produced_on,
                             received_on, expiry, fifo_date, status, on_hand * SCALE, origin, self.ts(t0)))
                for loc, q in balances:
                    if q > 0 or loc in STORAGE:
                        stock_id += 1
                        stock.append((stock_id, lot_id, loc, q * SCALE))
                for t, kind, q, src, dst, ref, followed in mv:
                    move_id += 1
                    moves.append((move_id, self.ts(min(t, last_minute)), kind, lot_id, q * SCALE, src, dst, ref,
                                  None if followed is None else int(followed)))
            yield lots, stock, moves

    def meta(self) -> dict:
        return {"generator": GENERATOR_VERSION, "lots": self.n, "movements": 5 * self.n,
                "seed": self.seed, "span_days": self.span, "as_of": AS_OF.isoformat(),
                "expired_marked": self.expired_marked}


def _accumulate(values):
    total = 0.0
    for v in values:
        total += v
        yield total


# --- loading: SQLite -------------------------------------------------------------------------


def sqlite_path(n: int) -> Path:
    return DATA / f"suggest_{n}.sqlite"


def sqlite_ready(path: Path, meta: dict) -> bool:
    meta_path = path.with_suffix(".json")
    if not (path.exists() and meta_path.exists()):
        return False
    if json.loads(meta_path.read_text()) != meta:
        return False
    con = sqlite3.connect(path)
    try:
        lots = con.execute("SELECT count(*) FROM lots").fetchone()[0]
        moves = con.execute("SELECT max(id) FROM movements").fetchone()[0]
        return lots == meta["lots"] and moves == meta["movements"]
    except sqlite3.Error:
        return False
    finally:
        con.close()


def load_sqlite(gen: Generator, rebuild: bool) -> Path:
    path = sqlite_path(gen.n)
    meta = gen.meta()
    if not rebuild and sqlite_ready(path, meta):
        print(f"sqlite: reusing {path.relative_to(ROOT)} ({gen.n:,} lots)", flush=True)
        return path
    DATA.mkdir(parents=True, exist_ok=True)
    for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), path.with_suffix(".json")):
        p.unlink(missing_ok=True)
    started = time.perf_counter()
    print(f"sqlite: loading {gen.n:,} lots into {path.relative_to(ROOT)} ...", flush=True)
    db = Database(f"sqlite:///{path}")
    upgrade(db)
    db.dispose()

    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode=DELETE")  # no multi-GB WAL during the load; WAL again after
    con.execute("PRAGMA synchronous=OFF")
    con.execute("PRAGMA cache_size=-131072")  # 128 MiB
    tables = ("lots", "stock", "movements")
    indexes = con.execute(
        f"SELECT name, sql FROM sqlite_master WHERE type='index' AND sql IS NOT NULL "
        f"AND tbl_name IN ({','.join('?' * len(tables))})", tables).fetchall()
    for name, _ in indexes:  # rebuilt after the load: much faster than maintaining them row by row
        con.execute(f'DROP INDEX "{name}"')
    con.execute("BEGIN")
    for table, (cols, rows) in static_rows(gen.seed).items():
        _sqlite_insert(con, table, cols, rows)
    con.execute("COMMIT")
    done = 0
    for lots, stock, moves in gen.chunks():
        con.execute("BEGIN")
        _sqlite_insert(con, "lots", LOT_COLS, lots)
        _sqlite_insert(con, "stock", STOCK_COLS, stock)
        _sqlite_insert(con, "movements", MOVE_COLS, moves)
        con.execute("COMMIT")
        done += len(lots)
        if done % 200_000 == 0:
            print(f"  {done:,} lots  {time.perf_counter() - started:.0f} s", flush=True)
    print(f"  rows in {time.perf_counter() - started:.0f} s; indexing ...", flush=True)
    for _, sql in indexes:
        con.execute(sql)
    con.execute("PRAGMA journal_mode=WAL")
    con.close()
    path.with_suffix(".json").write_text(json.dumps(meta))
    print(f"  loaded in {time.perf_counter() - started:.0f} s, {path.stat().st_size / 2**20:,.0f} MiB",
          flush=True)
    return path


def _sqlite_insert(con, table, cols, rows):
    con.executemany(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                    rows)


# --- loading: PostgreSQL ---------------------------------------------------------------------

PG_DB = "station_bench"


def pg_reachable(url: str) -> bool:
    from sqlalchemy.engine import make_url
    u = make_url(normalise_url(url))
    try:
        with socket.create_connection((u.host or "127.0.0.1", u.port or 5432), timeout=1):
            return True
    except OSError:
        return False


def pg_urls(admin_url: str, n: int) -> tuple[str, str, str]:
    """(admin URL, bench database URL with search_path=the size's schema, schema name)."""
    from sqlalchemy.engine import make_url
    admin = make_url(normalise_url(admin_url))
    schema = f"lots_{n}"
    bench = admin.set(database=PG_DB, query={**admin.query, "options": f"-csearch_path={schema}"})
    return admin.render_as_string(hide_password=False), bench.render_as_string(hide_password=False), schema


def _psycopg_conninfo(sa_url: str) -> str:
    from sqlalchemy.engine import make_url
    u = make_url(sa_url)
    parts = {"host": u.host or "127.0.0.1", "port": u.port or 5432, "dbname": u.database,
             "user": u.username or "postgres"}
    if u.password:
        parts["password"] = u.password
    return " ".join(f"{k}='{v}'" for k, v in parts.items())


def load_pg(gen: Generator, admin_url: str, rebuild: bool) -> str:
    import psycopg
    import psycopg.sql
    from sqlalchemy import create_engine

    admin, url, schema = pg_urls(admin_url, gen.n)
    meta = json.dumps(gen.meta(), sort_keys=True)
    eng = create_engine(admin, isolation_level="AUTOCOMMIT")
    with eng.connect() as conn:
        if not conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": PG_DB}).scalar():
            conn.execute(text(f'CREATE DATABASE "{PG_DB}"'))
    eng.dispose()

    with psycopg.connect(_psycopg_conninfo(url), autocommit=True) as con:
        comment = con.execute("SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace "
                              "WHERE nspname = %s", (schema,)).fetchone()
        if comment and not rebuild and comment[0] == meta:
            lots = con.execute(f"SELECT count(*) FROM {schema}.lots").fetchone()[0]
            moves = con.execute(f"SELECT max(id) FROM {schema}.movements").fetchone()[0]
            if lots == gen.n and moves == 5 * gen.n:
                print(f"postgresql: reusing {PG_DB}.{schema} ({gen.n:,} lots)", flush=True)
                return url
        started = time.perf_counter()
        print(f"postgresql: loading {gen.n:,} lots into {PG_DB}.{schema} ...", flush=True)
        con.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        con.execute(f'CREATE SCHEMA "{schema}"')

    db = Database(url)
    upgrade(db)
    db.dispose()

    with psycopg.connect(_psycopg_conninfo(url)) as con:
        con.execute(f"SET search_path = {schema}")
        con.execute("SET TIME ZONE 'UTC'")
        con.execute("SET maintenance_work_mem = '256MB'")
        # Replica mode skips the FK triggers while copying (the generator keeps the data
        # consistent by construction; --verify checks it).
        con.execute("SET session_replication_role = replica")
        indexes = con.execute(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = %s "
            "AND i.tablename IN ('lots', 'stock', 'movements') AND NOT EXISTS "
            "(SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)", (schema,)).fetchall()
        for name, _ in indexes:
            con.execute(f'DROP INDEX "{name}"')
        for table, (cols, rows) in static_rows(gen.seed).items():
            _pg_copy(con, table, cols, rows)
        con.commit()
        done = 0
        for lots, stock, moves in gen.chunks():
            _pg_copy(con, "lots", LOT_COLS, lots)
            _pg_copy(con, "stock", STOCK_COLS, stock)
            _pg_copy(con, "movements", MOVE_COLS, moves)
            done += len(lots)
            if done % 200_000 == 0:
                con.commit()
                print(f"  {done:,} lots  {time.perf_counter() - started:.0f} s", flush=True)
        con.commit()
        print(f"  rows in {time.perf_counter() - started:.0f} s; indexing ...", flush=True)
        for _, sql in indexes:
            con.execute(sql)
        con.commit()
    with psycopg.connect(_psycopg_conninfo(url), autocommit=True) as con:
        con.execute(f"SET search_path = {schema}")
        for table in ("suppliers", "locations", "items", "lots", "stock", "movements"):
            con.execute(f"VACUUM ANALYZE {table}")  # what autovacuum would do on a live site
        con.execute(psycopg.sql.SQL("COMMENT ON SCHEMA {} IS {}").format(
            psycopg.sql.Identifier(schema), psycopg.sql.Literal(meta)))
    print(f"  loaded in {time.perf_counter() - started:.0f} s", flush=True)
    return url


def _pg_copy(con, table, cols, rows):
    with con.cursor().copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


# --- checks ----------------------------------------------------------------------------------

VERIFY = {
    "lots whose on_hand differs from the sum of their stock rows":
        "SELECT count(*) FROM lots l LEFT JOIN (SELECT lot_id, sum(qty) AS q FROM stock GROUP BY lot_id) s "
        "ON s.lot_id = l.id WHERE l.on_hand <> coalesce(s.q, 0)",
    "(lot, location) balances of the ledger that differ from stock":
        "SELECT count(*) FROM (SELECT lot_id, loc, sum(q) AS q FROM ("
        " SELECT lot_id, to_location_id AS loc, qty AS q FROM movements WHERE to_location_id IS NOT NULL"
        " UNION ALL SELECT lot_id, from_location_id, -qty FROM movements WHERE from_location_id IS NOT NULL"
        " UNION ALL SELECT lot_id, location_id, -qty FROM stock) x GROUP BY lot_id, loc) y WHERE q <> 0",
    "lots whose fifo_date is not coalesce(produced_on, received_on)":
        "SELECT count(*) FROM lots WHERE fifo_date <> coalesce(produced_on, received_on)",
    "lots 'consumed' with stock, or with no stock and not 'consumed'":
        "SELECT count(*) FROM lots WHERE (status = 'consumed') <> (on_hand = 0)",
    "lots without exactly 5 movements":
        "SELECT count(*) FROM (SELECT lot_id FROM movements GROUP BY lot_id HAVING count(*) <> 5) x",
}


def verify(db: Database) -> bool:
    ok = True
    with db.engine.connect() as conn:
        for label, sql in VERIFY.items():
            bad = conn.execute(text(sql)).scalar()
            ok &= bad == 0
            print(f"  verify: {bad:>7,} {label}")
    return ok


def describe(db: Database) -> dict:
    with db.engine.connect() as conn:
        q = lambda sql, **kw: conn.execute(text(sql), kw)  # noqa: E731
        statuses = dict(q("SELECT status, count(*) FROM lots GROUP BY status").all())
        stale = q("SELECT count(*) FROM lots WHERE status = 'available' AND on_hand > 0 "
                  f"AND expiry < '{AS_OF}'").scalar()
        return {
            "lots": q("SELECT count(*) FROM lots").scalar(),
            "movements": q("SELECT count(*) FROM movements").scalar(),
            "stock": q("SELECT count(*) FROM stock").scalar(),
            "statuses": statuses,
            "in_index": q("SELECT count(*) FROM lots WHERE status = 'available' AND on_hand > 0").scalar(),
            "stale": stale,
        }


# --- the measurement -------------------------------------------------------------------------


def pickable_by_item(db: Database) -> dict[int, tuple[int, int]]:
    """item id -> (pickable lots, pickable qty): what suggest() can allocate on AS_OF."""
    sql = text(
        "SELECT l.item_id, count(DISTINCT l.id), sum(s.qty) FROM lots l "
        "JOIN stock s ON s.lot_id = l.id JOIN locations loc ON loc.id = s.location_id "
        f"WHERE l.status = 'available' AND l.on_hand > 0 AND (l.expiry IS NULL OR l.expiry >= '{AS_OF}') "
        "AND s.qty > 0 AND loc.kind <> 'shipping' GROUP BY l.item_id")
    with db.engine.connect() as conn:
        return {item: (lots, int(qty) // SCALE) for item, lots, qty in conn.execute(sql)}


def requests(items: list[ItemSpec], stocked: set[int], n: int, seed: int) -> list[tuple[int, float]]:
    """(item id, size factor) pairs, items drawn by demand. The factor is in units of the item's
    mean pickable quantity per lot: half the requests fit in one lot, 35 % span 1-3 lots' worth
    and 15 % 4-12 lots' worth (see qty_for)."""
    rng = random.Random(f"requests:{seed}")
    pool = [it for it in items if it.id in stocked]
    cum = list(_accumulate(it.weight for it in pool))
    out = []
    for _ in range(n):
        it = pool[bisect.bisect_left(cum, rng.random() * cum[-1])]
        r = rng.random()
        f = rng.uniform(0.05, 0.8) if r < 0.5 else rng.uniform(1, 3) if r < 0.85 else rng.uniform(4, 12)
        out.append((it.id, f))
    return out


def qty_for(pickable: dict, item_id: int, f: float) -> int:
    lots, qty = pickable[item_id]
    return max(1, min(qty // 2, round(qty / lots * f)))  # never more than half of what there is


def percentile(values: list[float], p: float) -> float:
    s = sorted(values)
    k = (len(s) - 1) * p
    lo, hi = math.floor(k), math.ceil(k)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


@dataclass
class Result:
    backend: str
    lots: int
    movements: int
    mode: str
    calls: int
    median: float
    p95: float
    lots_per_call: float
    split: float
    multi_page: float
    short: int
    statements: float
    cpu_median: float = 0.0
    load: tuple = ()


MODES = ("session/call", "shared session")


def measure(backend: str, dbs: dict, infos: dict, calls: dict, mode: str, warmup: int) -> list[Result]:
    """Time suggest() on every size, interleaved call by call (the order of the sizes alternates),
    so that drift in the machine's speed hits all sizes alike."""
    sizes = list(dbs)
    perf = time.perf_counter_ns
    cpu = time.thread_time_ns
    times = {n: [] for n in sizes}
    cpus = {n: [] for n in sizes}
    results = {n: [] for n in sizes}
    statements = {}
    prepared = {}
    with contextlib.ExitStack() as stack:
        shared = {n: stack.enter_context(dbs[n].read()) for n in sizes} if mode == "shared session" else {}

        def call(n, item_id, qty):
            if shared:
                return suggest(shared[n], item_id, qty, on=AS_OF)
            with dbs[n].read() as s:
                return suggest(s, item_id, qty, on=AS_OF)

        for n in sizes:  # statements per call, on an untimed pass
            count = [0]
            def on_exec(*_a, _c=count):
                _c[0] += 1
            event.listen(dbs[n].engine, "before_cursor_execute", on_exec)
            try:
                for item_id, qty in calls[n][:200]:
                    call(n, item_id, qty)
            finally:
                event.remove(dbs[n].engine, "before_cursor_execute", on_exec)
            statements[n] = count[0] / len(calls[n][:200])
            for item_id, qty in calls[n][:warmup]:
                call(n, item_id, qty)
        gc.collect()
        load_before = os.getloadavg()[0]
        for i in range(len(calls[sizes[0]])):
            for n in (sizes if i % 2 == 0 else sizes[::-1]):
                item_id, qty = calls[n][i]
                t0, c0 = perf(), cpu()
                sg = call(n, item_id, qty)
                cpus[n].append(cpu() - c0)
                times[n].append(perf() - t0)
                results[n].append(sg)
        load = (load_before, os.getloadavg()[0])
        if shared and backend == "postgresql":
            # psycopg prepares a statement server-side after 5 executions on a connection (and
            # drops them all at rollback, so only a session that lives across calls gets there).
            for n in sizes:
                prepared[n] = shared[n].execute(text(
                    "SELECT generic_plans, custom_plans, statement FROM pg_prepared_statements "
                    "WHERE statement LIKE '%FROM lots%' ORDER BY custom_plans + generic_plans DESC")).all()
    for n, rows in prepared.items():
        for generic, custom, stmt in rows:
            print(f"  {n:>10,} lots  prepared lot query: generic plans {generic:>5,}, custom plans "
                  f"{custom:>5,}: {_one_line(stmt)[150:250]}...")
    out = []
    for n in sizes:
        ms = [t / 1e6 for t in times[n]]
        lots_per = [len({a.lot_id for a in r.allocations}) for r in results[n]]
        out.append(Result(backend, infos[n]["lots"], infos[n]["movements"], mode, len(ms),
                          statistics.median(ms), percentile(ms, 0.95), statistics.mean(lots_per),
                          sum(k > 1 for k in lots_per) / len(lots_per),
                          sum(k > BATCH for k in lots_per) / len(lots_per),
                          sum(r.short > 0 for r in results[n]), statements[n],
                          statistics.median(cpus[n]) / 1e6, load))
    return out


# --- query plans -----------------------------------------------------------------------------


def capture_statements(db: Database, item_id: int, qty: int) -> list[tuple[str, object]]:
    seen: list[tuple[str, object]] = []
    def on_exec(conn, cursor, statement, parameters, context, executemany):
        seen.append((statement, parameters))
    event.listen(db.engine, "before_cursor_execute", on_exec)
    try:
        with db.read() as s:
            sg = suggest(s, item_id, qty, on=AS_OF)
    finally:
        event.remove(db.engine, "before_cursor_execute", on_exec)
    print(f"    suggest(item {item_id}, qty {qty}): {len(sg.allocations)} allocations from "
          f"{len({a.lot_id for a in sg.allocations})} lots, short {sg.short}, {len(seen)} statements")
    distinct, keys = [], set()
    for stmt, params in seen:
        if stmt.lstrip().upper().startswith(("BEGIN", "ROLLBACK")):
            continue
        key = (re.sub(r"\s+", " ", stmt), len(params) if params else 0)
        if key not in keys:
            keys.add(key)
            distinct.append((stmt, params))
    return distinct


def _one_line(sql: str) -> str:
    return re.sub(r"\s+", " ", sql).strip()


def show_plans_sqlite(db: Database, item_id: int, qty: int, label: str) -> list[str]:
    print(f"\n  -- {label}")
    findings = []
    for stmt, params in capture_statements(db, item_id, qty):
        with db.engine.connect() as conn:
            cur = conn.connection.driver_connection.cursor()
            plan = cur.execute("EXPLAIN QUERY PLAN " + stmt, params).fetchall()
            conn.rollback()
        print(f"    {_one_line(stmt)}\n      params {params}")
        for row in plan:
            print(f"      {row[3]}")
            detail = row[3]
            if "FROM lots" in stmt:
                if detail.startswith("SCAN"):
                    findings.append(f"FULL SCAN in lot query: {detail}")
                if "TEMP B-TREE" in detail:
                    findings.append(f"TEMP B-TREE in lot query: {detail}")
                if detail.startswith("SEARCH lots") and "ix_lots_f" not in detail:
                    findings.append(f"lot query does not use ix_lots_fifo/fefo: {detail}")
                if ") > (" in stmt and ")>(" not in detail:
                    findings.append(f"keyset page seeks on '{detail.split('(', 1)[-1].rstrip(')')}', not on "
                                    "the keyset row value, so page k re-walks the k-1 pages before it")
    return findings


def show_plans_pg(db: Database, item_id: int, qty: int, label: str) -> list[str]:
    print(f"\n  -- {label}")
    findings = []
    for stmt, params in capture_statements(db, item_id, qty):
        with db.engine.connect() as conn:
            cur = conn.connection.driver_connection.cursor()
            plan = [r[0] for r in cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + stmt, params).fetchall()]
            generic = None
            if "FROM lots" in stmt:
                # What a server-side prepared statement gets once PostgreSQL switches to a
                # generic plan (psycopg prepares a query after 5 executions on a connection).
                names = []
                def dollar(m):
                    names.append(m.group(1))
                    return f"${len(names)}"
                prepared = re.sub(r"%\((\w+)\)s", dollar, stmt)
                cur.execute("SET LOCAL plan_cache_mode = force_generic_plan")
                cur.execute(f"PREPARE bench_generic AS {prepared}")
                args = ", ".join(_pg_literal(params[n]) for n in names)
                generic = [r[0] for r in cur.execute(f"EXPLAIN EXECUTE bench_generic({args})").fetchall()]
                cur.execute("DEALLOCATE bench_generic")
            conn.rollback()
        print(f"    {_one_line(stmt)}\n      params {params}")
        for line in plan:
            print(f"      {line}")
        if "FROM lots" in stmt:
            body = "\n".join(plan)
            if "Seq Scan" in body:
                findings.append("Seq Scan in lot query (custom plan)")
            if "ix_lots_fifo" not in body and "ix_lots_fefo" not in body:
                findings.append("lot query (custom plan) does not use ix_lots_fifo/fefo")
            if "Sort" in body:
                findings.append("Sort node in lot query (custom plan)")
        if generic:
            print("      generic plan (plan_cache_mode = force_generic_plan):")
            for line in generic:
                print(f"        {line}")
            if not any("ix_lots_f" in line for line in generic):
                findings.append("a GENERIC plan of the lot query could not use the partial indexes "
                                "(status/on_hand are bind parameters); PostgreSQL kept custom plans "
                                "here (see the 'prepared lot query' lines), i.e. it plans every execution")
    return findings


def _pg_literal(v) -> str:
    if v is None:
        return "NULL"
    if isinstance(v, (int, float)):
        return str(v)
    return "'" + str(v).replace("'", "''") + "'"


# --- SQLite micro-probe: statement re-preparation ---------------------------------------------


def sqlite_reprepare_probe(path: Path, item_id: int, reps: int = 5000) -> tuple[float, float]:
    """Time the first-page FIFO lot query with status/on_hand as bind parameters (as SQLAlchemy
    sends them) and as literals. SQLite can only match a partial index's WHERE against a bound
    value by re-preparing the statement with the values, and then re-prepares it every time
    those parameters are bound, so the bound form pays a compile on every execution."""
    con = sqlite3.connect(path)
    bound = ("SELECT lots.id, lots.lot_number, lots.expiry, lots.fifo_date FROM lots "
             "WHERE lots.item_id = ? AND lots.status = ? AND lots.on_hand > ? "
             "AND (lots.expiry IS NULL OR lots.expiry >= ?) ORDER BY lots.fifo_date, lots.lot_number "
             "LIMIT ? OFFSET ?")
    literal = bound.replace("lots.status = ?", "lots.status = 'available'").replace(
        "lots.on_hand > ?", "lots.on_hand > 0")
    day = AS_OF.isoformat()
    out = []
    for sql, params in ((bound, (item_id, "available", 0, day, BATCH, 0)),
                        (literal, (item_id, day, BATCH, 0))):
        for _ in range(200):
            con.execute(sql, params).fetchall()
        t0 = time.perf_counter_ns()
        for _ in range(reps):
            con.execute(sql, params).fetchall()
        out.append((time.perf_counter_ns() - t0) / reps / 1000)
    con.close()
    return out[0], out[1]


# --- main ------------------------------------------------------------------------------------


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="10000,1000000", help="lot counts, comma-separated")
    ap.add_argument("--calls", type=int, default=2000, help="timed suggest() calls per size and mode")
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--lots-per-day", type=int, default=1000)
    ap.add_argument("--expired-marked", type=float, default=0.5,
                    help="share of expired lots with stock whose status was set to 'expired'")
    ap.add_argument("--rebuild", action="store_true", help="reload the data even if it is there")
    ap.add_argument("--verify", action="store_true", help="check the loaded data's invariants in SQL")
    ap.add_argument("--pg", metavar="URL", help="PostgreSQL server (any database; "
                    f"'{PG_DB}' is created on it). Default: 127.0.0.1:5432 if it answers")
    ap.add_argument("--no-pg", action="store_true")
    ap.add_argument("--no-sqlite", action="store_true")
    ap.add_argument("--no-plans", action="store_true")
    args = ap.parse_args(argv)

    sizes = sorted(int(s) for s in args.sizes.split(","))
    pg_url = None
    if not args.no_pg:
        pg_url = args.pg or os.environ.get("STATION_BENCH_PG_URL") or "postgresql://postgres@127.0.0.1:5432/postgres"
        if not pg_reachable(pg_url):
            if args.pg:
                print(f"PostgreSQL at {args.pg} does not answer", file=sys.stderr)
                return 2
            print("postgresql: 127.0.0.1:5432 does not answer; SQLite only")
            pg_url = None
    backends = ([] if args.no_sqlite else ["sqlite"]) + (["postgresql"] if pg_url else [])
    items = site_items(args.seed)

    results: list[Result] = []
    findings: list[str] = []
    for backend in backends:
        dbs, infos, pickable = {}, {}, {}
        for n in sizes:
            gen = Generator(n, args.seed, args.lots_per_day, args.expired_marked)
            if backend == "sqlite":
                dbs[n] = Database(f"sqlite:///{load_sqlite(gen, args.rebuild)}")
            else:
                dbs[n] = Database(load_pg(gen, pg_url, args.rebuild))
            info = infos[n] = describe(dbs[n])
            st = info["statuses"]
            print(f"\n== {backend}, {n:,} lots ({gen.span} days of history as of {AS_OF}) ==")
            print(f"  lots {info['lots']:,}  movements {info['movements']:,}  stock rows {info['stock']:,}")
            print("  status: " + ", ".join(f"{k} {v:,}" for k, v in sorted(st.items(), key=lambda kv: -kv[1])))
            print(f"  in the partial indexes (available, on_hand > 0): {info['in_index']:,}; "
                  f"of which past expiry: {info['stale']:,}")
            if args.verify and not verify(dbs[n]):
                findings.append(f"{backend} {n:,}: loaded data fails verification")
            pickable[n] = pickable_by_item(dbs[n])
        stocked = set.intersection(*({i for i, (_, q) in pickable[n].items() if q >= 2} for n in sizes))
        shapes = requests(items, stocked, args.calls, args.seed)
        calls = {n: [(i, qty_for(pickable[n], i, f)) for i, f in shapes] for n in sizes}

        print(f"\n  timing {args.calls:,} calls per size and mode, sizes interleaved ...", flush=True)
        for mode in MODES:
            for r in measure(backend, dbs, infos, calls, mode, args.warmup):
                results.append(r)
                print(f"  {r.lots:>10,} lots  {mode:<15} median {r.median:.3f} ms  p95 {r.p95:.3f} ms  "
                      f"cpu median {r.cpu_median:.3f} ms  {r.statements:.1f} statements/call  "
                      f"(load average {r.load[0]:.1f} -> {r.load[1]:.1f})", flush=True)

        if not args.no_plans:
            for n in sizes:
                print(f"\n== plans: {backend}, {n:,} lots ==")
                findings += plans(backend, n, dbs[n], items, pickable[n])
        for db in dbs.values():
            db.dispose()

    print_table(results, sizes, findings)
    return 0


def plans(backend: str, n: int, db: Database, items, pickable) -> list[str]:
    """Plans of every statement suggest() issues for the item with the most pickable lots of each
    strategy, asking for about ten lots' worth so it needs a second keyset page."""
    findings = []
    for strat in ("FIFO", "FEFO"):
        cands = [it for it in items if it.strategy == strat and pickable.get(it.id, (0, 0))[0] > BATCH]
        if not cands:
            continue
        it = max(cands, key=lambda i: pickable[i.id][0])
        lots_, qty_ = pickable[it.id]
        want = min(qty_ // 2, math.ceil(qty_ / lots_ * (BATCH + 2)))
        label = (f"{strat} item {it.id} (shelf life {it.shelf_life or 'none'}; "
                 f"{lots_:,} pickable lots, {qty_:,} pickable)")
        show = show_plans_sqlite if backend == "sqlite" else show_plans_pg
        findings += [f"{backend} {n:,} {strat}: {f}" for f in show(db, it.id, want, label)]
    # Worst case: asking for more than the item has (an order larger than the stock) walks every
    # pickable lot of the item, a keyset page and a stock query per 8 lots.
    for strat in ("FIFO", "FEFO"):
        cands = [it for it in items if it.strategy == strat and it.id in pickable]
        it = max(cands, key=lambda i: pickable[i.id][0])
        lots_, qty_ = pickable[it.id]
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            with db.read() as s:
                sg = suggest(s, it.id, qty_ + 1, on=AS_OF)
            best = min(best, time.perf_counter() - t0)
        print(f"\n  worst case: {strat} item {it.id}, qty {qty_ + 1:,} (1 more than its pickable stock): "
              f"{best * 1000:.1f} ms for {len({a.lot_id for a in sg.allocations}):,} lots, short {sg.short}")
    if backend == "sqlite":
        fifo_item = max((it for it in items if it.strategy == "FIFO"),
                        key=lambda i: pickable.get(i.id, (0, 0))[0])
        b, lit = sqlite_reprepare_probe(sqlite_path(n), fifo_item.id)
        print(f"\n  probe: first-page FIFO lot query alone (raw sqlite3, item {fifo_item.id}): "
              f"{b:.1f} us with status/on_hand bound, {lit:.1f} us with them as literals")
    return findings


def print_table(results: list[Result], sizes: list[int], findings: list[str]) -> None:
    print("\n" + "=" * 124)
    print(f"suggest() timings, {results[0].calls if results else 0} calls per row after warm-up, sizes "
          "interleaved call by call. 'session/call' opens db.read() per call\n(as a request does), "
          "'shared session' reuses one read session for all calls. Targets: 1M median <= 1.5 x 10k "
          "median; SQLite median < 2 ms.")
    head = (f"{'backend':<11}{'lots':>10}{'movements':>11}  {'session':<15}{'median ms':>10}{'p95 ms':>8}"
            f"{'cpu ms':>8}{'ratio':>7}{'lots/call':>10}{'split':>6}{'>1pg':>6}{'stmts':>6}{'load':>5}  target")
    print(head)
    print("-" * len(head))
    base = {(r.backend, r.mode): r.median for r in results if r.lots == min(sizes)}
    for r in results:
        ratio = r.median / base[(r.backend, r.mode)] if (r.backend, r.mode) in base else float("nan")
        checks = []
        if r.lots == max(sizes) and len(sizes) > 1:
            checks.append(("ratio <= 1.5", ratio <= 1.5))
        if r.backend == "sqlite":
            checks.append(("< 2 ms", r.median < 2.0))
        target = ", ".join(f"{label} {'ok' if ok else 'FAIL'}" for label, ok in checks)
        print(f"{r.backend:<11}{r.lots:>10,}{r.movements:>11,}  {r.mode:<15}{r.median:>10.3f}{r.p95:>8.3f}"
              f"{r.cpu_median:>8.3f}{ratio:>7.2f}{r.lots_per_call:>10.2f}{r.split:>6.0%}{r.multi_page:>6.0%}"
              f"{r.statements:>6.1f}{max(r.load):>5.1f}  {target}")
    print(f"cpu ms = median CPU time of the calling thread (SQLite work is all in-process; PostgreSQL's is "
          f"not counted); ratio = median / median at {min(sizes):,} lots;\nlots/call = distinct lots "
          f"allocated; split = calls allocating > 1 lot; >1pg = calls needing > 1 keyset page of {BATCH} "
          f"lots; stmts = SQL statements per call;\nload = highest 1-minute load average while timing "
          f"({os.cpu_count()} CPUs here); {sum(r.short for r in results)} calls could not be fully covered.")
    if any(max(r.load) > (os.cpu_count() or 1) * 0.75 for r in results):
        print("WARNING: the machine was busy while timing; absolute figures are inflated (ratios, being "
              "interleaved, much less so).")
    if findings:
        print("\nplan findings:")
        for f in dict.fromkeys(findings):
            print(f"  - {f}")
    else:
        print("\nplan findings: none (lot queries use ix_lots_fifo / ix_lots_fefo, no full scan, no sort)")


if __name__ == "__main__":
    sys.exit(main())
