"""A TCP relay that can be cut and restored: a database server going away and coming back, as the
app sees it (refused connections, and open ones dropped mid-conversation)."""
from __future__ import annotations

import errno
import random
import socket
import threading
import time
from pathlib import Path


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def _listen(port: int) -> socket.socket:
    listener = socket.socket()
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen()
        listener.settimeout(0.1)
    except OSError:
        listener.close()  # never leave an unbound socket for the garbage collector to warn about
        raise
    return listener


def _listen_outside_ephemeral_range() -> socket.socket:
    """A port the kernel never hands out to an outgoing connection: while the relay is cut, the
    port is free, and an ephemeral one could be taken by any client connecting anywhere (or by a
    client's retry connecting to itself), so that restore() could not bind it again."""
    low, high = _ephemeral_range()
    candidates = [p for p in range(10000, 32768) if not low <= p <= high] or list(range(1024, low))
    for port in random.sample(candidates, min(200, len(candidates))):
        try:
            return _listen(port)
        except OSError:
            continue
    raise OSError("tcp proxy: no free port outside the ephemeral range")


class TcpProxy:
    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self._listener = _listen_outside_ephemeral_range()
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []
        self._up = True
        self._stopping = False
        self._thread = threading.Thread(target=self._accept, name="tcp proxy", daemon=True)

    def start(self) -> TcpProxy:
        self._thread.start()
        return self

    def _accept(self) -> None:
        while not self._stopping:
            with self._lock:
                listener, up = self._listener, self._up
            if not up:
                threading.Event().wait(0.02)
                continue
            try:
                client, _ = listener.accept()
            except OSError:  # the accept timed out, or cut() closed the listener
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            client.settimeout(None)
            with self._lock:
                if not self._up:  # cut() ran while this one was being accepted: drop it as well
                    client.close()
                    upstream.close()
                    continue
                self._open += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut(self) -> None:
        """Refuse new connections and drop every open one."""
        with self._lock:
            self._up = False
            self._listener.close()
            for s in self._open:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()
            self._open.clear()

    def restore(self) -> None:
        """Accept connections again, on the same port.

        The old listener may outlive cut() by one accept poll (0.1 s): a thread blocked in accept()
        holds the socket open after close(), still LISTENing, so the bind is retried until it is gone."""
        deadline = time.monotonic() + 10
        while True:
            try:
                listener = _listen(self.port)
                break
            except OSError as e:
                if e.errno != errno.EADDRINUSE or time.monotonic() > deadline:
                    raise
                threading.Event().wait(0.05)
        with self._lock:
            self._listener = listener
            self._up = True

    def stop(self) -> None:
        with self._lock:
            self._stopping = True
        self.cut()
        self._thread.join(5)
