"""A TCP relay that can be cut and restored: a database server going away and coming back, as the
app sees it (refused connections, and open ones dropped mid-conversation)."""
from __future__ import annotations

import socket
import threading


class TcpProxy:
    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
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
        """Accept connections again, on the same port."""
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen()
        listener.settimeout(0.1)
        with self._lock:
            self._listener = listener
            self._up = True

    def stop(self) -> None:
        with self._lock:
            self._stopping = True
        self.cut()
        self._thread.join(5)
