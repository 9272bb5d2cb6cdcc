"""Line framing for byte streams from scanners, separate from any transport."""
from __future__ import annotations

import re
from dataclasses import dataclass

GS = b"\x1d"
DEFAULT_MAX_LENGTH = 4096

# Terminator names accepted in URLs; ANY (the default) ends a frame at CR, LF or CRLF.
TERMINATORS: dict[str, bytes | None] = {
    "ANY": None,
    "CR": b"\r",
    "LF": b"\n",
    "CRLF": b"\r\n",
    "TAB": b"\t",
    "ETX": b"\x03",
    "EOT": b"\x04",
}


@dataclass(frozen=True)
class Frame:
    """One framed scan (terminator stripped), or a report of bytes that could not be framed."""

    raw: bytes
    error: str | None = None


def parse_terminator(spec: str) -> bytes | None:
    """Return the terminator bytes for a name (CR, LF, CRLF, TAB, ETX, EOT, ANY) or 0xNN; None means ANY."""
    name = spec.strip().upper()
    if name in TERMINATORS:
        return TERMINATORS[name]
    if re.fullmatch(r"0X[0-9A-F]{2}", name):
        value = bytes([int(name[2:], 16)])
        if value == GS:
            raise ValueError("terminator 0x1D is the GS1 group separator and must stay in the scan")
        return value
    raise ValueError(f"unknown terminator {spec!r}; use {', '.join(TERMINATORS)} or one byte as 0xNN")


def decode(raw: bytes) -> tuple[str | None, str | None]:
    """Decode raw scan bytes as UTF-8: (text, None), or (None, a message naming the first bad bytes)."""
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        return None, f"undecodable bytes at {exc.start}: {raw[exc.start:exc.end]!r}"


class LineFramer:
    """Split arbitrarily chunked bytes into frames at a terminator; empty frames are ignored."""

    def __init__(self, terminator: bytes | None = None, max_length: int = DEFAULT_MAX_LENGTH) -> None:
        """Frame at terminator (None: CR, LF or CRLF), capping a frame at max_length bytes."""
        if terminator == b"" or (terminator is not None and GS in terminator):
            raise ValueError("a terminator must be non-empty and must not contain GS (0x1D)")
        if max_length < 1:
            raise ValueError("max_length must be at least 1")
        self.terminator = terminator
        self.max_length = max_length
        self._pattern = re.compile(rb"[\r\n]" if terminator is None else re.escape(terminator))
        self._keep = 0 if terminator is None else len(terminator) - 1
        self._buffer = bytearray()
        self._dropping = False

    @property
    def pending(self) -> int:
        """Number of buffered bytes not yet framed."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[Frame]:
        """Add bytes and return the frames (and over-long reports) they complete, in order."""
        self._buffer += data
        frames: list[Frame] = []
        start = 0
        for match in self._pattern.finditer(self._buffer):
            body = bytes(self._buffer[start:match.start()])
            start = match.end()
            if self._dropping:
                self._dropping = False
            elif len(body) > self.max_length:
                frames.append(self._too_long(body))
            elif body:
                frames.append(Frame(body))
        del self._buffer[:start]
        if len(self._buffer) > self.max_length + self._keep:
            if not self._dropping:
                frames.append(self._too_long(bytes(self._buffer)))
                self._dropping = True
            # Keep only what could be the start of a split terminator.
            del self._buffer[:len(self._buffer) - self._keep]
        return frames

    def discard(self) -> bytes:
        """Drop the unterminated partial frame (e.g. on disconnect) and return its bytes."""
        partial = b"" if self._dropping else bytes(self._buffer)
        self._buffer.clear()
        self._dropping = False
        return partial

    def _too_long(self, body: bytes) -> Frame:
        """Report a frame longer than max_length, keeping its first max_length bytes."""
        return Frame(body[:self.max_length],
                     f"frame longer than {self.max_length} bytes without a terminator; dropped up to the next one")
