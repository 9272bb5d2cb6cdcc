"""Benchmark: the bulk import (station/imports/) of 10,000 items and 200,000 opening-stock lots.

Not a test: it prints figures. Target (issue 15): the 200,000 lots in under 60 s on this machine.

    .venv/bin/python bench/import_bench.py                    # SQLite, and PostgreSQL if 127.0.0.1:5432 answers
    .venv/bin/python bench/import_bench.py --no-pg --lots 20000
    STATION_BENCH_PG_URL=postgresql+psycopg://postgres@HOST:5432/postgres .venv/bin/python bench/import_bench.py

Each backend gets a fresh database (a temporary SQLite file; a new PostgreSQL database, dropped after) with
5 suppliers and 500 locations imported first. Then, as CSV files made in memory, the way `station import`
takes them: ITEMS items (each with a GTIN-13, a shelf life, FEFO for half, a usual supplier), then LOTS
opening-stock rows (items in turn; half with a lot number of their own, half drawn from the item's scheme;
one in four on a pallet with an SSCC; expiry and production dates; a supplier lot). For each it times
reading the file (CSV parse), the check alone (a dry run) and the import (check + write, one transaction;
wall time, and this process's CPU time — the database server's is not in it), and prints rows/s and the
growth of the process's peak RSS. The load average is printed: on a busy machine the wall figures grow. It then checks what was written: the ledger
equals the stock, lots.on_hand adds up, and the ledger's hash chain verifies.
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from labels.gs1 import check_digit, sscc  # noqa: E402
from pgkit import throwaway_database  # noqa: E402
from station import clock, imports  # noqa: E402
from station.db import Database  # noqa: E402
from station.models import Lot, Movement, Stock  # noqa: E402
from station.schema import upgrade  # noqa: E402
from station.services import chain  # noqa: E402


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def csv_of(header: list[str], rows) -> bytes:
    lines = [",".join(header)]
    lines += [",".join(str(v) for v in row) for row in rows]
    return ("\n".join(lines) + "\n").encode()


def items_file(n: int) -> bytes:
    def row(i: int):
        body = f"40{i:010d}"
        return (f"SKU-{i:05d}", f"Bench item {i}", body + check_digit(body), "ea", 180 + i % 500,
                "FEFO" if i % 2 else "FIFO", f"SUP-{i % 5}")
    return csv_of(["sku", "name", "gtins", "unit", "shelf_life_days", "removal_strategy", "supplier"],
                  (row(i) for i in range(n)))


def lots_file(n: int, items: int, today) -> bytes:
    def row(i: int):
        own = f"OB-{i:07d}" if i % 2 == 0 else ""
        pallet = sscc(3, "7312345", i + 1) if i % 4 == 1 else ""
        expiry = today.replace(year=today.year + 1).isoformat()
        produced = today.replace(day=1).isoformat()
        return (f"SKU-{i % items:05d}", own, f"SUP-{i % 5}", f"S{i % 997}", 1 + i % 250, f"L-{i % 500:03d}",
                expiry, produced, pallet)
    return csv_of(["sku", "lot", "supplier", "supplier_lot", "qty", "location", "expiry", "produced", "sscc"],
                  (row(i) for i in range(n)))


def timed(what: str, fn):
    """(value, wall seconds, this process's CPU seconds, peak RSS growth in MiB)."""
    before, start, cpu = peak_mib(), time.perf_counter(), time.process_time()
    value = fn()
    return value, time.perf_counter() - start, time.process_time() - cpu, peak_mib() - before


def run(db: Database, label: str, n_items: int, n_lots: int) -> None:
    today = clock.today()
    for kind, data in [("suppliers", csv_of(["code", "name"], ((f"SUP-{i}", f"Supplier {i}") for i in range(5)))),
                       ("locations", csv_of(["code", "kind"], ((f"L-{i:03d}", "storage") for i in range(500))))]:
        assert imports.import_table(db, kind, imports.read(data, "f.csv")).ok
    print(f"\n{label} (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
    print(f"  {'kind':<8} {'rows':>8} {'read s':>8} {'check s':>8} {'import s':>9} {'(cpu s)':>8} {'rows/s':>9} "
          f"{'peak RSS +MiB':>14}")
    for kind, data in [("items", items_file(n_items)), ("opening", lots_file(n_lots, n_items, today))]:
        table, read_s, _, read_mib = timed("read", lambda: imports.read(data, f"{kind}.csv"))
        dry, check_s, _, check_mib = timed("check", lambda: imports.import_table(db, kind, table, dry_run=True))
        assert dry.ok, dry.problems[:5]
        result, import_s, import_cpu, import_mib = timed("import", lambda: imports.import_table(db, kind, table))
        assert result.ok, result.problems[:5]
        rows = len(table.rows)
        print(f"  {kind:<8} {rows:>8,} {read_s:>8.1f} {check_s:>8.1f} {import_s:>9.1f} {import_cpu:>8.1f} "
              f"{rows / import_s:>9,.0f} "
              f"{max(read_mib, check_mib, import_mib):>14.0f}")
        table = dry = result = None  # let the rows go before the next file
    with db.read() as s:
        on_hand = s.scalar(select(func.sum(Lot.on_hand)))
        stock = s.scalar(select(func.sum(Stock.qty)))
        ledger = s.scalar(select(func.sum(Movement.qty)))
        lots = s.scalar(select(func.count()).select_from(Lot))
    reports = {r.chain: r for r in chain.verify(db)}
    ok = on_hand == stock == ledger and reports["movements"].breaks == 0
    print(f"  {lots:,} lots; on hand {on_hand:,} = stock {stock:,} = ledger {ledger:,}; ledger chain "
          f"{reports['movements'].count:,} rows, {reports['movements'].breaks} breaks: {'OK' if ok else 'WRONG'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--lots", type=int, default=200_000)
    parser.add_argument("--no-pg", action="store_true", help="SQLite only")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        db = Database(f"sqlite:///{folder}/bench.db")
        upgrade(db)
        run(db, "SQLite", args.items, args.lots)
        db.dispose()
    if args.no_pg:
        return
    made = throwaway_database("import_bench")
    if made is None:
        return
    url, drop = made
    try:
        db = Database(url)
        upgrade(db)
        run(db, "PostgreSQL", args.items, args.lots)
        db.dispose()
    finally:
        drop()


if __name__ == "__main__":
    main()
