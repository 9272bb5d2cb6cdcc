"""Serving the app with waitress: threads in one process, or several forked processes on one socket.

Waitress parses HTTP in Python under the same GIL as the app, so one process tops out near one core.
With ``workers > 1`` the parent imports the app, checks the port is free, freezes the objects it made
(so the children's garbage collector does not copy the pages they share) and forks the workers; each
listens on the port with SO_REUSEPORT, so the kernel spreads connections over them evenly. (One
shared socket let whichever worker woke first take the connections: with keep-alive clients one
worker could end up with nearly all of them while the other idled.)
The parent starts no threads and only supervises: it restarts a worker that dies and stops them all
on SIGTERM or Ctrl+C. Forking from a parent without threads is what makes a restart safe.

Background services (the stations' scanners, the print worker) run in worker 0 only, so there is one
reader per serial port and one print worker per server; a restarted worker 0 starts them again.

Limits (``waitress_options``): waitress' defaults let 100 idle sockets stop every other request (it
stops accepting at ``connection_limit`` until one of them times out, 120 s later), read any request
body up to 1 GB, and use select(), which fails above 1024 descriptors. Station serves with poll(), a
connection limit of STATION_CONNECTION_LIMIT (1000; the open-file limit is raised to fit), closes a
connection idle for STATION_IDLE_TIMEOUT seconds (30) and one whose request has not fully arrived
within STATION_REQUEST_TIMEOUT seconds (60: a slow-loris client that sends a byte now and then), and
refuses a body above the app's MAX_CONTENT_LENGTH (413 in words) before reading it. An idle or slow
client costs a socket and a few KB, never a request thread: threads only run complete requests.
"""
from __future__ import annotations

import gc
import json
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable

from flask import Flask
from waitress import serve as waitress_serve
from waitress.channel import HTTPChannel
from waitress.server import BaseWSGIServer, create_server
from waitress.task import ErrorTask
from waitress.utilities import RequestEntityTooLarge

from .limits import API_PREFIX, too_large_message

log = logging.getLogger(__name__)

# Starts what runs beside the web server in one process and returns the function that stops it.
Background = Callable[[], Callable[[], None]]

RESTART_DELAY_S = 1.0  # a worker that dies at start-up must not spin the parent

# --- limits --------------------------------------------------------------------------------------

DEFAULT_CONNECTION_LIMIT = 1000
DEFAULT_IDLE_TIMEOUT_S = 30
DEFAULT_REQUEST_TIMEOUT_S = 60
HEADER_LIMIT = 64 * 1024  # request line and headers (a browser sends 1-4 KB; waitress' default is 256 KB)
FD_RESERVE = 64  # descriptors kept for the database, log files, printers and scanners


def _env_int(name: str, default: int, low: int, high: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not (raw.isascii() and raw.isdigit()) or not low <= int(raw) <= high:
        raise ValueError(f"{name} must be a whole number from {low} to {high}, not {raw!r}.")
    return int(raw)


def _raise_open_file_limit(wanted: int) -> int:
    """Raise this process' soft limit on open files towards `wanted` (up to the hard limit); the limit now."""
    try:
        import resource
    except ImportError:  # not on Linux/BSD/macOS: leave it
        return wanted
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft if soft != resource.RLIM_INFINITY else wanted


def waitress_options(app: Flask, threads: int) -> dict:
    """What waitress is told, from the app's body limit and STATION_CONNECTION_LIMIT,
    STATION_IDLE_TIMEOUT and STATION_REQUEST_TIMEOUT (see the module's docstring)."""
    limit = _env_int("STATION_CONNECTION_LIMIT", DEFAULT_CONNECTION_LIMIT, 10, 100_000)
    idle = _env_int("STATION_IDLE_TIMEOUT", DEFAULT_IDLE_TIMEOUT_S, 1, 3600)
    files = _raise_open_file_limit(limit + FD_RESERVE + threads)
    if files < limit + FD_RESERVE:
        log.warning("only %d open files allowed (ulimit -n): serving at most %d connections, not %d",
                    files, max(10, files - FD_RESERVE), limit)
        limit = max(10, files - FD_RESERVE)
    body = int(app.config.get("MAX_CONTENT_LENGTH") or 0)
    # The largest body any route accepts (a route may allow more than the app's default, e.g. an import).
    largest = max(body, int(app.config.get("MAX_UPLOAD_BYTES") or 0))
    return {
        "threads": threads,
        "ident": "station",
        "asyncore_use_poll": True,  # select() fails above 1024 descriptors
        "connection_limit": limit + 2,  # waitress counts its own listening socket and wake-up pipe
        "channel_timeout": idle,
        "cleanup_interval": max(1, min(10, idle // 3 or 1)),
        "max_request_header_size": HEADER_LIMIT,
        # waitress refuses at >= this: a body of exactly the limit is the app's to take; beyond, it is
        # refused as soon as its Content-Length is read, before any of it is buffered.
        "max_request_body_size": largest + 1 if largest else 1 << 30,
        "recv_bytes": 65536,
        "backlog": 2048,
    }


def _request_timeout() -> int:
    return _env_int("STATION_REQUEST_TIMEOUT", DEFAULT_REQUEST_TIMEOUT_S, 1, 3600)


class _TooLargeTask(ErrorTask):
    """Waitress' own refusals, in words: a body over the limit is 413 JSON on the API, a sentence elsewhere."""

    def execute(self):
        error = self.request.error
        if not isinstance(error, RequestEntityTooLarge):
            return super().execute()
        limit = self.channel.server.adj.max_request_body_size - 1
        message = too_large_message(limit)
        path = self.request.path or ""
        if path == API_PREFIX or path.startswith(API_PREFIX + "/"):
            body = json.dumps({"error": {"code": "body_too_large", "message": message}}).encode()
            kind = "application/json"
        else:
            body = (message + "\n").encode()
            kind = "text/plain; charset=utf-8"
        self.status = "413 Request Entity Too Large"
        self.response_headers.append(("Content-Type", kind))
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)


class _Channel(HTTPChannel):
    """A connection that also remembers when its current request began (for the request deadline)."""

    error_task_class = _TooLargeTask
    request_began = 0.0

    def received(self, data):
        if self.request is None and data:
            self.request_began = time.monotonic()
        return super().received(data)


def _close_slow_requests(server: BaseWSGIServer, deadline_s: int, now: float) -> None:
    """Waitress closes idle connections; this closes those trickling a request in (slow loris)."""
    cutoff = time.monotonic() - deadline_s
    for channel in list(server.active_channels.values()):
        if (channel.request is not None and not channel.requests
                and 0 < getattr(channel, "request_began", 0) < cutoff):
            channel.will_close = True


def _create_server(app, **options):
    """waitress' create_server with Station's channel (request deadline, 413 in words)."""
    server = create_server(app, **options)
    deadline = _request_timeout()
    for listener in list(server.map.values()) if hasattr(server, "map") else [server]:
        if isinstance(listener, BaseWSGIServer):
            listener.channel_class = _Channel
            maintain = listener.maintenance

            def maintenance(now, listener=listener, maintain=maintain):
                maintain(now)
                _close_slow_requests(listener, deadline, now)

            listener.maintenance = maintenance
    return server


def _serve(app: Flask, threads: int, **where) -> None:
    waitress_serve(app, _server=_create_server, **waitress_options(app, threads), **where)


def serve(app: Flask, *, host: str, port: int, threads: int, workers: int = 1,
          background: Background | None = None) -> None:
    """Serve until stopped; returns after SIGTERM/SIGINT with every worker stopped."""
    if workers < 1:
        raise ValueError("workers must be at least 1")
    if workers == 1:
        stop = background() if background else None
        try:
            _serve(app, threads, host=host, port=port)
        finally:
            if stop:
                stop()
        return
    if not hasattr(socket, "SO_REUSEPORT"):
        raise SystemExit("--workers above 1 needs SO_REUSEPORT (Linux, BSD, macOS); use --workers 1 here")
    # Fail now, in the foreground, if the port is taken (by anything, with or without SO_REUSEPORT).
    socket.create_server((host, port)).close()
    _Supervisor(app, (host, port), threads, workers, background).run()


def _listen(address: tuple[str, int]) -> socket.socket:
    return socket.create_server(address, backlog=2048, reuse_port=True)


class _Supervisor:
    def __init__(self, app: Flask, address: tuple[str, int], threads: int, workers: int,
                 background: Background | None) -> None:
        self.app, self.address, self.threads = app, address, threads
        self.background = background
        self.slots: dict[int, int] = {}  # pid -> worker number
        self.workers = workers
        self.stopping = False

    def run(self) -> None:
        # Connections made before the fork (a migration, a token look-up) must not be shared.
        self.app.extensions["station.db"].engine.dispose()
        gc.collect()
        gc.freeze()
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        for number in range(self.workers):
            self._spawn(number)
        while self.slots:
            try:
                pid, status = os.wait()
            except ChildProcessError:
                break
            except InterruptedError:
                continue
            number = self.slots.pop(pid, None)
            if number is None or self.stopping:
                continue
            log.error("worker %d (pid %d) ended with status %d; restarting it", number, pid, status)
            time.sleep(RESTART_DELAY_S)
            if not self.stopping:
                self._spawn(number)

    def _stop(self, *_args) -> None:
        self.stopping = True
        for pid in list(self.slots):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    def _spawn(self, number: int) -> None:
        pid = os.fork()
        if pid:
            self.slots[pid] = number
            return
        code = 0
        try:
            _worker(self.app, _listen(self.address), self.threads, self.background if number == 0 else None)
        except BaseException:  # noqa: BLE001 - a worker must never return into the parent's loop
            log.exception("worker %d failed", number)
            code = 1
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)


def _worker(app: Flask, listener: socket.socket, threads: int, background: Background | None) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C reaches the parent, which stops us in order
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    _leave_with(os.getppid())
    stop = background() if background else None
    try:
        _serve(app, threads, sockets=[listener])
    except SystemExit:
        pass
    finally:
        if stop:
            stop()


PARENT_CHECK_S = 0.5


def _leave_with(parent: int) -> None:
    """Stop this worker when its parent is gone (killed with -9, say): orphaned workers would keep the
    port and answer with old code, and a restarted server could not bind it."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_S)
        log.error("the supervising process %d is gone; worker %d stops", parent, os.getpid())
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="station-parent-watch", daemon=True).start()

