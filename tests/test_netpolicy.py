"""STATION_DEVICE_NETWORKS (station/netpolicy.py): which device addresses are network hosts, the check of
every address a name resolves to, the refusal in words when an admin sets an address outside the list
(printer settings, station set-up), and again when the print worker or the scanner service would open
one whose row was changed in the database directly — a real listening socket shows nothing connected."""
from __future__ import annotations

import socket

import pytest
from sqlalchemy import select, update

from factories import printer
from station import netpolicy
from station.config import settings
from station.models import Printer, PrintJob, PrintJobStatus, StationDevice
from station.processes.print_worker import PrintWorker
from station.processes.scanner_service import ScannerService
from station.services import printing

SITE = netpolicy.parse_networks("10.20.0.0/16, 192.168.5.0/24")


def test_parse_networks():
    assert [str(n) for n in SITE] == ["10.20.0.0/16", "192.168.5.0/24"]
    assert netpolicy.parse_networks("") == () and netpolicy.parse_networks(None) == ()
    assert netpolicy.parse_networks(SITE) == SITE  # already parsed: the same
    assert [str(n) for n in netpolicy.parse_networks("10.1.2.3/8")] == ["10.0.0.0/8"]
    with pytest.raises(ValueError, match="STATION_DEVICE_NETWORKS: 'dock' is not a network"):
        netpolicy.parse_networks("10.0.0.0/8,dock")


def test_a_bad_setting_stops_the_start(monkeypatch, tmp_path):
    monkeypatch.setenv("STATION_DEVICE_NETWORKS", "10.0.0.0/33")
    with pytest.raises(ValueError, match="write networks as CIDRs"):
        settings(str(tmp_path))
    monkeypatch.setenv("STATION_DEVICE_NETWORKS", "10.20.0.0/16,192.168.5.0/24")
    assert settings(str(tmp_path))["DEVICE_NETWORKS"] == SITE


@pytest.mark.parametrize("url, host", [
    ("tcp://10.20.0.15:9100", "10.20.0.15"),
    ("tcp://zebra-dock:9100?timeout=3", "zebra-dock"),
    ("serial+socket://192.168.5.7:4000", "192.168.5.7"),
    ("serial+rfc2217://[fd00::7]:2217", "fd00::7"),
    ("cups://Zebra_dock?server=printsrv:631", "printsrv"),
    ("cups://Zebra_dock", None),
    ("cups://Zebra_dock?server=/run/cups/cups.sock", None),
    ("sim://dock", None),
    ("file:///dev/usb/lp0", None),
    ("serial:///dev/ttyUSB0?baudrate=9600", None),
    ("serial://COM3", None),
    ("serial+loop://", None),
    ("agent://", None),
])
def test_which_urls_name_a_network_host(url, host):
    assert netpolicy.network_host(url) == host


def test_no_list_allows_any_host_but_the_server_itself():
    def never(*args):
        raise AssertionError("an address is not looked up")

    def public(host, port, family=0, kind=0):
        return [(socket.AF_INET, kind, 6, "", ("203.0.113.7", 0))]

    assert netpolicy.refusal("tcp://8.8.8.8:9100", (), resolve=never) is None
    # A name is looked up now even without a list: it must not stand for a loopback or link-local address
    # (tests/test_device_addresses.py).
    assert netpolicy.refusal("tcp://printer.example:9100", (), resolve=public) is None


def test_addresses_inside_and_outside():
    assert netpolicy.refusal("tcp://10.20.3.4:9100", SITE) is None
    assert netpolicy.refusal("serial+socket://192.168.5.200:4000", SITE) is None
    assert netpolicy.refusal("sim://dock", SITE) is None
    assert netpolicy.refusal("file:///dev/usb/lp0", SITE) is None
    why = netpolicy.refusal("tcp://8.8.8.8:9100", SITE)
    assert why == ("the device at 8.8.8.8 is outside the networks devices may be on (10.20.0.0/16, "
                   "192.168.5.0/24, set by STATION_DEVICE_NETWORKS)")
    assert "outside" in netpolicy.refusal("serial+socket://192.168.6.1:4000", SITE)
    assert "outside" in netpolicy.refusal("cups://Q?server=203.0.113.5", SITE)
    assert "outside" in netpolicy.refusal("tcp://[::ffff:8.8.8.8]:9100", SITE)
    assert netpolicy.refusal("tcp://[::ffff:10.20.0.1]:9100", SITE) is None  # an IPv4 address in IPv6 dress
    assert "names no host" in netpolicy.refusal("tcp://:9100", SITE)


def test_every_address_of_a_name_must_be_inside():
    """getaddrinfo answers with every address of the name (the real resolver for localhost)."""
    loopback = netpolicy.parse_networks("127.0.0.0/8,::1/128")
    assert netpolicy.refusal("tcp://localhost:9100", loopback) is None
    assert "localhost (127.0.0.1)" in netpolicy.refusal("tcp://localhost:9100", SITE) or \
        "localhost (::1)" in netpolicy.refusal("tcp://localhost:9100", SITE)

    def two_homes(host, port, family=0, kind=0):  # a name with one address inside, one outside
        return [(socket.AF_INET, kind, 6, "", ("10.20.0.9", 0)), (socket.AF_INET, kind, 6, "", ("8.8.4.4", 0))]

    why = netpolicy.refusal("tcp://zebra:9100", SITE, resolve=two_homes)
    assert why.startswith("the device at zebra (8.8.4.4) is outside")


def test_a_name_that_does_not_resolve_is_refused():
    why = netpolicy.refusal("tcp://no-such-printer.invalid:9100", SITE)
    assert "could not be looked up" in why and "10.20.0.0/16" in why


# --- refused when set -------------------------------------------------------------------------------


def test_the_printer_page_refuses_an_address_outside(app, signed_in):
    app.config["DEVICE_NETWORKS"] = SITE
    admin = app.test_client()
    signed_in(admin, "admin")
    with app.extensions["station.db"].write() as s:
        printer_id = printer(s, "dock", url="tcp://10.20.0.15:9100").id
    form = {"url": "tcp://8.8.8.8:9100", "dpi": "203", "label_size": "4x6", "active": "1"}
    answer = admin.post(f"/printers/settings/{printer_id}", data=form)
    assert answer.status_code == 400
    assert "is not allowed — nothing was changed" in answer.text and "8.8.8.8 is outside" in answer.text
    answer = admin.post("/printers/settings/new", data={**form, "name": "Far away"})
    assert answer.status_code == 400
    with app.extensions["station.db"].read() as s:
        assert s.get(Printer, printer_id).url == "tcp://10.20.0.15:9100"
        assert s.scalar(select(Printer.id).where(Printer.name == "Far away")) is None
    inside = admin.post(f"/printers/settings/{printer_id}", data={**form, "url": "tcp://192.168.5.9:9100"})
    assert inside.status_code == 303
    with app.extensions["station.db"].read() as s:
        assert s.get(Printer, printer_id).url == "tcp://192.168.5.9:9100"


def test_set_up_refuses_a_scanner_outside(app, signed_in, bound_station):
    app.config["DEVICE_NETWORKS"] = SITE
    admin = app.test_client()
    signed_in(admin, "admin")
    station_id = bound_station(admin, "Dock tablet")
    answer = admin.post("/setup/edit", data={"station_id": station_id, "scanner_url": "serial+socket://8.8.8.8:4000"})
    assert answer.status_code == 400
    assert "is not allowed — nothing was changed" in answer.text
    answer = admin.post("/setup/new", data={"name": "Far", "scanner_url": "serial+socket://8.8.8.8:4000"})
    assert answer.status_code == 400
    assert admin.post("/setup/edit", data={"station_id": station_id, "scanner_url": "sim://dock"}).status_code == 303
    with app.extensions["station.db"].read() as s:
        assert s.get(StationDevice, station_id).scanner_url == "sim://dock"
        assert s.scalar(select(StationDevice.id).where(StationDevice.name == "Far")) is None


# --- refused when opened ----------------------------------------------------------------------------


@pytest.fixture
def listener():
    """A real TCP port on 127.0.0.1 that records nothing but whether anyone connected."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    sock.setblocking(False)
    yield sock
    sock.close()


def _connected(sock) -> bool:
    try:
        conn, _ = sock.accept()
    except BlockingIOError:
        return False
    conn.close()
    return True


def test_the_print_worker_does_not_open_a_printer_outside(db, listener):
    port = listener.getsockname()[1]
    with db.write() as s:
        row = printer(s, "dock", url="sim://dock")
        s.flush()
        # Changed behind the settings page's back: straight in the database.
        s.execute(update(Printer).where(Printer.id == row.id).values(url=f"tcp://127.0.0.1:{port}?timeout=0.5"))
        job_id = printing.test_print(s, "dock").id
    worker = PrintWorker(db, threads=1, status_every=0, networks="10.20.0.0/16")
    assert worker.run_once() == 1
    with db.read() as s:
        job = s.get(PrintJob, job_id)
        assert job.status is PrintJobStatus.FAILED
        assert "not sent — the device at 127.0.0.1 is outside the networks devices may be on" in job.last_error
        assert "Printer dock" in job.last_error
        assert s.get(Printer, job.printer_id).state == "offline"
    assert worker.refresh_statuses(force=True) == 1
    assert not _connected(listener)
    # The same row with the loopback network allowed: the worker does connect.
    with db.write() as s:
        job_id = printing.test_print(s, "dock").id
    allowed = PrintWorker(db, threads=1, status_every=0, networks="127.0.0.0/8")
    allowed.run_once()
    assert _connected(listener)


def test_the_worker_reads_the_environment_when_run_alone(db, monkeypatch):
    monkeypatch.setenv("STATION_DEVICE_NETWORKS", "10.20.0.0/16")
    assert PrintWorker(db).networks == netpolicy.parse_networks("10.20.0.0/16")
    assert ScannerService(db).networks == netpolicy.parse_networks("10.20.0.0/16")
    monkeypatch.delenv("STATION_DEVICE_NETWORKS")
    assert PrintWorker(db).networks == ()


def test_the_scanner_service_does_not_open_a_scanner_outside(db, listener):
    port = listener.getsockname()[1]
    with db.write() as s:
        s.add(StationDevice(name="Dock tablet", scanner_url=f"serial+socket://127.0.0.1:{port}"))
    service = ScannerService(db, refresh_s=0, networks="10.20.0.0/16")
    try:
        service.start()
        [status] = service.status()
        assert status["state"] == "error"
        assert status["error"].startswith("Not opened: the device at 127.0.0.1 is outside the networks")
    finally:
        service.stop()
    assert not _connected(listener)
