"""The put-away page through the test client: a pallet by two scans, a lot by scan + source + keypad +
scan, refusals in words (with nothing moved), CMD:CANCEL's button, and who may use it."""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from actions import banner, scanner
from factories import assert_books_balance
from station.models import HandlingUnit, Movement, MovementKind, Stock
from station.services import catalog

SSCC = "376130321109103420"


@pytest.fixture
def site(site):
    """A pallet of 120 BOLT at DOCK (SSCC); MILK 30 at A-01 and 20 at LINE-1; a held MILK lot at DOCK."""
    site.lot("pallet", "BOLT", 120, location="DOCK", sscc=SSCC)
    site.lot("milk", "MILK", 50, location="A-01")
    site.move("milk", 20, "A-01", "LINE-1")
    site.lot("held", "MILK", 8, location="DOCK", hold="Cold chain alarm")
    return site


@pytest.fixture
def mover(client, site, signed_in, bound_station):
    signed_in(client, "picker", name="Pat Picker")
    bound_station(client, "Dock tablet")
    return client


scan = scanner("/move/scan", text=True)


def moves(database) -> list[tuple]:
    with database.read() as s:
        return s.execute(select(Movement.qty, Movement.from_location_id, Movement.to_location_id, Movement.raw_scan,
                                Movement.operator_id, Movement.station_id)
                         .where(Movement.kind == MovementKind.MOVE, Movement.operator_id.is_not(None))  # from the page
                         .order_by(Movement.id)).all()


def test_a_pallet_moves_with_two_scans(mover, database, site):
    page = mover.get("/move")
    assert page.status_code == 200
    assert 'data-scan-url="/move/scan"' in page.text and "Scan a pallet or a lot" in page.text
    html = scan(mover, SSCC)
    assert banner(html) == ("ok", f"Pallet {SSCC}: 120 ea of BOLT, lot {site['pallet']} at DOCK.")
    assert "Scan the destination location" in html and 'data-command="cancel"' in html
    assert 'data-scan-id="' in html and 'data-ok="1"' in html
    html = scan(mover, "LOC:A-02")
    assert banner(html) == ("ok", f"Moved: 120 ea of BOLT, lot {site['pallet']}, DOCK → A-02.")
    with database.read() as s:
        unit = s.scalar(select(HandlingUnit).where(HandlingUnit.sscc == SSCC))
        assert unit.location.code == "A-02"
        (qty, src, dst, raw, operator_id, station_id), = moves(database)
        assert (qty, raw) == (120, "LOC:A-02") and operator_id and station_id
        assert_books_balance(s)
    # The move is done: a location now asks for the goods first.
    assert banner(scan(mover, "A-01"))[0] == "error"


def test_a_lot_in_two_places_asks_where_from_then_how_many(mover, database, site):
    html = scan(mover, site["milk"])
    assert banner(html)[0] == "ok" and "is in 2 places" in html
    assert 'action="/move/source"' in html and "A-01" in html and "LINE-1" in html
    # The wrong place, scanned: refused in words.
    kind, message = banner(scan(mover, "A-02"))
    assert kind == "error" and message == f"Lot {site['milk']} is not at A-02."
    mover.post("/move/source", data={"from": "A-01"})
    page = mover.get("/move").text
    assert "How many?" in page and "at most 30 ea" in page and 'data-keypad-input' in page
    assert 'data-command="confirm"' in page
    mover.post("/move/qty", data={"qty": "31"})
    assert "Only 30 ea of lot" in mover.get("/move").text
    assert banner(scan(mover, "LOC:A-02"))[1].startswith("Type how many first")  # (not A-02 again: a bounce)
    mover.post("/move/qty", data={"qty": "12"})
    page = mover.get("/move").text
    assert "Moving <strong>12 ea</strong> from <strong class=\"mono\">A-01</strong>" in page
    assert banner(scan(mover, "A-02")) == ("ok", f"Moved: 12 ea of MILK, lot {site['milk']}, A-01 → A-02.")
    with database.read() as s:
        stock = dict(s.execute(select(catalog.Location.code, func.sum(Stock.qty)).join(catalog.Location)
                               .where(Stock.lot_id == catalog.lot_by_number(s, site["milk"]).id)
                               .group_by(catalog.Location.code)).all())
        assert stock == {"A-01": 18, "A-02": 12, "LINE-1": 20}


def test_part_of_a_pallet(mover, database, site):
    scan(mover, SSCC)
    mover.post("/move/part")
    assert "at most 120 ea" in mover.get("/move").text
    mover.post("/move/qty", data={"qty": "20"})
    assert banner(scan(mover, "A-01"))[1].startswith("Moved: 20 ea of BOLT")
    with database.read() as s:
        assert s.scalar(select(HandlingUnit).where(HandlingUnit.sscc == SSCC)).location.code == "DOCK"


@pytest.mark.parametrize("first,second,words", [
    (SSCC, "DOCK", "is already at DOCK"),
    (SSCC, "NOWHERE-9", "not recognised"),
    ("376130321109103437", None, "has not been received"),
    ("LOC:A-01", None, "scan what to move first"),
])
def test_refusals_are_red_in_words_and_move_nothing(mover, database, site, first, second, words):
    html = scan(mover, first)
    if second is not None:
        html = scan(mover, second)
    kind, message = banner(html)
    assert kind == "error" and words in message, message
    assert 'data-ok="0"' in html
    assert moves(database) == []


def test_a_held_lot_may_be_moved_and_says_so(mover, site):
    html = scan(mover, site["held"])
    assert banner(html)[0] == "ok" and "HOLD: it may be moved, not used" in html


def test_cancel_starts_again(mover, database, site):
    scan(mover, SSCC)
    response = mover.post("/move/cancel")
    assert response.status_code == 303
    page = mover.get("/move").text
    assert "Cancelled — nothing was moved." in page and 'data-command="cancel"' not in page
    assert banner(scan(mover, "A-01"))[0] == "error"
    assert moves(database) == []


def test_the_same_scan_sent_twice_moves_once(mover, database, site):
    scan(mover, SSCC)
    data = {"code": "A-01", "client_id": uuid.uuid4().hex, "source": "wedge"}
    first = mover.post("/move/scan", data=data, headers={"HX-Request": "true"}).text
    again = mover.post("/move/scan", data=data, headers={"HX-Request": "true"}).text
    assert banner(first)[1].startswith("Moved") and banner(again)[0] == "info"
    assert len(moves(database)) == 1


def test_signed_out_goes_to_sign_in_and_a_line_operator_is_refused(client, site, signed_in):
    response = client.get("/move")
    assert response.status_code == 302 and "/signin" in response.headers["Location"]
    signed_in(client, "line_operator")
    response = client.get("/move")
    assert response.status_code == 403 and "Put-away is for" in response.text


# --- the station's own scanner and the move the station holds --------------------------------------


def test_a_scan_of_the_stations_own_scanner_is_drawn_like_a_wedge_scans_answer(mover, database, site):
    """The put-away page open at a station takes its scanner's scans on the server (station/workflows/
    intake.py); station.js fetches the answer from /floor/answer/<scan id>: the same .scan-result as the
    page's own scan POST, with the move's next step; the page's taps then go on with that move."""
    from station.models import StationDevice
    from station.workflows import intake

    assert mover.get("/move").status_code == 200  # the put-away page is now open at Dock tablet
    with database.read() as s:
        station = s.scalar(select(StationDevice.id).where(StationDevice.name == "Dock tablet"))
    taken = intake.take(database, intake.ScanIn(code=site["milk"], source="sim://dock-1", station_id=station))
    assert taken.workflow == "putaway" and taken.answer.ok
    response = mover.get(f"/floor/answer/{taken.scan_id}", headers={"HX-Request": "true"})
    html = response.text
    assert response.status_code == 200 and response.headers["X-Scan-Id"] == str(taken.scan_id)
    assert f'data-scan-id="{taken.scan_id}"' in html and 'data-ok="1"' in html
    assert banner(html) == ("ok", f"Lot {site['milk']} of MILK is in 2 places.")
    assert 'action="/move/source"' in html
    mover.post("/move/source", data={"from": "A-01"})
    mover.post("/move/qty", data={"qty": "5"})
    assert banner(scan(mover, "A-02")) == ("ok", f"Moved: 5 ea of MILK, lot {site['milk']}, A-01 → A-02.")
    assert [qty for qty, *_ in moves(database)] == [5]


def test_a_device_bound_to_no_station_keeps_its_move_in_its_own_floor_session(client, site, signed_in):
    signed_in(client, "picker")
    other = client.application.test_client()
    signed_in(other, "picker")
    scan(client, SSCC)
    assert "Scan the destination location" in client.get("/move").text
    assert "Scan a pallet or a lot" in other.get("/move").text  # another browser: its own move
