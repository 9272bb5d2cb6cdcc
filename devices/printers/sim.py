"""sim://NAME printers: spool each job to a folder, and can be put into any fault state by tests and demos.

A job is "printed" once its file is in the folder; given a preview, the job's PNG is written beside it
(``000001-123.zpl`` → ``000001-123.png``) for people looking at the folder instead of at labels.
"""
from __future__ import annotations

import itertools
import logging
import os
import tempfile
import threading
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from devices.addresses import sim_name
from devices.printers.base import (
    Printer,
    PrinterError,
    PrinterState,
    PrinterStatus,
    PrinterURLError,
    Preview,
    SendOutcome,
)

log = logging.getLogger(__name__)

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
    """Writes each job to SPOOL/NNNNNN-PID.zpl (and its preview to NNNNNN-PID.png)."""

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

    def status(self) -> PrinterStatus:
        with _lock:
            problems = _faults.get(self.name, ())
        return PrinterStatus(self.url, problems, detail="simulated")

    def send(self, data: bytes, *, preview: Preview | None = None) -> SendOutcome:
        status = self.status()
        if not status.can_print:
            raise PrinterError(status.text)
        data = bytes(data)
        self.spool.mkdir(parents=True, exist_ok=True)
        path = self.spool / f"{next(_counter):06d}-{os.getpid()}.zpl"
        tmp = path.with_suffix(".part")
        tmp.write_bytes(data)
        tmp.replace(path)  # a reader of the spool never sees half a job
        return SendOutcome(len(data), status, printed=True, preview_path=_write_preview(path, preview))


def _write_preview(path: Path, preview: Preview | None) -> Path | None:
    """The job's PNG beside its file; None when there is none. The job is spooled either way: a preview
    that cannot be drawn must never fail it."""
    if preview is None:
        return None
    try:
        png = preview()
    except Exception:  # noqa: BLE001 - see above
        log.exception("sim printer: no preview for %s", path.name)
        return None
    target = path.with_suffix(".png")
    tmp = path.with_suffix(".png.part")
    tmp.write_bytes(png)
    tmp.replace(target)
    return target
