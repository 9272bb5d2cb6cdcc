"""The printer emulator itself: stream splitting, ~HS framing, ~JA, the control endpoint, and the CLI."""
from __future__ import annotations

import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from devices.printers import PrinterState, open_printer
from devices.printers.emulator import PrinterEmulator, ZplStream, copies_of, remote_set_mode
from devices.printers.status import HostStatus, parse

LABEL = "^XA^CI28^FO20,20^A0N,30,30^FDMüller ß ç 日本^FS^XZ".encode()


@pytest.fixture
def emulator(tmp_path):
    with PrinterEmulator("127.0.0.1", 0, tmp_path / "spool", control_port=0) as emu:
        yield emu


def http(emu: PrinterEmulator, path: str, data: bytes | None = None, content_type: str = "application/json"):
    """(status code, body bytes) of a control request."""
    request = urllib.request.Request(f"http://127.0.0.1:{emu.control_port}{path}", data=data,
                                     headers={"Content-Type": content_type} if data is not None else {})
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read()


def raw_exchange(emu: PrinterEmulator, data: bytes, expect: int) -> bytes:
    with socket.create_connection(("127.0.0.1", emu.port), timeout=3) as sock:
        sock.sendall(data)
        reply = b""
        while len(reply) < expect:
            chunk = sock.recv(4096)
            if not chunk:
                break
            reply += chunk
        return reply


# --- the stream ------------------------------------------------------------------------------------------

def test_stream_splits_formats_and_commands_fed_one_byte_at_a_time():
    data = b"\r\n~HS^XA^FDone^FS^XZ  ^xa^FDtwo^FS^PQ3^xz~JA junk ^XA^FDthree"
    stream = ZplStream()
    events = [event for byte in data for event in stream.feed(bytes([byte]))]
    assert events == [("query", b"~HS"), ("format", b"^XA^FDone^FS^XZ"), ("format", b"^xa^FDtwo^FS^PQ3^xz"),
                      ("cancel", b"~JA")]
    assert stream.partial == b"^XA^FDthree"
    assert stream.feed(b"^FS^XZ") == [("format", b"^XA^FDthree^FS^XZ")]
    assert stream.partial == b""


def test_stream_keeps_utf8_and_escaped_data_inside_a_format():
    fmt = "^XA^CI28^FH^FD_5EXZ Müller 日本 _7EJA^FS^XZ".encode()
    assert ZplStream().feed(fmt) == [("format", fmt)]


@pytest.mark.parametrize(("fmt", "copies"), [
    (b"^XA^FDx^FS^XZ", 1), (b"^XA^PQ3^XZ", 3), (b"^XA^pq12,0,1,Y^XZ", 12), (b"^XA^PQ0^XZ", 1),
])
def test_copies_come_from_pq(fmt, copies):
    assert copies_of(fmt) == copies


# --- ~HS and ~JA on the wire ----------------------------------------------------------------------------

def test_hs_answer_is_three_framed_lines(emulator):
    expected = HostStatus().to_bytes()
    reply = raw_exchange(emulator, b"~HS", len(expected))
    assert reply == expected
    assert reply.count(b"\x02") == 3 and reply.count(b"\x03\r\n") == 3


def test_hs_reports_what_is_in_the_buffer_and_a_partial_format(emulator):
    emulator.set_mode("paused")
    with socket.create_connection(("127.0.0.1", emulator.port), timeout=3) as other:
        other.sendall(b"^XA^FDunfinished")
        time.sleep(0.1)
        expected = len(HostStatus().to_bytes())
        reply = raw_exchange(emulator, b"^XA^FDa^FS^PQ2^XZ^XA^FDb^FS^XZ~HS", expected)
    status = parse(reply)
    assert (status.paused, status.formats_in_buffer, status.labels_remaining, status.partial_format) \
        == (True, 2, 3, True)


def test_ja_cancels_every_held_format(emulator):
    emulator.set_mode("paused")
    printer = open_printer(f"tcp://127.0.0.1:{emulator.port}?timeout=2")
    printer.send(LABEL)
    printer.send(LABEL)
    assert emulator.held == 2
    printer.send(b"~JA")
    assert emulator.held == 0
    emulator.set_mode("ready")
    time.sleep(0.2)
    assert emulator.jobs == []


def test_a_power_cycle_loses_the_buffer_unprinted_cuts_connections_and_comes_back_ready(tmp_path):
    with PrinterEmulator("127.0.0.1", 0, tmp_path / "spool", control_port=0, boot=0.5) as emu:
        printer = open_printer(f"tcp://127.0.0.1:{emu.port}?timeout=2")
        emu.set_mode("paper_out")
        printer.send(b"^XA^FDa^FS^PQ2^XZ")
        printer.send(b"^XA^FDb^FS^XZ")
        held = printer.status()
        assert (held.state, held.formats_in_buffer, held.labels_remaining) == (PrinterState.PAPER_OUT, 2, 3)
        idle = socket.create_connection(("127.0.0.1", emu.port), timeout=2)
        try:
            idle.sendall(b"~HS")
            assert parse(_read_hs(idle)).formats_in_buffer == 2   # connected and served
            # --set-mode power_cycle on the control port, as `station printer-emulator` sends it
            status = remote_set_mode("127.0.0.1", emu.control_port, "power_cycle", boot=0.5)
            assert (status["mode"], status["formats_in_buffer"], status["lost"], status["power_cycles"]) \
                == ("power_cycle", 0, 2, 1)
            assert idle.recv(16) == b""          # the open connection is cut
        finally:
            idle.close()
        assert printer.status().state is PrinterState.OFFLINE   # refused while it restarts
        deadline = time.monotonic() + 10
        while (back := printer.status()).state is PrinterState.OFFLINE and time.monotonic() < deadline:
            time.sleep(0.05)
        assert (back.state, back.formats_in_buffer, back.labels_remaining) == (PrinterState.READY, 0, 0)
        assert emu.mode == "ready" and emu.jobs == []   # what it held never printed
        printer.send(b"^XA^FDc^FS^XZ")
        assert [job.copies for job in emu.wait_for_jobs(1)] == [1] and emu.printed() == [b"^XA^FDc^FS^XZ"]


def _read_hs(sock: socket.socket) -> bytes:
    reply = b""
    while reply.count(b"\x03") < 3:
        chunk = sock.recv(4096)
        if not chunk:
            break
        reply += chunk
    return reply


def test_a_format_held_while_paper_out_prints_when_the_paper_is_back_and_hs_counts_it_down(emulator):
    printer = open_printer(f"tcp://127.0.0.1:{emulator.port}?timeout=2")
    emulator.set_mode("paper_out")
    status = printer.send(b"^XA^FDa^FS^PQ3^XZ").status
    assert (status.formats_in_buffer, status.labels_remaining) == (1, 3)
    emulator.set_mode("ready")
    emulator.wait_for_jobs(1)
    done = printer.status()
    assert (done.state, done.formats_in_buffer, done.labels_remaining) == (PrinterState.READY, 0, 0)


def test_numbering_goes_on_in_a_spool_that_has_jobs(tmp_path):
    for text in ("first", "second"):
        with PrinterEmulator("127.0.0.1", 0, tmp_path / "spool") as emu:
            open_printer(f"tcp://127.0.0.1:{emu.port}").send(f"^XA^FD{text}^FS^XZ".encode())
            emu.wait_for_jobs(1)
    assert sorted(p.name for p in (tmp_path / "spool").glob("*.zpl")) == ["000001.zpl", "000002.zpl"]
    lines = [json.loads(line) for line in (tmp_path / "spool" / "jobs.jsonl").read_text().splitlines()]
    assert [line["file"] for line in lines] == ["000001.zpl", "000002.zpl"]
    assert (tmp_path / "spool" / "000002.zpl").read_bytes() == b"^XA^FDsecond^FS^XZ"


def test_stop_closes_the_port_and_ends_every_thread(tmp_path):
    emu = PrinterEmulator("127.0.0.1", 0, tmp_path / "spool", control_port=0).start()
    port = emu.port
    idle = socket.create_connection(("127.0.0.1", port), timeout=2)   # an open connection does not block stop
    try:
        emu.open_pty()
        emu.stop()
        emu.stop()
        assert not [t for t in threading.enumerate() if t.name.startswith("printer-emulator")]
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
    finally:
        idle.close()


def test_unknown_mode_is_refused_with_the_list():
    with pytest.raises(ValueError, match="modes: ready, offline, paper_out"):
        PrinterEmulator(mode="jammed")


# --- control endpoint ------------------------------------------------------------------------------------

def test_control_status_and_mode_switch_seen_by_a_printer(emulator):
    printer = open_printer(f"tcp://127.0.0.1:{emulator.port}?timeout=2")
    code, body = http(emulator, "/status")
    state = json.loads(body)
    assert code == 200 and state["mode"] == "ready" and state["port"] == emulator.port
    assert "paper_out" in state["modes"]

    code, body = http(emulator, "/mode", json.dumps({"mode": "paper_out"}).encode())
    assert code == 200 and json.loads(body)["host_status"] == "paper out"
    assert emulator.mode == "paper_out"
    assert printer.status().state == PrinterState.PAPER_OUT

    code, _ = http(emulator, "/mode", b"mode=head_open", "application/x-www-form-urlencoded")
    assert code == 200 and printer.status().state == PrinterState.HEAD_OPEN

    code, _ = http(emulator, "/mode?mode=slow&delay=0.05", b"")
    assert code == 200 and (emulator.mode, emulator.delay) == ("slow", 0.05)

    code, body = http(emulator, "/mode", b'{"mode": "jammed"}')
    assert code == 400 and "unknown mode 'jammed'" in json.loads(body)["error"]
    code, body = http(emulator, "/mode", b'{"mode": "slow", "delay": "soon"}')
    assert code == 400
    assert emulator.mode == "slow"


def test_control_jobs_list_and_job_bytes(emulator):
    printer = open_printer(f"tcp://127.0.0.1:{emulator.port}")
    printer.send(LABEL + b"^XA^FDtwo^FS^PQ4^XZ")
    emulator.wait_for_jobs(2)
    code, body = http(emulator, "/jobs")
    jobs = json.loads(body)
    assert code == 200
    assert [(j["seq"], j["file"], j["copies"], j["size"]) for j in jobs] == [
        (1, "000001.zpl", 1, len(LABEL)), (2, "000002.zpl", 4, 19)]
    assert http(emulator, "/jobs/1") == (200, LABEL)
    assert http(emulator, "/jobs/9")[0] == 404
    assert http(emulator, "/nothing")[0] == 404
    assert http(emulator, "/jobs", b"{}")[0] == 404


def test_remote_set_mode_and_its_errors(emulator):
    state = remote_set_mode("127.0.0.1", emulator.control_port, "drop", drop_after=5)
    assert state["mode"] == "drop" and emulator.drop_after == 5
    with pytest.raises(ValueError, match="refused: unknown mode"):
        remote_set_mode("127.0.0.1", emulator.control_port, "jammed")
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        free = unused.getsockname()[1]
    with pytest.raises(ValueError, match="no printer emulator control endpoint"):
        remote_set_mode("127.0.0.1", free, "ready")


# --- the CLI, as a real process ---------------------------------------------------------------------------

STATION = str(Path(sys.executable).with_name("station"))


def cli_env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "STATION_INSTANCE": str(tmp_path / "instance")}


def test_cli_emulator_prints_what_a_tcp_printer_sends_and_switches_modes(tmp_path):
    spool = tmp_path / "spool"
    env = cli_env(tmp_path)
    with subprocess.Popen([STATION, "printer-emulator", "--port", "0", "--spool", str(spool)],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True) as proc:
        try:
            ready, _, _ = select.select([proc.stdout], [], [], 30)
            assert ready, "the emulator printed nothing within 30 s"
            line = proc.stdout.readline()
            found = re.search(r"on 127\.0\.0\.1:(\d+) \(mode ready\); control http://127\.0\.0\.1:(\d+)/", line)
            assert found, line
            port, control = found.groups()
            printer = open_printer(f"tcp://127.0.0.1:{port}?timeout=3")
            assert printer.status().state == PrinterState.READY
            printer.send(LABEL)

            switched = subprocess.run([STATION, "printer-emulator", "--set-mode", "paper_out",
                                       "--control-port", control], capture_output=True, text=True, env=env,
                                      timeout=60)
            assert switched.returncode == 0, switched.stderr
            assert "mode paper_out: paper out" in switched.stdout
            assert printer.status().state == PrinterState.PAPER_OUT
            printer.send(b"^XA^FDheld^FS^XZ")
            subprocess.run([STATION, "printer-emulator", "--set-mode", "ready", "--control-port", control],
                           check=True, capture_output=True, env=env, timeout=60)
            deadline = time.monotonic() + 5
            while len(list(spool.glob("*.zpl"))) < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(15)
    assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""
    assert (spool / "000001.zpl").read_bytes() == LABEL
    assert (spool / "000002.zpl").read_bytes() == b"^XA^FDheld^FS^XZ"


def test_cli_usage_errors(tmp_path):
    env = cli_env(tmp_path)
    no_spool = subprocess.run([STATION, "printer-emulator", "--port", "0"], capture_output=True, text=True,
                              env=env, timeout=60)
    assert no_spool.returncode == 2 and "--spool DIR is required" in no_spool.stderr
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        free = unused.getsockname()[1]
    nobody = subprocess.run([STATION, "printer-emulator", "--set-mode", "ready", "--control-port", str(free)],
                            capture_output=True, text=True, env=env, timeout=60)
    assert nobody.returncode == 1 and "no printer emulator control endpoint" in nobody.stderr
    helped = subprocess.run([STATION, "printer-emulator", "--help"], capture_output=True, text=True, env=env,
                            timeout=60)
    assert "--set-mode" in helped.stdout and "paper_out" in helped.stdout
