"""Idle and slow sockets, and a huge body, against waitress' defaults and against `station run`.

    .venv/bin/python bench/server_limits_bench.py                       # 150 idle sockets, 20 MB body
    .venv/bin/python bench/server_limits_bench.py --idle 900 --body-mb 100

For each server — "waitress defaults" (the app under plain waitress.serve without a body limit, as
`station run` served it before issue 13) and "station run" (station/server.py's limits) — it opens N idle connections and 20
slow-loris connections (a header byte every 0.2 s), then times a normal GET / on a fresh connection
(giving up after --wait seconds), then POSTs a body of --body-mb MB to the API and reports the answer's
status, how long until it came and the server's resident memory (VmHWM: the peak) before and after.
Figures, not assertions: tests/test_server_limits.py holds the behaviour.
"""
from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = str(ROOT / ".venv" / "bin" / "python")
STATION = str(ROOT / ".venv" / "bin" / "station")

# As `station run` served before issue 13: waitress' defaults and no body limit in the app.
PLAIN_WAITRESS = ("import sys; from waitress import serve; from station import create_app; "
                  "app = create_app(); app.config['MAX_CONTENT_LENGTH'] = None; "
                  "serve(app, host='127.0.0.1', port=int(sys.argv[1]), threads=4)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def peak_rss_mb(pid: int) -> tuple[float, float]:
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return (int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024)


def start(kind: str, workdir: Path) -> tuple[subprocess.Popen, int, str]:
    env = {**os.environ, "STATION_INSTANCE": str(workdir), "STATION_DATABASE_URL": f"sqlite:///{workdir / 's.db'}"}
    subprocess.run([STATION, "init"], env=env, check=True, capture_output=True)
    token = subprocess.run([STATION, "token", "create", "bench", "--role", "receiver"], env=env, check=True,
                           capture_output=True, text=True).stdout.split()[-1]
    port = free_port()
    cmd = ([PYTHON, "-c", PLAIN_WAITRESS, str(port)] if kind == "waitress defaults" else
           [STATION, "run", "--threads", "4", "--port", str(port), "--no-scanners", "--no-print-worker"])
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).close()
            return proc, port, token
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"{kind}: the server did not start")


def timed_get(port: int, wait: float) -> str:
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=wait) as r:
            r.read()
        return f"{r.status} after {(time.perf_counter() - started) * 1000:.0f} ms"
    except OSError as exc:
        return f"no answer after {time.perf_counter() - started:.0f} s ({type(exc).__name__})"


def slow_loris(socks: list[socket.socket], stop: threading.Event) -> None:
    header = b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100_000
    for i in range(len(header)):
        if stop.wait(0.2):
            return
        for s in socks:
            try:
                s.sendall(header[i:i + 1])
            except OSError:
                pass


def huge_post(port: int, megabytes: int, token: str) -> str:
    size = megabytes * 1024 * 1024
    sock = socket.create_connection(("127.0.0.1", port), timeout=120)
    started = time.perf_counter()
    sock.sendall(f"POST /api/v1/receipts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 f"Authorization: Bearer {token}\r\nContent-Length: {size}\r\n\r\n".encode())

    def send():  # one JSON object with a 'sku' of (size - 11) letters: read in full, then judged
        prefix, suffix, chunk = b'{"sku": "', b'"}', b"A" * 65536
        sent = 0
        try:
            sock.sendall(prefix)
            sent = len(prefix)
            while sent < size - len(suffix):
                piece = chunk[:size - len(suffix) - sent]
                sock.sendall(piece)
                sent += len(piece)
            sock.sendall(suffix)
        except OSError:
            pass

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    try:
        answer = sock.recv(200).split(b"\r\n")[0].decode()
    except OSError as exc:
        answer = type(exc).__name__
    took = time.perf_counter() - started
    sender.join(timeout=120)
    sock.close()
    return f"{answer or 'closed'} after {took * 1000:.0f} ms"


def run(kind: str, idle: int, wait: float, megabytes: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        proc, port, token = start(kind, Path(tmp))
        try:
            print(f"\n== {kind} (pid {proc.pid})")
            print(f"  GET / alone:                          {timed_get(port, wait)}")
            socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(idle)]
            loris = [socket.create_connection(("127.0.0.1", port)) for _ in range(20)]
            stop = threading.Event()
            threading.Thread(target=slow_loris, args=(loris, stop), daemon=True).start()
            time.sleep(1)  # let the server accept what it will
            print(f"  GET / with {idle} idle + 20 slow sockets: {timed_get(port, wait)}")
            stop.set()
            for s in socks + loris:
                s.close()
            time.sleep(1)
            before = peak_rss_mb(proc.pid)
            print(f"  memory before the body:               RSS {before[0]:.0f} MB, peak {before[1]:.0f} MB")
            print(f"  POST {megabytes} MB to /api/v1/receipts:      {huge_post(port, megabytes, token)}")
            after = peak_rss_mb(proc.pid)
            print(f"  memory after the body:                RSS {after[0]:.0f} MB, peak {after[1]:.0f} MB")
            print(f"  GET / after:                          {timed_get(port, wait)}")
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle", type=int, default=150)
    parser.add_argument("--wait", type=float, default=150.0, help="give up on the GET after this many seconds")
    parser.add_argument("--body-mb", type=int, default=20)
    parser.add_argument("--only", choices=("before", "after"))
    args = parser.parse_args()
    if args.only != "after":
        run("waitress defaults", args.idle, args.wait, args.body_mb)
    if args.only != "before":
        run("station run", args.idle, args.wait, args.body_mb)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
