"""The shared test pieces a new page test starts from, on SQLite and PostgreSQL: the `site` fixture
(extended here), the `floor` fixture (a signed-in client at a station) and actions.scan/print_label.

Copy this shape: extend `site` with what the test needs, sign in and bind through `floor`, scan and
print as a person on the floor does, then read the database to see what happened."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from actions import new_client_id, scanner
from station.models import PrintJob, Scan

lookup_scan = scanner("/lots/scan", text=True)  # scan(client, code): the lookup page's answer, HTML


@pytest.fixture
def site(site):
    """The small site, plus a MILK lot on A-01, and the dock station printing on its own printer."""
    site.lot("milk", "MILK", 12, location="A-01")
    site.printer("dock-zebra")
    site.station("Dock 1", location="DOCK", printer="dock-zebra")
    return site


def scans(site) -> list[tuple[str, int | None]]:
    with site.read() as s:
        return [(raw.decode(), station) for raw, station in s.execute(select(Scan.raw, Scan.station_id)
                                                                      .order_by(Scan.id))]


def test_the_site_names_what_it_holds(site):
    assert site["db"] is site.db
    assert site["milk"].endswith("-001")  # the first lot received today
    assert {"dock-zebra", "Dock 1"} <= set(site)


def test_a_scan_is_logged_once_at_the_floors_station_and_answered(floor, site):
    floor.sign_in("picker")
    floor.bind("Dock 1")
    answer = floor.scan(f"LOT:{site['milk']}", url="/lots/scan", text=True)
    assert site["milk"] in answer and "banner--ok" in answer
    assert scans(site) == [(f"LOT:{site['milk']}", site["Dock 1"])]


def test_the_same_client_id_twice_is_one_scan(floor, site):
    """A resend (station.js after a dropped answer) carries the scan's client id: taken once."""
    floor.sign_in("picker")
    same = new_client_id()
    for _ in range(2):
        floor.scan(f"LOT:{site['milk']}", url="/lots/scan", client_id=same, status=200)
    assert len(scans(site)) == 1


def test_a_page_scan_helper_is_bound_to_its_url(client, signed_in, site):
    signed_in(client, "supervisor")
    answer = lookup_scan(client, "LOT:NO-SUCH-LOT")
    assert 'data-ok="0"' in answer and "NO-SUCH-LOT" in answer


def test_print_label_queues_one_job_for_the_stations_printer(floor, site):
    floor.sign_in("receiver")
    floor.bind("Dock 1")
    answer = floor.print_label(site["milk"], printer="dock-zebra", copies=2)
    assert answer.status_code == 200, answer.text
    with site.read() as s:
        jobs = s.execute(select(PrintJob.printer_id, PrintJob.copies, PrintJob.station_id)).all()
        assert s.scalar(select(func.count()).select_from(PrintJob)) == 1
    assert jobs == [(site["dock-zebra"], 2, site["Dock 1"])]
