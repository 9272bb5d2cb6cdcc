"""Station set-up, changing a station: supervisors and admins change its location and default printer;
only an admin sets or changes its scanner, and a scanner address the scanner URL parser refuses is
refused in words with nothing changed. Through the test client, on SQLite and PostgreSQL."""
from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import select

from station.models import LocationKind, Printer, StationDevice
from station.services import catalog
from actions import text_of


@pytest.fixture
def site(app) -> dict:
    with app.extensions["station.db"].write() as s:
        dock = catalog.create_location(s, code="DOCK-1", kind=LocationKind.DOCK)
        line = catalog.create_location(s, code="LINE-1", kind=LocationKind.LINE)
        zebra, office = Printer(name="dock-zebra", url="sim://dock-zebra"), Printer(name="office", url="sim://office")
        station = StationDevice(name="Dock tablet", location_id=dock.id, printer_id=None,
                                scanner_url="sim://dock-1")
        s.add_all([zebra, office, station])
        s.flush()
        return {"db": app.extensions["station.db"], "dock": dock.id, "line": line.id, "zebra": zebra.id,
                "office": office.id, "station": station.id}


def station_row(site) -> tuple:
    with site["db"].read() as s:
        row = s.get(StationDevice, site["station"])
        return row.location_id, row.printer_id, row.scanner_url


def edit(client, site, **fields):
    data = {"station_id": str(site["station"]), "location_id": str(site["line"]),
            "printer_id": str(site["zebra"]), **fields}
    return client.post("/setup/edit", data=data)


@pytest.mark.parametrize("role", ["supervisor", "admin"])
def test_a_supervisor_or_admin_changes_a_stations_location_and_printer(client, site, signed_in, role):
    signed_in(client, role)
    page = client.get("/setup").text
    assert 'data-station-edit="Dock tablet"' in page and "Change Dock tablet" in text_of(page)
    response = edit(client, site)
    assert response.status_code == 303 and response.headers["Location"] == "/setup"
    assert station_row(site) == (site["line"], site["zebra"], "sim://dock-1")
    assert "Station Dock tablet changed." in text_of(client.get("/setup").text)
    # Back to no printer and no location.
    assert edit(client, site, location_id="", printer_id="").status_code == 303
    assert station_row(site) == (None, None, "sim://dock-1")


def test_a_supervisor_sees_the_scanner_but_cannot_change_it(client, site, signed_in):
    signed_in(client, "supervisor")
    page = client.get("/setup").text
    assert 'name="scanner_url"' not in page  # neither when changing nor when creating a station
    assert "only an admin changes it" in text_of(page) and "sim://dock-1" in page
    response = edit(client, site, scanner_url="sim://elsewhere")
    assert response.status_code == 403
    assert "Only an admin may set or change a station's scanner — nothing was changed." in text_of(response.text)
    assert station_row(site) == (site["dock"], None, "sim://dock-1")  # nothing, not even the location
    response = edit(client, site, scanner_url="")  # taking it away is a change too
    assert response.status_code == 403 and station_row(site)[2] == "sim://dock-1"
    # Sending the scanner unchanged is no change of it: the rest is saved.
    assert edit(client, site, scanner_url="sim://dock-1").status_code == 303
    assert station_row(site) == (site["line"], site["zebra"], "sim://dock-1")


def test_a_supervisor_may_not_create_a_station_with_a_scanner(client, site, signed_in):
    signed_in(client, "supervisor")
    response = client.post("/setup/new", data={"name": "Handheld 3", "scanner_url": "sim://hh-3"})
    assert response.status_code == 403 and "Only an admin" in text_of(response.text)
    with site["db"].read() as s:
        assert s.scalar(select(StationDevice).where(StationDevice.name == "Handheld 3")) is None


def test_an_admin_sets_changes_and_removes_the_scanner(client, site, signed_in):
    signed_in(client, "admin")
    assert 'name="scanner_url"' in client.get("/setup").text
    url = "serial:///dev/ttyACM0?baudrate=9600&terminator=CR"
    assert edit(client, site, scanner_url=f"  {url} ").status_code == 303
    assert station_row(site) == (site["line"], site["zebra"], url)
    assert edit(client, site, scanner_url="").status_code == 303
    assert station_row(site)[2] is None
    response = client.post("/setup/new", data={"name": "Line 1 PC", "scanner_url": "sim://line-1"})
    assert response.status_code == 303
    with site["db"].read() as s:
        assert s.scalar(select(StationDevice.scanner_url).where(StationDevice.name == "Line 1 PC")) == "sim://line-1"


@pytest.mark.parametrize("bad", ["/dev/ttyACM0", "usb://scanner", "sim://dock-1?speed=fast",
                                 "serial:///dev/ttyACM0?baudrate=fast", "sim://"])
def test_a_bad_scanner_address_is_refused_in_words_and_nothing_changes(client, site, signed_in, bad):
    signed_in(client, "admin")
    response = edit(client, site, scanner_url=bad)
    assert response.status_code == 400
    words = text_of(response.text)
    assert f"The scanner address '{bad}' is not one Station can read — nothing was changed." in words
    assert "Traceback" not in response.text
    assert station_row(site) == (site["dock"], None, "sim://dock-1")
    # The form stays open with what was typed, to put it right.
    assert re.search(r'<details class="setup-edit" data-station-edit="Dock tablet" open>', response.text)
    assert f'value="{html.escape(bad)}"' in response.text
    response = client.post("/setup/new", data={"name": "Handheld 4", "scanner_url": bad})
    assert response.status_code == 400 and "is not one Station can read" in text_of(response.text)


def test_changing_a_station_that_is_gone_or_to_a_location_that_is_gone(client, site, signed_in):
    signed_in(client, "admin")
    response = client.post("/setup/edit", data={"station_id": "99999"})
    assert response.status_code == 404 and "That station is gone" in text_of(response.text)
    response = edit(client, site, location_id="99999")
    assert response.status_code == 400 and "That location is gone" in text_of(response.text)
    response = edit(client, site, printer_id="99999")
    assert response.status_code == 400 and "That printer is gone" in text_of(response.text)
    assert station_row(site) == (site["dock"], None, "sim://dock-1")


@pytest.mark.parametrize("role", ["receiver", "picker", "line_operator"])
def test_other_roles_may_not_change_stations(client, site, signed_in, role):
    signed_in(client, role)
    response = edit(client, site, scanner_url="sim://x")
    assert response.status_code == 403 and "Station set-up is for supervisors" in text_of(response.text)
    assert station_row(site) == (site["dock"], None, "sim://dock-1")


def test_signed_out_changes_go_to_the_sign_in_page(client, site):
    response = edit(client, site)
    assert response.status_code == 302 and "/signin" in response.headers["Location"]
    assert station_row(site) == (site["dock"], None, "sim://dock-1")


def test_station_names_and_addresses_are_escaped(client, site, signed_in):
    with site["db"].write() as s:
        s.add(StationDevice(name="<b>Evil</b>", scanner_url="sim://<x>"))
    signed_in(client, "supervisor")
    page = client.get("/setup").text
    assert "<b>Evil</b>" not in page and "&lt;b&gt;Evil&lt;/b&gt;" in page and "sim://<x>" not in page
