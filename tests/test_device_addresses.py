"""Device addresses never reach the server's own files or services (issue 13, point 4).

An admin (or a forged session) types a printer or scanner address; the print worker and the scanner
service act on it with the server's rights. Each finding is played for real: a file that the real print
worker (a `station worker` process) would have appended to, a file that pyserial's spy:// handler would
have truncated through the real scanner service and print worker, simulated printers whose jobs would
have landed outside the instance folder, a cups:// queue name that the real `lpstat` took for its
-hHOST:PORT option, a tcp:// printer and a serial+socket:// scanner probing a port on this machine with
no allow-list set, and a local service's banner that pickers could read in the scan log.

Every address is refused in words when it is saved (printer settings, station set-up) and again when
the worker or the service would open a row changed in the database directly; nothing is changed.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import select, update

from factories import printer
from station import netpolicy
from station.models import Printer, PrintJob, PrintJobStatus, Scan, ScannerReading, StationDevice
from station.processes.print_worker import PrintWorker
from station.processes.scanner_service import ScannerService
from station.services import printing
from test_server import wait_for as wait_until

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
STATION = Path(sys.executable).parent / "station"
PRECIOUS = b"the server's own file\n"
BANNER = b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3 internal-build-7f3a\r\n"
FORM = {"dpi": "203", "label_size": "4x6", "active": "1"}



class Listener:
    """A TCP port on 127.0.0.1 that counts connections; optionally says a banner, like a local service."""

    def __init__(self, banner: bytes = b"") -> None:
        self.banner = banner
        self.connections = 0
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self._open: list[socket.socket] = []
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            if self.banner:
                self._open.append(conn)
                threading.Thread(target=self._talk, args=(conn,), daemon=True).start()
            else:
                conn.close()

    def _talk(self, conn: socket.socket) -> None:
        """Say the banner, and again every 50 ms (a chatty service; pyserial's socket:// handler drops
        whatever arrived before its open() finished)."""
        while not self._stop.wait(0.05):
            try:
                conn.sendall(self.banner)
            except OSError:
                return

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for conn in self._open:
            conn.close()
        self.sock.close()


@pytest.fixture
def listener():
    lst = Listener()
    yield lst
    lst.close()


@pytest.fixture
def service_with_banner():
    lst = Listener(BANNER)
    yield lst
    lst.close()


@pytest.fixture
def victim(tmp_path) -> Path:
    path = tmp_path / "outside" / "precious.txt"
    path.parent.mkdir()
    path.write_bytes(PRECIOUS)
    return path


@pytest.fixture
def admin(app, signed_in):
    client = app.test_client()
    signed_in(client, "admin")
    return client


def sneak_printer(db, url: str, name: str = "dock") -> int:
    """A printer whose address was changed in the database directly (behind the settings page); one test
    label queued for it. Returns the job's id."""
    with db.write() as s:
        row = printer(s, name, url="sim://placeholder")
        s.flush()
        s.execute(update(Printer).where(Printer.id == row.id).values(url=url))
        return printing.test_print(s, name).id


def scan_count(db) -> int:
    with db.read() as s:
        return len(s.scalars(select(Scan.id)).all())


def job(db, job_id: int) -> PrintJob:
    with db.read() as s:
        row = s.get(PrintJob, job_id)
        s.expunge(row)
        return row


# --- saved: refused in words, nothing changed ---------------------------------------------------------------

BAD_PRINTERS = [
    ("file:///etc/passwd", "is not a printer device"),
    ("file:///tmp/station-new-file?create=1", "never creates a file"),
    ("file:///dev/usb/lp0/../../../etc/passwd", "is not a printer device"),
    ("serial+spy:///dev/ttyS0?file=/tmp/station-spy.txt", "not a serial connection Station opens"),
    ("serial+hwgrep://.*", "not a serial connection Station opens"),
    ("serial+alt:///dev/ttyS0?class=PosixPollSerial", "not a serial connection Station opens"),
    ("serial+socket://10.20.0.7:4000?logging=debug", "option 'logging' is not one Station reads"),
    ("serial://spy%3A%2F%2F%2Fdev%2FttyS0%3Ffile%3D%2Ftmp%2Fx", "is not a serial device"),
    ("serial:///etc/passwd", "is a plain file, not a device"),
    ("sim://..", "the name after sim:// is"),
    ("sim://a%2F..%2F..%2Fescape", "the name after sim:// is"),
    ("sim://dock?spool=/tmp/elsewhere", "it takes no options"),
    ("cups://-h127.0.0.1:631", "does not start with '-'"),
    ("cups://Zebra?server=/var/run/docker.sock", "bad CUPS server"),
    ("tcp://127.0.0.1:9100", "this server itself (a loopback address)"),
    ("tcp://localhost:22", "this server itself (a loopback address)"),
    ("tcp://[::1]:9100", "this server itself (a loopback address)"),
    ("tcp://[::ffff:127.0.0.1]:6379", "this server itself (a loopback address)"),
    ("tcp://0.0.0.0:5432", "an unspecified address"),
    ("tcp://169.254.169.254:80", "a link-local address"),
    ("serial+rfc2217://127.0.0.1:2217", "this server itself"),
    ("cups://Zebra?server=127.0.0.1:631", "this server itself"),
]


@pytest.mark.parametrize(("url", "words"), BAD_PRINTERS)
def test_the_printer_settings_refuse_an_address_that_reaches_the_server(app, admin, url, words):
    with app.extensions["station.db"].write() as s:
        printer_id = printer(s, "dock", url="tcp://10.20.0.15:9100").id
    answer = admin.post("/printers/settings/new", data={**FORM, "name": "Sneaky", "url": url})
    assert answer.status_code == 400, answer.text[:300]
    assert "nothing was changed" in answer.text and words in answer.text.replace("&#39;", "'")
    answer = admin.post(f"/printers/settings/{printer_id}", data={**FORM, "url": url})
    assert answer.status_code == 400 and words in answer.text.replace("&#39;", "'")
    with app.extensions["station.db"].read() as s:
        assert s.get(Printer, printer_id).url == "tcp://10.20.0.15:9100"
        assert s.scalar(select(Printer.id).where(Printer.name == "Sneaky")) is None


BAD_SCANNERS = [
    ("serial+spy:///dev/ttyS0?file=/tmp/station-spy.txt", "not a serial connection Station opens"),
    ("serial+loop://?logging=debug", "option 'logging' is not one Station reads"),
    ("serial+socket://127.0.0.1:22", "this server itself (a loopback address)"),
    ("serial+socket://localhost:6379?terminator=CR", "this server itself (a loopback address)"),
    ("serial+socket://169.254.169.254:80", "a link-local address"),
    ("serial:///etc/passwd", "is a plain file, not a device"),
    ("sim://../../x", "expected sim://NAME"),
    ("sim://a%2Fb", "the name after sim:// is"),
]


@pytest.mark.parametrize(("url", "words"), BAD_SCANNERS)
def test_set_up_refuses_a_scanner_address_that_reaches_the_server(app, admin, bound_station, url, words):
    station_id = bound_station(admin, "Dock tablet")
    answer = admin.post("/setup/edit", data={"station_id": station_id, "scanner_url": url})
    assert answer.status_code == 400, answer.text[:300]
    assert "nothing was changed" in answer.text and words in answer.text.replace("&#39;", "'")
    answer = admin.post("/setup/new", data={"name": "Sneaky", "scanner_url": url})
    assert answer.status_code == 400
    with app.extensions["station.db"].read() as s:
        assert s.get(StationDevice, station_id).scanner_url is None
        assert s.scalar(select(StationDevice.id).where(StationDevice.name == "Sneaky")) is None


def test_a_site_that_names_loopback_may_use_it(app, admin):
    """The printer emulator of the demo and the tests: STATION_DEVICE_NETWORKS=127.0.0.1/32 allows
    127.0.0.1 (and nothing else on loopback); a wide network such as 0.0.0.0/0 does not count."""
    app.config["DEVICE_NETWORKS"] = netpolicy.parse_networks("0.0.0.0/0,::/0,127.0.0.1/32")
    ok = admin.post("/printers/settings/new", data={**FORM, "name": "Emulator", "url": "tcp://127.0.0.1:9100"})
    assert ok.status_code == 303
    other = admin.post("/printers/settings/new", data={**FORM, "name": "Other", "url": "tcp://127.0.0.2:9100"})
    assert other.status_code == 400 and "this server itself" in other.text
    public = admin.post("/printers/settings/new", data={**FORM, "name": "Far", "url": "tcp://203.0.113.5:9100"})
    assert public.status_code == 303


# --- opened: the worker and the service refuse a row changed in the database --------------------------------


def start_worker_process(db_url: str, tmp_path: Path) -> subprocess.Popen:
    env = {**os.environ, "STATION_DATABASE_URL": db_url, "STATION_INSTANCE": str(tmp_path / "instance"),
           "PYTHONUNBUFFERED": "1"}
    env.pop("STATION_DEVICE_NETWORKS", None)  # the default: no allow-list
    return subprocess.Popen([str(STATION), "worker", "--poll", "0.05"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def test_the_print_worker_process_never_appends_to_a_file(db, db_url, tmp_path, victim):
    first = sneak_printer(db, f"file://{victim}", "plain")
    created = victim.parent / "new.zpl"
    second = sneak_printer(db, f"file://{created}?create=1", "creates")
    worker = start_worker_process(db_url, tmp_path)
    try:
        for job_id in (first, second):
            wait_until(lambda job_id=job_id: job(db, job_id).status not in (PrintJobStatus.QUEUED,
                                                                             PrintJobStatus.SENDING),
                       what="the worker to take the job")
    finally:
        worker.terminate()
        output = worker.communicate(timeout=30)[0]
    assert victim.read_bytes() == PRECIOUS, output
    assert not created.exists()
    failed = job(db, first)
    assert failed.status is PrintJobStatus.FAILED and "is not a printer device" in failed.last_error
    assert job(db, second).status is PrintJobStatus.FAILED
    assert "never creates a file" in job(db, second).last_error


def test_the_print_worker_never_lets_pyserial_spy_truncate_a_file(db, tmp_path, victim):
    job_id = sneak_printer(db, f"serial+spy:///dev/ttyS99?file={victim}&timeout=0.5")
    worker = PrintWorker(db, threads=1, status_every=0, networks=(), spool_root=tmp_path / "instance" / "printers")
    worker.run_once()
    worker.refresh_statuses(force=True)
    assert victim.read_bytes() == PRECIOUS
    failed = job(db, job_id)
    assert failed.status is PrintJobStatus.FAILED and "not a serial connection Station opens" in failed.last_error


def test_the_scanner_service_never_lets_pyserial_spy_truncate_a_file(db, victim):
    with db.write() as s:
        s.add(StationDevice(name="Dock tablet", scanner_url=f"serial+spy:///dev/ttyS99?file={victim}"))
    service = ScannerService(db, refresh_s=0, networks=())
    try:
        service.start()
        # Either refused at once, or (before the fix) a reader thread that opened, truncated and failed.
        wait_until(lambda: service.status()[0]["state"] in ("error", "reconnecting"), what="the scanner's state")
        [status] = service.status()
    finally:
        service.stop()
    assert victim.read_bytes() == PRECIOUS
    assert status["state"] == "error" and "not a serial connection Station opens" in status["error"]


@pytest.mark.parametrize(("url", "words"), [
    ("sim://..", "the name after sim:// is"),
    ("sim://a%2F..%2F..%2Fescape", "the name after sim:// is"),
    ("sim://dock?spool={outside}", "it takes no options"),
])
def test_simulated_printers_only_write_under_the_instance_folder(db, tmp_path, url, words):
    instance = tmp_path / "instance"
    outside = tmp_path / "elsewhere"
    job_id = sneak_printer(db, url.format(outside=outside))
    worker = PrintWorker(db, threads=1, status_every=0, networks=(), spool_root=instance / "printers")
    worker.run_once()
    written = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*.zpl"))
    assert written == [], "a simulated printer wrote outside its folder under the instance folder"
    failed = job(db, job_id)
    assert failed.status is PrintJobStatus.FAILED and words in failed.last_error


def test_a_good_simulated_printer_still_spools_under_the_instance_folder(db, tmp_path):
    job_id = sneak_printer(db, "sim://line-zebra_2")
    worker = PrintWorker(db, threads=1, status_every=0, networks=(), spool_root=tmp_path / "instance" / "printers")
    worker.run_once()
    assert job(db, job_id).status in (PrintJobStatus.SENT, PrintJobStatus.PRINTED)
    assert [p.parent for p in tmp_path.rglob("*.zpl")] == [tmp_path / "instance" / "printers" / "line-zebra_2"]


def lpstat() -> str:
    found = shutil.which("lpstat")
    if found is None:
        if IN_CI:
            pytest.fail("CI=true requires the CUPS client tools (Debian package cups-client)", pytrace=False)
        pytest.skip("lpstat is not installed (Debian package cups-client)")
    return found


def test_a_cups_queue_name_is_never_an_lpstat_option(db, listener):
    """cups://-h127.0.0.1:PORT made the real lpstat connect to that port (its -h option): around
    STATION_DEVICE_NETWORKS, which only held ?server= to the list."""
    lpstat()
    job_id = sneak_printer(db, f"cups://-h127.0.0.1:{listener.port}?timeout=3")
    worker = PrintWorker(db, threads=1, status_every=0, networks="10.20.0.0/16")
    worker.refresh_statuses(force=True)
    worker.run_once()
    assert listener.connections == 0, "lpstat connected where the queue name told it to"
    failed = job(db, job_id)
    assert failed.status is PrintJobStatus.FAILED and "does not start with '-'" in failed.last_error


def test_lpstat_gets_the_queue_attached_to_its_option(monkeypatch):
    """Defence in depth: even a queue name that starts with '-' (it cannot pass the URL check) would ride
    attached to -p/-a, never as a word of its own (CUPS' lpstat knows no '--')."""
    from devices.printers.cups import CupsPrinter

    seen = []
    cups = CupsPrinter("cups://Zebra_dock?timeout=1")
    monkeypatch.setattr(subprocess, "run", lambda args, **kw: seen.append(args) or subprocess.CompletedProcess(
        args, 1, b"", b"lpstat: No destinations added."))
    cups.status()
    assert seen[0] == ["lpstat", "-pZebra_dock", "-aZebra_dock"]


def test_the_print_worker_does_not_probe_a_local_port_without_an_allow_list(db, listener):
    job_id = sneak_printer(db, f"tcp://127.0.0.1:{listener.port}?timeout=0.5")
    worker = PrintWorker(db, threads=1, status_every=0, networks=())
    worker.run_once()
    worker.refresh_statuses(force=True)
    assert listener.connections == 0
    failed = job(db, job_id)
    assert failed.status is PrintJobStatus.FAILED and "this server itself (a loopback address)" in failed.last_error


def test_the_scanner_service_does_not_probe_a_local_service_without_an_allow_list(db, service_with_banner):
    with db.write() as s:
        s.add(StationDevice(name="Dock tablet", scanner_url=f"serial+socket://127.0.0.1:{service_with_banner.port}"))
    service = ScannerService(db, refresh_s=0, networks=())
    try:
        service.start()
        [status] = service.status()
        assert status["state"] == "error" and "this server itself (a loopback address)" in status["error"]
    finally:
        service.stop()
    assert service_with_banner.connections == 0
    with db.read() as s:
        assert s.scalar(select(Scan.id)) is None


# --- what a device says that is not a scan: admins only ----------------------------------------------------


def test_a_services_banner_is_never_shown_to_floor_roles(app, signed_in, service_with_banner):
    """An admin explicitly allowed 127.0.0.1 and pointed a scanner at a local service: its banner is
    logged like any scan. Pickers (and every floor role) read a neutral sentence; the admin sees it all."""
    db = app.extensions["station.db"]
    with db.write() as s:
        s.add(StationDevice(name="Dock tablet", scanner_url=f"serial+socket://127.0.0.1:{service_with_banner.port}"))
    service = ScannerService(db, refresh_s=0, networks="127.0.0.1/32")
    try:
        service.start()
        wait_until(lambda: scan_count(db) > 0, what="the banner logged")
    finally:
        service.stop()
    secret = "internal-build-7f3a"
    for role in ("picker", "receiver", "line_operator", "supervisor"):
        floor = app.test_client()
        signed_in(floor, role)
        page = floor.get("/scans").text
        assert secret not in page and "OpenSSH" not in page and "53 53 48" not in page, role
        assert "The scanner at Dock tablet is not answering like a scanner" in page
        feed = floor.get("/scan/feed?station=Dock%20tablet&after=0").text
        assert secret not in feed and "not answering like a scanner" in feed
    admin = app.test_client()
    signed_in(admin, "admin")
    page = admin.get("/scans").text
    assert secret in page and "53 53 48 2d" in page  # the text and its bytes in hex


def test_a_scanners_error_is_shown_to_admins_only(app, signed_in):
    db = app.extensions["station.db"]
    url = "serial+socket://10.20.0.7:4000"
    with db.write() as s:
        station = StationDevice(name="Dock tablet", scanner_url=url)
        s.add(station)
        s.flush()
        # As the scanner service writes it: a device's own words in the error.
        s.add(ScannerReading(station_id=station.id, url=url, state="reconnecting", scans=0, failures=0,
                             error="SerialException: +OK redis-7.2 requirepass hunter2", reader="test:1"))
    picker = app.test_client()
    signed_in(picker, "picker")
    page = picker.get("/scans").text
    assert "hunter2" not in page and "The scanner at Dock tablet is not answering like a scanner" in page
    admin = app.test_client()
    signed_in(admin, "admin")
    assert "hunter2" in admin.get("/scans").text


def test_real_scans_from_a_device_are_still_shown_to_everyone(app, signed_in):
    """A refused lot label or an unknown GTIN from a scanner is a scan: the floor sees it as before."""
    from station.scanning import ScanContext
    from station.services.scans import ingest

    db = app.extensions["station.db"]
    with db.write() as s:
        station = StationDevice(name="Dock tablet", scanner_url="sim://dock")
        s.add(station)
        s.flush()
        station_id = station.id
    ingest(db, b"LOT:NO-SUCH-LOT-77", source="sim://dock", station_id=station_id, context=ScanContext(workflow="lookup"))
    picker = app.test_client()
    signed_in(picker, "picker")
    page = picker.get("/scans").text
    assert "NO-SUCH-LOT-77" in page and "not answering like a scanner" not in page
