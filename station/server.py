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
"""
from __future__ import annotations

import gc
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

log = logging.getLogger(__name__)

# Starts what runs beside the web server in one process and returns the function that stops it.
Background = Callable[[], Callable[[], None]]

RESTART_DELAY_S = 1.0  # a worker that dies at start-up must not spin the parent


def serve(app: Flask, *, host: str, port: int, threads: int, workers: int = 1,
          background: Background | None = None) -> None:
    """Serve until stopped; returns after SIGTERM/SIGINT with every worker stopped."""
    if workers < 1:
        raise ValueError("workers must be at least 1")
    if workers == 1:
        stop = background() if background else None
        try:
            waitress_serve(app, host=host, port=port, threads=threads, ident="station")
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
        waitress_serve(app, sockets=[listener], threads=threads, ident="station")
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

