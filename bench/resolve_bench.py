"""Benchmark of scan resolution on a site of 1,000,000 lots: in-process and over HTTP.

Not a test: it prints figures. Targets (issue 3 and the project brief): POST /api/v1/resolve
p99 under 20 ms at 20 concurrent clients on SQLite, at least 700 scans/s, and the whole server
under 150 MiB of memory.

    .venv/bin/python bench/resolve_bench.py                     # 1M lots, in-process + HTTP
    .venv/bin/python bench/resolve_bench.py --lots 10000 --seconds 10
    .venv/bin/python bench/resolve_bench.py --clients 20 --threads 8

The site is the one bench/suggest_bench.py loads (reused from bench/data/), copied to
bench/data/resolve_<n>.sqlite and given what scans need: a GTIN for every item and a pallet
(SSCC) for 100,000 lots. The scans are a fixed mix of what a dock and a picker see:
GS1-128 labels with AIM prefix and GS or "|" separators, SSCCs, Station lot and location
labels, plain GTINs, and some unknown codes.

The HTTP client is asyncio on raw keep-alive sockets, one connection per client, run twice: open-loop
at the target load (700 scans/s, Poisson arrivals; the latency target) and closed-loop (each client
sends its next scan when the answer to the last one arrives; the capacity). It runs on the same 2-core
machine as the server, so it takes CPU the server could use: the figures are a floor, not a ceiling.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import benchkit as kit  # noqa: E402

from station.db import Database  # noqa: E402
from station.scanning import resolve  # noqa: E402

PALLETS = 100_000
GS = "\x1d"


def check_digit(body: str) -> str:
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return str((10 - total % 10) % 10)


def gtin14(item_id: int) -> str:
    body = f"0401234{item_id:06d}"
    return body + check_digit(body)


def sscc(serial: int) -> str:
    body = f"3401234{serial:010d}"
    return body + check_digit(body)


def prepare(n: int) -> Path:
    """The suggest benchmark's site of `n` lots, plus GTINs and pallets, as its own file."""
    return kit.site_copy(n, "resolve", _add_gtins_and_pallets)


def _add_gtins_and_pallets(path: Path) -> None:
    con = sqlite3.connect(path)
    con.execute("PRAGMA synchronous=OFF")
    items = [r[0] for r in con.execute("SELECT id FROM items")]
    con.executemany("INSERT OR IGNORE INTO item_gtins (gtin, item_id) VALUES (?, ?)",
                    [(gtin14(i), i) for i in items])
    rows = con.execute("SELECT s.lot_id, s.location_id, s.qty FROM stock s WHERE s.qty > 0 "
                       "ORDER BY s.id LIMIT ?", (PALLETS,)).fetchall()
    con.execute("DELETE FROM handling_units")
    con.executemany(
        "INSERT INTO handling_units (id, sscc, lot_id, location_id, qty_received, received_at) "
        "VALUES (?, ?, ?, ?, ?, '2025-06-01 08:00:00.000000')",
        [(k + 1, sscc(k + 1), lot, loc, qty) for k, (lot, loc, qty) in enumerate(rows)])
    con.commit()
    con.close()


def scan_mix(path: Path, count: int, seed: int = 7) -> list[str]:
    """A deterministic list of scans, in the proportions a dock and a picker produce them."""
    rng = random.Random(seed)
    con = sqlite3.connect(path)
    lots = con.execute("SELECT l.lot_number, l.item_id, l.expiry FROM lots l "
                       "WHERE l.id IN (SELECT lot_id FROM stock WHERE qty > 0) LIMIT 50000").fetchall()
    units = con.execute("SELECT sscc FROM handling_units LIMIT 50000").fetchall()
    places = con.execute("SELECT barcode FROM locations").fetchall()
    con.close()
    scans = []
    for _ in range(count):
        roll = rng.random()
        lot_number, item_id, expiry = rng.choice(lots)
        exp = (expiry or "2027-12-31").replace("-", "")[2:]
        if roll < 0.25:
            scans.append(f"]C101{gtin14(item_id)}17{exp}10{lot_number}")
        elif roll < 0.40:
            sep = rng.choice([GS, "|"])
            scans.append(f"]C101{gtin14(item_id)}10{lot_number}{sep}17{exp}37{rng.randint(1, 99)}")
        elif roll < 0.60:
            scans.append(f"]C100{rng.choice(units)[0]}")
        elif roll < 0.75:
            scans.append(f"LOT:{lot_number}")
        elif roll < 0.85:
            scans.append(rng.choice(places)[0])
        elif roll < 0.95:
            scans.append(gtin14(item_id))
        else:
            scans.append(rng.choice(["HELLO WORLD", "0000000000000", "]C1" + "9" * 30, "LOT:NOPE"]))
    return scans


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def in_process(path: Path, scans: list[str]) -> None:
    db = Database(f"sqlite:///{path}")
    kinds: dict[str, int] = {}
    times = []
    with db.read() as session:
        for code in scans[:500]:  # warm-up: caches, compiled statements
            resolve(session, code)
        for code in scans:
            t = time.perf_counter()
            result = resolve(session, code)
            times.append((time.perf_counter() - t) * 1000)
            kinds[result.kind] = kinds.get(result.kind, 0) + 1
    db.dispose()
    total = sum(times) / 1000
    print(f"\nin-process resolve(), one thread, one session, {len(scans):,} scans:")
    print(f"  {len(scans) / total:,.0f} scans/s   median {statistics.median(times):.3f} ms   "
          f"p99 {percentile(times, 99):.3f} ms   max {max(times):.1f} ms")
    print("  kinds: " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items(), key=lambda kv: -kv[1])))


free_port = kit.free_port


def start_server(path: Path, port: int, threads: int, workers: int, instance: str) -> tuple[subprocess.Popen, str]:
    env = kit.station_env(f"sqlite:///{path}", instance)
    token = kit.create_token(env, "bench", "admin")
    return kit.start_station(env, port, "--threads", str(threads), "--workers", str(workers), timeout=30), token


async def client(port: int, token: str, scans: list[str], stop_at: float, latencies: list, errors: list,
                 interval: float | None = None, seed: int = 0, timeline: list | None = None):
    """One scanner's connection. Closed-loop when interval is None (the next scan goes as soon as the
    answer arrives); otherwise open-loop: scans are due at Poisson times averaging `interval` apart, and
    latency counts from when a scan was due, so a slow answer also charges the scans queued behind it."""
    rng = random.Random(seed)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    i = 0
    due = time.perf_counter() + (rng.expovariate(1 / interval) if interval else 0)
    try:
        while time.monotonic() < stop_at:
            body = json.dumps({"code": scans[i % len(scans)]}).encode()
            i += 1
            request = (f"POST /api/v1/resolve HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\n"
                       f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body
            if interval:
                wait = due - time.perf_counter()
                if wait > 0:
                    await asyncio.sleep(wait)
                t = due
                due += rng.expovariate(1 / interval)
            else:
                t = time.perf_counter()
            status, payload = await kit.exchange(reader, writer, request)
            latencies.append((time.perf_counter() - t) * 1000)
            if timeline is not None:
                timeline.append((t, latencies[-1]))
            if status != 200:
                errors.append(f"{status} {payload[:200]!r}")
    finally:
        writer.close()


def _tree(pid: int) -> list[int]:
    """pid and its descendants (the workers of `station run --workers N`)."""
    pids = [pid]
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        pids += _tree(int(child))
    return pids


def memory_mib(pid: int) -> tuple[float, float]:
    """(PSS, sum of peak RSS) of the server's processes. PSS counts each shared page once, split
    between the processes that share it: it is what the server as a whole occupies. The sum of peak
    RSS counts pages shared by forked workers once per worker: an upper bound."""
    pss = hwm = 0.0
    each = []
    for p in _tree(pid):
        rollup = Path(f"/proc/{p}/smaps_rollup").read_text()
        mine = int(rollup.split("\nPss:")[1].split()[0]) / 1024
        pss += mine
        each.append(f"{mine:.0f}")
        status = dict(line.split(":", 1) for line in Path(f"/proc/{p}/status").read_text().splitlines())
        hwm += int(status["VmHWM"].split()[0]) / 1024
    print(f"  PSS per process (supervisor, workers): {' + '.join(each)} MiB", flush=True)
    return pss, hwm


def _report(title: str, latencies: list[float], errors: list[str], elapsed: float) -> tuple[float, float]:
    rate, p99 = len(latencies) / elapsed, percentile(latencies, 99)
    print(f"\n{title}")
    print(f"  {len(latencies):,} requests, {rate:,.0f} scans/s, errors {len(errors)}")
    print(f"  latency p50 {percentile(latencies, 50):.1f} ms   p95 {percentile(latencies, 95):.1f} ms   "
          f"p99 {p99:.1f} ms   max {max(latencies):.1f} ms")
    for e in errors[:5]:
        print("  error:", e)
    return rate, p99


def _per_second_p99(timeline: list[tuple[float, float]]) -> list[float]:
    """The p99 of each second of the open-loop run: a stall shows as a few bad seconds, a slow
    server as all of them."""
    if not timeline:
        return []
    start = min(t for t, _ in timeline)
    seconds: dict[int, list[float]] = {}
    for t, ms in timeline:
        seconds.setdefault(int(t - start), []).append(ms)
    return [percentile(v, 99) for _, v in sorted(seconds.items())]


def over_http(path: Path, scans: list[str], clients: int, seconds: float, threads: int, workers: int,
              rate: float) -> None:
    """Two runs against one server: open-loop at `rate` scans/s (the latency target), then closed-loop
    (the most the server answers). In a closed loop with 20 clients, latency is 20 / throughput by
    Little's law, so a p99 under 20 ms there would need over 1,000 scans/s at every instant; the
    latency target is read at the stated load of 700 scans/s instead, and capacity is read closed-loop."""
    port = free_port()
    shares = [scans[k::clients] for k in range(clients)]
    with tempfile.TemporaryDirectory() as instance:
        server, token = start_server(path, port, threads, workers, instance)
        try:
            timeline: list[tuple[float, float]] = []

            def run(duration: float, interval: float | None) -> tuple[list, list, float]:
                latencies, errors = [], []

                async def all_clients():
                    stop_at = time.monotonic() + duration
                    await asyncio.gather(*(client(port, token, shares[k], stop_at, latencies, errors, interval,
                                                  seed=k, timeline=timeline if interval else None)
                                           for k in range(clients)))
                started = time.perf_counter()
                asyncio.run(all_clients())
                return latencies, errors, time.perf_counter() - started

            run(3, None)  # warm-up
            open_loop = run(seconds, clients / rate)
            closed_loop = run(seconds, None)
            pss, peak = memory_mib(server.pid)
        finally:
            server.terminate()
            server.wait(timeout=10)
    print(f"\nPOST /api/v1/resolve over HTTP: {clients} clients, {seconds:.0f} s each, "
          f"station run --workers {workers} --threads {threads}; client on the same 2 cores")
    _, p99 = _report(f"open loop, {rate:.0f} scans/s offered (Poisson arrivals, latency from when each "
                     f"scan was due):", *open_loop)
    achieved = len(open_loop[0]) / open_loop[2]
    print("  p99 second by second: " + " ".join(f"{ms:.0f}" for ms in _per_second_p99(timeline)))
    capacity, closed_p99 = _report("closed loop (each client scans again as soon as it has its answer):",
                                   *closed_loop)
    print(f"\n  server memory: PSS {pss:.0f} MiB (all processes, shared pages once); "
          f"sum of peak RSS {peak:.0f} MiB")
    ok = {True: "ok", False: "MISSED"}
    print(f"  targets: p99 <= 20 ms at {rate:.0f} scans/s: {ok[p99 <= 20 and achieved >= 0.97 * rate]} "
          f"({p99:.1f} ms at {achieved:.0f}/s); capacity >= 700 scans/s: {ok[capacity >= 700]} "
          f"({capacity:.0f}/s); memory <= 150 MiB: {ok[pss <= 150]} ({pss:.0f} MiB PSS)")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lots", type=int, default=1_000_000)
    ap.add_argument("--scans", type=int, default=20_000, help="in-process scans to time")
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--threads", type=int, default=2, help="waitress threads per worker process")
    ap.add_argument("--workers", type=int, default=2, help="station run --workers")
    ap.add_argument("--rate", type=float, default=700, help="scans/s offered in the open-loop run")
    ap.add_argument("--no-http", action="store_true")
    args = ap.parse_args(argv)
    path = prepare(args.lots)
    scans = scan_mix(path, args.scans)
    con = sqlite3.connect(path)
    pallets = con.execute("SELECT count(*) FROM handling_units").fetchone()[0]
    con.close()
    print(f"site: {args.lots:,} lots, {pallets:,} pallets; load average {os.getloadavg()[0]:.1f}")
    in_process(path, scans)
    if not args.no_http:
        over_http(path, scans, args.clients, args.seconds, args.threads, args.workers, args.rate)
    return 0


if __name__ == "__main__":
    sys.exit(main())
