"""One site, several processes, one PostgreSQL: `station run --workers 2` and two `station worker`
processes against the real server; label jobs requested through either app process are each sent
once; a scan sent in by the scanner agent reaches the station's page through whichever process
serves it.

Every part is a real process (the `station` command) or a real socket: the printer is the printer
emulator listening on TCP, as a networked Zebra would.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path
from http.cookiejar import CookieJar
from urllib.parse import urlencode
from urllib.request import HTTPCookieProcessor, Request, build_opener, urlopen

import pytest
from sqlalchemy import select

from conftest import _empty_postgres
from devices.printers.emulator import PrinterEmulator
from devices.scanners import sim
from factories import basic_site, printer, received_lot
from station.agent import Agent
from station.db import Database
from station.models import Operator, PrintJob, PrintJobStatus, Role, StationDevice
from station.services.tokens import create_token
from test_server import free_port, wait_for

STATION = str(Path(sys.executable).with_name("station"))
LOTS = 30


@pytest.fixture
def site(pg_url, tmp_path):
    db = Database(pg_url)
    _empty_postgres(db)
    basic_site(db)
    emulator = PrinterEmulator(port=0, spool_dir=tmp_path / "labels", control_port=0).start()
    with db.write() as s:
        lots = [received_lot(s, "BOLT", 5).lot_number for _ in range(LOTS)]
        printer(s, name="dock-zebra", url=f"tcp://127.0.0.1:{emulator.port}")
        s.add(StationDevice(name="Dock PC", scanner_url="agent://"))  # its scanners are read by an agent
        s.add(Operator(badge="MP-1", name="Pat Picker", role=Role.PICKER))  # the station page's operator
        s.flush()
        token = create_token(s, "multi-process test", Role.SUPERVISOR)
        agent_token = create_token(s, "Dock PC agent", "agent", station="Dock PC")
    yield db, emulator, lots, token, agent_token
    emulator.stop()
    db.dispose()


@pytest.fixture
def processes(pg_url, tmp_path):
    """Start `station` sub-commands against the PostgreSQL database; all stopped at the end."""
    started: list[tuple[subprocess.Popen, Path]] = []
    files = []
    env = {**os.environ, "STATION_DATABASE_URL": pg_url, "STATION_INSTANCE": str(tmp_path / "instance"),
           "STATION_DEVICE_NETWORKS": "127.0.0.1/32"}  # the printer emulator is on loopback

    def start(*args: str) -> subprocess.Popen:
        log = tmp_path / f"{args[0]}-{len(started)}.log"
        files.append(log.open("wb"))
        proc = subprocess.Popen([STATION, *args], env=env, stdout=files[-1], stderr=subprocess.STDOUT)
        started.append((proc, log))
        return proc

    yield start
    for proc, _ in started:
        if proc.poll() is None:
            proc.terminate()
    for proc, _ in started:
        proc.wait(timeout=20)
    for file in files:
        file.close()
    for proc, log in started:
        assert proc.returncode == 0, f"{log.name} ended with {proc.returncode}:\n{log.read_text()[-3000:]}"


def _post(url: str, token: str, body: dict) -> dict:
    request = Request(url, data=json.dumps(body).encode(), method="POST", headers={
        "Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    with urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def _up(port: int) -> bool:
    try:
        with urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def test_jobs_from_two_app_processes_are_sent_once_by_two_workers(site, processes):
    db, emulator, lots, token, _ = site
    port = free_port()
    processes("run", "--workers", "2", "--threads", "2", "--port", str(port), "--no-scanners",
              "--no-print-worker")
    processes("worker", "--poll", "0.2")
    processes("worker", "--poll", "0.2")
    wait_for(lambda: _up(port), timeout=30, what="station run")

    # Keep-alive is off (one connection per request), so the two app processes share the requests.
    base = f"http://127.0.0.1:{port}/api/v1"
    jobs = [_post(f"{base}/lots/{lot}/labels", token, {"printer": "dock-zebra", "request_id": f"t-{lot}"})
            for lot in lots]
    # A retried request (same request_id) makes no second job, whichever process answers it.
    again = [_post(f"{base}/lots/{lot}/labels", token, {"printer": "dock-zebra", "request_id": f"t-{lot}"})
             for lot in lots[:5]]
    assert [j["id"] for j in again] == [j["id"] for j in jobs[:5]]

    wait_for(lambda: len(emulator.jobs) >= LOTS, timeout=60, what=f"{LOTS} labels printed")
    with db.read() as s:
        # printed: the emulator's ~HS counters showed each one done
        wait_for(lambda: s.scalar(select(PrintJob.id).where(PrintJob.status != PrintJobStatus.PRINTED)
                                  .limit(1)) is None or s.expire_all(), timeout=30, what="every job printed")
        # "host:pid:nonce/thread": which worker process sent each job.
        senders = {row.claimed_by.split("/")[0] for row in s.execute(select(PrintJob.claimed_by))}
    printed = [(emulator.spool / job.file).read_text() for job in emulator.jobs]
    printed_lots = sorted(m for text in printed for m in re.findall(r"|".join(map(re.escape, lots)), text)[:1])
    assert len(emulator.jobs) == LOTS, "a job was sent twice"
    assert printed_lots == sorted(lots)
    assert len(senders) == 2, f"both workers should have sent jobs: {senders}"


def test_a_scan_through_the_agent_reaches_the_station_page(site, processes, tmp_path):
    db, _, lots, _, agent_token = site
    port = free_port()
    processes("run", "--workers", "2", "--threads", "2", "--port", str(port), "--no-scanners",
              "--no-print-worker")
    wait_for(lambda: _up(port), timeout=30, what="station run")
    name = f"agent-{uuid.uuid4().hex[:8]}"
    with Agent(server=f"http://127.0.0.1:{port}", token=agent_token, station="Dock PC",
               scanner_urls=[f"sim://{name}"], spool=tmp_path / "spool", timeout=5, retry_max=0.5) as agent:
        sim.inject(name, f"LOT:{lots[0]}")
        wait_for(lambda: agent.status()["pending"] == 0 and agent.status()["sent"] == 1, timeout=30,
                 what="the scan sent")

    # The station's page polls its feed: any process answers it from the database (SO_REUSEPORT
    # spreads these one-connection requests over both), for the operator signed in at the page
    # (whichever process signed them in).
    browser = build_opener(HTTPCookieProcessor(CookieJar()))
    with browser.open(Request(f"http://127.0.0.1:{port}/signin", method="POST",
                              data=urlencode({"badge": "MP-1"}).encode()), timeout=5) as r:
        assert r.url == f"http://127.0.0.1:{port}/"

    def feed() -> str:
        with browser.open(f"http://127.0.0.1:{port}/scan/feed?station=Dock%20PC&after=0", timeout=5) as r:
            assert r.url.endswith("after=0"), r.url  # not sent to the sign-in page
            return r.read().decode()
    pages = [feed() for _ in range(6)]
    assert all(lots[0] in page for page in pages)
