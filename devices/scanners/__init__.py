"""Scanners chosen by URL, each read by a background thread that frames bytes into ScanEvents.

URL forms (options are checked; an unknown one is an error that shows the expected form):
    serial:///dev/ttyACM0?baudrate=9600&terminator=CR     a USB CDC-ACM or RS-232 scanner (pyserial)
    serial:///dev/serial/by-id/usb-...-if00                 by-id names are used as-is, so a replug is found
    serial://COM3?baudrate=9600                             Windows
    serial+socket://HOST:PORT, serial+rfc2217://HOST:PORT   pyserial's network handlers (serial+loop:// for tests);
                                                            no other handler, no option handed on to pyserial
    sim://NAME                                              simulated (NAME: A-Z a-z 0-9 _ -); feed it with
                                                            devices.scanners.sim.inject
What an address may name on this computer is checked by devices.addresses; which network hosts are
allowed is the application's policy.
Options: terminator = ANY (CR, LF or CRLF; default) | CR | LF | CRLF | TAB | ETX | EOT | 0xNN (never 0x1D),
max_length (default 4096), and for serial: baudrate, bytesize, parity, stopbits, rtscts, xonxoff, dsrdtr,
exclusive (default 1: the port is locked, so a second reader waits as a standby).

    with open_scanner("serial:///dev/ttyACM0?terminator=CR", on_scan, on_status) as scanner:
        ...

on_scan(ScanEvent) and on_status(ScannerStatus) run on the scanner's reader thread: keep them short.
A lost device is reopened with backoff (0.1 s doubling to 5 s) until stop(); nothing framed is lost.
"""
from __future__ import annotations

import importlib
from urllib.parse import urlsplit

from devices.scanners.base import (
    ScanCallback,
    ScanEvent,
    Scanner,
    ScannerError,
    ScannerState,
    ScannerStatus,
    ScannerURLError,
    StatusCallback,
)
from devices.scanners.framing import Frame, LineFramer, decode, parse_terminator

__all__ = [
    "BACKENDS", "Frame", "LineFramer", "ScanEvent", "Scanner", "ScannerError", "ScannerState",
    "ScannerStatus", "ScannerURLError", "decode", "open_scanner", "parse_terminator",
]

# Scheme -> (module:class, example URL, what to install if the module's import fails). Imported on first use.
BACKENDS: dict[str, tuple[str, str, str]] = {
    "serial": ("devices.scanners.serialport:SerialScanner",
               "serial:///dev/ttyACM0?baudrate=9600&terminator=CR (or serial+socket://HOST:PORT)", "pyserial==3.5"),
    "sim": ("devices.scanners.sim:SimScanner", "sim://NAME", ""),
}


def open_scanner(url: str, on_scan: ScanCallback, on_status: StatusCallback | None = None,
                 *, start: bool = True) -> Scanner:
    """Build the scanner for url and (unless start=False) start its reader thread."""
    scheme = urlsplit(url).scheme.lower() if "://" in url else ""
    family = scheme.split("+", 1)[0]
    if family not in BACKENDS or (scheme != family and family != "serial"):
        expected = "; ".join(example for _, example, _ in BACKENDS.values())
        hint = f" (a serial device is written serial://{url})" if url.startswith("/") else ""
        raise ScannerURLError(f"unknown scanner URL {url!r}{hint}; expected one of: {expected}")
    target, _, requirement = BACKENDS[family]
    module_name, class_name = target.split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ScannerError(f"{family}:// scanners need {requirement or exc.name}: {exc}") from exc
    scanner: Scanner = getattr(module, class_name)(url, on_scan, on_status)
    return scanner.start() if start else scanner
