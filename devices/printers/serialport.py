"""serial:// printers: RS-232 and USB-serial Zebras (and any pyserial URL handler), with ~HS status.

The port is opened on first use and kept open between jobs (reopening toggles DTR and re-locks the port for
every label); any error closes it, and the next call opens it again, so an unplugged adapter recovers.
Like tcp://, send() follows the job with ~HS and waits for the answer: a serial line gives no error when the
printer is off, so without the answer a label could vanish unnoticed. Pass confirm=0 for a printer that
does not answer (then the status is not asked either).
"""
from __future__ import annotations

import threading
import time
from urllib.parse import unquote, urlsplit

import serial

from devices.addresses import character_device_problem, pyserial_handler_url, serial_port_name
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
from devices.printers.options import describe, flag, parse_options, seconds
from devices.serialsettings import SERIAL_OPTIONS, pyserial_settings

EXAMPLE = "serial:///dev/ttyUSB0?baudrate=9600"
FORMS = (f"{EXAMPLE}, serial:///dev/serial/by-id/NAME, serial://COM3?baudrate=9600, "
         "serial+socket://HOST:PORT or serial+rfc2217://HOST:PORT")
OPTIONS = {
    **SERIAL_OPTIONS,
    "timeout": "seconds for the printer to take a job and to answer ~HS, default 5",
    "confirm": "1 (default): confirm each job and read status with ~HS; 0: the printer does not answer",
}


def _settings(url: str, options: dict[str, str]) -> dict[str, object]:
    """Turn URL options into pyserial keyword arguments, refusing bad values with the expected forms."""
    try:
        return pyserial_settings(options)
    except ValueError as exc:
        raise PrinterURLError(f"bad serial option value in {url!r}: {exc}; {describe(OPTIONS)}; e.g. {EXAMPLE}") from None


def _split(url: str) -> tuple[str, dict[str, str]]:
    """(pyserial port name or URL, our options) for a serial printer URL (devices.addresses' rules)."""
    parts = urlsplit(url)
    if parts.scheme.lower().startswith("serial+"):
        try:
            return pyserial_handler_url(url, OPTIONS, FORMS)
        except ValueError as exc:
            raise PrinterURLError(f"bad serial printer address {url[:120]!r}: {exc}") from None
    options = parse_options(url, OPTIONS, EXAMPLE)
    if parts.netloc and parts.path:
        raise PrinterURLError(f"{url!r} has a host and a path; a device path needs three slashes, "
                              f"e.g. serial:///{parts.netloc}{parts.path}; forms: {FORMS}")
    name = unquote(parts.path or parts.netloc)
    if not name:
        raise PrinterURLError(f"{url!r} names no serial port; forms: {FORMS}")
    try:
        return serial_port_name(name, FORMS), options
    except ValueError as exc:
        raise PrinterURLError(f"bad serial printer address {url[:120]!r}: {exc}") from None


class SerialPrinter(Printer):
    """A printer on a serial port or pyserial URL handler."""

    def __init__(self, url: str) -> None:
        """Check url; the port is opened on first use."""
        if urlsplit(url).scheme.lower() not in ("serial",) and not url.lower().startswith("serial+"):
            raise PrinterURLError(f"not a serial printer URL: {url!r}; forms: {FORMS}")
        self.url = url
        self.port_name, options = _split(url)
        self.settings = _settings(url, options)
        if not url.lower().startswith("serial+"):
            self.settings.setdefault("exclusive", True)
        self.timeout = seconds(url, options, "timeout", 5.0, EXAMPLE)
        self.confirm = flag(url, options, "confirm", True, EXAMPLE)
        self._port: serial.SerialBase | None = None
        self._lock = threading.Lock()

    def _open(self) -> serial.SerialBase:
        if self._port is None:
            problem = None if "://" in self.port_name else character_device_problem(self.port_name)
            if problem:  # checked again here: pyserial would open any file it is given
                raise PrinterError(f"not sent — {problem}", retryable=False)
            try:
                self._port = serial.serial_for_url(self.port_name, timeout=0.05, write_timeout=self.timeout,
                                                   **self.settings)
            except (serial.SerialException, OSError, ValueError) as exc:
                raise PrinterError(f"cannot open serial port {self.port_name}: {exc} — is the printer's cable "
                                   "plugged in, and no other program using the port?") from exc
        return self._port

    def close(self) -> None:
        """Close the port (it is opened again on the next call)."""
        with self._lock:
            self._drop_port()

    def _drop_port(self) -> None:
        port, self._port = self._port, None
        if port is not None:
            try:
                port.close()
            except Exception:  # an unplugged adapter may fail to close; it is gone either way
                pass

    def _exchange(self, data: bytes) -> tuple[bytes, str]:
        """Write data (plus ~HS when confirming) and read the answer: (reply, "" or what went wrong)."""
        port = self._open()
        try:
            port.reset_input_buffer()          # an old, late answer must not pass for this one
            port.write(data + hs.QUERY if self.confirm else data)
            port.flush()
            if not self.confirm:
                return b"", ""
            deadline = time.monotonic() + self.timeout
            reply = b""
            while not hs.reply_complete(reply) and time.monotonic() < deadline:
                reply += port.read(port.in_waiting or 1)
            return reply, "" if hs.reply_complete(reply) else "timeout"
        except serial.SerialTimeoutException as exc:
            self._drop_port()
            raise PrinterError(f"printer on {self.port_name} stopped taking data for {self.timeout:g} s "
                               "(flow control: off, out of paper or busy); the job did not get through") from exc
        except (serial.SerialException, OSError) as exc:
            self._drop_port()
            raise PrinterError(f"serial port {self.port_name} failed: {exc} — was the cable unplugged?") from exc

    def send(self, data: bytes, *, preview: Preview | None = None) -> SendOutcome:
        """Write the job; with confirm, wait for the ~HS answer that proves the printer read it all (the
        outcome's status)."""
        data = bytes(data)
        with self._lock:
            reply, problem = self._exchange(data)
        if not self.confirm:
            return SendOutcome(len(data))
        if hs.STX not in reply:
            raise PrinterUnconfirmed(f"printer on {self.port_name} did not confirm the job within "
                                     f"{self.timeout:g} s (switched off?); it may or may not print — check "
                                     "before reprinting")
        return SendOutcome(len(data), hs.printer_status(self.url, reply))

    def status(self) -> PrinterStatus:
        """~HS over the port; no answer is OFFLINE (unknown or faulted); with confirm=0, unknown."""
        if not self.confirm:
            return PrinterStatus(self.url, known=False, detail="status queries are off (confirm=0)")
        with self._lock:
            try:
                reply, problem = self._exchange(b"")
            except PrinterError as exc:
                return PrinterStatus(self.url, (PrinterState.OFFLINE,), detail=str(exc))
        if hs.STX not in reply:
            return PrinterStatus(self.url, (PrinterState.OFFLINE,),
                                 detail=f"no answer to ~HS on {self.port_name} within {self.timeout:g} s "
                                        "(switched off, wrong baud rate, or faulted)")
        return hs.printer_status(self.url, reply)
