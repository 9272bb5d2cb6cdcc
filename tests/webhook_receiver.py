"""A real webhook receiver on 127.0.0.1 for the delivery tests: a threaded stdlib HTTP server whose
behaviour the test switches, and which records every request it gets.

Modes (``receiver.mode = ...``):
    ok        answer 200, processing each event id once (a repeat is answered 200 and not processed again:
              the exactly-once processing a receiver builds on at-least-once delivery)
    close     read the request, then close the connection without an answer
    hang      answer nothing for `hang_s` seconds (longer than the worker's timeout), then 200 as `ok`
    error     answer 500
    redirect  answer 302 to /elsewhere on this server (which records anything that reaches it)
    hold      hold the request until `release()` (or the receiver closes), then answer as `ok`;
              `holding` is set while one is held
    slow      answer as `ok` after `slow_s` seconds (so overlapping deliveries would show)

With `tls` (a server-side SSLContext) it speaks https.
"""
from __future__ import annotations

import ssl
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float          # time.monotonic() when the body was read
    mode: str
    in_flight: int     # requests for this event id being handled at that moment, this one included

    @property
    def event_id(self) -> str:
        return self.headers.get("Station-Event-Id", "")


class Receiver:
    def __init__(self, mode: str = "ok", hang_s: float = 3.0, slow_s: float = 0.02,
                 tls: ssl.SSLContext | None = None, host: str = "127.0.0.1") -> None:
        self.mode = mode
        self.hang_s = hang_s
        self.slow_s = slow_s
        self.requests: list[Received] = []
        self.elsewhere: list[Received] = []
        self.processed: Counter[str] = Counter()  # event id -> times processed (dedupe keeps it at 1)
        self.duplicates: Counter[str] = Counter()  # event id -> repeats answered without processing
        self.max_in_flight: dict[str, int] = defaultdict(int)
        self.holding = threading.Event()
        self._release = threading.Event()
        self._closing = threading.Event()
        self._lock = threading.Lock()
        self._in_flight: Counter[str] = Counter()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        if tls is not None:  # https: the handshake happens as each connection is accepted
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.url = f"{'https' if tls else 'http'}://{host}:{self.port}/hooks/station"
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True, name="webhook receiver")
        self._thread.start()

    # --- what the test sees ----------------------------------------------------------------------

    def count(self, mode: str | None = None) -> int:
        with self._lock:
            return sum(1 for r in self.requests if mode is None or r.mode == mode)

    def release(self) -> None:
        self._release.set()

    def hold(self) -> None:
        self._release.clear()
        self.holding.clear()
        self.mode = "hold"

    def close(self) -> None:
        self._closing.set()
        self._release.set()
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> Receiver:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- the server ------------------------------------------------------------------------------

    def _begin(self, request: Received) -> None:
        with self._lock:
            self._in_flight[request.event_id] += 1
            request.in_flight = self._in_flight[request.event_id]
            self.max_in_flight[request.event_id] = max(self.max_in_flight[request.event_id], request.in_flight)
            (self.elsewhere if request.path.startswith("/elsewhere") else self.requests).append(request)

    def _end(self, request: Received) -> None:
        with self._lock:
            self._in_flight[request.event_id] -= 1

    def _process(self, event_id: str) -> None:
        with self._lock:
            if self.processed[event_id]:
                self.duplicates[event_id] += 1
            else:
                self.processed[event_id] += 1

    def _handler(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                mode = receiver.mode
                request = Received(self.path, dict(self.headers.items()), body, time.monotonic(), mode, 0)
                receiver._begin(request)
                try:
                    self._answer(request, mode)
                finally:
                    receiver._end(request)

            def _answer(self, request: Received, mode: str) -> None:
                if request.path.startswith("/elsewhere"):
                    return self._reply(200)
                if mode == "close":
                    self.close_connection = True
                    return
                if mode == "error":
                    return self._reply(500, b"the ERP is down")
                if mode == "redirect":
                    self.send_response(302)
                    self.send_header("Location", f"http://127.0.0.1:{receiver.port}/elsewhere")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if mode == "hang":
                    receiver._closing.wait(receiver.hang_s)
                elif mode == "hold":
                    receiver.holding.set()
                    receiver._release.wait()
                elif mode == "slow":
                    receiver._closing.wait(receiver.slow_s)
                receiver._process(request.event_id)
                self._reply(200, b"ok")

            def _reply(self, status: int, body: bytes = b"") -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    self.close_connection = True  # the sender is gone (timed out, killed)

        return Handler
