"""tcp:// printers: a networked Zebra on its raw port (9100), with status from the ~HS host-status query.

Each send() and status() opens its own connection and closes it when done. A printer keeps no state for
us between jobs, a power-cycled printer leaves no stale socket behind, and several stations can share one
printer (many Zebras serve one connection at a time and queue the others).

send() writes the job and then asks ~HS on the same connection. The printer reads its input in order, so
its answer proves it read every byte of the job; a connection cut before that answer (a network drop, a
printer switched off mid-job) raises a retryable PrinterError instead of losing a label without a word.
"""
from __future__ import annotations

import socket
import time
from urllib.parse import urlsplit

from devices.printers import status as hs
from devices.printers.base import (
    Printer,
    PrinterError,
    PrinterState,
    PrinterStatus,
    PrinterUnconfirmed,
    PrinterURLError,
    Preview,
    SendOutcome,
)
from devices.printers.options import flag, parse_options, seconds

EXAMPLE = "tcp://HOST:9100?timeout=5"
DEFAULT_PORT = 9100
OPTIONS = {
    "timeout": "seconds allowed to connect, to hand over data and for each answer; default 5",
    "confirm": "1 (default): confirm each job with ~HS on its connection; 0: for a raw port that does not "
               "answer ~HS (a cut-off job then goes unnoticed)",
}


class TcpPrinter(Printer):
    """A printer on a raw TCP port; status by ~HS, where no answer means OFFLINE (unknown or faulted)."""

    def __init__(self, url: str) -> None:
        """Check url; nothing is connected until send() or status()."""
        parts = urlsplit(url)
        options = parse_options(url, OPTIONS, EXAMPLE)
        try:
            port = parts.port or DEFAULT_PORT
        except ValueError:
            raise PrinterURLError(f"bad port in {url!r}; e.g. {EXAMPLE}") from None
        if not parts.hostname or parts.path not in ("", "/") or parts.username or parts.fragment:
            raise PrinterURLError(f"bad printer URL {url!r}; expected {EXAMPLE}")
        self.url = url
        self.host = parts.hostname
        self.port = port
        self.timeout = seconds(url, options, "timeout", 5.0, EXAMPLE)
        self.confirm = flag(url, options, "confirm", True, EXAMPLE)
        self.confirms = self.confirm   # ~HS counters after each job: the worker can see it printed

    @property
    def where(self) -> str:
        """host:port as an operator would type it."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def _connect(self) -> socket.socket:
        """Connect within the timeout, or raise PrinterError saying why in words."""
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        except socket.gaierror as exc:
            raise PrinterError(f"printer address {self.host!r} not found (name lookup failed: {exc.strerror}) "
                               "— check the printer's name or IP address") from exc
        except ConnectionRefusedError as exc:
            raise PrinterError(f"printer at {self.where} refused the connection — it is switched off, "
                               "restarting, or this is not its printing port") from exc
        except TimeoutError as exc:
            raise PrinterError(f"no answer from printer at {self.where} within {self.timeout:g} s "
                               "— check its power and network cable") from exc
        except OSError as exc:
            raise PrinterError(f"cannot reach printer at {self.where}: {exc.strerror or exc} "
                               "— check the network") from exc
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def send(self, data: bytes, *, preview: Preview | None = None) -> SendOutcome:
        """Deliver data and (unless confirm=0) wait for the printer's ~HS answer after it.

        Returns once the printer has read the whole job, with that answer as the outcome's status: a fault
        it reports then (paper out...) means the job sits in the printer's buffer and prints when the fault
        clears, so it must not be sent again. Raises a retryable PrinterError when the job did not get
        through, and PrinterUnconfirmed when it got through but the printer never answered.
        """
        data = bytes(data)
        with self._connect() as sock:
            try:
                sock.sendall(data + hs.QUERY if self.confirm else data)
            except TimeoutError as exc:
                raise PrinterError(f"printer at {self.where} stopped taking data for {self.timeout:g} s "
                                   "(busy or stalled); the job did not get through") from exc
            except OSError as exc:
                raise PrinterError(f"the connection to printer at {self.where} was cut while sending "
                                   f"({exc.strerror or exc}); the job did not get through") from exc
            if not self.confirm:
                return SendOutcome(len(data))
            reply, problem = _read_reply(sock, self.timeout)
        if not problem or hs.STX in reply:
            # Any part of an answer proves the printer read the whole job before it.
            return SendOutcome(len(data), hs.printer_status(self.url, reply))
        if problem == "timeout":
            raise PrinterUnconfirmed(f"printer at {self.where} took the job but did not confirm it within "
                                     f"{self.timeout:g} s; it may or may not print — check before reprinting")
        raise PrinterError(f"the connection to printer at {self.where} was cut before it confirmed the job "
                           f"({problem}); the job did not get through completely")

    def status(self) -> PrinterStatus:
        """Ask ~HS on a new connection; refused, unreachable or silent is OFFLINE with the reason."""
        try:
            sock = self._connect()
        except PrinterError as exc:
            return PrinterStatus(self.url, (PrinterState.OFFLINE,), detail=str(exc))
        with sock:
            try:
                sock.sendall(hs.QUERY)
            except OSError as exc:
                return PrinterStatus(self.url, (PrinterState.OFFLINE,),
                                     detail=f"printer at {self.where} cut the connection: {exc.strerror or exc}")
            reply, problem = _read_reply(sock, self.timeout)
        if problem and hs.STX not in reply:
            why = (f"connected, but no answer to ~HS within {self.timeout:g} s (a faulted printer may not answer)"
                   if problem == "timeout" else f"the printer cut the connection before answering ({problem})")
            return PrinterStatus(self.url, (PrinterState.OFFLINE,), detail=f"{self.where}: {why}")
        return hs.printer_status(self.url, reply)


def _read_reply(sock: socket.socket, timeout: float) -> tuple[bytes, str]:
    """Read a ~HS answer: (reply, "") once complete, else (what came, "timeout" or why the connection ended)."""
    deadline = time.monotonic() + timeout
    reply = b""
    while not hs.reply_complete(reply):
        left = deadline - time.monotonic()
        if left <= 0:
            return reply, "timeout"
        sock.settimeout(left)
        try:
            chunk = sock.recv(4096)
        except TimeoutError:
            return reply, "timeout"
        except OSError as exc:
            return reply, exc.strerror or str(exc)
        if not chunk:
            return reply, "closed by the printer"
        reply += chunk
    return reply, ""
