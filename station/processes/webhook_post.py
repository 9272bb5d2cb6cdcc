"""One webhook POST to a checked address (webhook_policy.Target), with a hard deadline.

The standard library's http.client on a socket opened here: to the very address the policy checked
(not a second lookup of the name, which could now give another: DNS rebinding), with the Host header and
the TLS server name set to the URL's host, and the certificate verified against the system's CAs for
https. Nothing from the environment is used (no proxies), a redirect is never followed (a 3xx is an
answer like a 500: a failed try), and at most `MAX_ANSWER` bytes of the answer are read.

The whole request — connect, TLS, send, answer — must end within `timeout` seconds: a timer shuts the
socket down at the deadline, so a receiver that trickles its answer a byte at a time cannot hold a
worker (and its claim) longer. The worker's claim outlasts that deadline, which is what keeps a
delivery from being sent by two workers at once.
"""
from __future__ import annotations

import http.client
import socket
import ssl
import threading
import time
from dataclasses import dataclass

from ..webhook_policy import SCHEMES, Target

MAX_ANSWER = 4096
_TLS = None


@dataclass(frozen=True)
class Answer:
    status: int | None  # the receiver's HTTP status; None when it gave none
    error: str | None   # what went wrong, in words; None for a 2xx
    seconds: float = 0.0

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def _tls_context() -> ssl.SSLContext:
    global _TLS
    if _TLS is None:
        _TLS = ssl.create_default_context()  # verifies the chain and the name
    return _TLS


def host_header(target: Target) -> str:
    host = f"[{target.host}]" if ":" in target.host else target.host
    return host if target.port == SCHEMES[target.scheme] else f"{host}:{target.port}"


class _Deadline:
    """Shuts the socket down when the time is up, which ends any read or write blocked on it."""

    def __init__(self, seconds: float) -> None:
        self.expired = False
        self.sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self.sock = sock
            if self.expired:
                self._cut()

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            self._cut()

    def _cut(self) -> None:
        if self.sock is not None:
            try:
                # The plain socket's shutdown, also under TLS: SSLSocket.shutdown would tear down its
                # state under the thread reading from it.
                socket.socket.shutdown(self.sock, socket.SHUT_RDWR)
            except OSError:
                pass

    def cancel(self) -> None:
        self._timer.cancel()


def post(target: Target, body: bytes, headers: dict[str, str], timeout: float,
         tls: ssl.SSLContext | None = None) -> Answer:
    """POST `body` to `target`; the receiver's status, or what went wrong in words. `tls`: the context
    that verifies https receivers (default: the system's CAs)."""
    started = time.monotonic()
    deadline = _Deadline(timeout)
    where = f"{target.host}:{target.port}" if target.host == target.address else \
        f"{target.host}:{target.port} ({target.address})"
    connection = None
    try:
        sock = socket.create_connection((target.address, target.port), timeout=timeout)
        deadline.watch(sock)
        if target.scheme == "https":
            sock = (tls or _tls_context()).wrap_socket(sock, server_hostname=target.host)
            deadline.watch(sock)
        connection = http.client.HTTPConnection(target.address, target.port, timeout=timeout)
        connection.sock = sock
        connection.request("POST", target.path, body=body, headers={"Host": host_header(target), **headers})
        response = connection.getresponse()
        answer_text = response.read(MAX_ANSWER)
        status = response.status
        seconds = time.monotonic() - started
        if 200 <= status < 300:
            return Answer(status, None, seconds)
        return Answer(status, _refused(status, response, answer_text), seconds)
    except ssl.SSLCertVerificationError as exc:
        return Answer(None, f"The TLS certificate of {where} could not be verified: "
                            f"{exc.verify_message or exc.reason}.", time.monotonic() - started)
    except Exception as exc:  # noqa: BLE001 - every way a request can fail is a failed try, in words
        if deadline.expired or isinstance(exc, (TimeoutError, socket.timeout)):
            text = f"The receiver at {where} did not answer within {timeout:g} s."
        elif isinstance(exc, ConnectionRefusedError):
            text = f"The receiver at {where} refused the connection (nothing listening on that port?)."
        elif isinstance(exc, (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)):
            text = f"The receiver at {where} closed the connection without answering."
        elif isinstance(exc, ssl.SSLError):
            text = f"TLS with {where} failed: {exc.reason or exc}."
        elif isinstance(exc, http.client.HTTPException):
            text = f"The receiver at {where} gave an answer that is not HTTP ({type(exc).__name__})."
        else:
            text = f"Could not reach the receiver at {where}: {getattr(exc, 'strerror', None) or exc}."
        return Answer(None, text, time.monotonic() - started)
    finally:
        deadline.cancel()
        if connection is not None:
            connection.close()


def _printable(data: bytes, limit: int = 200) -> str:
    text = data.decode("utf-8", "replace")
    return "".join(c if c.isprintable() else " " for c in text)[:limit].strip()


def _refused(status: int, response: http.client.HTTPResponse, answer: bytes) -> str:
    reason = _printable((response.reason or "").encode(), 60)
    said = _printable(answer)
    if 300 <= status < 400:
        location = _printable((response.getheader("Location") or "").encode(), 200)
        return (f"The receiver answered {status} {reason}, a redirect{' to ' + location if location else ''}: "
                f"Station does not follow redirects — set the subscription's URL to the final address.")
    return f"The receiver answered {status} {reason}" + (f": {said}" if said else ".")
