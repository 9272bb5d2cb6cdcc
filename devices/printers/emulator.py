"""A printer emulator that listens on TCP like a networked Zebra, for tests, demos and benchmarks.

    with PrinterEmulator("127.0.0.1", 0, spool_dir) as emulator:     # port 0: any free port, see .port
        TcpPrinter(f"tcp://127.0.0.1:{emulator.port}").send(zpl)
        emulator.wait_for_jobs(1)

What it does, like the real thing:
- accepts several connections at once and several formats per connection; bytes outside ^XA…^XZ are
  commands: ~HS is answered in stream order (so its answer proves every byte before it was read), ~JA
  cancels every format not yet printed, anything else is ignored;
- every complete format goes into a receive buffer (buffer_size formats; when it is full the emulator
  stops reading, so the sender feels TCP back-pressure and ~HS reports "buffer full"); a print engine takes
  formats from the buffer, "prints" each with its ^PQ copies, stores it in the spool folder as
  NNNNNN.zpl and appends a line to jobs.jsonl (also in .jobs and GET /jobs);
- a format cut off by the end of a connection is discarded, never stored (a real printer drops it too).

Modes (set_mode(), the control endpoint, or `station printer-emulator --set-mode`):
    ready       prints everything as it arrives
    offline     refuses new connections and cuts open ones (printer unreachable); formats already in its
                buffer still print, as on a printer whose network cable was pulled
    paper_out, head_open, ribbon_out, paused
                still takes formats and answers ~HS with the fault flag set, but holds every format in the
                buffer, unprinted, until the mode is set back to ready (then they print, in order) — what a
                real printer does with jobs that arrive while it is faulted or paused
    slow        prints, but each label (each ^PQ copy) takes `delay` seconds
    drop        cuts every connection inside its first format (after at most `drop_after` bytes of it, with
                a TCP reset); that format is discarded. ~HS on a connection that sends no format is answered
    silent      prints, but never answers ~HS (some printers do not answer while faulted)
    power_cycle switched off and on again: cuts every connection, empties the receive buffer WITHOUT
                printing it (a real printer keeps no formats over a restart), refuses connections for
                `boot` seconds (1 s by default; a real Zebra takes 10-30 s), then comes back `ready`
                with an empty buffer; `power_cycles` and `lost` count them

~HS reports the receive buffer as a Zebra does: line 1 "formats in receive buffer" (formats received and not
yet printed; a format stays counted until its last ^PQ copy is out) and line 2 "labels remaining" (the
labels of those formats still to print). The print worker confirms a job printed by these counters.

Control endpoint (stdlib http.server on control_port; JSON answers):
    GET  /status            mode, buffer, counts, the ~HS answer as text
    GET  /jobs              every job printed since start
    GET  /jobs/<seq>        the bytes of one printed format
    POST /mode              {"mode": "paper_out"} (or mode=paper_out as a form or query); optional delay,
                            drop_after, boot (seconds a power_cycle keeps the printer off)
open_pty() also serves a pseudo-terminal, so serial:// and file:// printers can be tested against the same
emulator (there, drop discards the format and everything after it until the line is quiet).
"""
from __future__ import annotations

import errno
import json
import os
import re
import select
import signal
import socket
import struct
import threading
import time
import tty
import urllib.error
import urllib.request
from collections.abc import Callable
from collections import deque
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from devices.printers.status import HostStatus

MODES: dict[str, str] = {
    "ready": "prints everything as it arrives",
    "offline": "refuses connections, cuts open ones; its buffer still prints",
    "paper_out": "takes formats but holds them unprinted; ~HS says paper out",
    "head_open": "takes formats but holds them unprinted; ~HS says head up",
    "ribbon_out": "takes formats but holds them unprinted; ~HS says ribbon out",
    "paused": "takes formats but holds them until resumed (set back to ready); ~HS says paused",
    "slow": "prints, each label taking `delay` seconds",
    "drop": "cuts each connection inside its first format (after at most `drop_after` bytes); it is discarded",
    "silent": "prints, but never answers ~HS",
    "power_cycle": "switched off and on: cuts connections, loses its buffer unprinted, back `ready` after `boot` s",
}
HOLDING = frozenset({"paper_out", "head_open", "ribbon_out", "paused"})
JOIN_TIMEOUT = 5.0

_FORMAT_END = re.compile(rb"\^XZ", re.IGNORECASE)
_COPIES = re.compile(rb"\^PQ\s*(\d+)", re.IGNORECASE)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class ZplStream:
    """Splits a byte stream into complete formats (^XA…^XZ) and the tilde commands between them."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget everything fed so far, a format in progress included."""
        self._buf = b""
        self._in_format = False
        self._scanned = 3    # where the search for ^XZ goes on in a format (after its ^XA)

    @property
    def partial(self) -> bytes:
        """The bytes of a format begun but not finished (b"" between formats)."""
        return self._buf if self._in_format else b""

    def feed(self, data: bytes) -> list[tuple[str, bytes]]:
        """Events for the bytes so far, in order: ("format", bytes), ("query", b"~HS"), ("cancel", b"~JA")."""
        self._buf += data
        events: list[tuple[str, bytes]] = []
        while self._buf:
            if self._in_format:
                end = _FORMAT_END.search(self._buf, max(3, self._scanned - 2))
                if end is None:
                    self._scanned = len(self._buf)
                    break
                events.append(("format", self._buf[:end.end()]))
                self._buf = self._buf[end.end():]
                self._in_format = False
                continue
            starts = [i for i in (self._buf.find(b"^"), self._buf.find(b"~")) if i >= 0]
            if not starts:
                self._buf = b""          # whitespace or noise between formats
                break
            start = min(starts)
            if len(self._buf) - start < 3:
                self._buf = self._buf[start:]
                break
            command = self._buf[start:start + 3].upper()
            if command == b"^XA":
                self._buf, self._in_format, self._scanned = self._buf[start:], True, 3
            elif command in (b"~HS", b"~JA"):
                events.append(("query" if command == b"~HS" else "cancel", command))
                self._buf = self._buf[start + 3:]
            else:
                self._buf = self._buf[start + 1:]   # a command we do not emulate: skip it
        return events


def copies_of(fmt: bytes) -> int:
    """The label count a format asks for with ^PQ (1 without it)."""
    match = _COPIES.search(fmt)
    return max(1, int(match.group(1))) if match else 1


@dataclass(frozen=True)
class EmulatedJob:
    """One format the emulator printed: its file in the spool folder and what it asked for."""

    seq: int
    file: str           # name in the spool folder, e.g. 000001.zpl
    copies: int
    size: int           # bytes
    connection: int     # which connection brought it (1, 2, ... since start)
    received_at: str    # ISO times, UTC
    printed_at: str


@dataclass
class _Held:
    data: bytes
    copies: int
    connection: int
    received_at: str


class _Aborted(Exception):
    """The emulator cut this connection (drop mode, offline, stop)."""


class _TcpChannel:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def recv(self) -> bytes:
        try:
            return self.sock.recv(65536)
        except OSError:
            return b""

    def send(self, data: bytes) -> None:
        try:
            self.sock.sendall(data)
        except OSError:
            pass  # the client went away; its next read tells it

    def cut(self) -> None:
        """Wake the serving thread from another thread; it then closes the socket."""
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def abort(self) -> None:
        """Drop the connection with a TCP reset, like a link that failed (called by the serving thread)."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        raise _Aborted

    def close(self) -> None:
        self.sock.close()


class _PtyChannel:
    """The master side of a pseudo-terminal; the slave side is the 'serial port' a printer URL names."""

    def __init__(self, master: int, stopping: threading.Event) -> None:
        self.master = master
        self.stopping = stopping

    def recv(self) -> bytes:
        while not self.stopping.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if ready:
                try:
                    return os.read(self.master, 65536)
                except OSError:
                    return b""
        return b""

    def send(self, data: bytes) -> None:
        while data:
            data = data[os.write(self.master, data):]

    def cut(self) -> None:
        pass  # recv() wakes on `stopping` by itself

    def abort(self) -> None:
        """A serial line cannot be 'closed': swallow what arrives until the line has been quiet for 0.2 s."""
        while select.select([self.master], [], [], 0.2)[0]:
            os.read(self.master, 65536)

    def close(self) -> None:
        pass  # the emulator closes the pty pair at stop()


class PrinterEmulator:
    """A networked Zebra in a thread; see the module docstring for what it does and its modes."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, spool_dir: str | os.PathLike = "printer-spool",
                 *, control_port: int | None = None, mode: str = "ready", delay: float = 0.5,
                 drop_after: int = 16, buffer_size: int = 100, boot: float = 1.0) -> None:
        """Set up; nothing listens until start(). control_port None: no control endpoint; 0: any free port."""
        self.host = host
        self.port = port
        self.spool = Path(spool_dir)
        self.control_port = control_port
        self.delay = delay
        self.drop_after = drop_after
        self.buffer_size = buffer_size
        self.boot = boot
        self.power_cycles = 0    # times switched off and on (power_cycle)
        self.lost = 0            # formats a power cycle dropped from the buffer, unprinted
        self._mode = "ready"
        self._check_mode(mode)
        self._mode = mode
        self._cond = threading.Condition()
        self._stopping = threading.Event()
        self._started = False
        self._listener: socket.socket | None = None
        self._retired: list[socket.socket] = []   # shut down listeners, closed by the accept thread or stop()
        self._buffer: deque[_Held] = deque()
        self._jobs: list[EmulatedJob] = []
        self._seq = 0
        self._connections: dict[int, tuple[_TcpChannel | _PtyChannel, ZplStream]] = {}
        self._connection_ids = 0
        self._generation = 0       # + 1 at each power cycle: what a connection from before it sends is lost
        self._boot_until = 0.0
        self._threads: list[threading.Thread] = []
        self._control: ThreadingHTTPServer | None = None
        self._ptys: list[tuple[int, int]] = []

    # --- life cycle -------------------------------------------------------------------------------

    def start(self) -> PrinterEmulator:
        """Bind the printer port (and the control port), start the threads; .port is the bound port."""
        if self._started:
            return self
        if self._mode == "power_cycle":     # "start switched off": listen once the boot is over
            self._mode = "ready"
            self._started_off = True
        self.spool.mkdir(parents=True, exist_ok=True)
        self._seq = max((int(p.stem) for p in self.spool.glob("[0-9]*.zpl") if p.stem.isdigit()), default=0)
        listener = self._bind() if self._mode != "offline" else None
        try:
            if self.control_port is not None:
                self._control = _control_server(self, self.host, self.control_port)
                self.control_port = self._control.server_address[1]
        except OSError:
            if listener is not None:
                listener.close()
            raise
        self._listener = listener
        self._started = True
        self._spawn(self._accept_loop, "accept")
        self._spawn(self._engine, "engine")
        if self._control is not None:
            self._spawn(self._control.serve_forever, "control", 0.05)
        if getattr(self, "_started_off", False):
            self.set_mode("power_cycle")
        return self

    def stop(self) -> None:
        """Stop every thread and close every socket; safe to call twice. Formats still held are dropped."""
        if not self._started or self._stopping.is_set():
            return
        self._stopping.set()
        with self._cond:
            listener, self._listener = self._listener, None
            channels = [channel for channel, _ in self._connections.values()]
            self._cond.notify_all()
        if listener is not None:
            _shutdown(listener)
        for channel in channels:
            channel.cut()
        if self._control is not None:
            self._control.shutdown()
        deadline = time.monotonic() + JOIN_TIMEOUT
        while time.monotonic() < deadline:
            with self._cond:
                alive = [thread for thread in self._threads if thread.is_alive()]
            if not alive:
                break
            alive[0].join(max(0.0, deadline - time.monotonic()))
        for sock in [*self._retired, *([listener] if listener is not None else [])]:
            sock.close()
        self._retired.clear()
        if self._control is not None:
            self._control.server_close()
        for master, slave in self._ptys:
            os.close(master)
            os.close(slave)
        self._ptys.clear()

    def __enter__(self) -> PrinterEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _spawn(self, target, name: str, *args) -> None:
        thread = threading.Thread(target=target, args=args, name=f"printer-emulator {name}", daemon=True)
        with self._cond:   # started under the lock, so another _spawn never prunes it as "ended"
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)
            thread.start()

    def _bind(self) -> socket.socket:
        sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.port))
            sock.listen(64)
        except OSError:
            sock.close()
            raise
        self.port = sock.getsockname()[1]
        return sock

    # --- modes --------------------------------------------------------------------------------------

    @property
    def mode(self) -> str:
        return self._mode

    def _check_mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; modes: {', '.join(MODES)}")

    def set_mode(self, mode: str, *, delay: float | None = None, drop_after: int | None = None,
                 boot: float | None = None) -> None:
        """Switch mode; it applies to the next byte read. offline refuses connections from the moment it returns;
        power_cycle has emptied the buffer and cut every connection when it returns, and is `ready` again
        `boot` seconds later (unless another mode is set meanwhile)."""
        self._check_mode(mode)
        if delay is not None and not delay >= 0:
            raise ValueError("delay must be a number of seconds, 0 or more")
        if drop_after is not None and drop_after < 1:
            raise ValueError("drop_after must be 1 byte or more")
        if boot is not None and not boot >= 0:
            raise ValueError("boot must be a number of seconds, 0 or more")
        cut: list[_TcpChannel | _PtyChannel] = []
        with self._cond:
            if boot is not None:
                self.boot = boot
            if mode == "power_cycle" and self._started and not self._stopping.is_set():
                self.power_cycles += 1
                self.lost += len(self._buffer)
                self._buffer.clear()         # gone, unprinted: a format being printed is not finished
                self._generation += 1        # formats still arriving on a cut connection are not taken
                for _, stream in self._connections.values():
                    stream.reset()
                self._boot_until = time.monotonic() + self.boot
                self._spawn(self._boot_later, "boot", self._generation)
            if self._started and not self._stopping.is_set():
                if mode in ("offline", "power_cycle") and self._listener is not None:
                    _shutdown(self._listener)    # the accept thread closes it
                    self._retired.append(self._listener)
                    self._listener = None
                    cut = [channel for channel, _ in self._connections.values() if isinstance(channel, _TcpChannel)]
                elif mode == "power_cycle":
                    cut = [channel for channel, _ in self._connections.values() if isinstance(channel, _TcpChannel)]
                elif mode != "offline" and self._listener is None:
                    self._listener = self._bind()  # OSError (port taken meanwhile): stays offline
            if delay is not None:
                self.delay = delay
            if drop_after is not None:
                self.drop_after = drop_after
            self._mode = mode
            self._cond.notify_all()
        for channel in cut:
            channel.cut()

    def _boot_later(self, generation: int) -> None:
        """The end of a power cycle: back `ready`, listening, with an empty buffer."""
        with self._cond:   # (a reentrant lock: set_mode below takes it again)
            while not (self._stopping.is_set() or self._generation != generation
                       or time.monotonic() >= self._boot_until):
                self._cond.wait(max(0.0, self._boot_until - time.monotonic()) + 0.01)
            if self._stopping.is_set() or self._generation != generation or self._mode != "power_cycle":
                return                       # stopped, cycled again, or another mode was set meanwhile
            self.set_mode("ready")

    # --- state ----------------------------------------------------------------------------------------

    @property
    def jobs(self) -> list[EmulatedJob]:
        """Every format printed since start, in order."""
        with self._cond:
            return list(self._jobs)

    def job_data(self, job: EmulatedJob | int) -> bytes:
        """The bytes of a printed format."""
        seq = job if isinstance(job, int) else job.seq
        return (self.spool / f"{seq:06d}.zpl").read_bytes()

    def printed(self) -> list[bytes]:
        """The bytes of every format printed since start, in order."""
        return [self.job_data(job) for job in self.jobs]

    @property
    def held(self) -> int:
        """Formats in the receive buffer, not yet printed."""
        with self._cond:
            return len(self._buffer)

    def wait_for_jobs(self, count: int, timeout: float = 5.0) -> list[EmulatedJob]:
        """Wait until at least count formats have printed (or timeout); return the jobs printed."""
        with self._cond:
            self._cond.wait_for(lambda: len(self._jobs) >= count, timeout)
            return list(self._jobs)

    def host_status(self) -> HostStatus:
        """What ~HS answers now."""
        with self._cond:
            return HostStatus(
                paper_out=self._mode == "paper_out",
                paused=self._mode == "paused",
                head_open=self._mode == "head_open",
                ribbon_out=self._mode == "ribbon_out",
                thermal_transfer=self._mode == "ribbon_out",
                formats_in_buffer=len(self._buffer),
                buffer_full=len(self._buffer) >= self.buffer_size,
                partial_format=any(stream.partial for _, stream in self._connections.values()),
                labels_remaining=sum(held.copies for held in self._buffer),
            )

    def snapshot(self) -> dict:
        """The state as JSON-ready data (GET /status)."""
        status = self.host_status()
        with self._cond:
            return {
                "mode": self._mode, "modes": MODES, "host": self.host, "port": self.port,
                "control_port": self.control_port, "spool": str(self.spool), "delay": self.delay,
                "drop_after": self.drop_after, "buffer_size": self.buffer_size,
                "formats_in_buffer": len(self._buffer), "printed": len(self._jobs), "boot": self.boot,
                "power_cycles": self.power_cycles, "lost": self.lost,
                "labels_printed": sum(job.copies for job in self._jobs), "connections": len(self._connections),
                "host_status": status.summary(), "host_status_reply": status.to_bytes().decode("ascii"),
            }

    # --- serving ----------------------------------------------------------------------------------------

    def _accept_loop(self) -> None:
        while True:
            with self._cond:
                for old in self._retired:
                    old.close()
                self._retired.clear()
                self._cond.wait_for(lambda: self._stopping.is_set() or self._listener is not None)
                if self._stopping.is_set():
                    return               # stop() closes the listener
                listener = self._listener
            assert listener is not None
            try:
                sock, _ = listener.accept()
            except OSError:
                with self._cond:
                    current = self._listener is listener
                if current:
                    time.sleep(0.05)     # e.g. out of file descriptors: do not spin
                continue                 # else: shut down by set_mode("offline") or stop()
            with self._cond:
                if self._mode in ("offline", "power_cycle") or self._stopping.is_set():
                    sock.close()
                    continue
                generation = self._generation
            self._spawn(self._serve, "connection", _TcpChannel(sock), generation)

    def open_pty(self) -> str:
        """Serve a new pseudo-terminal; returns the path of its serial side (e.g. /dev/pts/3)."""
        if not self._started:
            raise RuntimeError("start the emulator before opening a pty")
        master, slave = os.openpty()
        tty.setraw(slave)
        self._ptys.append((master, slave))  # the slave stays open, so the master never reads EIO
        self._spawn(self._serve, "pty", _PtyChannel(master, self._stopping))
        return os.ttyname(slave)

    def _serve(self, channel: _TcpChannel | _PtyChannel, accepted: int | None = None) -> None:
        stream = ZplStream()
        with self._cond:
            self._connection_ids += 1
            number = self._connection_ids
            self._connections[number] = (channel, stream)
            stopping = self._stopping.is_set()   # set after stop() took its list of channels to cut
            generation = self._generation
            # accepted before a power cycle that came before this thread ran: the printer never had it
            stopping = stopping or (accepted is not None and accepted != generation)
        try:
            if not stopping:
                self._serve_stream(channel, stream, number, generation)
        except _Aborted:
            pass
        finally:
            with self._cond:
                del self._connections[number]
                self._cond.notify_all()
            channel.close()

    def _serve_stream(self, channel: _TcpChannel | _PtyChannel, stream: ZplStream, number: int,
                      generation: int) -> None:
        while not self._stopping.is_set():
            data = channel.recv()
            if not data:
                return
            with self._cond:
                if isinstance(channel, _TcpChannel) and self._generation != generation:
                    return               # read before a power cycle cut it: the printer never saw it
                if isinstance(channel, _PtyChannel):
                    generation = self._generation   # a serial line survives a restart; its old bytes do not
                events = stream.feed(data)
            for kind, payload in events:
                mode = self._mode
                if kind == "format":
                    if mode == "drop":
                        self._drop(channel, stream)
                        break            # (a pty goes on; what came after the cut is gone too)
                    self._receive(payload, number, generation)
                elif kind == "query":
                    if mode != "silent":
                        channel.send(self.host_status().to_bytes())
                else:
                    with self._cond:
                        self._buffer.clear()
                        self._cond.notify_all()
            if self._mode == "drop" and len(stream.partial) >= self.drop_after:
                self._drop(channel, stream)

    def _drop(self, channel: _TcpChannel | _PtyChannel, stream: ZplStream) -> None:
        with self._cond:
            stream.reset()   # the unfinished format is gone
        channel.abort()

    def _receive(self, data: bytes, number: int, generation: int) -> None:
        """Put a format in the buffer, waiting (and so not reading the socket) while the buffer is full."""
        with self._cond:
            self._cond.wait_for(lambda: self._stopping.is_set() or self._generation != generation
                                or len(self._buffer) < self.buffer_size)
            if self._stopping.is_set() or self._generation != generation:
                raise _Aborted           # stopped, or switched off and on while this waited
            self._buffer.append(_Held(data, copies_of(data), number, _now()))
            self._cond.notify_all()

    def _engine(self) -> None:
        """Print the buffer's formats in order while the mode allows it."""
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._stopping.is_set()
                                    or (self._buffer and self._mode not in HOLDING and self._mode != "power_cycle"))
                if self._stopping.is_set():
                    return
                held = self._buffer[0]
                delay = self.delay * held.copies if self._mode == "slow" else 0.0
            if delay and self._stopping.wait(delay):
                return
            with self._cond:
                if (self._mode in HOLDING or self._mode == "power_cycle" or not self._buffer
                        or self._buffer[0] is not held):
                    continue             # a fault or ~JA came while it was printing: not printed
                self._buffer.popleft()
                self._seq += 1
                job = EmulatedJob(self._seq, f"{self._seq:06d}.zpl", held.copies, len(held.data),
                                  held.connection, held.received_at, _now())
                path = self.spool / job.file
                path.with_suffix(".part").write_bytes(held.data)
                path.with_suffix(".part").replace(path)
                with (self.spool / "jobs.jsonl").open("a", encoding="utf-8") as index:
                    index.write(json.dumps(asdict(job)) + "\n")
                self._jobs.append(job)
                self._cond.notify_all()


def _shutdown(sock: socket.socket) -> None:
    """Stop a listening socket: new connections are refused and a blocked accept() returns at once."""
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError as exc:
        if exc.errno != errno.ENOTCONN:
            raise


def _control_server(emulator: PrinterEmulator, host: str, port: int) -> ThreadingHTTPServer:
    """The control endpoint: GET /status, GET /jobs, GET /jobs/<seq>, POST /mode."""

    class Handler(BaseHTTPRequestHandler):
        server_version = "station-printer-emulator"

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
            pass  # tests and the CLI want a quiet emulator

        def _answer(self, code: int, body: object, content_type: str = "application/json") -> None:
            data = body if isinstance(body, bytes) else (json.dumps(body, indent=1) + "\n").encode()
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            path = urlsplit(self.path).path.rstrip("/")
            if path == "/status":
                return self._answer(200, emulator.snapshot())
            if path == "/jobs":
                return self._answer(200, [asdict(job) for job in emulator.jobs])
            match = re.fullmatch(r"/jobs/(\d+)", path)
            if match:
                try:
                    return self._answer(200, emulator.job_data(int(match.group(1))), "application/octet-stream")
                except FileNotFoundError:
                    return self._answer(404, {"error": f"no job {match.group(1)}"})
            self._answer(404, {"error": "not found; try GET /status, GET /jobs, GET /jobs/<seq>, POST /mode"})

        def do_POST(self) -> None:
            parts = urlsplit(self.path)
            if parts.path.rstrip("/") != "/mode":
                return self._answer(404, {"error": "not found; POST /mode {\"mode\": ...}"})
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                if raw.lstrip().startswith(b"{"):
                    fields = json.loads(raw)
                else:
                    fields = dict(parse_qsl(raw.decode(), keep_blank_values=True))
                fields.update(parse_qsl(parts.query))
                mode = str(fields.get("mode", ""))
                delay = float(fields["delay"]) if fields.get("delay") not in (None, "") else None
                drop_after = int(fields["drop_after"]) if fields.get("drop_after") not in (None, "") else None
                boot = float(fields["boot"]) if fields.get("boot") not in (None, "") else None
                emulator.set_mode(mode, delay=delay, drop_after=drop_after, boot=boot)
            except (ValueError, TypeError, AttributeError) as exc:
                return self._answer(400, {"error": str(exc), "modes": MODES})
            self._answer(200, emulator.snapshot())

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = False   # server_close() then waits for requests in progress
    return server


def run(emulator: PrinterEmulator, echo: Callable[[str], object] = print) -> None:
    """Serve until Ctrl+C or SIGTERM (the `station printer-emulator` command)."""
    done = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: done.set())
    try:
        emulator.start()
        control = (f"; control http://{emulator.host}:{emulator.control_port}/"
                   if emulator.control_port is not None else "")
        echo(f"printer emulator on {emulator.host}:{emulator.port} (mode {emulator.mode}){control}; "
             f"spool {emulator.spool}")
        while not done.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()
        signal.signal(signal.SIGTERM, previous)


def remote_set_mode(host: str, control_port: int, mode: str, *, delay: float | None = None,
                    drop_after: int | None = None, boot: float | None = None, timeout: float = 5.0) -> dict:
    """Switch a running emulator through its control endpoint; returns its status; ValueError saying why not."""
    fields: dict[str, object] = {"mode": mode}
    if boot is not None:
        fields["boot"] = boot
    if delay is not None:
        fields["delay"] = delay
    if drop_after is not None:
        fields["drop_after"] = drop_after
    url = f"http://{host}:{control_port}/mode"
    request = urllib.request.Request(url, data=json.dumps(fields).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return json.load(answer)
    except urllib.error.HTTPError as exc:
        with exc:
            body = exc.read().decode("utf-8", "replace")
        try:
            body = json.loads(body).get("error", body)
        except ValueError:
            pass
        raise ValueError(f"the emulator at {url} refused: {body}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ValueError(f"no printer emulator control endpoint at {url} ({reason})") from None
