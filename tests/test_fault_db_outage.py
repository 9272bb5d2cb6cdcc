"""PostgreSQL goes away and comes back while `station run` serves: requests fail with a clear 503
in words, the app recovers by itself (same process, no restart), and the print jobs queued and the
scans sent meanwhile are not lost — each is printed or logged exactly once afterwards.

The app reaches PostgreSQL through a TCP relay (tests/tcp_proxy.py) that the test cuts (open
connections dropped, new ones refused) and restores: what a database restart or a network cut does.
"""
from __future__ import annotations

import json
import os
import subprocess
import uuid
from urllib.error import HTTPError
from http.cookiejar import CookieJar
from urllib.parse import urlencode
from urllib.request import HTTPCookieProcessor, Request, build_opener, urlopen

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from conftest import _empty_postgres
from devices.printers.emulator import PrinterEmulator
from devices.scanners import sim
from factories import basic_site, printer, received_lot
from station.agent import Agent
from station.db import Database
from station.models import Operator, PrintJob, PrintJobStatus, Role, Scan, StationDevice
from station.services import printing
from station.services.tokens import create_token
from tcp_proxy import TcpProxy
from test_server import STATION, free_port, wait_for


@pytest.fixture
def outage_site(pg_url, tmp_path):
    db = Database(pg_url)
    _empty_postgres(db)
    basic_site(db)
    emulator = PrinterEmulator(port=0, spool_dir=tmp_path / "labels", control_port=0).start()
    with db.write() as s:
        lots = [received_lot(s, "BOLT", 5).lot_number for _ in range(6)]
        printer(s, name="dock-zebra", url=f"tcp://127.0.0.1:{emulator.port}")
        s.add(StationDevice(name="Dock PC", scanner_url="agent://"))  # its scanners are read by an agent
        s.add(Operator(badge="OUT-1", name="Pat Picker", role=Role.PICKER))  # pages need a signed-in operator
        s.flush()
        token = create_token(s, "outage test", Role.ADMIN)
        agent_token = create_token(s, "Dock PC agent", "agent", station="Dock PC")
    url = make_url(pg_url)
    proxy = TcpProxy((url.host or "127.0.0.1", url.port or 5432)).start()
    yield (db, emulator, proxy, url.set(host="127.0.0.1", port=proxy.port).render_as_string(False), lots, token,
           agent_token)
    proxy.stop()
    emulator.stop()
    db.dispose()


def _call(port: int, token: str, method: str, path: str, body: dict | None = None) -> tuple[int, dict, dict]:
    request = Request(f"http://127.0.0.1:{port}{path}", method=method,
                      data=None if body is None else json.dumps(body).encode(),
                      headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    try:
        with urlopen(request, timeout=15) as r:
            return r.status, _body(r.read()), dict(r.headers)
    except HTTPError as exc:
        with exc:
            return exc.code, _body(exc.read()), dict(exc.headers)


def _body(raw: bytes) -> dict:
    try:
        return json.loads(raw or b"{}")
    except ValueError:
        return {"html": raw.decode()}


def _signed_in_browser(port: int, badge: str):
    """An opener that keeps the session cookie of an operator signed in through /signin."""
    opener = build_opener(HTTPCookieProcessor(CookieJar()))
    with opener.open(Request(f"http://127.0.0.1:{port}/signin", method="POST",
                             data=urlencode({"badge": badge}).encode()), timeout=15) as r:
        assert r.status == 200 and r.url.endswith("/"), r.url  # followed the redirect home
    return opener


def _page(opener, port: int, path: str) -> tuple[int, str]:
    try:
        with opener.open(f"http://127.0.0.1:{port}{path}", timeout=15) as r:
            return r.status, r.read().decode()
    except HTTPError as exc:
        with exc:
            return exc.code, exc.read().decode()


def _status(port: int, token: str, path: str) -> int:
    try:
        return _call(port, token, "GET", path)[0]
    except OSError:  # not listening yet
        return 0


def test_the_app_rides_out_a_database_outage(outage_site, tmp_path):
    db, emulator, proxy, app_url, lots, token, agent_token = outage_site
    port = free_port()
    env = {**os.environ, "STATION_DATABASE_URL": app_url, "STATION_INSTANCE": str(tmp_path / "instance"),
           "STATION_DEVICE_NETWORKS": "127.0.0.1/32"}  # the printer emulator is on loopback
    log = open(tmp_path / "server.log", "wb")  # noqa: SIM115
    server = subprocess.Popen([STATION, "run", "--port", str(port), "--threads", "4", "--no-scanners"],
                              env=env, stdout=log, stderr=subprocess.STDOUT)
    log.close()
    try:
        wait_for(lambda: _status(port, token, f"/api/v1/lots/{lots[0]}") == 200 or server.poll(),
                 timeout=30, what="station run")
        status, body, _ = _call(port, token, "POST", f"/api/v1/lots/{lots[0]}/labels", {"printer": "dock-zebra"})
        assert status == 202, body
        wait_for(lambda: len(emulator.jobs) == 1, timeout=30, what="the first label")
        browser = _signed_in_browser(port, "OUT-1")

        proxy.cut()
        # Reads and writes alike: a clear 503 with a reason and Retry-After, not a 500.
        status, body, headers = _call(port, token, "GET", f"/api/v1/lots/{lots[1]}")
        assert status == 503, body
        assert body["error"]["code"] == "database_unavailable"
        assert "nothing was saved" in body["error"]["message"] and headers.get("Retry-After")
        status, body, _ = _call(port, token, "POST", "/api/v1/receipts", {"sku": "BOLT", "qty": 1})
        assert status == 503 and body["error"]["code"] == "database_unavailable", body
        status, page = _page(browser, port, f"/lots/{lots[2]}")
        assert status == 503 and "cannot be reached" in page and "Traceback" not in page

        # Scans made during the outage wait in the scanner agent's journal.
        name = f"outage-{uuid.uuid4().hex[:8]}"
        with Agent(server=f"http://127.0.0.1:{port}", token=agent_token, station="Dock PC",
                   scanner_urls=[f"sim://{name}"], spool=tmp_path / "spool", timeout=5, retry_max=0.5) as agent:
            for lot in lots:
                sim.inject(name, f"LOT:{lot}")
            wait_for(lambda: (agent.status()["last_error"] or "").startswith("503"), timeout=30,
                     what="the agent to meet the outage")
            assert agent.status()["pending"] == len(lots)

            proxy.restore()
            # The same process recovers by itself; everything waiting goes through once.
            wait_for(lambda: _call(port, token, "GET", f"/api/v1/lots/{lots[1]}")[0] == 200, timeout=30,
                     what="the app to recover")
            wait_for(lambda: agent.status()["pending"] == 0, timeout=30, what="the agent's scans")
        status, body, _ = _call(port, token, "POST", f"/api/v1/lots/{lots[1]}/labels", {"printer": "dock-zebra"})
        assert status == 202, body
        wait_for(lambda: len(emulator.jobs) == 2, timeout=30, what="the label after the outage")
        assert server.poll() is None, "the server should have ridden it out"
        with db.read() as s:
            assert s.scalar(select(func.count()).select_from(Scan).where(Scan.source == f"agent:sim://{name}")) \
                == len(lots)
        # Printed: the worker saw each job leave the emulator's buffer (its ~HS counters), not only sent.
        wait_for(lambda: _all_printed(db), timeout=30, what="both jobs seen printed")
    finally:
        server.terminate()
        server.wait(20)


def test_print_jobs_queued_before_an_outage_are_sent_once_after_it(outage_site, tmp_path):
    db, emulator, proxy, app_url, lots, token, _ = outage_site
    env = {**os.environ, "STATION_DATABASE_URL": app_url, "STATION_INSTANCE": str(tmp_path / "instance"),
           "STATION_DEVICE_NETWORKS": "127.0.0.1/32"}  # the printer emulator is on loopback
    emulator.set_mode("offline")  # the printer is unreachable too, so the jobs are still queued at the cut
    with db.write() as s:
        for lot in lots:
            printing.request_labels(s, lot, printer="dock-zebra")
    log = open(tmp_path / "worker.log", "wb")  # noqa: SIM115
    worker = subprocess.Popen([STATION, "worker", "--poll", "0.2"], env=env, stdout=log, stderr=subprocess.STDOUT)
    log.close()
    try:
        wait_for(lambda: _tried(db), timeout=30, what="the worker to meet the offline printer")
        proxy.cut()
        emulator.set_mode("ready")
        wait_for(lambda: "cannot be reached" in (tmp_path / "worker.log").read_text(), timeout=30,
                 what="the worker to meet the outage")
        proxy.restore()
        wait_for(lambda: _all_printed(db), timeout=90, what="every job printed after the outage")
        assert worker.poll() is None, (tmp_path / "worker.log").read_text()
        assert len(emulator.jobs) == len(lots), "a job was printed twice, or not at all"
        assert "Traceback" not in (tmp_path / "worker.log").read_text()  # an outage is not a bug
    finally:
        worker.terminate()
        worker.wait(20)


def _tried(db) -> bool:
    """The worker found the printer unreachable: the jobs wait for it (queued, with an error)."""
    with db.read() as s:
        return s.scalar(select(func.count()).select_from(PrintJob).where(PrintJob.last_error.is_not(None))) >= 1


def _all_printed(db) -> bool:
    """Every job 'printed': sent once, and seen done by the emulator's own counters (a tcp:// printer)."""
    with db.read() as s:
        return set(s.scalars(select(PrintJob.status))) == {PrintJobStatus.PRINTED}
