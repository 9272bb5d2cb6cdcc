"""sim://NAME printers: spool each job to a folder, and can be put into any fault state by tests and demos."""
from __future__ import annotations

import itertools
import os
import tempfile
import threading
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from devices.printers.base import Printer, PrinterError, PrinterState, PrinterStatus, PrinterURLError

EXAMPLE = "sim://NAME or sim://NAME?spool=/path/to/folder"

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
        parts = urlsplit(url)
        options = dict(parse_qsl(parts.query))
        unknown = set(options) - {"spool"}
        if not parts.netloc or parts.path not in ("", "/") or unknown:
            raise PrinterURLError(f"bad simulated printer URL {url!r}; expected {EXAMPLE}")
        self.url = url
        self.name = unquote(parts.netloc)
        root = Path(options["spool"]) if "spool" in options else (spool_root or default_spool_root()) / self.name
        self.spool = root
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
