"""The station scanner agent: scans from a station PC's scanner reach the central scan log once, in
order, also when the server was away, the agent restarted, or an answer was lost on the way.

The agent runs for real (its reader and sender threads, its journal on disk, HTTP to a real
waitress server); the scanner is the simulated one, fed with devices.scanners.sim.inject. It sends with
its station's agent token (`station token create NAME --role agent --station STATION`) to a station whose
scanner is agent://; any other token is refused with 403, and the agent says what is wrong in words and
keeps every scan.
"""
from __future__ import annotations

import base64
import json
import socket
import time
import uuid

import pytest
from sqlalchemy import select

from browser_support import LiveServer
from devices.scanners import sim
from station.agent import AGENT_SCANNER_URL, Agent, Journal
from station.models import Role, Scan, StationDevice, TokenRole
from station.services.tokens import create_token

STATION = "Dock PC"


def _setup(app) -> str:
    """The station (scanner agent://) and its agent token."""
    db = app.extensions["station.db"]
    with db.write() as s:
        s.add(StationDevice(name=STATION, scanner_url=AGENT_SCANNER_URL))
        s.flush()
        return create_token(s, "dock agent", TokenRole.AGENT, station=STATION)


def _logged(app) -> list[Scan]:
    db = app.extensions["station.db"]
    with db.read() as s:
        rows = list(s.scalars(select(Scan).order_by(Scan.id)))
        s.expunge_all()
        return rows


def _wait_for(predicate, what: str, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"gave up waiting for {what}")


def _journal_len(spool) -> int:
    with Journal(spool) as journal:
        return len(journal)


def _dead_url() -> str:
    # A port that was free a moment ago: nothing listens there.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def _agent(url: str, token: str, scanner: str, spool, **kw) -> Agent:
    return Agent(server=url, token=token, station=STATION, scanner_urls=[scanner], spool=spool,
                 timeout=2.0, retry_max=0.5, **kw)


def test_scans_reach_the_station_in_order(sqlite_app, tmp_path):
    token = _setup(sqlite_app)
    scanner = f"sim://agent-{uuid.uuid4().hex[:8]}"
    codes = ["LOC:A-01-01", "LOT:240611-003", "]C1" + "0100012345678905" + "10ABC"]
    with LiveServer(sqlite_app) as server, _agent(server.url, token, scanner, tmp_path / "spool") as agent:
        for code in codes:
            sim.inject(scanner.removeprefix("sim://"), code)
        rows = _wait_for(lambda: len(_logged(sqlite_app)) == 3 and _logged(sqlite_app), "three scans")
        _wait_for(lambda: agent.status()["pending"] == 0, "an empty journal")
    assert [r.raw for r in rows] == [c.encode() for c in codes]
    assert {r.source for r in rows} == {f"agent:{scanner}"}
    with sqlite_app.extensions["station.db"].read() as s:
        station_id = s.scalar(select(StationDevice.id).where(StationDevice.name == STATION))
    assert {r.station_id for r in rows} == {station_id}
    assert all(r.client_id.startswith("agent-") for r in rows)


def test_scans_made_while_the_server_is_away_survive_a_restart_and_arrive_once(sqlite_app, tmp_path):
    token = _setup(sqlite_app)
    name = f"agent-{uuid.uuid4().hex[:8]}"
    spool = tmp_path / "spool"
    codes = [f"LOT:OFFLINE-{i:02d}" for i in range(12)]
    with _agent(_dead_url(), token, f"sim://{name}", spool) as agent:
        for code in codes:
            sim.inject(name, code)
        _wait_for(lambda: agent.status()["pending"] == 12, "12 scans in the journal")
        _wait_for(lambda: agent.status()["last_error"], "a failed send")
        assert "unreachable" in agent.status()["last_error"]
    assert _logged(sqlite_app) == []
    assert _journal_len(spool) == 12  # on disk, for the next start

    with LiveServer(sqlite_app) as server, _agent(server.url, token, f"sim://{name}", spool) as agent:
        _wait_for(lambda: agent.status()["pending"] == 0, "the journal sent")
    assert [r.raw.decode() for r in _logged(sqlite_app)] == codes
    assert _journal_len(spool) == 0


def test_a_scan_whose_answer_was_lost_is_not_logged_twice(sqlite_app, tmp_path):
    token = _setup(sqlite_app)
    spool = tmp_path / "spool"
    scan = {"client_id": "agent-" + uuid.uuid4().hex, "source": "sim://x",
            "raw_base64": base64.b64encode(b"LOT:SENT-ONCE").decode(), "scanned_at": None}
    with LiveServer(sqlite_app) as server:
        # The server logged it, but the agent died before the answer: the journal still holds it.
        body = {"station": STATION, **{k: v for k, v in scan.items() if v is not None}}
        sqlite_app.test_client().post("/api/v1/scans", json=body, headers={"Authorization": f"Bearer {token}"})
        with Journal(spool) as journal:
            journal.add(scan)
        with _agent(server.url, token, f"sim://agent-{uuid.uuid4().hex[:8]}", spool) as agent:
            _wait_for(lambda: agent.status()["pending"] == 0, "the resend answered")
    assert [r.raw for r in _logged(sqlite_app)] == [b"LOT:SENT-ONCE"]


def test_a_refused_token_keeps_every_scan(sqlite_app, tmp_path):
    _setup(sqlite_app)
    name = f"agent-{uuid.uuid4().hex[:8]}"
    with LiveServer(sqlite_app) as server, _agent(server.url, "stn_not-a-token", f"sim://{name}",
                                                 tmp_path / "spool") as agent:
        sim.inject(name, "LOT:KEPT-1")
        sim.inject(name, "LOT:KEPT-2")
        _wait_for(lambda: (agent.status()["last_error"] or "").startswith("401"), "the 401")
        assert agent.status()["pending"] == 2
    assert _logged(sqlite_app) == []


def test_another_station_keeps_every_scan_and_says_the_token_is_not_its_agent_token(sqlite_app, tmp_path):
    token = _setup(sqlite_app)
    name = f"agent-{uuid.uuid4().hex[:8]}"
    with LiveServer(sqlite_app) as server:
        agent = Agent(server=server.url, token=token, station="No such PC", scanner_urls=[f"sim://{name}"],
                      spool=tmp_path / "spool", timeout=2.0, retry_max=0.5)
        with agent:
            sim.inject(name, "LOT:KEPT")
            _wait_for(lambda: "wrong_station" in (agent.status()["last_error"] or ""), "the refusal")
            assert agent.status()["pending"] == 1
            assert "this token is not the agent token of station 'No such PC'" in agent.status()["last_error"]
    assert _logged(sqlite_app) == []


@pytest.mark.parametrize("role", [Role.RECEIVER, Role.ADMIN], ids=lambda r: r.value)
def test_an_operators_token_keeps_every_scan_and_says_so_in_words(sqlite_app, tmp_path, role):
    """The agent set up with an operator's token (as the README once said): refused with 403, every
    scan kept in the journal, and the error says which token is needed."""
    _setup(sqlite_app)
    with sqlite_app.extensions["station.db"].write() as s:
        token = create_token(s, "not an agent", role)
    name = f"agent-{uuid.uuid4().hex[:8]}"
    with LiveServer(sqlite_app) as server, _agent(server.url, token, f"sim://{name}", tmp_path / "spool") as agent:
        sim.inject(name, "LOT:KEPT-1")
        sim.inject(name, "LOT:KEPT-2")
        _wait_for(lambda: (agent.status()["last_error"] or "").startswith("403"), "the 403")
        error = agent.status()["last_error"]
        assert f"this token is not the agent token of station '{STATION}'" in error
        assert f"station token create NAME --role agent --station '{STATION}'" in error
        assert agent.status()["pending"] == 2
    assert _logged(sqlite_app) == []
    assert _journal_len(tmp_path / "spool") == 2


def test_a_station_not_set_to_agent_keeps_every_scan_until_an_admin_sets_it(sqlite_app, tmp_path):
    token = _setup(sqlite_app)
    db = sqlite_app.extensions["station.db"]
    with db.write() as s:
        s.scalar(select(StationDevice).where(StationDevice.name == STATION)).scanner_url = None
    name = f"agent-{uuid.uuid4().hex[:8]}"
    with LiveServer(sqlite_app) as server, _agent(server.url, token, f"sim://{name}", tmp_path / "spool") as agent:
        sim.inject(name, "LOT:WAITS")
        _wait_for(lambda: "not_an_agent_station" in (agent.status()["last_error"] or ""), "the 403")
        assert f"station '{STATION}' does not take scans from an agent" in agent.status()["last_error"]
        assert _logged(sqlite_app) == []
        with db.write() as s:  # the admin sets the scanner to agent:// in set-up: the kept scan goes
            s.scalar(select(StationDevice).where(StationDevice.name == STATION)).scanner_url = AGENT_SCANNER_URL
        _wait_for(lambda: agent.status()["pending"] == 0, "the kept scan sent")
    assert [r.raw for r in _logged(sqlite_app)] == [b"LOT:WAITS"]


def test_a_torn_last_line_is_skipped(tmp_path):
    with Journal(tmp_path) as journal:
        journal.add({"client_id": "agent-aaaaaaaa", "raw_base64": "TE9UOjE="})
    with open(tmp_path / "journal.jsonl", "a") as f:
        f.write('{"scan": {"client_id": "agent-bbbb')  # the power went mid-write
    with Journal(tmp_path) as reopened:
        assert [reopened.first()["client_id"]] == ["agent-aaaaaaaa"] and len(reopened) == 1


# --- POST /api/v1/scans on both backends ---------------------------------------------------------


@pytest.fixture
def api(app, client):
    with app.extensions["station.db"].write() as s:
        s.add(StationDevice(name=STATION, scanner_url=AGENT_SCANNER_URL))
        s.flush()
        token = create_token(s, "agent", TokenRole.AGENT, station=STATION)
    headers = {"Authorization": f"Bearer {token}"}
    return lambda body: client.post("/api/v1/scans", json=body, headers=headers)


def test_api_logs_a_scan_and_answers_a_resend_with_the_first_answer(api, app):
    body = {"station": STATION, "client_id": "agent-0001", "code": "LOC:NOWHERE"}
    first = api(body)
    assert first.status_code == 201, first.json
    again = api(body)
    assert again.status_code == 201
    assert again.json["retried"] is True and again.json["scan_id"] == first.json["scan_id"]
    assert first.json["resolution"]["ok"] is False  # an unknown location: logged, refused in words
    with app.extensions["station.db"].read() as s:
        assert len(list(s.scalars(select(Scan)))) == 1


@pytest.mark.parametrize("body, field", [
    ({"station": STATION, "client_id": "x", "code": "LOT:1"}, "client_id"),
    ({"station": STATION, "client_id": "agent-0003"}, None),
    ({"station": STATION, "client_id": "agent-0004", "code": "LOT:1", "raw_base64": "TE9UOjE="}, None),
    ({"station": STATION, "client_id": "agent-0005", "raw_base64": "not base64!"}, "raw_base64"),
    ({"station": STATION, "client_id": "agent-0006", "code": "LOT:1", "scanned_at": "2999-01-01T00:00:00Z"},
     "scanned_at"),
    ({"station": STATION, "client_id": "agent-0007", "code": "LOT:1", "scanned_at": "2026-01-01T00:00:00"},
     None),
])
def test_api_refuses_bad_scans_in_words_and_logs_nothing(api, app, body, field):
    response = api(body)
    assert response.status_code == 422, response.json
    error = response.json["error"]
    assert error["message"] and len(error["message"]) > 10
    if field:
        assert field in json.dumps(error)
    with app.extensions["station.db"].read() as s:
        assert list(s.scalars(select(Scan))) == []


def test_api_keeps_the_bytes_exactly(api, app):
    raw = b"\x1d0100012345678905\x1d10LOT\xff"
    response = api({"station": STATION, "client_id": "agent-0008",
                    "raw_base64": base64.b64encode(raw).decode()})
    assert response.status_code == 201
    with app.extensions["station.db"].read() as s:
        assert s.scalar(select(Scan.raw)) == raw


def test_the_agent_command_reads_a_serial_scanner_and_survives_kill_9(sqlite_app, tmp_path):
    """`station scanner-agent` as a process, reading a serial scanner over pyserial's socket:// handler
    (a TCP socket standing in for the serial line): a scan sent while the server is away is kept on
    disk through a kill -9 and sent by the next agent."""
    import os
    import signal
    import subprocess
    import sys
    import threading
    from pathlib import Path

    token = _setup(sqlite_app)
    spool = tmp_path / "spool"
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    exe = Path(sys.executable).with_name("station")
    env = {**os.environ, "STATION_AGENT_TOKEN": token, "STATION_INSTANCE": str(tmp_path / "instance")}

    def agent(server_url):
        process = subprocess.Popen([str(exe), "scanner-agent", "--server", server_url, "--station", STATION,
                                    "--scanner", f"serial+socket://127.0.0.1:{port}?terminator=CR",
                                    "--spool", str(spool)], env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True)
        process.lines = []
        process.reader = threading.Thread(target=lambda: process.lines.extend(process.stdout), daemon=True)
        process.reader.start()
        return process

    def connected(process):
        # pyserial's socket:// handler empties its input when it opens: send only once it is open.
        _wait_for(lambda: any("connected" in line for line in process.lines), "the scanner connected")

    first = agent(_dead_url())
    try:
        listener.settimeout(30)
        line, _ = listener.accept()
        connected(first)
        line.sendall(b"LOT:KEPT-THROUGH-KILL\r")
        _wait_for(lambda: _journal_len(spool) == 1, "the scan in the journal")
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        first.stdout.close()
        line.close()
    with LiveServer(sqlite_app) as server:
        second = agent(server.url)
        try:
            line, _ = listener.accept()  # the new agent opens the "serial port" again
            connected(second)
            line.sendall(b"LOT:AFTER-RESTART\r")
            rows = _wait_for(lambda: len(_logged(sqlite_app)) == 2 and _logged(sqlite_app), "both scans")
        finally:
            second.terminate()
            second.wait(10)
            second.reader.join(10)  # it has read the last lines
            output = "".join(second.lines)
            second.stdout.close()
            line.close()
            listener.close()
    assert [r.raw for r in rows] == [b"LOT:KEPT-THROUGH-KILL", b"LOT:AFTER-RESTART"]
    assert second.returncode == 0, output
    assert "agent stopped; 0 scan(s) kept" in output


def test_a_bad_scanner_url_is_refused_in_words(tmp_path):
    agent = Agent(server="http://127.0.0.1:1", token="t", station=STATION, scanner_urls=["ftp://nope"],
                  spool=tmp_path / "spool")
    with pytest.raises(Exception, match="unknown scanner URL"):
        agent.start()


def test_a_scan_whose_client_id_another_station_took_is_set_aside(sqlite_app, tmp_path):
    """409 client_id_taken concerns that one scan: it goes to rejected.jsonl and the queue goes on."""
    token = _setup(sqlite_app)
    with sqlite_app.extensions["station.db"].write() as s:
        s.add(StationDevice(name="Line PC", scanner_url=AGENT_SCANNER_URL))
        s.flush()
        other = create_token(s, "line agent", TokenRole.AGENT, station="Line PC")
    taken = "agent-" + uuid.uuid4().hex
    answer = sqlite_app.test_client().post("/api/v1/scans", headers={"Authorization": f"Bearer {other}"},
                                           json={"station": "Line PC", "client_id": taken, "code": "LOT:LINE"})
    assert answer.status_code == 201
    spool = tmp_path / "spool"
    with Journal(spool) as journal:
        journal.add({"client_id": taken, "source": "sim://x", "raw_base64": base64.b64encode(b"LOT:MINE").decode()})
    name = f"agent-{uuid.uuid4().hex[:8]}"
    with LiveServer(sqlite_app) as server, _agent(server.url, token, f"sim://{name}", spool) as agent:
        sim.inject(name, "LOT:NEXT")
        _wait_for(lambda: agent.status()["pending"] == 0, "the journal sent")
    rejected = [json.loads(line) for line in (spool / "rejected.jsonl").read_text().splitlines()]
    assert [r["scan"]["client_id"] for r in rejected] == [taken]
    assert rejected[0]["error"].startswith("409 client_id_taken")
    assert [r.raw for r in _logged(sqlite_app)] == [b"LOT:LINE", b"LOT:NEXT"]
