"""Benchmark of concurrent receipts over HTTP on SQLite: how fairly writers share the one write lock.

Not a test: it prints figures. Target (issue 18 and the project brief): 20 concurrent clients receive at
300 receipts/s or more with p99 <= 150 ms and 0 errors on SQLite.

    .venv/bin/python bench/receipts_bench.py                       # 20 clients, 15 s, station run defaults
    .venv/bin/python bench/receipts_bench.py --clients 20 --seconds 10 --workers 2 --threads 4

A fresh SQLite site (one item, a supplier, a dock) is made with the station's own CLI and services, then
`station run` is started and 20 keep-alive clients each send `POST /api/v1/receipts` as soon as the answer
to their last one arrives (closed loop), each receipt a new supplier lot or one more pallet of a lot of
theirs. Latency counts from sending to the whole answer; p50, p99 and max show how long the unluckiest
writer waited for the lock. The client runs on the same 2 cores as the server: the figures are a floor.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import benchkit as kit  # noqa: E402
from resolve_bench import memory_mib, percentile  # noqa: E402

_SITE = """
from station.app import create_app
from station.models import LocationKind
from station.services import catalog
app = create_app()
with app.extensions["station.db"].write() as s:
    acme = catalog.create_supplier(s, code="ACME", name="Acme Foods")
    item = catalog.create_item(s, sku="BENCH-1", name="Bench flour", unit="kg", qty_decimals=3)
    item.supplier_id = acme.id
    catalog.create_location(s, code="DOCK-B", kind=LocationKind.DOCK)
"""


def make_site(env: dict) -> None:
    subprocess.run([kit.STATION, "init"], env=env, check=True, capture_output=True)
    subprocess.run([sys.executable, "-c", _SITE], env=env, check=True, capture_output=True)


async def client(port: int, token: str, k: int, stop_at: float, latencies: list, errors: list) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    i = 0
    try:
        while time.monotonic() < stop_at:
            body = json.dumps({"sku": "BENCH-1", "qty": f"{1 + i % 7}.{i % 1000:03d}", "supplier": "ACME",
                               "supplier_lot": f"C{k}-{i % 40}", "location": "DOCK-B"}).encode()
            i += 1
            request = (f"POST /api/v1/receipts HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\n"
                       f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body
            t = time.perf_counter()
            status, payload = await kit.exchange(reader, writer, request)
            latencies.append((time.perf_counter() - t) * 1000)
            if status != 201:
                errors.append(f"{status} {payload[:200]!r}")
    finally:
        writer.close()


def run(clients: int, seconds: float, workers: int | None, threads: int | None) -> None:
    with tempfile.TemporaryDirectory() as instance:
        env = kit.station_env(f"sqlite:///{instance}/station.db", instance)
        make_site(env)
        token = kit.create_token(env, "bench", "receiver")
        args = [*(("--workers", str(workers)) if workers else ()), *(("--threads", str(threads)) if threads else ())]
        port = kit.free_port()
        server = kit.start_station(env, port, *args, timeout=30)
        try:
            def burst(duration: float) -> tuple[list, list, float]:
                latencies, errors = [], []

                async def all_clients():
                    stop_at = time.monotonic() + duration
                    await asyncio.gather(*(client(port, token, k, stop_at, latencies, errors)
                                           for k in range(clients)))
                started = time.perf_counter()
                asyncio.run(all_clients())
                return latencies, errors, time.perf_counter() - started

            burst(2)  # warm-up
            latencies, errors, elapsed = burst(seconds)
            pss, _ = memory_mib(server.pid)
        finally:
            server.terminate()
            server.wait(timeout=10)
    rate = len(latencies) / elapsed
    print(f"\nPOST /api/v1/receipts on SQLite: {clients} clients, closed loop, {seconds:.0f} s; station run "
          f"{' '.join(args) or '(defaults)'}; load average {os.getloadavg()[0]:.1f}")
    print(f"  {len(latencies):,} receipts, {rate:,.0f} receipts/s, errors {len(errors)}")
    print(f"  latency p50 {percentile(latencies, 50):.1f} ms   p95 {percentile(latencies, 95):.1f} ms   "
          f"p99 {percentile(latencies, 99):.1f} ms   max {max(latencies):.1f} ms")
    for e in errors[:5]:
        print("  error:", e)
    p99 = percentile(latencies, 99)
    ok = {True: "ok", False: "MISSED"}
    print(f"  server PSS {pss:.0f} MiB")
    print(f"  target (>= 300 receipts/s, p99 <= 150 ms, 0 errors): "
          f"{ok[rate >= 300 and p99 <= 150 and not errors]}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=15)
    ap.add_argument("--workers", type=int, default=None, help="station run --workers (default: its own)")
    ap.add_argument("--threads", type=int, default=None, help="station run --threads (default: its own)")
    args = ap.parse_args(argv)
    run(args.clients, args.seconds, args.workers, args.threads)
    return 0


if __name__ == "__main__":
    sys.exit(main())
