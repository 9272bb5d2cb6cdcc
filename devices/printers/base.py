"""The printer interface: a printer takes bytes and reports its state; nothing here knows about labels."""
from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Callable

from devices.errors import DeviceError, DeviceURLError


class PrinterError(DeviceError):
    """A printer could not take a job. retryable is True for faults that may clear (offline, paper out...)."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class PrinterUnconfirmed(PrinterError):
    """The whole job was handed over but the printer never confirmed it: it may or may not print.

    Not retryable by default: a printer that stops answering while faulted still prints the job when the
    fault clears, so sending it again could print it twice. Show the reason; let a person reprint.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


class PrinterURLError(PrinterError, DeviceURLError):
    """A printer URL that cannot be used; the message names the expected URL form."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


class PrinterState(enum.StrEnum):
    """What a printer is doing, worst first when several apply (see PrinterStatus.state)."""

    OFFLINE = "offline"          # no connection, or no answer to a status query
    HEAD_OPEN = "head_open"
    PAPER_OUT = "paper_out"
    RIBBON_OUT = "ribbon_out"
    PAUSED = "paused"
    BUFFER_FULL = "buffer_full"
    UNKNOWN = "unknown"          # the transport cannot report status (CUPS, a plain device file)
    READY = "ready"


# Words a warehouse worker understands, for each state.
STATE_TEXT: dict[PrinterState, str] = {
    PrinterState.OFFLINE: "Printer offline — check power and network",
    PrinterState.HEAD_OPEN: "Printer head is open — close it",
    PrinterState.PAPER_OUT: "Printer is out of labels — load a roll",
    PrinterState.RIBBON_OUT: "Printer is out of ribbon — replace it",
    PrinterState.PAUSED: "Printer is paused — press the pause button",
    PrinterState.BUFFER_FULL: "Printer is busy — its buffer is full",
    PrinterState.UNKNOWN: "Printer status unknown",
    PrinterState.READY: "Ready",
}


def state_text(state: str) -> str:
    """The words for a stored state value; the value itself when it is no state we know."""
    try:
        return STATE_TEXT[PrinterState(state)]
    except ValueError:
        return state


@dataclass(frozen=True)
class PrinterStatus:
    """A snapshot of a printer's state: every problem seen, and the one that matters most as `state`."""

    url: str
    problems: tuple[PrinterState, ...] = ()   # empty = ready (or unknown, see `known`)
    known: bool = True                        # False when the transport cannot ask the printer
    detail: str = ""                          # e.g. the raw ~HS answer or the connection error
    checked_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    # The printer's own counters from a complete ~HS answer (None: not read): formats received and not yet
    # printed, and labels still to print. The print worker confirms a job printed by them.
    formats_in_buffer: int | None = None
    labels_remaining: int | None = None

    @property
    def counted(self) -> bool:
        """True when the printer answered with its buffer counters (a complete ~HS answer)."""
        return self.known and self.formats_in_buffer is not None and self.labels_remaining is not None

    @property
    def holding(self) -> bool:
        """True when the printer answered but cannot print what it holds (paper out, head open, paused...)."""
        return bool(self.problems) and PrinterState.OFFLINE not in self.problems

    @property
    def state(self) -> PrinterState:
        """The worst problem, READY when there is none, UNKNOWN when the printer cannot be asked."""
        if self.problems:
            return min(self.problems, key=list(PrinterState).index)
        return PrinterState.READY if self.known else PrinterState.UNKNOWN

    @property
    def can_print(self) -> bool:
        """True when a job sent now should print: ready, or a transport that cannot tell (UNKNOWN)."""
        return not self.problems

    @property
    def text(self) -> str:
        """The state in words for the printers page and a job's failure reason."""
        return STATE_TEXT[self.state]


@dataclass(frozen=True)
class SendOutcome:
    """What send() did with a job the printer took (a job it did not take raises PrinterError instead).

    The print worker records it, so what a backend learned while sending (the printer's answer, a spool
    file, a preview) reaches the job and the printer's row without the worker knowing the backend.
    """

    bytes_sent: int                       # all of the job: send() never returns on a part of it
    # The printer's answer right after the job (tcp:// and serial:// ask ~HS on the same line), None when the
    # transport cannot ask. A fault here means the job waits in the printer's buffer and prints when it clears.
    status: PrinterStatus | None = None
    printed: bool = False                 # delivery is printing: sim:// wrote the job where people look
    preview_path: Path | None = None      # a PNG of the job the backend wrote beside it (sim://), else None


# A job's preview as PNG bytes, drawn only by a backend that shows what it printed (sim://).
Preview = Callable[[], bytes]


class Printer(ABC):
    """One printer. send() delivers a whole job or raises PrinterError; status() never raises.

    confirms says what a delivered job means: True when the printer can tell that a job printed (tcp://
    reports its buffer counters after each job, sim:// has written the job and its preview); False when
    delivery is the last thing known (a spooler or a device file: 'sent').
    """

    url: str
    confirms: bool = False

    @abstractmethod
    def send(self, data: bytes, *, preview: Preview | None = None) -> SendOutcome:
        """Deliver data (one or more ZPL formats) to the printer and say what happened; raise PrinterError
        when it was not delivered. preview draws the job as a PNG, for a printer that keeps one (sim://);
        the others never call it, so a real printer's job costs no rendering."""

    @abstractmethod
    def status(self) -> PrinterStatus:
        """Ask the printer how it is; a transport that cannot ask returns PrinterStatus(known=False)."""

    def close(self) -> None:  # noqa: B027 - most backends hold nothing open between jobs
        """Release the connection, if the backend keeps one."""

    def __enter__(self) -> Printer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
