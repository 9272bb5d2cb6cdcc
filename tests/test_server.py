"""`station run --workers N`: forked waitress workers on one port, supervised, stopped together."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

STATION = str(Path(sys.executable).with_name("station"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def children(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def wait_for(predicate, timeout: float = 30.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def get(port: int, path: str = "/") -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
        return response.status


@pytest.fixture
def server(tmp_path):
    env = {**os.environ, "STATION_INSTANCE": str(tmp_path),
           "STATION_DATABASE_URL": f"sqlite:///{tmp_path / 'station.sqlite'}"}
    subprocess.run([STATION, "init"], env=env, check=True, capture_output=True)
    port = free_port()
    log = open(tmp_path / "server.log", "w+b")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([STATION, "run", "--workers", "2", "--threads", "2", "--port", str(port),
                             "--no-scanners"], env=env, stdout=log, stderr=subprocess.STDOUT)

    def up():
        try:
            return get(port) == 200
        except OSError:
            return proc.poll() is not None  # stop waiting if it died; the test then fails on the log
    wait_for(up, what="station run to answer")
    assert proc.poll() is None, (tmp_path / "server.log").read_text()
    yield proc, port
    if proc.poll() is None:
        proc.terminate()  # the supervisor stops its workers
        proc.wait(timeout=15)
    log.close()


def test_two_workers_serve_one_port_and_a_killed_worker_is_replaced(server):
    proc, port = server
    workers = wait_for(lambda: len(children(proc.pid)) == 2 and children(proc.pid), what="two workers")
    assert all(get(port) == 200 for _ in range(20))

    os.kill(workers[0], signal.SIGKILL)
    replaced = wait_for(lambda: (c := children(proc.pid)) and len(c) == 2 and workers[0] not in c and c,
                        what="the killed worker to be replaced")
    assert workers[1] in replaced
    assert all(get(port) == 200 for _ in range(20))


def test_sigterm_stops_the_parent_and_every_worker(server):
    proc, port = server
    workers = wait_for(lambda: len(children(proc.pid)) == 2 and children(proc.pid), what="two workers")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=15) == 0
    for pid in workers:
        wait_for(lambda pid=pid: not Path(f"/proc/{pid}").exists()
                 or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2], what=f"worker {pid} to exit")
    with pytest.raises(OSError):
        get(port)


def test_workers_stop_when_the_parent_is_killed(server):
    """kill -9 of the supervisor must not leave orphaned workers holding the port."""
    proc, port = server
    workers = wait_for(lambda: len(children(proc.pid)) == 2 and children(proc.pid), what="two workers")
    proc.kill()
    proc.wait(timeout=10)
    for pid in workers:
        wait_for(lambda pid=pid: not Path(f"/proc/{pid}").exists()
                 or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2], what=f"worker {pid} to exit")
    with pytest.raises(OSError):
        get(port)

