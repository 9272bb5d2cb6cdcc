"""serial:// scanners: USB CDC-ACM and RS-232 scanners (and pyserial URL handlers) read with pyserial."""
from __future__ import annotations

from urllib.parse import unquote, urlsplit

import serial

from devices.addresses import character_device_problem, pyserial_handler_url, serial_port_name
from devices.scanners.base import (
    ScannerError,
    ScanCallback,
    Scanner,
    ScannerURLError,
    StatusCallback,
    framer_from_options,
    parse_options,
)
from devices.serialsettings import SERIAL_OPTIONS, pyserial_settings

EXAMPLE = "serial:///dev/ttyACM0?baudrate=9600&terminator=CR"
FORMS = (f"{EXAMPLE}, serial:///dev/serial/by-id/NAME, serial://COM3?baudrate=9600, "
         "serial+socket://HOST:PORT or serial+rfc2217://HOST:PORT")

OPTIONS = {
    **SERIAL_OPTIONS,
    "terminator": "ANY (CR, LF or CRLF; default), CR, LF, CRLF, TAB, ETX, EOT or 0xNN",
    "max_length": "longest scan in bytes, default 4096",
}

READ_TIMEOUT = 0.1


def _settings(url: str, options: dict[str, str]) -> dict[str, object]:
    """Turn URL options into pyserial keyword arguments, refusing bad values."""
    try:
        return pyserial_settings(options)
    except ValueError as exc:
        raise ScannerURLError(f"bad serial option value in {url!r}: {exc}; options: "
                              + ", ".join(f"{k} ({v})" for k, v in OPTIONS.items()) + f"; e.g. {EXAMPLE}") from None


def _port_name(url: str) -> str:
    """Return the pyserial port name or URL that a plain serial:// scanner URL points at."""
    parts = urlsplit(url)
    if parts.netloc and parts.path:
        raise ScannerURLError(f"{url!r} has a host and a path; a device path needs three slashes, "
                              f"e.g. serial:///{parts.netloc}{parts.path}; forms: {FORMS}")
    name = unquote(parts.path or parts.netloc)
    if not name:
        raise ScannerURLError(f"{url!r} names no serial port; forms: {FORMS}")
    try:
        return serial_port_name(name, FORMS)
    except ValueError as exc:
        raise ScannerURLError(f"bad serial scanner address {url[:120]!r}: {exc}") from None


class SerialScanner(Scanner):
    """A scanner on a serial port; reopens the same path (e.g. /dev/serial/by-id/...) after an unplug."""

    def __init__(self, url: str, on_scan: ScanCallback, on_status: StatusCallback | None = None) -> None:
        """Parse and check url; the port is opened by the reader thread."""
        handler = urlsplit(url).scheme.lower().startswith("serial+")
        if handler:
            try:
                port_name, options = pyserial_handler_url(url, OPTIONS, FORMS)
            except ValueError as exc:
                raise ScannerURLError(f"bad serial scanner address {url[:120]!r}: {exc}") from None
        else:
            options = parse_options(url, OPTIONS, EXAMPLE)
            port_name = _port_name(url)
        super().__init__(url, framer_from_options(url, options, EXAMPLE), on_scan, on_status)
        self.port_name = port_name
        self.settings = _settings(url, options)
        if not handler:
            self.settings.setdefault("exclusive", True)
        self._port: serial.SerialBase | None = None

    def _open(self) -> None:
        """Open the port with the configured settings and a short read timeout (a device path only when
        it is a character device: pyserial would open any file it is given)."""
        problem = None if "://" in self.port_name else character_device_problem(self.port_name)
        if problem:
            raise ScannerError(problem)
        self._port = serial.serial_for_url(self.port_name, timeout=READ_TIMEOUT, **self.settings)

    def _read(self) -> bytes:
        """Read what is waiting, or wait up to the read timeout for one byte."""
        assert self._port is not None
        return self._port.read(self._port.in_waiting or 1)

    def _close(self) -> None:
        """Close the port, ignoring errors from a device that is already gone."""
        port, self._port = self._port, None
        if port is not None:
            try:
                port.close()
            except Exception:  # an unplugged device may fail to close; it is gone either way
                pass
