"""Scanners from devices.scanners: line framing, serial over a real pseudo-terminal and TCP, sim://, URLs."""
from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

import pytest

from devices.errors import DeviceError
from devices.scanners import (
    LineFramer,
    ScanEvent,
    ScannerError,
    ScannerState,
    ScannerStatus,
    ScannerURLError,
    decode,
    open_scanner,
    parse_terminator,
)
from devices.scanners import sim

GS1 = b"]C1010950110153000310ABC\x1d17250101"


def chunkings(data: bytes):
    """Every way a transport might cut data: whole, byte by byte, and every split in two and three."""
    yield [data]
    yield [data[i:i + 1] for i in range(len(data))]
    for i in range(1, len(data)):
        yield [data[:i], data[i:]]
        for j in range(i + 1, len(data)):
            yield [data[:i], data[i:j], data[j:]]


def frame_all(framer: LineFramer, chunks: list[bytes]) -> list[tuple[bytes, str | None]]:
    """Feed chunks one after another and collect (raw, error) of every frame."""
    return [(f.raw, f.error) for chunk in chunks for f in framer.feed(chunk)]


FRAMING_CASES = [
    ("CR", b"A\rB\r", [b"A", b"B"]),
    ("LF", b"A\nB\n", [b"A", b"B"]),
    ("CRLF", b"A\r\nB\r\n", [b"A", b"B"]),
    ("CRLF", b"A\rB\r\n", [b"A\rB"]),                    # a lone CR is data when the terminator is CRLF
    ("ANY", b"A\r\nB\nC\r", [b"A", b"B", b"C"]),
    ("ETX", b"\x02A\x03\x02B\x03", [b"\x02A", b"\x02B"]),
    ("0x03", b"A\x03B\x03", [b"A", b"B"]),
    ("CR", b"\r\r\rA\r\r", [b"A"]),                      # empty lines are ignored
    ("CRLF", b"\r\n\r\nA\r\n", [b"A"]),
    ("CR", GS1 + b"\r" + GS1 + b"\r", [GS1, GS1]),       # GS (0x1D) kept exactly
    ("ANY", b"A\xffB\r\n", [b"A\xffB"]),                 # framing works on bytes, decoding comes later
]


@pytest.mark.parametrize(("terminator", "data", "expected"), FRAMING_CASES)
def test_framer_gives_the_same_frames_however_the_bytes_are_chunked(terminator, data, expected):
    for chunks in chunkings(data):
        framer = LineFramer(parse_terminator(terminator))
        assert frame_all(framer, chunks) == [(raw, None) for raw in expected], chunks
        assert framer.pending == 0


def test_framer_keeps_an_unterminated_tail_until_its_terminator_arrives():
    framer = LineFramer(b"\r\n")
    assert frame_all(framer, [b"A\r\nBC", b"D\r"]) == [(b"A", None)]
    assert framer.pending == 4
    assert frame_all(framer, [b"\n"]) == [(b"BCD", None)]


@pytest.mark.parametrize("terminator", ["CR", "CRLF", "ANY"])
def test_an_over_long_frame_is_capped_reported_once_and_framing_resumes(terminator):
    data = b"0123456789ABCDEF" * 2 + (b"\r\n" if terminator == "CRLF" else b"\r") + b"OK\r\n"
    for chunks in chunkings(data):
        framer = LineFramer(parse_terminator(terminator), max_length=8)
        frames = frame_all(framer, chunks)
        assert len(frames) == 2, chunks
        raw, error = frames[0]
        assert raw == b"01234567" and "longer than 8 bytes" in error
        assert frames[1] == (b"OK", None)


def test_an_over_long_frame_never_grows_the_buffer_past_the_cap():
    framer = LineFramer(b"\r", max_length=16)
    reports = [f for _ in range(1000) for f in framer.feed(b"x" * 100)]
    assert len(reports) == 1 and reports[0].error
    assert framer.pending <= 16
    assert framer.feed(b"\rnext\r")[0].raw == b"next"


def test_discard_returns_the_partial_frame_and_starts_afresh():
    framer = LineFramer(b"\r")
    framer.feed(b"A\rPAR")
    assert framer.discard() == b"PAR"
    assert framer.pending == 0
    assert [f.raw for f in framer.feed(b"T\rB\r")] == [b"T", b"B"]


def test_decode_reports_the_first_undecodable_bytes():
    assert decode(GS1) == (GS1.decode(), None)
    assert decode("Müller".encode()) == ("Müller", None)
    assert decode(b"abc\xffdef") == (None, "undecodable bytes at 3: b'\\xff'")


@pytest.mark.parametrize(("spec", "expected"), [
    ("CR", b"\r"), ("lf", b"\n"), ("CRLF", b"\r\n"), ("ETX", b"\x03"), ("0x03", b"\x03"), ("0x7c", b"|"),
    ("ANY", None),
])
def test_terminator_names_and_bytes(spec, expected):
    assert parse_terminator(spec) == expected


@pytest.mark.parametrize("spec", ["0x1D", "0x1d", "NL", "0x", "0x123", ""])
def test_bad_terminators_are_refused(spec):
    with pytest.raises(ValueError):
        parse_terminator(spec)


class Recorder:
    """Collects scan events and statuses from a scanner's thread and waits for conditions on them."""

    def __init__(self) -> None:
        self.events: list[ScanEvent] = []
        self.statuses: list[ScannerStatus] = []
        self._cond = threading.Condition()

    def on_scan(self, event: ScanEvent) -> None:
        with self._cond:
            self.events.append(event)
            self._cond.notify_all()

    def on_status(self, status: ScannerStatus) -> None:
        with self._cond:
            self.statuses.append(status)
            self._cond.notify_all()

    def wait(self, predicate, timeout: float = 3.0) -> None:
        """Wait until predicate(self) is true, failing the test after timeout seconds."""
        with self._cond:
            assert self._cond.wait_for(lambda: predicate(self), timeout), (self.events, self.statuses)

    def wait_state(self, state: ScannerState, timeout: float = 3.0) -> None:
        """Wait until the latest status has the given state."""
        self.wait(lambda r: bool(r.statuses) and r.statuses[-1].state == state, timeout)

    @property
    def raws(self) -> list[bytes]:
        return [e.raw for e in self.events]


def wait_until(predicate, timeout: float = 3.0) -> None:
    """Poll predicate until true (for counters that have no callback)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


class PtyScanner:
    """A USB scanner played by a real pseudo-terminal behind a /dev/serial/by-id style symlink."""

    def __init__(self, link: Path) -> None:
        self.link = link
        self.master: int | None = None
        link.parent.mkdir(parents=True, exist_ok=True)

    def plug(self) -> None:
        """Create a new pty and point the by-id name at it, as udev does on plug-in."""
        master, slave = os.openpty()
        temp = self.link.with_name(self.link.name + ".new")
        temp.symlink_to(os.ttyname(slave))
        os.replace(temp, self.link)
        os.close(slave)
        self.master = master

    def unplug(self) -> None:
        """Hang the device up and remove its by-id name, as unplugging does."""
        self.link.unlink(missing_ok=True)
        if self.master is not None:
            os.close(self.master)
            self.master = None

    def write(self, data: bytes) -> None:
        assert self.master is not None
        os.write(self.master, data)


@pytest.fixture
def pty_scanner(tmp_path):
    device = PtyScanner(tmp_path / "serial" / "by-id" / "usb-Acme_Handheld_0001-if00")
    device.plug()
    yield device
    device.unplug()


def test_serial_scans_written_to_a_pty_arrive_in_order_with_gs_kept(pty_scanner):
    rec = Recorder()
    url = f"serial://{pty_scanner.link}?baudrate=9600&terminator=CR"
    with open_scanner(url, rec.on_scan, rec.on_status) as scanner:
        rec.wait_state(ScannerState.CONNECTED)
        pty_scanner.write(GS1 + b"\rLOT:24-0001\r\rb\xffd\r")
        pty_scanner.write(b"LOC:A-01")
        pty_scanner.write(b"-02\r")
        rec.wait(lambda r: len(r.events) == 4)
        assert scanner.status.state == ScannerState.CONNECTED
    assert rec.raws == [GS1, b"LOT:24-0001", b"b\xffd", b"LOC:A-01-02"]
    assert [e.text for e in rec.events] == [GS1.decode(), "LOT:24-0001", None, "LOC:A-01-02"]
    assert rec.events[2].error == "undecodable bytes at 1: b'\\xff'" and rec.events[2].complete
    assert [e.seq for e in rec.events] == [1, 2, 3, 4]
    assert {e.source for e in rec.events} == {url}
    assert all(e.received_at.tzinfo is not None for e in rec.events)
    assert [e.monotonic for e in rec.events] == sorted(e.monotonic for e in rec.events)
    assert rec.statuses[-1].state == ScannerState.STOPPED


def test_serial_scanner_survives_unplug_and_recovers_by_itself_losing_nothing_framed(pty_scanner):
    rec = Recorder()
    with open_scanner(f"serial://{pty_scanner.link}?terminator=CR", rec.on_scan, rec.on_status) as scanner:
        rec.wait_state(ScannerState.CONNECTED)
        before = b"SCAN-1\rSCAN-2\r" + GS1 + b"\rPARTIAL"
        pty_scanner.write(before)
        wait_until(lambda: scanner.bytes_received == len(before))

        pty_scanner.unplug()
        rec.wait_state(ScannerState.RECONNECTING)
        # The by-id name is gone, so reopening fails; wait for two failed opens to see the backoff grow.
        rec.wait(lambda r: r.statuses[-1].failed_opens >= 2)
        assert "could not open port" in scanner.status.last_error
        pty_scanner.plug()
        rec.wait_state(ScannerState.CONNECTED)

        pty_scanner.write(b"SCAN-3\rSCAN-4\r")
        rec.wait(lambda r: len(r.events) == 6)

    assert rec.raws == [b"SCAN-1", b"SCAN-2", GS1, b"PARTIAL", b"SCAN-3", b"SCAN-4"]
    partial = rec.events[3]
    assert partial.text is None and "partial scan discarded on disconnect: 7 bytes" in partial.error
    assert [e.error is None for e in rec.events] == [True, True, True, False, True, True]
    assert [e.complete for e in rec.events] == [True, True, True, False, True, True]
    assert [e.seq for e in rec.events] == [1, 2, 3, 4, 5, 6]
    states = [s.state for s in rec.statuses]
    assert states[:3] == [ScannerState.CONNECTING, ScannerState.CONNECTED, ScannerState.RECONNECTING]
    assert states[-2:] == [ScannerState.CONNECTED, ScannerState.STOPPED]
    waits = [s.retry_in for s in rec.statuses if s.state == ScannerState.RECONNECTING]
    assert waits[:3] == [0.1, 0.2, 0.4]
    assert rec.statuses[-1].disconnects == 1


def test_a_scanner_that_is_not_plugged_in_at_start_connects_when_it_appears(tmp_path):
    device = PtyScanner(tmp_path / "by-id" / "usb-Late_Scanner-if00")
    rec = Recorder()
    try:
        with open_scanner(f"serial://{device.link}", rec.on_scan, rec.on_status):
            rec.wait(lambda r: r.statuses[-1].failed_opens >= 1)
            assert rec.statuses[-1].state == ScannerState.RECONNECTING
            device.plug()
            rec.wait_state(ScannerState.CONNECTED)
            device.write(b"HELLO\r\n")                   # default terminator: CR, LF or CRLF
            rec.wait(lambda r: len(r.events) == 1)
    finally:
        device.unplug()
    assert rec.raws == [b"HELLO"]


def test_a_second_reader_of_the_same_port_waits_and_takes_over_when_the_first_stops(pty_scanner):
    first, second = Recorder(), Recorder()
    url = f"serial://{pty_scanner.link}"
    with open_scanner(url, first.on_scan, first.on_status) as one:
        first.wait_state(ScannerState.CONNECTED)
        with open_scanner(url, second.on_scan, second.on_status):
            second.wait(lambda r: r.statuses[-1].failed_opens >= 1)
            assert "exclusively lock" in second.statuses[-1].last_error
            one.stop()
            second.wait_state(ScannerState.CONNECTED)
            pty_scanner.write(b"AFTER\r")
            second.wait(lambda r: len(r.events) == 1)
    assert first.raws == [] and second.raws == [b"AFTER"]


def test_serial_over_a_pyserial_socket_handler_reconnects_when_the_server_drops(tmp_path):
    rec = Recorder()
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(3)
        port = server.getsockname()[1]
        with open_scanner(f"serial+socket://127.0.0.1:{port}?terminator=CRLF", rec.on_scan, rec.on_status):
            conn, _ = server.accept()
            with conn:
                rec.wait_state(ScannerState.CONNECTED)      # pyserial drops what arrives while it opens
                conn.sendall(b"ONE\r\nTW")
                rec.wait(lambda r: len(r.events) == 1)
                conn.sendall(b"O\r\n")
                rec.wait(lambda r: len(r.events) == 2)
            rec.wait_state(ScannerState.RECONNECTING)
            conn, _ = server.accept()
            with conn:
                rec.wait_state(ScannerState.CONNECTED)
                conn.sendall(b"THREE\r\n")
                rec.wait(lambda r: len(r.events) == 3)
    assert rec.raws == [b"ONE", b"TWO", b"THREE"]


@pytest.mark.parametrize("connected", [True, False])
def test_stop_is_prompt_idempotent_and_final(pty_scanner, tmp_path, connected):
    rec = Recorder()
    link = pty_scanner.link if connected else tmp_path / "missing"
    scanner = open_scanner(f"serial://{link}", rec.on_scan, rec.on_status)
    rec.wait_state(ScannerState.CONNECTED if connected else ScannerState.RECONNECTING)
    started = time.monotonic()
    scanner.stop()
    assert time.monotonic() - started < 1.0
    scanner.stop()
    assert scanner.status.state == ScannerState.STOPPED
    assert [s.state for s in rec.statuses].count(ScannerState.STOPPED) == 1
    assert not any(t.name == f"scanner {scanner.url}" for t in threading.enumerate())
    with pytest.raises(ScannerError, match="was stopped"):
        scanner.start()


def test_a_failing_on_scan_callback_does_not_stop_the_scanner(caplog):
    seen: list[bytes] = []

    def on_scan(event: ScanEvent) -> None:
        seen.append(event.raw)
        if event.raw == b"BOOM":
            raise RuntimeError("consumer bug")

    with open_scanner("sim://callback-bug", on_scan) as scanner:
        sim.inject("callback-bug", "BOOM")
        sim.inject("callback-bug", "NEXT")
        assert scanner.status.state == ScannerState.CONNECTED
    assert seen == [b"BOOM", b"NEXT"]
    assert "on_scan failed" in caplog.text


def test_sim_inject_runs_the_same_framing_path_and_returns_the_events():
    rec = Recorder()
    with open_scanner("sim://dock-1?terminator=CR", rec.on_scan, rec.on_status) as scanner:
        events = sim.inject("dock-1", GS1.decode())
        assert [e.raw for e in events] == [GS1] and events[0].source == "sim://dock-1?terminator=CR"
        assert [e.raw for e in sim.inject("dock-1", b"A\rB")] == [b"A", b"B"]      # like a real wire
        assert sim.inject("dock-1", b"PART", terminate=False) == []
        assert [e.raw for e in scanner.inject(b"IAL")] == [b"PARTIAL"]
        assert sim.inject("dock-1", b"x\xfe")[0].error == "undecodable bytes at 1: b'\\xfe'"
        assert sim.open_names() == ["dock-1"]
    assert rec.raws == [GS1, b"A", b"B", b"PARTIAL", b"x\xfe"]
    assert sim.open_names() == []


def test_an_over_long_scan_arrives_as_an_incomplete_event_and_the_next_scan_is_clean():
    with open_scanner("sim://long?max_length=16", lambda e: None):
        (event,) = sim.inject("long", "X" * 5000)
        assert not event.complete and event.raw == b"X" * 16 and "longer than 16 bytes" in event.error
        (event,) = sim.inject("long", "SHORT")
        assert event.complete and event.ok and event.text == "SHORT"


def test_sim_unplug_reports_the_partial_scan_and_reconnects():
    rec = Recorder()
    with open_scanner("sim://line-2", rec.on_scan, rec.on_status):
        sim.inject("line-2", "HALF", terminate=False)
        sim.unplug("line-2")
        assert [e.raw for e in sim.inject("line-2", "WHOLE")] == [b"WHOLE"]
    assert rec.raws == [b"HALF", b"WHOLE"]
    assert "partial scan discarded" in rec.events[0].error
    assert ScannerState.RECONNECTING in [s.state for s in rec.statuses]


def test_injecting_into_a_sim_scanner_that_is_not_open_is_a_clear_error():
    with pytest.raises(ScannerError, match=r"no simulated scanner named 'nobody' is open"):
        sim.inject("nobody", "X")
    scanner = open_scanner("sim://closed", lambda e: None)
    scanner.stop()
    with pytest.raises(ScannerError, match="'closed'"):
        sim.inject("closed", "X")
    with pytest.raises(ScannerError, match="not open"):
        scanner.inject("X")


def test_a_sim_name_can_be_open_only_once():
    with open_scanner("sim://twice", lambda e: None):
        with pytest.raises(ScannerError, match="already open"):
            open_scanner("sim://twice", lambda e: None)
    open_scanner("sim://twice", lambda e: None).stop()


@pytest.mark.parametrize(("url", "message"), [
    ("foo://x", "expected one of: serial:///dev/ttyACM0?baudrate=9600&terminator=CR"),
    ("/dev/ttyACM0", "serial:///dev/ttyACM0"),
    ("", "unknown scanner URL"),
    ("serial://dev/ttyACM0", "needs three slashes, e.g. serial:///dev/ttyACM0"),
    ("serial://", "names no serial port"),
    ("serial:///dev/ttyACM0?baud=9600", "unknown option 'baud'"),
    ("serial:///dev/ttyACM0?baudrate=fast", "bad serial option value"),
    ("serial:///dev/ttyACM0?parity=Q", "unsupported baudrate, bytesize, parity or stopbits"),
    ("serial:///dev/ttyACM0?terminator=0x1D", "GS1 group separator"),
    ("serial:///dev/ttyACM0?terminator=NL", "unknown terminator 'NL'"),
    ("serial:///dev/ttyACM0?baudrate=9600&baudrate=19200", "given twice"),
    ("sim://", "expected sim://NAME"),
    ("sim://a/b", "expected sim://NAME"),
    ("sim://a?baudrate=9600", "unknown option 'baudrate'"),
    ("sim+loop://a", "unknown scanner URL"),
])
def test_bad_urls_fail_with_the_expected_form(url, message):
    with pytest.raises(ScannerURLError) as caught:
        open_scanner(url, lambda e: None)
    assert message in str(caught.value)
    assert isinstance(caught.value, DeviceError) and isinstance(caught.value, ValueError)


def test_good_urls_parse_without_opening_anything():
    by_id = "serial:///dev/serial/by-id/usb-Honeywell_Imaging_1234-if00?baudrate=115200&terminator=CRLF&parity=E"
    scanner = open_scanner(by_id, lambda e: None, start=False)
    assert scanner.port_name == "/dev/serial/by-id/usb-Honeywell_Imaging_1234-if00"
    assert scanner.settings == {"baudrate": 115200, "bytesize": 8, "parity": "E", "stopbits": 1, "exclusive": True}
    assert scanner.status.state == ScannerState.STOPPED
    assert open_scanner("serial://COM3?baudrate=9600", lambda e: None, start=False).port_name == "COM3"
    loop = open_scanner("serial+loop://?terminator=ETX", lambda e: None, start=False)
    assert loop.port_name == "loop://"
    scanner.stop()
