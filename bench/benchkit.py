"""What the benchmarks share: a migrated copy of the suggest benchmark's site, a free port,
`station run` started and waited for, and one request on a keep-alive connection."""
from __future__ import annotations

import asyncio
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import suggest_bench as sb  # noqa: E402

STATION = str(ROOT / ".venv" / "bin" / "station")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def site_copy(n: int, name: str, extra: Callable[[Path], None] | None = None) -> Path:
    """bench/data/<name>_<n>.sqlite: a copy of the suggest benchmark's site of `n` lots, migrated to the
    current schema, then given what this benchmark adds (`extra`). Reused while newer than the site."""
    from station.db import Database
    from station.schema import upgrade

    base = sb.load_sqlite(sb.Generator(n, 1, 1000, 0.5), rebuild=False)
    path = sb.DATA / f"{name}_{n}.sqlite"
    marker = path.with_suffix(".ready")
    if path.exists() and marker.exists() and marker.stat().st_mtime >= base.stat().st_mtime:
        print(f"reusing {path.relative_to(ROOT)}", flush=True)
        return path
    started = time.perf_counter()
    con = sqlite3.connect(base)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), marker):
        p.unlink(missing_ok=True)
    shutil.copyfile(base, path)
    db = Database(f"sqlite:///{path}")
    upgrade(db)  # tables added since the suggest data was loaded
    db.dispose()
    if extra is not None:
        extra(path)
    marker.touch()
    print(f"prepared {path.relative_to(ROOT)} in {time.perf_counter() - started:.0f} s", flush=True)
    return path


def station_env(url: str, instance: str | Path) -> dict:
    return {**os.environ, "STATION_DATABASE_URL": url, "STATION_INSTANCE": str(instance)}


# The signed station cookie, as set-up writes it (the instance's key signs it; the module moved in issue 14).
_COOKIE_SNIPPET = """
import sys
from station.app import create_app
try:
    from station.auth import station_cookie_value
except ImportError:
    from station.views.floor import station_cookie_value
with create_app().test_request_context():
    sys.stdout.write(station_cookie_value(sys.argv[1]))
"""


def station_cookie(env: dict, station: str) -> str:
    """The value of the "station" cookie that binds a browser to `station` on the instance of `env`."""
    return subprocess.run([sys.executable, "-c", _COOKIE_SNIPPET, station], env=env, check=True,
                          capture_output=True, text=True).stdout


def create_token(env: dict, name: str, role: str) -> str:
    return subprocess.run([STATION, "token", "create", name, "--role", role], env=env, check=True,
                          capture_output=True, text=True).stdout.strip()


def start_station(env: dict, port: int, *run_args: str, timeout: float = 60) -> subprocess.Popen:
    """`station run --port PORT RUN_ARGS…`, once it accepts connections. Its output goes to
    server.log in the instance folder, not a pipe: waitress warns about its queue depth under load,
    and an unread pipe would fill and freeze the server."""
    log = open(Path(env["STATION_INSTANCE"]) / "server.log", "w+b")  # noqa: SIM115 - lives with the server
    server = subprocess.Popen([STATION, "run", "--port", str(port), *run_args], env=env,
                              stdout=subprocess.DEVNULL, stderr=log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return server
        except OSError:
            if server.poll() is not None:
                break
            time.sleep(0.1)
    server.kill()
    log.seek(0)
    raise SystemExit("station run did not start: " + log.read().decode()[-2000:])


async def exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> tuple[int, bytes]:
    """Send one HTTP/1.1 request on a keep-alive connection; (status, body) of its answer."""
    writer.write(request)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length"))
    return int(head.split(b" ", 2)[1]), await reader.readexactly(length)
