"""The scanner interface: scan events, status, and the reader thread every backend shares."""
from __future__ import annotations

import enum
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlsplit

from devices.errors import DeviceError, DeviceURLError
from devices.scanners.framing import DEFAULT_MAX_LENGTH, Frame, LineFramer, decode, parse_terminator

log = logging.getLogger(__name__)


class ScannerError(DeviceError):
    """A scanner could not do what was asked."""


class ScannerURLError(ScannerError, DeviceURLError):
    """A scanner URL that cannot be used; the message names the expected URL form."""


@dataclass(frozen=True)
class ScanEvent:
    """One framed scan: the exact bytes, their UTF-8 text (or an error), where and when it arrived.

    complete is False for bytes that are not a whole scan (a partial frame cut by an unplug, an over-long
    frame): log them, never act on them. seq numbers a scanner's events 1, 2, 3... with no gaps.
    """

    raw: bytes
    text: str | None
    error: str | None
    source: str
    received_at: datetime
    monotonic: float
    seq: int
    complete: bool = True

    @property
    def ok(self) -> bool:
        """True when the scan framed and decoded cleanly (text is set, error is None)."""
        return self.error is None


class ScannerState(enum.StrEnum):
    """Where a scanner's reader is: connecting, connected, reconnecting or stopped."""

    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    STOPPED = "stopped"


@dataclass(frozen=True)
class ScannerStatus:
    """A snapshot of a scanner's state, ready for a status widget.

    disconnects counts lost connections (and a first open that failed); failed_opens and retry_in
    describe the current reconnect attempt: opens that failed since the loss, and the backoff delay now waited.
    """

    url: str
    state: ScannerState
    last_error: str | None = None
    changed_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    disconnects: int = 0
    failed_opens: int = 0
    retry_in: float | None = None


ScanCallback = Callable[[ScanEvent], None]
StatusCallback = Callable[[ScannerStatus], None]


def parse_options(url: str, allowed: dict[str, str], example: str) -> dict[str, str]:
    """Return the URL's query options, refusing unknown or repeated ones with the expected URL form."""
    options: dict[str, str] = {}
    for key, value in parse_qsl(urlsplit(url).query, keep_blank_values=True):
        if key not in allowed:
            known = ", ".join(f"{k} ({v})" for k, v in allowed.items())
            raise ScannerURLError(f"unknown option {key!r} in {url!r}; known options: {known}; e.g. {example}")
        if key in options:
            raise ScannerURLError(f"option {key!r} given twice in {url!r}; e.g. {example}")
        options[key] = value
    return options


def framer_from_options(url: str, options: dict[str, str], example: str) -> LineFramer:
    """Build the line framer from the terminator and max_length options."""
    try:
        terminator = parse_terminator(options.get("terminator", "ANY"))
        max_length = int(options.get("max_length", DEFAULT_MAX_LENGTH))
        return LineFramer(terminator, max_length)
    except ValueError as exc:
        raise ScannerURLError(f"{exc} in {url!r}; e.g. {example}") from None


class Scanner:
    """A scanner read by a background thread: frames bytes into ScanEvents and reconnects with backoff."""

    backoff_initial = 0.1
    backoff_max = 5.0
    join_timeout = 2.0

    def __init__(self, url: str, framer: LineFramer, on_scan: ScanCallback,
                 on_status: StatusCallback | None = None) -> None:
        """Set up a scanner for url; nothing is opened until start()."""
        self._url = url
        self._framer = framer
        self._on_scan = on_scan
        self._on_status = on_status
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._status = ScannerStatus(url, ScannerState.STOPPED)
        self._seq = 0
        self._bytes_received = 0

    # Transport: each backend implements these three; errors they raise mean "disconnected".
    def _open(self) -> None:
        """Open the transport."""
        raise NotImplementedError

    def _read(self) -> bytes:
        """Return the bytes available now, or b"" after a short timeout (at most ~0.1 s)."""
        raise NotImplementedError

    def _close(self) -> None:
        """Close the transport; must not raise."""
        raise NotImplementedError

    def _delivered(self, events: list[ScanEvent]) -> None:
        """Hook called on the reader thread after each chunk's events were delivered."""

    @property
    def url(self) -> str:
        """The URL this scanner was opened from."""
        return self._url

    @property
    def status(self) -> ScannerStatus:
        """The current status snapshot."""
        return self._status

    @property
    def bytes_received(self) -> int:
        """Total bytes read from the transport since start (for diagnostics)."""
        return self._bytes_received

    def start(self) -> Scanner:
        """Start the reader thread (no-op if running); a stopped scanner cannot be restarted."""
        with self._lock:
            if self._stop.is_set():
                raise ScannerError(f"scanner {self._url} was stopped; open a new one")
            if self._thread is not None:
                return self
            self._thread = threading.Thread(target=self._run, name=f"scanner {self._url}", daemon=True)
        self._set_status(ScannerState.CONNECTING)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the reader and wait for its thread to end; safe to call more than once."""
        with self._lock:
            if self._stop.is_set():
                return
            self._stop.set()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(self.join_timeout)
            if thread.is_alive():
                log.warning("scanner %s: reader thread did not stop within %.1f s", self._url, self.join_timeout)
        self._set_status(ScannerState.STOPPED, self._status.last_error)

    def __enter__(self) -> Scanner:
        """Start on entering a with block."""
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        """Stop on leaving a with block."""
        self.stop()

    def __repr__(self) -> str:
        """Show the URL and state."""
        return f"<{type(self).__name__} {self._url} {self._status.state}>"

    def _run(self) -> None:
        """Reader loop: open, read and frame until stopped; on any transport error reconnect with backoff."""
        delay = self.backoff_initial
        while not self._stop.is_set():
            try:
                self._open()
            except Exception as exc:  # any failure to open means "try again later"
                failed = self._status.failed_opens + 1 if self._status.state == ScannerState.RECONNECTING else 1
                self._set_status(ScannerState.RECONNECTING, _describe(exc), failed_opens=failed, retry_in=delay)
                if self._stop.wait(delay):
                    break
                delay = min(delay * 2, self.backoff_max)
                continue
            self._set_status(ScannerState.CONNECTED, self._status.last_error)
            lost: str | None = None
            connected_at = time.monotonic()
            got_data = False
            try:
                while not self._stop.is_set():
                    chunk = self._read()
                    if chunk:
                        got_data = True
                        self._bytes_received += len(chunk)
                        self._deliver(self._framer.feed(chunk))
            except Exception as exc:  # unplug, I/O error: never fatal
                lost = _describe(exc)
                self._drop_partial("disconnect")
            finally:
                self._close()
            if got_data or time.monotonic() - connected_at >= self.backoff_max:
                delay = self.backoff_initial
            if lost is not None:
                self._set_status(ScannerState.RECONNECTING, lost, retry_in=delay)
            if self._stop.wait(delay):
                break
            delay = min(delay * 2, self.backoff_max)
        self._drop_partial("stop")

    def _drop_partial(self, why: str) -> None:
        """Discard an unterminated partial frame, which cannot be trusted, and report it."""
        partial = self._framer.discard()
        if partial:
            message = f"partial scan discarded on {why}: {len(partial)} bytes without a terminator"
            self._deliver([Frame(partial, message)])

    def _deliver(self, frames: list[Frame]) -> None:
        """Turn frames into ScanEvents and hand each to on_scan; a failing callback is logged, not fatal."""
        events: list[ScanEvent] = []
        # Every frame of one read arrived together: stamped once, before any on_scan runs, so a slow consumer
        # (a database write) cannot push a double read's second frame out of the bounce window.
        received_at, received_mono = datetime.now(UTC), time.monotonic()
        for frame in frames:
            text, error = (None, frame.error) if frame.error else decode(frame.raw)
            self._seq += 1
            event = ScanEvent(frame.raw, text, error, self._url, received_at, received_mono, self._seq,
                              complete=frame.error is None)
            events.append(event)
            try:
                self._on_scan(event)
            except Exception:  # a consumer bug must not stop the scanner
                log.exception("scanner %s: on_scan failed for scan #%d", self._url, event.seq)
        self._delivered(events)

    def _set_status(self, state: ScannerState, error: str | None = None, *,
                    failed_opens: int = 0, retry_in: float | None = None) -> None:
        """Record a new status and tell on_status."""
        with self._lock:
            old = self._status
            lost = state == ScannerState.RECONNECTING and old.state != ScannerState.RECONNECTING
            status = ScannerStatus(self._url, state, error, datetime.now(UTC),
                                   old.disconnects + int(lost), failed_opens, retry_in)
            if self._stop.is_set() and (state != ScannerState.STOPPED or old.state == ScannerState.STOPPED):
                return  # once stop() is called, the only change left is the one to STOPPED
            self._status = status
        if self._on_status is not None:
            try:
                self._on_status(status)
            except Exception:  # a consumer bug must not stop the scanner
                log.exception("scanner %s: on_status failed", self._url)


def _describe(exc: BaseException) -> str:
    """A short, human-readable description of an exception."""
    text = str(exc) or type(exc).__name__
    return text if text.startswith(type(exc).__name__) else f"{type(exc).__name__}: {text}"
