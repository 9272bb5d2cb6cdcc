"""Printers chosen by URL; each takes bytes and reports a PrinterStatus.

URL forms:
    tcp://HOST:9100?timeout=5         a networked Zebra (raw socket; status by ~HS)
    cups://QUEUE                      a CUPS raw queue (or the Windows spooler), through the `zebra` package
    file:///dev/usb/lp0               a USB printer device file
    serial:///dev/ttyUSB0?baudrate=9600
    sim://NAME                        simulated: each job is written to spool_root/NAME (default: a temp folder)

What an address may name on this computer (device files, pyserial handlers, simulated names) is
checked by devices.addresses; which network hosts are allowed is the application's policy.

    with open_printer("tcp://10.0.0.5:9100") as printer:
        if printer.status().can_print:
            outcome = printer.send(zpl_bytes)    # SendOutcome: bytes sent, the status after it...
"""
from __future__ import annotations

import importlib
from pathlib import Path
from urllib.parse import urlsplit

from devices.printers.base import (
    STATE_TEXT,
    Printer,
    PrinterError,
    PrinterState,
    PrinterStatus,
    PrinterUnconfirmed,
    PrinterURLError,
    Preview,
    SendOutcome,
    state_text,
)

__all__ = [
    "BACKENDS", "STATE_TEXT", "Printer", "PrinterError", "PrinterState", "PrinterStatus", "PrinterUnconfirmed",
    "PrinterURLError", "Preview", "SendOutcome", "open_printer", "state_text",
]

# Scheme -> (module:class, example URL). Imported on first use, so a missing optional package only
# matters to the printers that need it.
BACKENDS: dict[str, tuple[str, str]] = {
    "tcp": ("devices.printers.tcp:TcpPrinter", "tcp://HOST:9100?timeout=5"),
    "cups": ("devices.printers.cups:CupsPrinter", "cups://QUEUE"),
    "file": ("devices.printers.file:FilePrinter", "file:///dev/usb/lp0"),
    "serial": ("devices.printers.serialport:SerialPrinter",
               "serial:///dev/ttyUSB0?baudrate=9600 (or serial+socket://HOST:PORT)"),
    "sim": ("devices.printers.sim:SimPrinter", "sim://NAME"),
}


def open_printer(url: str, *, spool_root: Path | None = None) -> Printer:
    """Build the printer for url; raise PrinterURLError naming the expected forms when it cannot.

    spool_root is where sim:// printers write their jobs (one folder per name; the URL cannot choose it).
    """
    scheme = urlsplit(url).scheme.lower() if "://" in url else ""
    if scheme.startswith("serial+"):
        scheme = "serial"    # a pyserial URL handler (serial+socket://, serial+rfc2217://...)
    if scheme not in BACKENDS:
        expected = "; ".join(example for _, example in BACKENDS.values())
        raise PrinterURLError(f"unknown printer URL {url!r}; expected one of: {expected}")
    module_name, class_name = BACKENDS[scheme][0].split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise PrinterError(f"{scheme}:// printers need the {exc.name!r} package: {exc}", retryable=False) from exc
    cls = getattr(module, class_name)
    return cls(url, spool_root=spool_root) if scheme == "sim" else cls(url)
