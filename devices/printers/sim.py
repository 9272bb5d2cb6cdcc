"""sim://NAME printers: spool each job to a folder, and can be put into any fault state by tests and demos."""
from __future__ import annotations

import itertools
import os
import tempfile
import threading
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from devices.addresses import sim_name
from devices.printers.base import Printer, PrinterError, PrinterState, PrinterStatus, PrinterURLError

EXAMPLE = "sim://NAME (NAME: letters, digits, _ and -)"

# Fault states by printer name, shared by every SimPrinter of that name in this process.
_faults: dict[str, tuple[PrinterState, ...]] = {}
_lock = threading.Lock()
_counter = itertools.count(1)


def set_state(name: str, *problems: PrinterState) -> None:
    """Put the simulated printer NAME into these fault states (none = ready)."""
    with _lock:
        _faults[name] = tuple(problems)


def default_spool_root() -> Path:
    return Path(tempfile.gettempdir()) / "station-sim-printers"


class SimPrinter(Printer):
    """Writes each job to SPOOL/NNNNNN-PID.zpl; `last_path` names the last file written."""

    def __init__(self, url: str, *, spool_root: Path | None = None) -> None:
        """Check url (sim://NAME, nothing more); jobs go to spool_root/NAME, never to a folder the URL names."""
        parts = urlsplit(url)
        if parts.query:
            options = ", ".join(sorted({k for k, _ in parse_qsl(parts.query, keep_blank_values=True)})) or parts.query
            raise PrinterURLError(f"bad simulated printer URL {url[:120]!r}: it takes no options ({options[:60]}); "
                                  f"its jobs are kept in the printers folder under the instance folder; "
                                  f"expected {EXAMPLE}")
        try:
            self.name = sim_name(url, EXAMPLE)
        except ValueError as exc:
            raise PrinterURLError(str(exc)) from None
        self.url = url
        self.spool = (spool_root or default_spool_root()) / self.name
        self.last_path: Path | None = None

    def status(self) -> PrinterStatus:
        with _lock:
            problems = _faults.get(self.name, ())
        return PrinterStatus(self.url, problems, detail="simulated")

    def send(self, data: bytes) -> None:
        status = self.status()
        if not status.can_print:
            raise PrinterError(status.text)
        self.spool.mkdir(parents=True, exist_ok=True)
        path = self.spool / f"{next(_counter):06d}-{os.getpid()}.zpl"
        tmp = path.with_suffix(".part")
        tmp.write_bytes(data)
        tmp.replace(path)  # a reader of the spool never sees half a job
        self.last_path = path
