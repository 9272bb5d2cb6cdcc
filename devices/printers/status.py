"""Zebra host status (~HS): read a printer's answer into a PrinterStatus, and build one (for the emulator).

The answer is three frames, each STX fields ETX CR LF (ZPL II manual, ~HS):

    1  aaa,b,c,dddd,eee,f,g,h,iii,j,k,l   aaa interface settings, b paper out, c paused, dddd label length in
                                          dots, eee formats in the receive buffer, f buffer full, g diagnostic
                                          mode, h partial format, iii unused, j corrupt RAM, k under temperature,
                                          l over temperature
    2  mmm,n,o,p,q,r,s,t,uuuuuuuu,v,www   mmm function settings, n unused, o head up, p ribbon out, q thermal
                                          transfer, r print mode, s print width mode, t label waiting,
                                          uuuuuuuu labels remaining in the batch, v format while printing,
                                          www graphics stored
    3  xxxx,y                             xxxx password, y static RAM installed

Parsing and building live in one module so that the emulator answers exactly what the parser reads.
A reader never raises on what a printer sent: garbage or a cut-off answer becomes a status whose detail
says what was wrong, because a status query must not crash the worker that asked it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, fields

from devices.printers.base import PrinterState, PrinterStatus

STX, ETX = b"\x02", b"\x03"
QUERY = b"~HS"

_FRAME = re.compile(rb"\x02([^\x02\x03]*)\x03")
_LINE_FIELDS = (12, 11, 2)   # fields per line, see the module docstring
_SHOWN = 160                 # bytes of a bad answer quoted in a detail


@dataclass(frozen=True)
class HostStatus:
    """The fields of a ~HS answer that a station can act on, with the values of an idle, ready printer."""

    # line 1
    interface: int = 30          # aaa: the printer's serial settings, reported as-is
    paper_out: bool = False
    paused: bool = False
    label_length: int = 1218     # dots (6 in at 203 dpi)
    formats_in_buffer: int = 0
    buffer_full: bool = False
    partial_format: bool = False
    under_temperature: bool = False
    over_temperature: bool = False
    # line 2
    head_open: bool = False
    ribbon_out: bool = False
    thermal_transfer: bool = False
    print_mode: int = 0          # 0 tear-off... as the printer reports it
    label_waiting: bool = False
    labels_remaining: int = 0
    # line 3
    password: int = 1234

    @property
    def problems(self) -> tuple[PrinterState, ...]:
        """The PrinterStates these flags mean, in PrinterState order (worst first)."""
        found = {
            PrinterState.HEAD_OPEN: self.head_open,
            PrinterState.PAPER_OUT: self.paper_out,
            PrinterState.RIBBON_OUT: self.ribbon_out,
            PrinterState.PAUSED: self.paused,
            PrinterState.BUFFER_FULL: self.buffer_full,
        }
        return tuple(state for state in PrinterState if found.get(state))

    def summary(self) -> str:
        """The flags in words, e.g. 'paper out, paused; 2 formats in buffer'."""
        words = [name for name, on in (
            ("paper out", self.paper_out), ("paused", self.paused), ("head open", self.head_open),
            ("ribbon out", self.ribbon_out), ("buffer full", self.buffer_full),
            ("head too cold", self.under_temperature), ("head too hot", self.over_temperature),
            ("partial format", self.partial_format), ("label waiting to be taken", self.label_waiting),
        ) if on]
        text = ", ".join(words) or "ready"
        if self.formats_in_buffer:
            text += f"; {self.formats_in_buffer} format{'s' if self.formats_in_buffer != 1 else ''} in buffer"
        if self.labels_remaining:
            text += f"; {self.labels_remaining} label{'s' if self.labels_remaining != 1 else ''} to print"
        return text

    def to_bytes(self) -> bytes:
        """The three framed lines a printer in this state sends in answer to ~HS."""
        lines = (
            f"{self.interface:03d},{int(self.paper_out)},{int(self.paused)},{self.label_length:04d},"
            f"{min(self.formats_in_buffer, 999):03d},{int(self.buffer_full)},0,{int(self.partial_format)},000,0,"
            f"{int(self.under_temperature)},{int(self.over_temperature)}",
            f"001,0,{int(self.head_open)},{int(self.ribbon_out)},{int(self.thermal_transfer)},{self.print_mode},6,"
            f"{int(self.label_waiting)},{min(self.labels_remaining, 99_999_999):08d},1,000",
            f"{self.password:04d},0",
        )
        return b"".join(STX + line.encode("ascii") + ETX + b"\r\n" for line in lines)


# Which HostStatus field each position of each line fills (None: read, checked, not kept).
_LAYOUT: tuple[tuple[str | None, ...], ...] = (
    ("interface", "paper_out", "paused", "label_length", "formats_in_buffer", "buffer_full", None,
     "partial_format", None, None, "under_temperature", "over_temperature"),
    (None, None, "head_open", "ribbon_out", "thermal_transfer", "print_mode", None, "label_waiting",
     "labels_remaining", None, None),
    ("password", None),
)
_BOOL_FIELDS = {f.name for f in fields(HostStatus) if f.type in ("bool", bool)}


def frames(reply: bytes) -> list[bytes]:
    """The contents of each complete STX…ETX frame in reply, in order (bytes outside frames are ignored)."""
    return _FRAME.findall(reply)


def reply_complete(reply: bytes) -> bool:
    """True once reply holds the three frames of a ~HS answer (transports read until this or a timeout)."""
    return len(frames(reply)) >= len(_LINE_FIELDS)


def decode(reply: bytes) -> tuple[HostStatus, int, list[str]]:
    """Read what can be read: (fields from every good line, number of good lines, what was wrong in words).

    Lines are read independently, so a printer that sent line 1 (paper out, paused) but not line 2 still
    reports what line 1 says; fields of a missing or bad line keep their ready defaults.
    """
    values: dict[str, int | bool] = {}
    errors: list[str] = []
    good = 0
    found = frames(reply)
    if not found:
        errors.append("no STX…ETX frame" if reply.strip() else "empty answer")
    elif len(found) < len(_LINE_FIELDS):
        errors.append(f"only {len(found)} of 3 lines")
    elif len(found) > len(_LINE_FIELDS):
        errors.append(f"{len(found)} lines instead of 3 (two answers run together?)")
    for number, (frame, layout) in enumerate(zip(found, _LAYOUT), start=1):
        parts = frame.split(b",")
        if len(parts) != len(layout):
            errors.append(f"line {number} has {len(parts)} fields, expected {len(layout)}")
            continue
        if not all(p.strip().isdigit() for p in parts):
            errors.append(f"line {number} has a field that is not a number")
            continue
        for name, part in zip(layout, parts):
            if name is not None:
                number_value = int(part)
                values[name] = bool(number_value) if name in _BOOL_FIELDS else number_value
        good += 1
    return HostStatus(**values), good, errors  # type: ignore[arg-type]


def parse(reply: bytes) -> HostStatus:
    """The HostStatus of a complete, well-formed answer; ValueError saying what is wrong otherwise."""
    status, good, errors = decode(reply)
    if errors or good != len(_LINE_FIELDS):
        raise ValueError(f"not a ~HS answer ({'; '.join(errors)}): {show(reply)}")
    return status


def printer_status(url: str, reply: bytes) -> PrinterStatus:
    """The PrinterStatus a ~HS answer means; never raises.

    A complete answer is known (READY when no flag is set). A garbled or partial one is not known, but any
    fault flag read from a good line is still reported, and the detail says what was wrong.
    """
    status, good, errors = decode(reply)
    if not errors:
        return PrinterStatus(url, status.problems, detail=f"~HS: {status.summary()}",
                             formats_in_buffer=status.formats_in_buffer, labels_remaining=status.labels_remaining)
    read = f"; the readable part says: {status.summary()}" if good else ""
    return PrinterStatus(url, status.problems, known=False,
                         detail=f"~HS answer not understood ({'; '.join(errors)}){read}: {show(reply)}")


def show(data: bytes) -> str:
    """data as a short printable repr for a detail or an error message."""
    text = repr(data[:_SHOWN])
    return text + (f" … ({len(data)} bytes)" if len(data) > _SHOWN else "")
