"""`station run` under a socket flood and a huge body (issue 13, point 6): real server processes, raw sockets.

- 150 idle connections and 20 slow-loris connections (a header byte now and then) are open while a
  normal request is made: it is answered (waitress' default connection limit of 100 used to freeze
  every other request until the idle ones timed out, 120 s later), and the idle ones are still open.
- A connection trickling its request in for longer than STATION_REQUEST_TIMEOUT is closed by the server.
- A 20 MB body is refused with 413 in words (JSON on the API) as soon as its Content-Length is read,
  and the server answers a normal request after it; below the server, the app refuses a body over
  MAX_CONTENT_LENGTH with 413 in words too (JSON for the API, the red banner for htmx, a page otherwise).

Every wait is on a condition with a generous deadline; nothing asserts how long anything took."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import pytest

from station.models import Role
from station.services.tokens import create_token
from test_server import wait_for

STATION = str(Path(sys.executable).with_name("station"))
IDLE, SLOW = 150, 20
BIG_BODY = 20 * 1024 * 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]



def get(port: int, path: str = "/", timeout: float = 30) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as response:
        return response.status


def _start(tmp_path: Path, **env_extra: str):
    env = {**os.environ, "STATION_INSTANCE": str(tmp_path),
           "STATION_DATABASE_URL": f"sqlite:///{tmp_path / 'station.sqlite'}", **env_extra}
    subprocess.run([STATION, "init"], env=env, check=True, capture_output=True)
    port = free_port()
    log = open(tmp_path / "server.log", "w+b")  # noqa: SIM115 - closed by the fixture
    proc = subprocess.Popen([STATION, "run", "--threads", "4", "--port", str(port), "--no-scanners",
                             "--no-print-worker"], env=env, stdout=log, stderr=subprocess.STDOUT)

    def up():
        try:
            return get(port, timeout=5) == 200
        except OSError:
            return proc.poll() is not None
    wait_for(up, what="station run to answer")
    assert proc.poll() is None, (tmp_path / "server.log").read_text()
    return proc, port, log


@pytest.fixture
def server(tmp_path, request):
    env = getattr(request, "param", {})
    proc, port, log = _start(tmp_path, **env)
    yield port
    if proc.poll() is None:
        proc.terminate()
        proc.wait(timeout=15)
    log.close()


def _open(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=10)


def _still_open(sock: socket.socket) -> bool:
    """True while the server has not closed `sock` (nothing to read yet, no EOF, no reset)."""
    sock.setblocking(False)
    try:
        return sock.recv(1) != b""  # data would be a surprise, but not a close
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        sock.setblocking(True)


class SlowLoris(threading.Thread):
    """Sends a request header one byte at a time, never finishing it, on `count` connections."""

    HEADER = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 10_000

    def __init__(self, port: int, count: int) -> None:
        super().__init__(daemon=True)
        self.socks = [_open(port) for _ in range(count)]
        self.stop = threading.Event()
        self.closed_by_server: set[int] = set()

    def run(self) -> None:
        for i in range(len(self.HEADER)):
            if self.stop.wait(0.2):
                return
            for n, sock in enumerate(self.socks):
                if n in self.closed_by_server:
                    continue
                try:
                    sock.sendall(self.HEADER[i:i + 1])
                except OSError:
                    self.closed_by_server.add(n)

    def close(self) -> None:
        self.stop.set()
        self.join(timeout=10)
        for sock in self.socks:
            sock.close()


@pytest.mark.parametrize("server", [{"STATION_IDLE_TIMEOUT": "600", "STATION_REQUEST_TIMEOUT": "600"}],
                         indirect=True)
def test_idle_and_slow_sockets_do_not_starve_a_normal_request(server):
    port = server
    idle = [_open(port) for _ in range(IDLE)]
    loris = SlowLoris(port, SLOW)
    loris.start()
    try:
        # the server has accepted them all: a request on the last idle socket is answered on it
        last = idle[-1]
        last.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        last.settimeout(30)
        assert last.recv(64).startswith(b"HTTP/1.1 200"), "the 150th connection was not served"
        for _ in range(5):  # and a client of its own, on a new connection, several times
            assert get(port) == 200
        assert all(_still_open(s) for s in idle[:-1]), "the server closed idle sockets to cope"
        assert not loris.closed_by_server
    finally:
        loris.close()
        for sock in idle:
            sock.close()
    assert get(port) == 200


@pytest.mark.parametrize("server", [{"STATION_REQUEST_TIMEOUT": "2", "STATION_IDLE_TIMEOUT": "600"}],
                         indirect=True)
def test_a_request_trickled_in_past_the_deadline_is_closed(server):
    port = server
    loris = SlowLoris(port, 3)
    loris.start()
    try:
        wait_for(lambda: len(loris.closed_by_server) == 3, timeout=60,
                 what="the server to close the slow-loris connections")
        assert get(port) == 200
    finally:
        loris.close()


# --- bodies ------------------------------------------------------------------------------------


def _post_huge(port: int, path: str, size: int = BIG_BODY) -> tuple[int, dict[str, str], bytes]:
    """POST `size` bytes of JSON-ish junk the way a plain client does (headers, then the body at once,
    reading the answer while still sending); the status, headers and body of the answer."""
    sock = _open(port)
    sock.settimeout(30)
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {size}\r\n\r\n").encode()
    sock.sendall(head)

    def send_body():
        chunk = b"[" + b"1," * 32767 + b"1"
        sent = 0
        try:
            while sent < size:
                piece = chunk[:size - sent]
                sock.sendall(piece)
                sent += len(piece)
        except OSError:
            pass  # the server answered and closed: the rest is not wanted

    sender = threading.Thread(target=send_body, daemon=True)
    sender.start()
    data = b""
    try:
        while b"\r\n\r\n" not in data or len(data) < data.index(b"\r\n\r\n") + 4 + _length(data):
            piece = sock.recv(65536)
            if not piece:
                break
            data += piece
    finally:
        sock.close()
        sender.join(timeout=30)
    head_bytes, _, body = data.partition(b"\r\n\r\n")
    lines = head_bytes.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, body


def _length(data: bytes) -> int:
    for line in data.split(b"\r\n\r\n")[0].split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return int(line.split(b":")[1])
    return 0


def test_a_20_mb_body_is_refused_in_words_and_the_server_goes_on(server):
    port = server
    status, headers, body = _post_huge(port, "/api/v1/receipts")
    assert status == 413
    assert headers["content-type"] == "application/json"
    error = json.loads(body)["error"]
    assert error["code"] == "body_too_large"
    # Refused by the app before the token check (waitress lets bodies up to the import's limit through).
    assert error["message"].startswith("The request is more than 1 MB, so it was refused unread — nothing changed.")

    status, headers, body = _post_huge(port, "/receive/confirm")
    assert status == 413
    assert "more than 1 MB" in body.decode()
    assert all(get(port) == 200 for _ in range(3))


@pytest.mark.parametrize("server", [{"STATION_MAX_BODY_BYTES": "4096"}], indirect=True)
def test_the_limit_is_configurable(server):
    status, _, body = _post_huge(server, "/api/v1/receipts", size=5000)
    assert status == 413
    assert "more than 4 KB" in json.loads(body)["error"]["message"]
    assert get(server) == 200


# --- the app's own limit (a server in front that lets a body through, a chunked body) ------------


@pytest.fixture
def token(app):
    with app.extensions["station.db"].write() as s:
        return create_token(s, "body limit", Role.ADMIN)


def test_the_app_refuses_a_body_over_its_limit_in_words(app, client, token, signed_in):
    body = b'{"sku": "' + b"A" * (2 * 1024 * 1024) + b'"}'
    answer = client.post("/api/v1/receipts", data=body, content_type="application/json",
                         headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 413
    assert answer.get_json()["error"] == {
        "code": "body_too_large",
        "message": "The request is more than 1 MB, so it was refused unread — nothing changed. "
                   "Send less at a time; a station's forms and scans are far smaller than this."}

    signed_in(client, "receiver")
    form = {"code": "A" * (2 * 1024 * 1024)}
    banner = client.post("/receive/scan", data=form, headers={"HX-Request": "true"})
    assert banner.status_code == 413
    assert "more than 1 MB" in banner.text and "banner" in banner.text
    page = client.post("/receive/scan", data=form)
    assert page.status_code == 413
    assert "<title>Too large" in page.text and "more than 1 MB" in page.text
    assert client.get("/").status_code == 200


def test_a_body_within_the_limit_is_read(app, client, token):
    body = json.dumps({"sku": "NOPE", "qty": 1, "supplier_lot": "x" * 30, "padding": "y" * 900_000})
    answer = client.post("/api/v1/receipts", data=body, content_type="application/json",
                         headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 422  # read and judged: the padding is not a field
    assert "padding" in answer.get_json()["error"]["message"]
