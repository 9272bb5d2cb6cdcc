"""Dates outside a sane window are refused with a sentence, and nothing is booked (issue 13, point 6).

Receipts took an expiry of 1900-01-01 or 9999-12-31 and a scan's scanned_at of year 1. The windows live in
station/services/dates.py (expiry 2000-01-01 .. today + 50 years, production 2000-01-01 .. today, a
scan's own time a year back .. 5 minutes ahead) and hold for the service, the API (receipts, production
runs, agent scans), a scanned GS1 label and the receiving page (its date picker offers only the window)."""
from __future__ import annotations

import datetime as dt
import re
import uuid

import pytest
from sqlalchemy import func, select

from actions import text_of as words
from factories import gtin13
from station import clock
from station.agent import AGENT_SCANNER_URL
from station.models import Lot, Movement, Role, Scan, TokenRole
from station.services import catalog, dates, receiving
from station.services.errors import Invalid
from station.services.tokens import create_token

BOLT_GTIN = gtin13("400000000001").zfill(14)
TODAY = clock.today()
FAR = dates.expiry_window(TODAY)[1]
HX = {"HX-Request": "true"}


@pytest.fixture
def site(app, site):
    """The small site, an agent:// station, a receiver's token (site["post"] posts with it) and the
    station's agent token."""
    site.station("Agent PC", scanner_url=AGENT_SCANNER_URL)
    with site.write() as s:
        receiver = create_token(s, "erp", Role.RECEIVER)
        agent = create_token(s, "agent", TokenRole.AGENT, station="Agent PC")
    client = app.test_client()

    def post(path, body, token=receiver):
        return client.post(path, json=body, headers={"Authorization": f"Bearer {token}"})

    site.update(post=post, agent=agent, client=client)
    return site


def _booked(db) -> tuple[int, int, int]:
    with db.read() as s:
        return tuple(s.scalar(select(func.count()).select_from(t)) for t in (Lot, Movement, Scan))


BAD_EXPIRY = [("1900-01-01", "before 2000"), ("1999-12-31", "before 2000"), ("0001-01-01", "before 2000"),
              ("9999-12-31", "more than 50 years ahead"), ((FAR + dt.timedelta(days=1)).isoformat(), "50 years")]


@pytest.mark.parametrize("expiry,said", BAD_EXPIRY)
def test_the_api_refuses_an_expiry_outside_the_window(site, expiry, said):
    before = _booked(site["db"])
    answer = site["post"]("/api/v1/receipts", {"sku": "BOLT", "qty": 5, "expiry": expiry})
    assert answer.status_code == 422, answer.text
    error = answer.get_json()["error"]
    assert (error["code"], error["field"]) == ("invalid_date", "expiry")
    assert f"The expiry date {dt.date.fromisoformat(expiry).isoformat()} is" in error["message"]
    assert said in error["message"]
    assert _booked(site["db"]) == before


@pytest.mark.parametrize("produced,said", [("1900-01-01", "before 2000"),
                                           ((TODAY + dt.timedelta(days=1)).isoformat(), "in the future"),
                                           ("9999-12-31", "in the future")])
def test_the_api_refuses_a_production_date_outside_the_window(site, produced, said):
    before = _booked(site["db"])
    answer = site["post"]("/api/v1/receipts", {"sku": "BOLT", "qty": 5, "produced": produced})
    assert answer.status_code == 422, answer.text
    assert said in answer.get_json()["error"]["message"]
    assert _booked(site["db"]) == before


def test_the_edges_of_the_window_are_received(site):
    for body in ({"sku": "BOLT", "qty": 1, "expiry": FAR.isoformat()},
                 {"sku": "BOLT", "qty": 1, "expiry": "2000-01-01", "supplier_lot": "OLD"},
                 {"sku": "BOLT", "qty": 1, "produced": "2000-01-01"},
                 {"sku": "BOLT", "qty": 1, "produced": TODAY.isoformat()}):
        answer = site["post"]("/api/v1/receipts", body)
        assert answer.status_code == 201, (body, answer.text)


def test_a_scanned_label_with_a_1999_expiry_is_refused_in_words(site):
    """GS1 AI 17 991231 is 1999-12-31 (biip's century window); 000000 and month 13 biip refuses itself."""
    before = _booked(site["db"])
    for code, said in ((f"]C101{BOLT_GTIN}10L-1\x1d17991231", "The expiry date 1999-12-31 is before 2000"),
                       (f"]C101{BOLT_GTIN}10L-1\x1d17000000", "date"),
                       (f"]C101{BOLT_GTIN}10L-1\x1d17261399", "")):
        answer = site["post"]("/api/v1/receipts", {"code": code, "qty": 5})
        assert 400 <= answer.status_code < 500, (code, answer.text)
        assert said in answer.get_json()["error"]["message"], answer.text
    assert _booked(site["db"]) == before


def test_the_service_refuses_too(site):
    with site["db"].write() as s:
        item, dock = catalog.item_by_sku(s, "BOLT"), catalog.location_by_code(s, "A-01")
        for kwargs in ({"expiry": dt.date(1900, 1, 1)}, {"expiry": dt.date(9999, 12, 31)},
                       {"produced": dt.date(1999, 1, 1)}):
            with pytest.raises(Invalid) as refused:
                receiving.receive(s, item=item, qty=1, location=dock, **kwargs)
            assert refused.value.code == "invalid_date" and refused.value.message.startswith("The ")


def test_a_production_run_refuses_an_absurd_expiry(site):
    with site["db"].write() as s:
        line_operator = create_token(s, "line", Role.LINE_OPERATOR)
    answer = site["post"]("/api/v1/production-runs/1/finish", {"qty": 1, "expiry": "9999-12-31", "print": False},
                          token=line_operator)
    assert answer.status_code == 422, answer.text
    assert "more than 50 years ahead" in answer.get_json()["error"]["message"]


@pytest.mark.parametrize("scanned_at,code,said", [
    ("0001-01-01T00:00:00Z", "too_old", "more than a year ago"),
    ((clock.now() - dt.timedelta(days=400)).isoformat(), "too_old", "more than a year ago"),
    ("9999-12-31T23:59:59Z", "clock_skew", "in the future"),
])
def test_an_agent_scan_with_an_absurd_time_is_refused(site, scanned_at, code, said):
    before = _booked(site["db"])
    answer = site["post"]("/api/v1/scans", {"station": "Agent PC", "client_id": uuid.uuid4().hex,
                                            "code": "LOT:NOPE", "scanned_at": scanned_at}, token=site["agent"])
    assert answer.status_code == 422, answer.text
    error = answer.get_json()["error"]
    assert (error["code"], error["field"]) == (code, "scanned_at") and said in error["message"]
    assert _booked(site["db"]) == before


def test_an_agent_scan_from_an_hour_ago_is_logged(site):
    at = (clock.now() - dt.timedelta(hours=1)).isoformat()
    answer = site["post"]("/api/v1/scans", {"station": "Agent PC", "client_id": uuid.uuid4().hex,
                                            "code": "LOT:NOPE", "scanned_at": at}, token=site["agent"])
    assert answer.status_code == 201, answer.text


# --- the receiving page -------------------------------------------------------------------------


@pytest.fixture
def page(site, signed_in, bound_station):
    client = site["client"]
    with site["db"].read() as s:
        dock = catalog.location_by_code(s, "A-01").id
    signed_in(client, "receiver")
    bound_station(client, "Dock 1", location_id=dock)
    client.post("/receive/item", data={"sku": "BOLT"}, headers=HX)
    return client


def test_the_date_picker_offers_only_the_window(page):
    html_text = page.get("/receive").get_data(as_text=True)
    field = re.search(r'<input[^>]*id="receive-expiry"[^>]*>', html_text).group(0)
    assert 'min="2000-01-01"' in field and f'max="{FAR.isoformat()}"' in field


@pytest.mark.parametrize("expiry,said", [("9999-12-31", "more than 50 years ahead"), ("1900-01-01", "before 2000")])
def test_the_page_refuses_a_typed_date_outside_the_window(page, site, expiry, said):
    before = _booked(site["db"])
    form = page.get("/receive").get_data(as_text=True)
    token = re.search(r'name="token" value="([^"]+)"', form).group(1)
    answer = page.post("/receive/confirm", data={"token": token, "qty": "5", "expiry": expiry}, headers=HX)
    assert answer.status_code == 422
    said_there = words(answer.get_data(as_text=True))
    assert f"The expiry date {expiry} is" in said_there and said in said_there
    assert "banner--error" in answer.get_data(as_text=True)
    assert _booked(site["db"]) == before
