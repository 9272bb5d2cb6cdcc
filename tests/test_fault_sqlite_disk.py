"""SQLite on a disk that fills up or a database that cannot be written: a clear answer in words, nothing
half-written, every acknowledged action kept, and the database sound afterwards.

The full disk is real as far as SQLite can tell: `station run` runs with a file-size limit
(RLIMIT_FSIZE) just above the database's size, so its writes fail at the operating system the way
they fail on a full disk. The read-only database is the same file opened read-only (mode=ro).
"""
from __future__ import annotations

import json
import os
import resource
import shutil
import sqlite3
import subprocess
from urllib.error import HTTPError, URLError
from urllib.request import Request, urlopen

import pytest
from sqlalchemy import select

from factories import assert_books_balance, basic_site
from station import create_app
from station.db import Database
from station.models import Lot, Operator, Role
from station.services.tokens import create_token
from station.auth import SESSION_KEY, start_session
from test_server import STATION, free_port, wait_for


@pytest.fixture
def sqlite_site(tmp_path, sqlite_template):
    path = tmp_path / "station.db"
    shutil.copy(sqlite_template, path)
    db = Database(f"sqlite:///{path}")
    basic_site(db)
    with db.write() as s:
        token = create_token(s, "disk test", Role.ADMIN)
    db.dispose()
    return path, token


def _receipt(port: int, token: str, qty: int = 2) -> tuple[int, dict]:
    body = json.dumps({"sku": "BOLT", "qty": qty, "location": "A-01", "supplier_lot": "X" * 40}).encode()
    request = Request(f"http://127.0.0.1:{port}/api/v1/receipts", data=body, method="POST",
                      headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    try:
        with urlopen(request, timeout=15) as r:
            return r.status, json.loads(r.read())
    except HTTPError as exc:
        with exc:
            return exc.code, json.loads(exc.read() or b"{}")


def _serve(path, tmp_path, *, fsize: int | None = None) -> tuple[subprocess.Popen, int]:
    port = free_port()
    env = {**os.environ, "STATION_DATABASE_URL": f"sqlite:///{path}", "STATION_INSTANCE": str(tmp_path / "i")}

    def limit():
        if fsize is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

    log = open(tmp_path / f"server-{port}.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen([STATION, "run", "--port", str(port), "--threads", "2", "--no-scanners",
                             "--no-print-worker"], env=env, stdout=log, stderr=subprocess.STDOUT,
                            preexec_fn=limit)
    log.close()

    def up():
        try:
            with urlopen(f"http://127.0.0.1:{port}/api/v1/openapi.json", timeout=2):
                return True
        except (URLError, OSError):
            return proc.poll() is not None
    wait_for(up, timeout=30, what="station run")
    assert proc.poll() is None, (tmp_path / f"server-{port}.log").read_text()
    return proc, port


def test_a_full_disk_is_said_plainly_and_loses_nothing_acknowledged(sqlite_site, tmp_path):
    path, token = sqlite_site
    con = sqlite3.connect(path)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    # Room for a few dozen receipts in the write-ahead log, then the "disk" is full.
    server, port = _serve(path, tmp_path, fsize=path.stat().st_size + 96 * 1024)
    acknowledged, answers = [], []
    try:
        for _ in range(2000):
            status, body = _receipt(port, token)
            if status == 201:
                acknowledged.append(body["lot_number"])
                continue
            answers.append((status, body))
            if len(answers) >= 3:
                break
    finally:
        server.terminate()
        server.wait(20)
    assert acknowledged, "some receipts should fit before the disk is full"
    assert answers, "the disk never filled up"
    for status, body in answers:
        assert status == 503, body
        assert body["error"]["code"] in ("disk_full", "disk_error"), body
        assert "nothing was saved" in body["error"]["message"]

    # Room again: the database is sound and holds exactly what was acknowledged.
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()
    db = Database(f"sqlite:///{path}")
    with db.read() as s:
        lots = set(s.scalars(select(Lot.lot_number)))
        assert lots == set(acknowledged)
        assert_books_balance(s)
    db.dispose()
    server, port = _serve(path, tmp_path)
    try:
        assert _receipt(port, token)[0] == 201
    finally:
        server.terminate()
        server.wait(20)


def test_a_read_only_database_refuses_writes_in_words_and_still_answers_reads(sqlite_site, tmp_path,
                                                                             monkeypatch):
    path, token = sqlite_site
    db = Database(f"sqlite:///{path}")
    with db.write() as s:  # pages need a signed-in operator: one is there before the file turns read-only
        op = Operator(badge="RO-1", name="Pat Picker", role=Role.PICKER)
        s.add(op)
        s.flush()
        op_id = op.id
    secret = start_session(db, op_id)  # signed in (a floor_sessions row) before the file turns read-only
    db.dispose()
    monkeypatch.setenv("STATION_INSTANCE", str(tmp_path / "instance"))
    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///file:{path}?mode=ro&uri=true"})
    client = app.test_client()
    with client.session_transaction() as session:
        session[SESSION_KEY] = {"s": secret}
    headers = {"Authorization": f"Bearer {token}"}
    try:
        response = client.post("/api/v1/receipts", json={"sku": "BOLT", "qty": 1, "location": "A-01"},
                               headers=headers)
        assert response.status_code == 503, response.json
        assert response.json["error"]["code"] == "database_read_only"
        assert "nothing was saved" in response.json["error"]["message"]
        assert client.get("/api/v1/items/BOLT", headers=headers).status_code == 200
        page = client.post("/scan", data={"code": "LOC:A-01"})
        assert page.status_code == 503 and b"read-only" in page.data and b"Traceback" not in page.data
    finally:
        app.extensions["station.db"].dispose()
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert con.execute("SELECT count(*) FROM lots").fetchone()[0] == 0
    con.close()
