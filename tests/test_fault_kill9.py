"""kill -9 of the server in the middle of a stream of receipts and picks: after a restart the ledger, the
stock and the orders agree, and every action the server acknowledged is there.

The server is the real `station run` process group, killed with SIGKILL (no shutdown code runs: what
a power cut or the OOM killer does to the app); the clients are real HTTP clients in threads, and an
action counts as acknowledged only when its 201 answer arrived.
"""
from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import threading
import time
from urllib.error import HTTPError, URLError
from urllib.request import Request, urlopen

import pytest
from sqlalchemy import func, select

from factories import assert_books_balance
from station.models import Lot, Movement, MovementKind, OrderLine, Role
from station.services.tokens import create_token
from test_server import STATION, free_port, wait_for

LINES = 400
# What a request meets when the server is killed under it: refused or reset connections, an answer
# cut off mid-way (http.client), or a half body that is no JSON. None of these is an acknowledgement.
GONE = (URLError, OSError, http.client.HTTPException, ValueError)


@pytest.fixture
def site(db_url, site):
    """(database URL, Database, admin token): the small site with one order of LINES lines, on each backend."""
    site.order("SO-KILL", [("BOLT", 1)] * LINES)
    with site.write() as s:
        token = create_token(s, "fault test", Role.ADMIN)
    return db_url, site.db, token


def _start(url: str, port: int, tmp_path) -> subprocess.Popen:
    env = {**os.environ, "STATION_DATABASE_URL": url, "STATION_INSTANCE": str(tmp_path / "instance")}
    log = open(tmp_path / f"server-{port}.log", "wb")  # noqa: SIM115 - the child holds it; closed on exit
    proc = subprocess.Popen([STATION, "run", "--port", str(port), "--threads", "4", "--no-scanners",
                             "--no-print-worker"], env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    log.close()
    wait_for(lambda: _answers(port) or proc.poll() is not None, timeout=30, what="station run")
    assert proc.poll() is None, (tmp_path / f"server-{port}.log").read_text()
    return proc


def _answers(port: int) -> bool:
    try:
        with urlopen(f"http://127.0.0.1:{port}/", timeout=2):
            return True
    except (OSError, HTTPError):
        return False


def _post(port: int, token: str, path: str, body: dict) -> tuple[int, dict]:
    request = Request(f"http://127.0.0.1:{port}/api/v1{path}", data=json.dumps(body).encode(), method="POST",
                      headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    try:
        with urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except HTTPError as exc:
        with exc:
            return exc.code, json.loads(exc.read() or b"{}")


def test_kill_9_mid_stream_loses_nothing_acknowledged(site, tmp_path):
    url, db, token = site
    port = free_port()
    server = _start(url, port, tmp_path)
    received: list[str] = []   # lot numbers the server answered 201 for
    picked: list[int] = []     # ledger ids of picks answered 201
    refused: list[str] = []
    stop = threading.Event()

    def receiver():
        while not stop.is_set():
            try:
                status, body = _post(port, token, "/receipts", {"sku": "BOLT", "qty": 3, "location": "A-01"})
            except GONE:
                return  # the server is gone: anything unanswered is not acknowledged
            if status == 201:
                received.append(body["lot_number"])
            else:
                refused.append(f"receipt {status} {body}")

    def picker():
        line = 1
        while not stop.is_set() and line <= LINES:
            if not received:
                time.sleep(0.01)
                continue
            lot = received[-1]
            try:
                status, body = _post(port, token, "/picks", {"order": "SO-KILL", "line": line, "lot": lot,
                                                             "qty": 1, "location": "A-01",
                                                             "override_reason": "fault test"})
            except GONE:
                return
            if status == 201:
                picked.append(body["id"])
                line += 1
            elif status != 409:  # 409: that lot is used up or a younger one needs a reason; try again
                refused.append(f"pick {status} {body}")

    threads = [threading.Thread(target=receiver), threading.Thread(target=receiver),
               threading.Thread(target=picker)]
    for t in threads:
        t.start()
    try:
        wait_for(lambda: len(received) >= 40 and len(picked) >= 20, timeout=60,
                 what="the stream to get going")
    finally:
        os.killpg(server.pid, signal.SIGKILL)  # the whole process group, mid-stream (or on failure)
        server.wait(10)
        stop.set()
    for t in threads:
        t.join(15)
    assert not refused, refused[:5]

    # Restart on the same database: it comes up, and the books hold every acknowledged action.
    port = free_port()
    server = _start(url, port, tmp_path)
    try:
        with db.read() as s:
            lots = set(s.scalars(select(Lot.lot_number).where(Lot.lot_number.in_(received))))
            assert lots == set(received), f"{len(set(received) - lots)} acknowledged receipts lost"
            picks = set(s.scalars(select(Movement.id).where(Movement.kind == MovementKind.PICK)))
            assert set(picked) <= picks, f"{len(set(picked) - picks)} acknowledged picks lost"
            assert_books_balance(s)
            per_line = dict(s.execute(select(Movement.order_line_id, func.sum(Movement.qty))
                                      .where(Movement.kind == MovementKind.PICK)
                                      .group_by(Movement.order_line_id)).all())
            for line in s.scalars(select(OrderLine)):
                assert line.picked_qty == per_line.get(line.id, 0), f"line {line.line_no}"
        # And it still works: one more receipt goes through.
        status, body = _post(port, token, "/receipts", {"sku": "BOLT", "qty": 1, "location": "A-01"})
        assert status == 201, body
    finally:
        server.terminate()
        server.wait(15)
