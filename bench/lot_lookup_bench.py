"""Benchmark: a lot look-up (GET /api/v1/lots/<n>, the lot card's data) against a scan resolve.

Not a test: it prints figures. Target (the project brief, issue 18): a lot look-up costs at most twice a
resolve.

    .venv/bin/python bench/lot_lookup_bench.py                  # 10,000 lots
    .venv/bin/python bench/lot_lookup_bench.py --lots 1000000 --seconds 20

On the resolve benchmark's site (bench/resolve_bench.py), for the same lots: first in the app (Flask's test
client: no sockets, the app's and the database's cost), the median of GET /api/v1/lots/<n> and of
POST /api/v1/resolve {"code": "LOT:<n>"}, interleaved; then over HTTP, 20 keep-alive clients in a closed
loop for each (look-ups/s, resolves/s, p50/p99), with `station run`'s defaults.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import benchkit as kit  # noqa: E402
import resolve_bench as rb  # noqa: E402


def lot_numbers(path: Path, n: int) -> list[str]:
    con = sqlite3.connect(path)
    try:
        return [r[0] for r in con.execute("SELECT lot_number FROM lots ORDER BY random() LIMIT ?", (n,))]
    finally:
        con.close()


def in_app(path: Path, numbers: list[str]) -> None:
    os.environ["STATION_DATABASE_URL"] = f"sqlite:///{path}"
    os.environ["STATION_INSTANCE"] = tempfile.mkdtemp()
    from station.app import create_app
    from station.models import Role
    from station.services.tokens import create_token

    app = create_app()
    with app.extensions["station.db"].write() as s:
        headers = {"Authorization": f"Bearer {create_token(s, 'bench', Role.ADMIN)}"}
    client = app.test_client()
    lookups, resolves = [], []
    for number in numbers:
        t = time.perf_counter()
        assert client.get(f"/api/v1/lots/{number}", headers=headers).status_code == 200
        lookups.append(time.perf_counter() - t)
        t = time.perf_counter()
        assert client.post("/api/v1/resolve", json={"code": f"LOT:{number}"}, headers=headers).status_code == 200
        resolves.append(time.perf_counter() - t)
    look, res = (statistics.median(v[len(v) // 10:]) * 1000 for v in (lookups, resolves))  # less warm-up
    print(f"\nin the app, {len(numbers):,} lots, interleaved: GET /api/v1/lots/<n> median {look:.3f} ms, "
          f"POST /api/v1/resolve median {res:.3f} ms: a look-up costs {look / res:.2f} x a resolve "
          f"(target <= 2: {'ok' if look <= 2 * res else 'MISSED'})")


async def _client(port: int, token: str, numbers: list[str], lookup: bool, stop_at: float, latencies: list,
                  errors: list) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    i = 0
    try:
        while time.monotonic() < stop_at:
            number = numbers[i % len(numbers)]
            i += 1
            if lookup:
                head = f"GET /api/v1/lots/{number} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\n\r\n"
                request = head.encode()
            else:
                body = json.dumps({"code": f"LOT:{number}"}).encode()
                request = (f"POST /api/v1/resolve HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\n"
                           f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body
            t = time.perf_counter()
            status, payload = await kit.exchange(reader, writer, request)
            latencies.append((time.perf_counter() - t) * 1000)
            if status != 200:
                errors.append(f"{status} {payload[:80]!r}")
    finally:
        writer.close()


def over_http(path: Path, numbers: list[str], clients: int, seconds: float) -> None:
    with tempfile.TemporaryDirectory() as instance:
        env = kit.station_env(f"sqlite:///{path}", instance)
        token = kit.create_token(env, "bench", "admin")
        port = kit.free_port()
        server = kit.start_station(env, port, timeout=30)
        try:
            print(f"\nover HTTP, {clients} clients, closed loop, {seconds:.0f} s each, station run defaults:")
            for lookup in (True, False, True, False):
                latencies, errors = [], []

                async def run():
                    stop_at = time.monotonic() + seconds
                    await asyncio.gather(*(_client(port, token, numbers[k::clients], lookup, stop_at, latencies,
                                                   errors) for k in range(clients)))
                started = time.perf_counter()
                asyncio.run(run())
                elapsed = time.perf_counter() - started
                what = "GET /api/v1/lots/<n>  " if lookup else "POST /api/v1/resolve  "
                print(f"  {what} {len(latencies) / elapsed:7,.0f}/s   p50 {rb.percentile(latencies, 50):5.1f} ms   "
                      f"p99 {rb.percentile(latencies, 99):5.1f} ms   errors {len(errors)}")
        finally:
            server.terminate()
            server.wait(timeout=10)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lots", type=int, default=10_000)
    ap.add_argument("--sample", type=int, default=2_000, help="lots looked up")
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=8)
    args = ap.parse_args(argv)
    path = rb.prepare(args.lots)
    numbers = lot_numbers(path, args.sample)
    in_app(path, numbers)
    over_http(path, numbers, args.clients, args.seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
