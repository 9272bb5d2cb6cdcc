"""Scanners bound to stations: a sim:// or serial:// scan lands in the scan log and on the station's feed."""
from __future__ import annotations

import os
import re
import time
import uuid

import pytest
from sqlalchemy import select

from station.models import Scan, StationDevice
from station.processes.scanner_service import ScannerService, start_for

from devices.scanners import sim

HX = {"HX-Request": "true"}


@pytest.fixture
def client(client, signed_in):
    """The scan feed and the scan log need a signed-in operator (station/auth/ require_signed_in);
    the scan log is a supervisor's diagnostics page."""
    signed_in(client, "supervisor")
    return client
GS1 = b"]C1010950110153000310ABC123\x1d17240630"


def wait_until(predicate, timeout: float = 5.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def add_station(db, name: str, url: str | None) -> int:
    with db.write() as s:
        station = StationDevice(name=name, scanner_url=url)
        s.add(station)
        s.flush()
        return station.id


def scan_rows(db, station_id: int | None = None) -> list[tuple]:
    with db.read() as s:
        query = select(Scan.id, Scan.source, Scan.station_id, Scan.raw, Scan.ignored).order_by(Scan.id)
        if station_id is not None:
            query = query.where(Scan.station_id == station_id)
        return [tuple(r) for r in s.execute(query)]


@pytest.fixture
def db(app):
    return app.extensions["station.db"]


@pytest.fixture
def sim_name() -> str:
    return f"dock-{uuid.uuid4().hex[:8]}"


def test_a_sim_scan_is_logged_for_its_station_and_comes_out_of_the_feed(app, client, db, sim_name):
    dock = add_station(db, "Dock tablet", f"sim://{sim_name}")
    other = add_station(db, "Line 1 PC", None)
    with ScannerService(db, refresh_s=0) as service:
        [status] = service.status()
        assert (status["station"], status["url"]) == ("Dock tablet", f"sim://{sim_name}")
        sim.inject(sim_name, GS1)  # returns once the scan was delivered (and so ingested)
        [(scan_id, source, station_id, raw, ignored)] = scan_rows(db)
        assert (source, station_id, raw, ignored) == (f"sim://{sim_name}", dock, GS1, False)
        assert service.status()[0]["scans"] == 1

    feed = client.get("/scan/feed", query_string={"station": "Dock tablet", "after": 0}, headers=HX)
    assert feed.status_code == 200
    assert feed.headers["X-Scan-Last"] == str(scan_id)
    assert re.findall(r'data-scan-id="(\d+)"', feed.text) == [str(scan_id)]
    assert "]C1010950110153000310ABC123<abbr class=\"ctl\"" in feed.text  # GS shown by name, never raw
    assert "\x1d" not in feed.text
    assert client.get("/scan/feed", query_string={"station": "Dock tablet", "after": scan_id}).status_code == 204
    assert client.get("/scan/feed", query_string={"station": "Line 1 PC", "after": 0}).status_code == 204
    assert other != dock


def test_sim_scans_run_the_same_rules_as_typed_ones_bounces_included(app, db, sim_name):
    add_station(db, "Dock tablet", f"sim://{sim_name}")
    with ScannerService(db, refresh_s=0, bounce_ms=500):
        # A double read of one trigger pull: both reads on the wire together, as a scanner sends them.
        sim.inject(sim_name, b"LOT:240506-001\rLOT:240506-001")
        sim.inject(sim_name, b"LOC:A-01-02")
    assert [(raw, ignored) for _, _, _, raw, ignored in scan_rows(db)] == [
        (b"LOT:240506-001", False), (b"LOT:240506-001", True), (b"LOC:A-01-02", False)]


def test_undecodable_bytes_from_a_scanner_are_logged_as_they_came(app, db, sim_name):
    add_station(db, "Dock tablet", f"sim://{sim_name}")
    with ScannerService(db, refresh_s=0):
        sim.inject(sim_name, b"b\xffd")
    [(_, _, _, raw, _)] = scan_rows(db)
    assert raw == b"b\xffd"


def test_the_service_follows_the_stations_table_and_reports_bad_urls(app, db, sim_name):
    dock = add_station(db, "Dock tablet", f"sim://{sim_name}")
    add_station(db, "Broken", "bogus://nothing")
    service = ScannerService(db, refresh_s=0).start()
    try:
        states = {s["station"]: s for s in service.status()}
        assert states["Broken"]["state"] == "error" and "bogus://nothing" in states["Broken"]["error"]
        assert states["Dock tablet"]["state"] != "error"

        moved = f"{sim_name}-b"
        with db.write() as s:
            s.get(StationDevice, dock).scanner_url = f"sim://{moved}"
        service.refresh()
        assert sim_name not in sim.open_names() and moved in sim.open_names()
        sim.inject(moved, b"LOT:1")
        assert scan_rows(db)[0][1:3] == (f"sim://{moved}", dock)

        with db.write() as s:
            s.get(StationDevice, dock).scanner_url = None
        service.refresh()
        assert moved not in sim.open_names()
    finally:
        service.stop()
    assert service.status() == []


def test_start_for_an_app_registers_the_service_and_stop_closes_every_scanner(app, sim_name):
    add_station(app.extensions["station.db"], "Dock tablet", f"sim://{sim_name}")
    service = start_for(app)
    try:
        assert app.extensions["station.scanners"] is service
        assert sim_name in sim.open_names()
    finally:
        service.stop()
    assert sim_name not in sim.open_names()


def test_a_serial_scanner_on_a_real_pty_feeds_its_station_end_to_end(app, client, db, tmp_path):
    master, slave = os.openpty()
    link = tmp_path / "ttyACM-test"
    link.symlink_to(os.ttyname(slave))
    os.close(slave)
    url = f"serial://{link}?baudrate=9600&terminator=CR"
    line = add_station(db, "Line 1 PC", url)
    try:
        with ScannerService(db, refresh_s=0) as service:
            wait_until(lambda: service.status()[0]["state"] == "connected", what="the port to open")
            os.write(master, GS1 + b"\rLOT:240506-001\r")
            rows = wait_until(lambda: len(scan_rows(db)) == 2 and scan_rows(db), what="two scans")
        assert [(r[1], r[2], r[3]) for r in rows] == [(url, line, GS1), (url, line, b"LOT:240506-001")]
        feed = client.get("/scan/feed", query_string={"station": "Line 1 PC", "after": 0}, headers=HX)
        assert re.findall(r'data-scan-id="(\d+)"', feed.text) == [str(rows[0][0]), str(rows[1][0])]
    finally:
        os.close(master)


def test_the_scan_log_page_of_any_process_shows_the_scanners_another_process_reads(app, client, sim_name,
                                                                                    db_url, tmp_path):
    """The scanner service runs in one process; the page may be served by another (station run
    --workers N, or `station scanners` beside the server): the state is read from the database."""
    from station import create_app

    add_station(app.extensions["station.db"], "Dock tablet", f"sim://{sim_name}")
    assert "Scanners read by this server" not in client.get("/scans").text
    other = create_app({"TESTING": True, "DATABASE_URL": db_url})  # the process reading the scanners
    service = start_for(other)
    try:
        sim.inject(sim_name, b"LOC:A-01-02")
        wait_until(lambda: re.search(r'data-label="Scans" class="num">1\b', client.get("/scans").text),
                   what="the scan counted on the page")
        page = client.get("/scans").text
        assert "Scanners read by this server" in page and f"sim://{sim_name}" in page and "connected" in page
    finally:
        service.stop()
        other.extensions["station.db"].dispose()
    assert "stopped" in client.get("/scans").text  # the reader said so as it stopped


def test_a_scan_cut_off_by_an_unplug_is_never_resolved(app, db, sim_name):
    station = add_station(db, "Dock tablet", f"sim://{sim_name}")
    with ScannerService(db, refresh_s=0):
        sim.inject(sim_name, b"LOT:24-00", terminate=False)  # "LOT:24-0017" cut short
        sim.unplug(sim_name)
        sim.inject(sim_name, GS1)  # after the reconnect; the reader handles events in order
    assert [raw for _, _, _, raw, _ in scan_rows(db, station)] == [GS1]
