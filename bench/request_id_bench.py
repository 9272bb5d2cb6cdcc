"""Benchmark: what a request_id costs an API receipt (issue 13 point 6).

Not a test: it prints figures. Target: a receipt with a request_id costs one INSERT more (api_requests,
in the receipt's own transaction); one without costs nothing more than before.

    .venv/bin/python bench/request_id_bench.py                 # SQLite, and PostgreSQL if 127.0.0.1:5432 answers
    .venv/bin/python bench/request_id_bench.py --no-pg --blocks 10 --per-block 40

Each backend gets a fresh database with an item and a dock. `POST /api/v1/receipts` goes through the
whole Flask app (Flask's test client: no sockets, so the figures are the app's and the database's),
in blocks that alternate: "plain" (no request_id: the path every receipt took before), "request_id"
(a new id each time: the write plus the stored answer) and "retry" (an id sent before: the receipt is
done again in a transaction that the api_requests unique key rolls back, then the stored answer is
read). Each receipt is timed on its own; it prints median and mean of each, the differences, and the
SQL statements one receipt of each kind runs (a figure the machine's other work does not change).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import event  # noqa: E402

from station import create_app  # noqa: E402
from station.db import Database  # noqa: E402
from station.models import LocationKind, Role  # noqa: E402
from station.schema import upgrade  # noqa: E402
from station.services import catalog  # noqa: E402
from station.services.tokens import create_token  # noqa: E402
from pgkit import throwaway_database  # noqa: E402

MODES = ("plain", "request_id", "retry")


def run(url: str, label: str, blocks: int, per_block: int, instance: str) -> dict:
    migrate = Database(url)
    upgrade(migrate)
    migrate.dispose()
    os.environ["STATION_INSTANCE"] = instance
    app = create_app({"TESTING": True, "DATABASE_URL": url})
    db = app.extensions["station.db"]
    with db.write() as s:
        catalog.create_item(s, sku="YOG-500", name="Greek yoghurt 500 g", unit="cup", shelf_life_days=20)
        catalog.create_location(s, code="DOCK-1", kind=LocationKind.DOCK)
        secret = create_token(s, "bench", Role.RECEIVER)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {secret}"}
    n = 0
    sent: list[str] = []

    def receipt(mode: str) -> float:
        nonlocal n
        n += 1
        body = {"sku": "YOG-500", "qty": 48, "supplier_lot": f"B-{n:06d}"}
        if mode == "request_id":
            body["request_id"] = f"bench-{n:08d}"
            sent.append(body["request_id"])
        elif mode == "retry":
            body["request_id"] = sent[n % len(sent)]
        started = time.perf_counter()
        answer = client.post("/api/v1/receipts", json=body, headers=headers)
        took = time.perf_counter() - started
        assert answer.status_code == 201, answer.get_json()
        return took

    times: dict[str, list[float]] = {m: [] for m in MODES}
    for _ in range(30):  # first-use costs out of the figures
        receipt("plain")
    receipt("request_id")
    for block in range(blocks):
        order = MODES if block % 2 == 0 else tuple(reversed(MODES))
        for mode in order:
            times[mode].extend(receipt(mode) for _ in range(per_block))
    counts = {}  # SQL statements per receipt: the figure the machine's load does not change
    for mode in MODES:
        seen: list[str] = []
        listener = lambda *a: seen.append(a[2])  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listener)
        receipt(mode)
        event.remove(db.engine, "before_cursor_execute", listener)
        counts[mode] = len(seen)
    db.dispose()
    return {"label": label, "times": times, "statements": counts}


def show(r: dict) -> None:
    med = {m: statistics.median(t) * 1000 for m, t in r["times"].items()}
    mean = {m: statistics.fmean(t) * 1000 for m, t in r["times"].items()}
    print(f"\n{r['label']}: {len(r['times']['plain'])} receipts each way, interleaved in blocks")
    for mode in MODES:
        print(f"   {mode:<10} median {med[mode]:.3f} ms  mean {mean[mode]:.3f} ms  "
              f"{r['statements'][mode]} SQL statements"
              + ("" if mode == "plain" else f"   ({100 * (med[mode] / med['plain'] - 1):+.1f} % median)"))



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=10, help="blocks per mode (default 10)")
    parser.add_argument("--per-block", type=int, default=30, help="receipts per block (default 30)")
    parser.add_argument("--no-pg", action="store_true", help="SQLite only")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory(prefix="reqid-bench-") as tmp:
        results = [run(f"sqlite:///{tmp}/bench.db", "SQLite", args.blocks, args.per_block, f"{tmp}/instance")]
        pg = None if args.no_pg else throwaway_database("station_reqid_bench")
        if pg is not None:
            url, drop = pg
            try:
                results.append(run(url, "PostgreSQL", args.blocks, args.per_block, f"{tmp}/instance"))
            finally:
                drop()
    for r in results:
        show(r)
    print(f"\nload average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
