"""sim://NAME scanners: in-process scanners that tests and demos feed through the real framing path."""
from __future__ import annotations

import queue
import threading
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from devices.addresses import sim_name

from devices.scanners.base import (
    ScanCallback,
    ScanEvent,
    Scanner,
    ScannerError,
    ScannerURLError,
    StatusCallback,
    framer_from_options,
    parse_options,
)

EXAMPLE = "sim://dock-1?terminator=CR"
OPTIONS = {
    "terminator": "ANY (CR, LF or CRLF; default), CR, LF, CRLF, TAB, ETX, EOT or 0xNN",
    "max_length": "longest scan in bytes, default 4096",
}
READ_TIMEOUT = 0.1

_open: dict[str, SimScanner] = {}
_open_lock = threading.Lock()


@dataclass(eq=False)
class _Chunk:
    """Bytes injected as if they had arrived on the wire, with a signal for when they were delivered."""

    data: bytes
    done: threading.Event = field(default_factory=threading.Event)
    events: list[ScanEvent] = field(default_factory=list)
    delivered: bool = False


_UNPLUG = object()


class SimScanner(Scanner):
    """A simulated scanner, registered by name while started; its reader thread frames injected bytes."""

    def __init__(self, url: str, on_scan: ScanCallback, on_status: StatusCallback | None = None) -> None:
        """Parse sim://NAME[?terminator=..&max_length=..]."""
        parts = urlsplit(url)
        if not parts.netloc or parts.path not in ("", "/"):
            raise ScannerURLError(f"{url!r} is not a simulated scanner URL; expected sim://NAME, e.g. {EXAMPLE}")
        try:
            name = sim_name(url, EXAMPLE)
        except ValueError as exc:
            raise ScannerURLError(str(exc)) from None
        options = parse_options(url, OPTIONS, EXAMPLE)
        super().__init__(url, framer_from_options(url, options, EXAMPLE), on_scan, on_status)
        self.name = name
        self._queue: queue.Queue[object] = queue.Queue()
        self._current: _Chunk | None = None

    def start(self) -> SimScanner:
        """Register the name, then start the reader; a name can be open only once at a time."""
        with _open_lock:
            other = _open.get(self.name)
            if other is not None and other is not self:
                raise ScannerError(f"sim://{self.name} is already open; stop it first or use another name")
            _open[self.name] = self
        try:
            super().start()
        except BaseException:
            self._unregister()
            raise
        return self

    def stop(self) -> None:
        """Unregister the name, stop the reader, and fail any inject still waiting."""
        self._unregister()
        super().stop()
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, _Chunk):
                item.done.set()

    def inject(self, data: bytes | str, *, terminate: bool = True, timeout: float | None = 5.0) -> list[ScanEvent]:
        """Send data (str as UTF-8) as the scanner would, plus its terminator; wait for and return its events."""
        if not self._registered():
            raise ScannerError(f"sim://{self.name} is not open (start it first)")
        payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
        if terminate:
            payload += self._framer.terminator or b"\r"
        if not payload:
            return []
        chunk = _Chunk(payload)
        self._queue.put(chunk)
        if timeout is None or threading.current_thread() is self._thread:
            return []
        if not chunk.done.wait(timeout):
            raise ScannerError(f"sim://{self.name}: scan not delivered within {timeout} s")
        if not chunk.delivered:
            raise ScannerError(f"sim://{self.name} was stopped before the scan was delivered")
        return chunk.events

    def unplug(self) -> None:
        """Simulate an unplug: the reader drops any partial scan, reports reconnecting, then reconnects."""
        self._queue.put(_UNPLUG)

    def _open(self) -> None:
        """Nothing to open: the queue is the wire."""

    def _read(self) -> bytes:
        """Take the next injected chunk, or b"" after the read timeout."""
        try:
            item = self._queue.get(timeout=READ_TIMEOUT)
        except queue.Empty:
            return b""
        if item is _UNPLUG:
            raise OSError(f"sim://{self.name} unplugged")
        assert isinstance(item, _Chunk)
        self._current = item
        return item.data

    def _close(self) -> None:
        """Nothing to close."""

    def _delivered(self, events: list[ScanEvent]) -> None:
        """Tell a waiting inject() that its chunk's events were delivered."""
        chunk, self._current = self._current, None
        if chunk is not None:
            chunk.events = events
            chunk.delivered = True
            chunk.done.set()

    def _registered(self) -> bool:
        """True while this scanner holds its name."""
        with _open_lock:
            return _open.get(self.name) is self

    def _unregister(self) -> None:
        """Release the name if this scanner holds it."""
        with _open_lock:
            if _open.get(self.name) is self:
                del _open[self.name]


def _get(name: str) -> SimScanner:
    """The open simulated scanner called name, or a clear error."""
    with _open_lock:
        scanner = _open.get(name)
        names = sorted(_open)
    if scanner is None:
        listed = ", ".join(f"sim://{n}" for n in names) or "none"
        raise ScannerError(f"no simulated scanner named {name!r} is open (open: {listed}); "
                           f"open one with open_scanner('sim://{name}', on_scan)")
    return scanner


def inject(name: str, data: bytes | str, *, terminate: bool = True, timeout: float | None = 5.0) -> list[ScanEvent]:
    """Inject a scan into the open sim://name scanner; see SimScanner.inject."""
    return _get(name).inject(data, terminate=terminate, timeout=timeout)


def unplug(name: str) -> None:
    """Simulate unplugging the open sim://name scanner; it reconnects by itself."""
    _get(name).unplug()


def open_names() -> list[str]:
    """Names of the simulated scanners open now."""
    with _open_lock:
        return sorted(_open)
