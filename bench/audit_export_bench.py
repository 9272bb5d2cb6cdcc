"""Benchmark of the audit CSV export: ledger rows streamed in constant memory, in-process and over HTTP.

Not a test: it prints figures. Target (issue 6): 1,000,000 ledger rows exported as CSV with memory
that does not grow with the number of rows.

    .venv/bin/python bench/audit_export_bench.py                          # 1M lots (~5M movements)
    .venv/bin/python bench/audit_export_bench.py --lots 10000 --rows 10000,40000   # a quick run

The site is the one bench/suggest_bench.py loads (reused from bench/data/), copied to
bench/data/audit_<n>.sqlite (the copy gets an API token and its expired lots marked, so the shared
file stays as the other benchmarks expect). First `station expire` runs once on the copy, timed:
that is expiry's set-based UPDATE at the site's size. Then, for each row count:

* in-process: a fresh Python process runs the real export (services.audit.ledger_csv, newest first,
  no filter, LIMIT rows) and reads every byte it yields; it reports rows/s and the growth of its
  peak resident memory (VmHWM from /proc, minus VmRSS measured just before the export started,
  after imports, the engine and a first query) — a fresh process per size, so each figure is its own;
* over HTTP (once per size): `station run` serves the copy; the client GETs
  /api/v1/movements.csv?… and counts the CSV rows it streams; the server's VmHWM growth is read from
  /proc/<pid>/status the same way.

"Constant" shows when the growth at 1M rows is about the growth at 100k rows.
"""
from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import benchkit as kit  # noqa: E402

STATION = str(ROOT / ".venv" / "bin" / "station")


def kib(field: str, pid: int | str = "self") -> int:
    """A memory figure of a process from /proc/<pid>/status, in KiB (VmRSS now, VmHWM its peak)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def prepare(n: int) -> Path:
    """A copy of the suggest benchmark's site of `n` lots, migrated to the current schema."""
    return kit.site_copy(n, "audit")


def env_for(path: Path, instance: str) -> dict:
    return {**os.environ, "STATION_DATABASE_URL": f"sqlite:///{path}", "STATION_INSTANCE": instance}


def expire_once(path: Path, instance: str) -> None:
    """`station expire` on the copy: the set-based UPDATE plus one event per lot, timed."""
    started = time.perf_counter()
    done = subprocess.run([STATION, "expire"], env=env_for(path, instance), check=True, capture_output=True,
                          text=True)
    took = time.perf_counter() - started
    print(f"station expire: {done.stdout.strip().splitlines()[-1]} in {took:.2f} s (process start included)",
          flush=True)


# --- in-process: one fresh process per size --------------------------------------------------------


def child(path: str, rows: int) -> None:
    """Run in a fresh process: export `rows` ledger rows through the real function, print JSON figures."""
    from station.db import Database
    from station.services import audit

    db = Database(f"sqlite:///{path}")
    with db.read() as session:  # connect and warm up before the baseline is taken
        session.execute(audit.ledger_query(audit.Resolved()).limit(10)).all()
    before = kib("VmRSS")
    started = time.perf_counter()
    lines = size = 0
    for piece in audit.ledger_csv(db, audit.Resolved(), limit=rows):
        lines += piece.count("\n")
        size += len(piece)
    seconds = time.perf_counter() - started
    print(json.dumps({"rows": lines - 1, "seconds": seconds, "chars": size, "rss_before_kib": before,
                      "peak_kib": kib("VmHWM")}))


def in_process(path: Path, rows: int) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", str(path), "--child-rows", str(rows)],
                         check=True, capture_output=True, text=True).stdout
    result = json.loads(out.strip().splitlines()[-1])
    growth = (result["peak_kib"] - result["rss_before_kib"]) / 1024
    print(f"  in-process  {result['rows']:>9,} rows  {result['seconds']:6.2f} s  "
          f"{result['rows'] / result['seconds']:>9,.0f} rows/s  {result['chars'] / 2**20:7.1f} MiB of CSV  "
          f"peak RSS growth {growth:6.1f} MiB (from {result['rss_before_kib'] / 1024:.0f} MiB)", flush=True)
    return result


# --- over HTTP: `station run` serving the copy -----------------------------------------------------------


def start_server(path: Path, port: int, instance: str) -> tuple[subprocess.Popen, str]:
    env = env_for(path, instance)
    token = kit.create_token(env, "audit-bench", "supervisor")
    return kit.start_station(env, port, "--threads", "4", "--no-scanners", "--no-print-worker"), token


def reset_peak(pid: int) -> bool:
    """Reset a process's VmHWM to its current RSS (Linux: write 5 to /proc/<pid>/clear_refs)."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def over_http(port: int, token: str, server_pid: int, day: str) -> None:
    """GET /api/v1/movements.csv?from=<day> and count the rows streamed; the server's peak RSS growth."""
    reset = reset_peak(server_pid)
    before = kib("VmRSS", server_pid)
    url = f"http://127.0.0.1:{port}/api/v1/movements.csv?from={day}"
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    started = time.perf_counter()
    lines = size = 0
    with urllib.request.urlopen(request, timeout=600) as answer:
        while True:
            piece = answer.read(1 << 16)
            if not piece:
                break
            lines += piece.count(b"\n")
            size += len(piece)
    seconds = time.perf_counter() - started
    growth = (kib("VmHWM", server_pid) - before) / 1024
    print(f"  over HTTP   {lines - 1:>9,} rows  {seconds:6.2f} s  {(lines - 1) / seconds:>9,.0f} rows/s  "
          f"{size / 2**20:7.1f} MiB of CSV  server peak RSS growth {growth:6.1f} MiB "
          f"(from {before / 1024:.0f} MiB{'' if reset else '; peak not resettable: growth since start'})",
          flush=True)


def day_holding(path: Path, rows: int) -> tuple[str, int]:
    """The first site day such that the movements from it to the end are about `rows` (the HTTP export's
    filter: a date range is how a supervisor asks for "the last N days")."""
    con = sqlite3.connect(path)
    try:
        top = con.execute("SELECT max(id) FROM movements").fetchone()[0]
        ts = con.execute("SELECT ts FROM movements WHERE id = ?", (max(1, top - rows + 1),)).fetchone()[0]
        day = ts[:10]
        count = con.execute("SELECT count(*) FROM movements WHERE ts >= ?", (day,)).fetchone()[0]
        return day, count
    finally:
        con.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lots", type=int, default=1_000_000, help="site size (lots; about 5 movements each)")
    ap.add_argument("--rows", default="100000,1000000", help="row counts to export, comma-separated")
    ap.add_argument("--no-http", action="store_true", help="skip the HTTP export")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--child-rows", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.child_rows)
        return
    sizes = [int(x) for x in args.rows.split(",") if x.strip()]
    path = prepare(args.lots)
    with tempfile.TemporaryDirectory(prefix="audit-bench-") as instance:
        expire_once(path, instance)
        print(f"\nCSV export of the ledger, newest first ({args.lots:,}-lot site, SQLite):", flush=True)
        for rows in sizes:
            in_process(path, rows)
        if args.no_http:
            return
        port = kit.free_port()
        server, token = start_server(path, port, instance)
        try:
            time.sleep(1.0)  # let the expiry job's start-up run (nothing left to expire) finish
            warm = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/movements.csv?from=2999-01-01",
                                          headers={"Authorization": f"Bearer {token}"})
            urllib.request.urlopen(warm, timeout=60).read()  # first request: imports, route, connection
            for rows in sizes:
                day, count = day_holding(path, rows)
                print(f"  (HTTP filter from={day}: {count:,} rows)", flush=True)
                over_http(port, token, server.pid, day)
        finally:
            server.terminate()
            server.wait(30)


if __name__ == "__main__":
    main()
