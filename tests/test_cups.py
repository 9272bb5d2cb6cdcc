"""cups:// for real: a private cupsd, a raw queue pointing at the printer emulator, lpr through `zebra`.

The cupsd runs in the foreground with its own configuration, spool, state and logs in a temporary folder and
listens on a socket there (CUPS_SERVER / ?server=), so it never touches the machine's CUPS. Without cupsd or
the CUPS client tools these tests skip, except under CI=true, where they fail: CI installs them
(scripts/setup.sh --test), so their absence is a broken run, not a reason to skip.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from devices.printers import PrinterError, PrinterState, open_printer
from devices.printers.cups import CupsPrinter
from devices.printers.emulator import PrinterEmulator

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
LABELS = ("^XA^CI28^FO40,40^A0N,40,40^FDMüller ß ç 日本^FS^PQ2^XZ\r\n"
          "^XA^CI28^FO40,40^A0N,40,40^FH^FDLot _5EXZ 42 – Ærøskøbing^FS^XZ").encode()


def unavailable(message: str) -> None:
    if IN_CI:
        pytest.fail("CI=true requires a working cupsd (scripts/setup.sh --test installs it); " + message,
                    pytrace=False)
    pytest.skip(message)


def tool(name: str) -> str:
    found = shutil.which(name, path=SEARCH_PATH)
    if found is None:
        unavailable(f"{name} is not installed (Debian packages cups, cups-client, cups-bsd)")
    return found


@dataclass
class Cupsd:
    root: Path
    socket: str

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "CUPS_SERVER": self.socket, "LC_ALL": "C", "LANG": "C"}

    def run(self, name: str, *args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([tool(name), *args], capture_output=True, text=True, env=self.env, timeout=30)
        assert done.returncode == 0, f"{name} {' '.join(args)}: {done.stderr}"
        return done

    def queue(self, name: str, device: str) -> str:
        """A raw queue (no PPD: the bytes go through untouched), enabled and accepting."""
        self.run("lpadmin", "-p", name, "-E", "-v", device)
        return f"cups://{name}?server={self.socket}"


@pytest.fixture(scope="module")
def cupsd():
    binary = tool("cupsd")
    for name in ("lpr", "lpstat", "lpadmin"):
        tool(name)
    # A short path: the scheduler's socket must fit in sun_path (108 bytes). Readable by the 'lp' user
    # that a root cupsd runs its backends as.
    root = Path(tempfile.mkdtemp(prefix="station-cups-"))
    root.chmod(0o755)
    for sub in ("etc/ppd", "etc/ssl", "spool/tmp", "cache", "state", "log"):
        (root / sub).mkdir(parents=True)
    sock = str(root / "cups.sock")
    (root / "etc/cups-files.conf").write_text(f"""\
ServerRoot {root}/etc
RequestRoot {root}/spool
TempDir {root}/spool/tmp
CacheDir {root}/cache
StateDir {root}/state
ErrorLog {root}/log/error_log
AccessLog {root}/log/access_log
PageLog {root}/log/page_log
ServerBin /usr/lib/cups
DataDir /usr/share/cups
FileDevice No
""")
    (root / "etc/cupsd.conf").write_text(f"""\
Listen {sock}
Browsing Off
WebInterface No
LogLevel info
DefaultAuthType None
<Location />
  Order allow,deny
  Allow all
</Location>
<Policy default>
  <Limit All>
    Order deny,allow
  </Limit>
</Policy>
""")
    server = Cupsd(root, sock)
    with open(root / "log/stderr", "wb") as log:
        proc = subprocess.Popen([binary, "-f", "-c", f"{root}/etc/cupsd.conf", "-s", f"{root}/etc/cups-files.conf"],
                                stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 20
        while True:
            probe = subprocess.run([tool("lpstat"), "-r"], capture_output=True, text=True, env=server.env,
                                   timeout=30)
            if "scheduler is running" in probe.stdout:
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                logs = [(root / "log" / name) for name in ("stderr", "error_log")]
                text = "\n".join(p.read_text(errors="replace")[-2000:] for p in logs if p.exists())
                unavailable(f"cupsd did not start (exit {proc.poll()}):\n{text}")
            time.sleep(0.1)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def emulator(tmp_path):
    with PrinterEmulator("127.0.0.1", 0, tmp_path / "spool") as emu:
        yield emu


def test_a_raw_queue_delivers_exactly_the_bytes_to_the_printer(cupsd, emulator):
    url = cupsd.queue("station_raw", f"socket://127.0.0.1:{emulator.port}")
    printer = open_printer(url)
    assert isinstance(printer, CupsPrinter)
    status = printer.status()
    assert (status.state, status.known, status.can_print) == (PrinterState.UNKNOWN, False, True)
    assert "idle and accepting jobs" in status.detail
    printer.send(LABELS)
    jobs = emulator.wait_for_jobs(2, timeout=30)
    assert len(jobs) == 2, f"CUPS delivered {len(jobs)} of 2 formats; see {cupsd.root}/log/error_log"
    first, second = LABELS.split(b"\r\n")
    assert emulator.printed() == [first, second]        # UTF-8 intact, not cp437, not filtered
    assert [job.copies for job in jobs] == [2, 1]


def test_cups_server_comes_from_the_environment_too(cupsd, emulator, monkeypatch):
    cupsd.queue("station_env", f"socket://127.0.0.1:{emulator.port}")
    monkeypatch.setenv("CUPS_SERVER", cupsd.socket)
    open_printer("cups://station_env").send(LABELS)
    assert len(emulator.wait_for_jobs(2, timeout=30)) == 2


def test_an_unknown_queue_is_offline_and_its_jobs_fail_for_good(cupsd):
    printer = open_printer(f"cups://no_such_queue?server={cupsd.socket}")
    status = printer.status()
    assert status.state == PrinterState.OFFLINE and "no queue named 'no_such_queue'" in status.detail
    with pytest.raises(PrinterError, match="does not exist") as caught:
        printer.send(LABELS)
    assert not caught.value.retryable


def test_a_disabled_or_rejecting_queue_is_offline_with_the_reason(cupsd, emulator):
    url = cupsd.queue("station_stopped", f"socket://127.0.0.1:{emulator.port}")
    printer = open_printer(url)
    cupsd.run("cupsdisable", "-r", "label jam at line 3", "station_stopped")
    status = printer.status()
    assert status.state == PrinterState.OFFLINE
    assert "is disabled (stopped): label jam at line 3" in status.detail
    cupsd.run("cupsreject", "-r", "maintenance", "station_stopped")
    assert "is not accepting jobs: maintenance" in printer.status().detail
    with pytest.raises(PrinterError, match="not accepting jobs") as caught:
        printer.send(LABELS)
    assert caught.value.retryable
    cupsd.run("cupsenable", "station_stopped")
    cupsd.run("cupsaccept", "station_stopped")
    assert printer.status().state == PrinterState.UNKNOWN


def test_a_scheduler_that_is_not_running_is_offline_and_retryable(tmp_path):
    for name in ("lpr", "lpstat"):
        tool(name)
    printer = open_printer(f"cups://station_raw?server={tmp_path}/no-cupsd/cups.sock&timeout=10")
    status = printer.status()
    assert status.state == PrinterState.OFFLINE and "scheduler" in status.detail and "not running" in status.detail
    with pytest.raises(PrinterError, match="scheduler is not running") as caught:
        printer.send(LABELS)
    assert caught.value.retryable
