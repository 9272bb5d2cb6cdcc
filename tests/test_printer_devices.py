"""Printer backends over real transports: tcp:// against the emulator in every mode, file://, serial://.

Each job is checked where it lands (the emulator's spool), byte for byte, so "sent" always means "arrived
once" and a failure always means "not printed" or says that it may have been.
"""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from devices.printers import (
    PrinterError,
    PrinterState,
    PrinterUnconfirmed,
    PrinterURLError,
    open_printer,
)
from devices.printers.cups import CupsPrinter
from devices.printers.emulator import PrinterEmulator
from devices.printers.file import FilePrinter
from devices.printers.serialport import SerialPrinter
from devices.printers.tcp import TcpPrinter

LABEL = "^XA^CI28^FO50,50^A0N,40,40^FDMüller ß ç 日本^FS^XZ".encode()
FAULTS = {"paper_out": PrinterState.PAPER_OUT, "head_open": PrinterState.HEAD_OPEN,
          "ribbon_out": PrinterState.RIBBON_OUT, "paused": PrinterState.PAUSED}


def label(text: str, copies: int = 1) -> bytes:
    return f"^XA^CI28^FO50,50^A0N,40,40^FD{text}^FS^PQ{copies}^XZ".encode()


@pytest.fixture
def emulator(tmp_path):
    with PrinterEmulator("127.0.0.1", 0, tmp_path / "spool", delay=0.3) as emu:
        yield emu


def tcp(emu: PrinterEmulator, timeout: float = 2) -> TcpPrinter:
    printer = open_printer(f"tcp://127.0.0.1:{emu.port}?timeout={timeout}")
    assert isinstance(printer, TcpPrinter)
    return printer


# --- tcp:// ready --------------------------------------------------------------------------------------

def test_ready_printer_reports_ready_and_stores_the_exact_bytes(emulator):
    printer = tcp(emulator)
    status = printer.status()
    assert (status.state, status.known, status.can_print) == (PrinterState.READY, True, True)
    outcome = printer.send(LABEL)
    assert outcome.bytes_sent == len(LABEL)
    assert outcome.status is not None and outcome.status.can_print
    jobs = emulator.wait_for_jobs(1)
    assert [emulator.job_data(job) for job in jobs] == [LABEL]
    assert (jobs[0].copies, jobs[0].size) == (1, len(LABEL))


def test_several_formats_per_connection_are_stored_one_by_one_with_their_copies(emulator):
    job = label("one") + b"\r\n" + label("two", copies=3) + label("three", copies=2)
    tcp(emulator).send(job)
    jobs = emulator.wait_for_jobs(3)
    assert emulator.printed() == [label("one"), label("two", 3), label("three", 2)]
    assert [j.copies for j in jobs] == [1, 3, 2]
    assert len({j.connection for j in jobs}) == 1
    lines = (emulator.spool / "jobs.jsonl").read_text().splitlines()
    assert len(lines) == 3 and '"copies": 3' in lines[1]


def test_concurrent_connections_each_job_stored_once(emulator):
    errors: list[Exception] = []

    def station(n: int) -> None:
        try:
            printer = tcp(emulator, timeout=5)
            for i in range(10):
                printer.send(label(f"station {n} label {i}"))
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=station, args=(n,)) for n in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    printed = emulator.wait_for_jobs(50)
    assert len(printed) == 50
    assert sorted(emulator.printed()) == sorted(label(f"station {n} label {i}") for n in range(5) for i in range(10))


# --- offline -------------------------------------------------------------------------------------------

def test_offline_is_refused_reported_and_retryable(emulator):
    printer = tcp(emulator)
    emulator.set_mode("offline")
    status = printer.status()
    assert status.state == PrinterState.OFFLINE and not status.can_print
    assert "refused" in status.detail
    with pytest.raises(PrinterError, match="refused the connection") as caught:
        printer.send(LABEL)
    assert caught.value.retryable
    emulator.set_mode("ready")
    assert printer.status().state == PrinterState.READY
    printer.send(LABEL)
    assert emulator.printed() == [LABEL] or [j.seq for j in emulator.wait_for_jobs(1)] == [1]
    assert emulator.printed() == [LABEL]


def test_going_offline_cuts_an_open_connection(emulator):
    import socket

    with socket.create_connection(("127.0.0.1", emulator.port), timeout=2) as sock:
        sock.sendall(b"^XA^FDhalf a label")
        time.sleep(0.1)
        emulator.set_mode("offline")
        try:
            assert sock.recv(100) == b""
        except ConnectionResetError:
            pass
    emulator.set_mode("ready")
    assert emulator.jobs == [] and emulator.held == 0


# --- faults: the job is taken and held, ~HS says why --------------------------------------------------

@pytest.mark.parametrize("mode", list(FAULTS))
def test_a_fault_is_reported_and_a_job_sent_anyway_is_held_until_it_clears(emulator, mode):
    printer = tcp(emulator)
    emulator.set_mode(mode)
    status = printer.status()
    assert status.state == FAULTS[mode] and status.known and not status.can_print
    # A job that arrives anyway (sent before the worker saw the fault) is in the printer: send() succeeds,
    # says what the printer reported, and must not be sent again.
    outcome = printer.send(label("held"))
    assert outcome.status is not None and outcome.status.state == FAULTS[mode]
    assert "1 format in buffer" in printer.status().detail
    time.sleep(0.2)
    assert emulator.jobs == [] and emulator.held == 1
    emulator.set_mode("ready")
    assert emulator.printed() == [label("held")] or emulator.wait_for_jobs(1)
    assert emulator.printed() == [label("held")]
    assert printer.status().state == PrinterState.READY


def test_paused_holds_several_jobs_and_prints_them_in_order_when_resumed(emulator):
    printer = tcp(emulator)
    emulator.set_mode("paused")
    for i in range(3):
        printer.send(label(f"job {i}"))
    assert "3 formats in buffer" in printer.status().detail
    assert emulator.jobs == []
    emulator.set_mode("ready")
    emulator.wait_for_jobs(3)
    assert emulator.printed() == [label(f"job {i}") for i in range(3)]


# --- slow ----------------------------------------------------------------------------------------------

def test_slow_printer_takes_the_job_at_once_and_prints_it_after_its_delay(emulator):
    printer = tcp(emulator)
    emulator.set_mode("slow", delay=0.3)
    started = time.monotonic()
    printer.send(label("slow", copies=2))          # 2 labels: 0.6 s of printing
    assert time.monotonic() - started < 0.3         # handed over, not printed yet
    assert "2 labels to print" in printer.status().detail
    jobs = emulator.wait_for_jobs(1, timeout=5)
    assert time.monotonic() - started >= 0.6
    assert [j.copies for j in jobs] == [2]


def test_slow_printer_with_a_full_buffer_pushes_back(tmp_path):
    with PrinterEmulator("127.0.0.1", 0, tmp_path / "spool", mode="slow", delay=0.4, buffer_size=1) as emu:
        printer = tcp(emu, timeout=3)
        printer.send(label("first"))
        assert printer.status().state == PrinterState.BUFFER_FULL
        started = time.monotonic()
        printer.send(label("second"))            # waits for room: the printer stops reading
        assert time.monotonic() - started >= 0.2
        emu.wait_for_jobs(2, timeout=5)
        assert emu.printed() == [label("first"), label("second")]


def test_a_job_the_printer_never_confirms_is_reported_as_maybe_printed(tmp_path):
    # Buffer full and the printer slower than the sender's timeout: the job is handed over (it will print)
    # but no answer comes in time. That must not be retried blindly: it would print twice.
    with PrinterEmulator("127.0.0.1", 0, tmp_path / "spool", mode="slow", delay=0.6, buffer_size=1) as emu:
        printer = tcp(emu, timeout=0.3)
        printer.send(label("first"))
        with pytest.raises(PrinterUnconfirmed, match="may or may not print") as caught:
            printer.send(label("second"))
        assert not caught.value.retryable
        emu.wait_for_jobs(2, timeout=5)
        assert emu.printed() == [label("first"), label("second")]


# --- drop ----------------------------------------------------------------------------------------------

def test_a_connection_dropped_mid_job_is_a_retryable_error_and_nothing_half_printed(emulator):
    printer = tcp(emulator)
    emulator.set_mode("drop", drop_after=10)
    assert printer.status().state == PrinterState.READY     # the printer answers; the link fails mid-job
    with pytest.raises(PrinterError, match="cut") as caught:
        printer.send(LABEL)
    assert caught.value.retryable and not isinstance(caught.value, PrinterUnconfirmed)
    time.sleep(0.1)
    assert emulator.jobs == [] and emulator.held == 0
    assert not emulator.host_status().partial_format
    emulator.set_mode("ready")
    printer.send(LABEL)                                      # the retry prints it, once
    emulator.wait_for_jobs(1)
    time.sleep(0.1)
    assert emulator.printed() == [LABEL]


def test_a_large_job_dropped_while_sending_is_a_retryable_error(emulator):
    emulator.set_mode("drop", drop_after=100)
    big = b"".join(label("x" * 500 + str(i)) for i in range(4000))   # ~2 MB, more than the socket buffers
    with pytest.raises(PrinterError, match="cut") as caught:
        tcp(emulator).send(big)
    assert caught.value.retryable
    assert emulator.jobs == []


# --- silent: a printer that does not answer ~HS ------------------------------------------------------

def test_a_printer_that_never_answers_is_offline_and_its_jobs_unconfirmed(emulator):
    printer = tcp(emulator, timeout=0.3)
    emulator.set_mode("silent")
    status = printer.status()
    assert status.state == PrinterState.OFFLINE
    assert "no answer to ~HS" in status.detail
    with pytest.raises(PrinterUnconfirmed):
        printer.send(LABEL)
    assert emulator.wait_for_jobs(1) and emulator.printed() == [LABEL]   # it did print: hence "maybe"


def test_confirm_0_sends_without_asking(emulator):
    emulator.set_mode("silent")
    printer = open_printer(f"tcp://127.0.0.1:{emulator.port}?timeout=0.3&confirm=0")
    started = time.monotonic()
    printer.send(LABEL)
    assert time.monotonic() - started < 0.3
    emulator.wait_for_jobs(1)
    assert emulator.printed() == [LABEL]


# --- network errors in words --------------------------------------------------------------------------

def test_unknown_host_name_is_offline_with_the_reason():
    printer = open_printer("tcp://no-such-printer.invalid:9100?timeout=1")
    status = printer.status()
    assert status.state == PrinterState.OFFLINE and "not found" in status.detail
    with pytest.raises(PrinterError, match="not found"):
        printer.send(LABEL)


def test_a_printer_that_stops_reading_times_out_the_send(tmp_path):
    # Paused with a one-format buffer: the emulator stops reading, TCP buffers fill, sendall stalls.
    with PrinterEmulator("127.0.0.1", 0, tmp_path / "spool", mode="paused", buffer_size=1) as emu:
        big = b"".join(label("y" * 1000 + str(i)) for i in range(20_000))   # ~20 MB
        started = time.monotonic()
        with pytest.raises(PrinterError, match="stopped taking data") as caught:
            tcp(emu, timeout=0.5).send(big)
        assert caught.value.retryable
        assert time.monotonic() - started < 5
        assert emu.jobs == []


# --- URLs ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("url", "words"), [
    ("tcp://", "expected tcp://HOST:9100"),
    ("tcp://printer:99999", "bad port"),
    ("tcp://printer:9100/queue", "expected tcp://HOST:9100"),
    ("tcp://printer?speed=9", "unknown option 'speed'"),
    ("tcp://printer?timeout=soon", "not a number of seconds"),
    ("tcp://printer?timeout=1&timeout=2", "given twice"),
    ("tcp://printer?confirm=maybe", "must be 1 or 0"),
    ("cups://", "queue name goes right after cups://"),
    ("cups://two%20words", "queue name"),
    ("cups://zebra/path", "queue name"),
    ("cups://zebra?copies=2", "unknown option 'copies'"),
    ("file://dev/usb/lp0", "three slashes"),
    ("file:///", "no absolute file path"),
    ("file:///dev/usb/lp0?baudrate=9600", "unknown option 'baudrate'"),
    ("serial://", "names no serial port"),
    ("serial://dev/ttyUSB0", "three slashes"),
    ("serial:///dev/ttyUSB0?baudrate=fast", "bad serial option value"),
    ("serial:///dev/ttyUSB0?parity=Q", "unsupported baudrate, bytesize, parity"),
    ("lpt://1", "unknown printer URL"),
    ("/dev/usb/lp0", "unknown printer URL"),
])
def test_bad_urls_name_the_expected_form(url, words):
    with pytest.raises(PrinterURLError, match=words) as caught:
        open_printer(url)
    assert not caught.value.retryable


def test_each_scheme_opens_its_backend():
    assert isinstance(open_printer("tcp://10.0.0.5"), TcpPrinter)
    assert open_printer("tcp://10.0.0.5").port == 9100
    assert open_printer("tcp://[::1]:9101").where == "[::1]:9101"
    assert isinstance(open_printer("cups://Zebra_GK420d"), CupsPrinter)
    assert isinstance(open_printer("file:///dev/usb/lp0"), FilePrinter)
    serial_printer = open_printer("serial+socket://127.0.0.1:7000?timeout=1")
    assert isinstance(serial_printer, SerialPrinter)
    assert serial_printer.port_name == "socket://127.0.0.1:7000"  # no option is handed on to pyserial
    assert serial_printer.timeout == 1


# --- file:// ----------------------------------------------------------------------------------------------

def test_file_printer_never_creates_a_missing_device():
    # Plain files are refused outright (tests/test_device_addresses.py); a device that is not there
    # is offline, and nothing is created in its place.
    path = Path("/dev/usb/lp97")
    assert not path.exists()
    printer = open_printer(f"file://{path}")
    with pytest.raises(PrinterError, match="is it plugged in") as caught:
        printer.send(LABEL)
    assert caught.value.retryable
    assert not path.exists()
    assert printer.status().state == PrinterState.OFFLINE


def test_file_printer_on_a_device_that_sends_nothing_back_is_unknown():
    master, slave = os.openpty()  # a terminal device nobody answers on
    try:
        printer = open_printer(f"file://{os.ttyname(slave)}?status_timeout=0.2")
        printer.send(LABEL)
        status = printer.status()
        assert status.state == PrinterState.UNKNOWN and "no ~HS answer" in status.detail
    finally:
        os.close(slave)
        os.close(master)


def test_file_printer_on_a_character_device_reads_host_status(emulator):
    device = emulator.open_pty()
    printer = open_printer(f"file://{device}")
    assert printer.status().state == PrinterState.READY
    printer.send(LABEL)
    emulator.wait_for_jobs(1)
    assert emulator.printed() == [LABEL]
    emulator.set_mode("paper_out")
    assert printer.status().state == PrinterState.PAPER_OUT


# --- serial:// ------------------------------------------------------------------------------------------

def test_serial_printer_over_a_pty_prints_and_reads_status(emulator):
    device = emulator.open_pty()
    with open_printer(f"serial://{device}?baudrate=115200&timeout=2") as printer:
        assert printer.status().state == PrinterState.READY
        assert printer.send(LABEL).status.state == PrinterState.READY
        emulator.wait_for_jobs(1)
        assert emulator.printed() == [LABEL]
        emulator.set_mode("head_open")
        assert printer.status().state == PrinterState.HEAD_OPEN
        assert printer.send(label("held")).status.state == PrinterState.HEAD_OPEN
        assert emulator.held == 1
        emulator.set_mode("ready")
        emulator.wait_for_jobs(2)
        assert emulator.printed() == [LABEL, label("held")]


def test_serial_printer_that_does_not_answer_is_offline_and_unconfirmed(emulator):
    device = emulator.open_pty()
    emulator.set_mode("silent")
    with open_printer(f"serial://{device}?timeout=0.3") as printer:
        status = printer.status()
        assert status.state == PrinterState.OFFLINE and "no answer to ~HS" in status.detail
        with pytest.raises(PrinterUnconfirmed):
            printer.send(LABEL)


def test_serial_line_cut_mid_job_is_never_confirmed_and_not_printed(emulator):
    device = emulator.open_pty()
    emulator.set_mode("drop", drop_after=8)
    with open_printer(f"serial://{device}?timeout=0.5") as printer:
        with pytest.raises(PrinterUnconfirmed):
            printer.send(LABEL)
    time.sleep(0.1)
    assert emulator.jobs == [] and emulator.held == 0


def test_serial_missing_port_is_offline_and_send_fails(tmp_path):
    printer = open_printer(f"serial://{tmp_path}/ttyUSB9?timeout=0.5")
    status = printer.status()
    assert status.state == PrinterState.OFFLINE and "cannot open serial port" in status.detail
    with pytest.raises(PrinterError, match="cable plugged in"):
        printer.send(LABEL)


def test_serial_through_a_pyserial_socket_handler_to_the_emulator(emulator):
    with open_printer(f"serial+socket://127.0.0.1:{emulator.port}?timeout=2") as printer:
        assert printer.status().state == PrinterState.READY
        printer.send(LABEL)
    emulator.wait_for_jobs(1)
    assert emulator.printed() == [LABEL]


def test_serial_loopback_echo_is_not_taken_for_an_answer():
    # loop:// hands back what was written: "~HS" itself must not pass for the printer's answer.
    with open_printer("serial+loop://?timeout=0.3") as printer:
        assert printer.status().state == PrinterState.OFFLINE
        with pytest.raises(PrinterUnconfirmed):
            printer.send(LABEL)
    with open_printer("serial+loop://?confirm=0") as printer:
        printer.send(LABEL)
        assert printer.status().state == PrinterState.UNKNOWN


def test_emulator_pty_is_a_real_terminal(emulator):
    device = emulator.open_pty()
    assert os.path.exists(device)
    fd = os.open(device, os.O_RDWR | os.O_NOCTTY)
    try:
        assert os.isatty(fd)
    finally:
        os.close(fd)


def test_a_sim_printer_reports_its_spool_and_the_preview_it_wrote(tmp_path):
    printer = open_printer("sim://outcome", spool_root=tmp_path)
    outcome = printer.send(LABEL, preview=lambda: b"\x89PNG not really")
    assert (outcome.bytes_sent, outcome.printed, outcome.status.state) == (len(LABEL), True, PrinterState.READY)
    assert outcome.preview_path.read_bytes() == b"\x89PNG not really"
    assert outcome.preview_path.with_suffix(".zpl").read_bytes() == LABEL
    assert printer.send(LABEL).preview_path is None    # no preview asked for: none written


def test_a_preview_that_cannot_be_drawn_never_fails_the_job(tmp_path):
    def broken() -> bytes:
        raise ValueError("no layout")

    outcome = open_printer("sim://outcome", spool_root=tmp_path).send(LABEL, preview=broken)
    assert outcome.printed and outcome.preview_path is None
    assert [p.read_bytes() for p in (tmp_path / "outcome").glob("*.zpl")] == [LABEL]
    assert not list((tmp_path / "outcome").glob("*.png"))


def test_a_printer_that_cannot_answer_reports_only_the_bytes_it_took(emulator):
    outcome = open_printer(f"tcp://127.0.0.1:{emulator.port}?confirm=0").send(LABEL)
    assert (outcome.bytes_sent, outcome.status, outcome.printed, outcome.preview_path) == (len(LABEL), None, False, None)


def test_printers_and_label_layouts_load_nothing_of_the_station_app():
    """devices/ and labels/ sit below station/: every printer backend and every label layout (the test
    print's included) imports in a fresh interpreter without station, Flask or SQLAlchemy."""
    import subprocess
    import sys

    code = ("import sys, importlib\n"
            "from devices.printers import BACKENDS\n"
            "for target, _ in BACKENDS.values():\n"
            "    importlib.import_module(target.split(':')[0])\n"
            "import labels.templates, labels.zpl, labels.png\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'station', 'flask', 'sqlalchemy'}))\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[1],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
