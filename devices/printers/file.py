"""file:// printers: a printer device file such as /dev/usb/lp0 (Linux usblp), written directly.

Only printer and terminal devices (/dev/usb/lpN, /dev/ttyNAME, /dev/pts/N; devices.addresses): the
path's form is checked when the URL is read, and the opened file must be a character device before a
byte is written — a plain file is never appended to, and nothing is ever created (a printer that is
unplugged has no /dev/usb/lp0: the job waits, it is not "printed" into a new file).
Writes do not block: a printer that stops taking data fails the job after `timeout` seconds instead of
hanging the worker (usblp blocks for as long as the printer is off or out of paper).

Status: the device is asked ~HS (usblp is read-write, and a Zebra answers on the same USB interface)
with a short wait; no answer leaves the status unknown (UNKNOWN, not OFFLINE), because many USB
printers and drivers send nothing back.
"""
from __future__ import annotations

import errno
import os
import select
import stat
import time
from urllib.parse import parse_qsl, unquote, urlsplit

from devices.addresses import character_device_problem, printer_device_path

from devices.printers import status as hs
from devices.printers.base import (
    Printer,
    PrinterError,
    PrinterState,
    PrinterStatus,
    PrinterURLError,
    Preview,
    SendOutcome,
)
from devices.printers.options import flag, parse_options, seconds

EXAMPLE = "file:///dev/usb/lp0"
OPTIONS = {
    "timeout": "seconds the printer may take to accept a job's data, default 5",
    "status_timeout": "seconds to wait for a ~HS answer, default 0.5",
    "status": "1 (default): ask a device ~HS for its status; 0: never (status unknown)",
}
# errno values that mean "the printer is not there right now" rather than "this will never work".
_GONE = {errno.ENOENT, errno.ENODEV, errno.ENXIO, errno.EIO, errno.EBUSY, errno.EAGAIN}


class FilePrinter(Printer):
    """Writes each job to a device file (or a plain file with ?create=1)."""

    def __init__(self, url: str) -> None:
        """Check url; the file is opened for each job."""
        parts = urlsplit(url)
        if any(key == "create" for key, _ in parse_qsl(parts.query, keep_blank_values=True)):
            raise PrinterURLError(f"bad printer address {url[:120]!r}: file:// printers are device files, "
                                  f"and Station never creates a file (the create option is gone); e.g. {EXAMPLE}")
        options = parse_options(url, OPTIONS, EXAMPLE)
        if parts.netloc not in ("", "localhost"):
            raise PrinterURLError(f"{url!r} names a host; a device path needs three slashes, "
                                  f"e.g. file:///{parts.netloc}{parts.path} or {EXAMPLE}")
        if not parts.path.startswith("/") or parts.path == "/":
            raise PrinterURLError(f"{url!r} names no absolute file path; e.g. {EXAMPLE}")
        self.url = url
        try:
            self.path = printer_device_path(unquote(parts.path))
        except ValueError as exc:
            raise PrinterURLError(f"bad printer address {url[:120]!r}: {exc}; e.g. {EXAMPLE}") from None
        self.timeout = seconds(url, options, "timeout", 5.0, EXAMPLE)
        self.status_timeout = seconds(url, options, "status_timeout", 0.5, EXAMPLE)
        self.ask_status = flag(url, options, "status", True, EXAMPLE)

    def _open(self, flags: int) -> int:
        """Open the file without blocking; PrinterError in words when it cannot be opened."""
        flags |= os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
        try:
            fd = os.open(self.path, flags)
        except FileNotFoundError as exc:
            raise PrinterError(f"no printer at {self.path} — is it plugged in and switched on?") from exc
        except PermissionError as exc:
            raise PrinterError(f"no permission to use {self.path} — the station's user needs the 'lp' group "
                               "(or the file's permissions)", retryable=False) from exc
        except OSError as exc:
            raise PrinterError(f"cannot open {self.path}: {exc.strerror or exc}",
                               retryable=exc.errno in _GONE) from exc
        problem = character_device_problem(self.path, fd)
        if problem:  # opened without O_CREAT or O_TRUNC, and closed before a byte is written
            os.close(fd)
            raise PrinterError(f"not sent — {problem}", retryable=False)
        return fd

    def send(self, data: bytes, *, preview: Preview | None = None) -> SendOutcome:
        """Write the whole job, waiting at most `timeout` seconds for the printer to take it."""
        size = len(data)
        data = memoryview(bytes(data))
        fd = self._open(os.O_WRONLY | os.O_APPEND)
        try:
            deadline = time.monotonic() + self.timeout
            while data:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([], [fd], [], left)[1]:
                    raise PrinterError(f"printer at {self.path} stopped taking data for {self.timeout:g} s "
                                       "(off, out of paper or busy); the job did not get through")
                try:
                    data = data[os.write(fd, data):]
                except BlockingIOError:
                    continue
                except OSError as exc:
                    raise PrinterError(f"writing to {self.path} failed: {exc.strerror or exc} — was the "
                                       "printer unplugged?", retryable=exc.errno in _GONE) from exc
        finally:
            os.close(fd)
        return SendOutcome(size)   # a device file gives no answer after a job: the status is asked apart

    def status(self) -> PrinterStatus:
        """A missing device is OFFLINE; a device that answers ~HS is read; anything else is unknown."""
        try:
            mode = os.stat(self.path).st_mode
        except OSError as exc:
            return PrinterStatus(self.url, (PrinterState.OFFLINE,),
                                 detail=f"no printer at {self.path}: {exc.strerror or exc}")
        if not stat.S_ISCHR(mode):
            return PrinterStatus(self.url, (PrinterState.OFFLINE,),
                                 detail=character_device_problem(self.path) or f"{self.path} is not a device")
        if not self.ask_status:
            return PrinterStatus(self.url, known=False, detail="status queries are off (status=0)")
        try:
            fd = self._open(os.O_RDWR)
        except PrinterError as exc:
            return PrinterStatus(self.url, (PrinterState.OFFLINE,), detail=str(exc))
        try:
            reply = ask_host_status(fd, self.status_timeout)
        except OSError as exc:
            return PrinterStatus(self.url, (PrinterState.OFFLINE,),
                                 detail=f"{self.path}: {exc.strerror or exc} — was the printer unplugged?")
        finally:
            os.close(fd)
        if hs.STX not in reply:
            return PrinterStatus(self.url, known=False,
                                 detail=f"no ~HS answer from {self.path} within {self.status_timeout:g} s "
                                        "(this printer or its driver may not send status back)")
        return hs.printer_status(self.url, reply)


def ask_host_status(fd: int, timeout: float) -> bytes:
    """Drop stale input, send ~HS on a non-blocking fd and read until a whole answer or the timeout."""
    while select.select([fd], [], [], 0)[0]:
        try:
            if not os.read(fd, 4096):
                break
        except BlockingIOError:
            break
    deadline = time.monotonic() + timeout
    query = hs.QUERY
    while query:
        if not select.select([], [fd], [], max(0.0, deadline - time.monotonic()))[1]:
            return b""
        query = query[os.write(fd, query):]
    reply = b""
    while not hs.reply_complete(reply):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            break
        try:
            chunk = os.read(fd, 4096)
        except BlockingIOError:
            continue
        if not chunk:
            break
        reply += chunk
    return reply
