"""Benchmark: what the hash chains (services/chain.py, issue 13 point 8) cost per receipt.

Not a test: it prints figures. Target: a receipt costs under 10 % more with the chain than without.

    .venv/bin/python bench/chain_bench.py                 # SQLite, and PostgreSQL if 127.0.0.1:5432 answers
    .venv/bin/python bench/chain_bench.py --no-pg --blocks 30 --per-block 40

Each backend gets a fresh database (a temporary SQLite file; a new PostgreSQL database, dropped after)
with an item, a supplier and a dock. A receipt is `services.receiving.receive` of a new supplier lot in
its own write transaction (`db.write()`, as one API call or one confirm on the receiving page would do):
a lot number, the lot, its stock row and one ledger row. Receipts run in blocks, alternately with the
chain's events installed ("chain") and removed ("none": the code as it was before the chain), so the
machine's other work falls on both alike; each receipt is timed on its own (wall and this thread's CPU
time). It prints the median and mean per receipt of each and the difference in %, the time spent inside
the chain's event handlers per receipt (hashing, reading/locking and writing the head; an upper bound,
as the timing wrappers' own clock reads are in it), the hashing alone (one ledger row's content digest
and link), and how fast `chain.verify` walks the ledger. On a busy machine compare the CPU medians: the
wall figures move with whatever else runs.

One writer: on PostgreSQL, writers of the same chain also wait for each other's head lock (from their
first chained row to their commit), which a single-writer figure does not show.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import event  # noqa: E402

from station import clock  # noqa: E402
from station.db import Database  # noqa: E402
from station.models import LocationKind  # noqa: E402
from station.schema import upgrade  # noqa: E402
from station.services import catalog, chain, receiving  # noqa: E402
from pgkit import throwaway_database  # noqa: E402

DAY = dt.date(2026, 6, 15)


class Site:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.n = 0
        with db.write() as s:
            self.item = catalog.create_item(s, sku="YOG-500", name="Greek yoghurt 500 g", unit="cup",
                                            gtins=["4000000000020"], shelf_life_days=20)
            self.supplier = catalog.create_supplier(s, code="HOF", name="Hofmuehle")
            self.dock = catalog.create_location(s, code="DOCK-1", kind=LocationKind.DOCK)

    def receipt(self) -> tuple[float, float]:
        """(wall seconds, this thread's CPU seconds) of one receipt."""
        self.n += 1
        started, cpu = time.perf_counter(), time.thread_time()
        with self.db.write() as s:
            receiving.receive(s, item=self.item, qty=48, location=self.dock, supplier=self.supplier,
                              supplier_lot=f"B-{self.n:06d}", on=DAY)
        return time.perf_counter() - started, time.thread_time() - cpu


class TimedChain:
    """chain.install(), with each event handler timed: the time a receipt spends in the chain itself
    (hashing, and the head's two statements), which the machine's load disturbs far less than the
    difference of two whole-receipt figures."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.cpu = 0.0
        self.handlers = [(target, name, self._timed(fn)) for target, name, fn in chain._HANDLERS]

    def _timed(self, fn):
        def timed(*args, **kwargs):
            started, cpu = time.perf_counter(), time.thread_time()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - started
                self.cpu += time.thread_time() - cpu
        return timed

    def install(self) -> None:
        chain.uninstall()
        for target, name, fn in self.handlers:
            event.listen(target, name, fn)

    def uninstall(self) -> None:
        for target, name, fn in self.handlers:
            if event.contains(target, name, fn):
                event.remove(target, name, fn)


def run(url: str, label: str, blocks: int, per_block: int) -> dict:
    db = Database(url)
    upgrade(db)
    site = Site(db)
    times: dict[str, list[float]] = {"chain": [], "none": []}
    cpu: dict[str, list[float]] = {"chain": [], "none": []}
    timed = TimedChain()
    try:
        for _ in range(50):  # first-use costs (imports, prepared plans) out of the figures
            site.receipt()
        timed.install()
        for _ in range(20):
            site.receipt()
        timed.seconds = timed.cpu = 0.0
        for block in range(blocks):
            for mode in (("chain", "none") if block % 2 == 0 else ("none", "chain")):
                if mode == "chain":
                    timed.install()
                else:
                    timed.uninstall()
                    chain.uninstall()
                for _ in range(per_block):
                    wall, used = site.receipt()
                    times[mode].append(wall)
                    cpu[mode].append(used)
    finally:
        timed.uninstall()
        chain.install()
    in_chain_ms = timed.seconds / len(times["chain"]) * 1000
    in_chain_cpu_ms = timed.cpu / len(times["chain"]) * 1000
    # The hashing alone, on a ledger row's values.
    values = {"ts": clock.now(), "kind": "receive", "lot_id": 12345, "qty": 48, "to_location_id": 3,
              "operator_id": 7, "station_id": 2, "raw_scan": "]C10104000000000020" + "17270101" + "10B-000001"}
    rounds = 5000
    started = time.perf_counter()
    previous = chain.GENESIS
    for _ in range(rounds):
        previous = chain.make_hash(previous, chain.content_digest("movements", values, db.is_sqlite))
    hash_us = (time.perf_counter() - started) / rounds * 1e6
    started = time.perf_counter()
    report = chain.verify(db, ["movements"])[0]
    verify_s = time.perf_counter() - started
    db.dispose()
    return {"label": label, "times": times, "cpu": cpu, "in_chain_ms": in_chain_ms,
            "in_chain_cpu_ms": in_chain_cpu_ms, "hash_us": hash_us,
            "verify_rows": report.count, "verify_s": verify_s}


def show(r: dict) -> None:
    med = {m: statistics.median(t) * 1000 for m, t in r["times"].items()}
    mean = {m: statistics.fmean(t) * 1000 for m, t in r["times"].items()}
    n = len(r["times"]["chain"])
    print(f"\n{r['label']}: {n} receipts each way, interleaved in blocks")
    print(f"   median per receipt: none {med['none']:.3f} ms, chain {med['chain']:.3f} ms "
          f"-> {100 * (med['chain'] / med['none'] - 1):+.1f} %")
    print(f"   mean per receipt:   none {mean['none']:.3f} ms, chain {mean['chain']:.3f} ms "
          f"-> {100 * (mean['chain'] / mean['none'] - 1):+.1f} %")
    cpu = {m: statistics.median(t) * 1000 for m, t in r["cpu"].items()}
    print(f"   median CPU per receipt (this process): none {cpu['none']:.3f} ms, chain {cpu['chain']:.3f} ms "
          f"-> {100 * (cpu['chain'] / cpu['none'] - 1):+.1f} %")
    share = 100 * r["in_chain_ms"] / med["none"]
    cpu_share = 100 * r["in_chain_cpu_ms"] / cpu["none"]
    print(f"   inside the chain's events per receipt (an upper bound: ~13 timed calls per receipt, each with "
          f"its own clock reads): wall {r['in_chain_ms']:.3f} ms = {share:.1f} % of the median receipt without it; "
          f"CPU {r['in_chain_cpu_ms']:.3f} ms = {cpu_share:.1f} % of its CPU")
    print(f"   hashing one ledger row (content digest + link): {r['hash_us']:.1f} us")
    print(f"   verify: {r['verify_rows']} ledger rows in {r['verify_s']:.2f} s "
          f"= {r['verify_rows'] / r['verify_s']:,.0f} rows/s  (the rows written without the chain show as unchained)")
    print(f"   target (under +10 %): {'OK' if med['chain'] <= med['none'] * 1.10 else 'MISSED'} by the wall "
          f"medians, {'OK' if cpu['chain'] <= cpu['none'] * 1.10 else 'MISSED'} by the CPU medians")



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=100, help="blocks per mode (default 100)")
    parser.add_argument("--per-block", type=int, default=5, help="receipts per block (default 5)")
    parser.add_argument("--no-pg", action="store_true", help="SQLite only")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory(prefix="chain-bench-") as tmp:
        results = [run(f"sqlite:///{tmp}/bench.db", "SQLite", args.blocks, args.per_block)]
        pg = None if args.no_pg else throwaway_database("station_chain_bench")
        if pg is not None:
            url, drop = pg
            try:
                results.append(run(url, "PostgreSQL", args.blocks, args.per_block))
            finally:
                drop()
    for r in results:
        show(r)
    print(f"\nload average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
