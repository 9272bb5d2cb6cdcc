"""The put-away page through the test client: a pallet by two scans, a lot by scan + source + keypad +
scan, refusals in words (with nothing moved), CMD:CANCEL's button, and who may use it."""
from __future__ import annotations

import re
import uuid

import pytest
from sqlalchemy import func, select

from factories import assert_books_balance, basic_site, received_lot
from station import clock
from station.models import HandlingUnit, Movement, MovementKind, Stock
from station.services import catalog, holds
from station.services.stock import move

SSCC = "376130321109103420"


@pytest.fixture
def database(app):
    return app.extensions["station.db"]


@pytest.fixture
def site(database) -> dict:
    basic_site(database)
    today = clock.today()
    with database.write() as s:
        pallet = received_lot(s, "BOLT", 120, location="DOCK", sscc=SSCC, on=today)
        milk = received_lot(s, "MILK", 50, location="A-01", on=today)
        move(s, milk, 20, catalog.location_by_code(s, "A-01"), catalog.location_by_code(s, "LINE-1"))
        held = received_lot(s, "MILK", 8, location="DOCK", on=today)
        holds.hold(s, held, "Cold chain alarm")
    return {"pallet": pallet.lot_number, "milk": milk.lot_number, "held": held.lot_number}


@pytest.fixture
def mover(client, site, signed_in, bound_station):
    signed_in(client, "picker", name="Pat Picker")
    bound_station(client, "Dock tablet")
    return client


def scan(client, code: str, status: int = 200):
    response = client.post("/move/scan", data={"code": code, "client_id": uuid.uuid4().hex, "source": "wedge"},
                           headers={"HX-Request": "true"})
    assert response.status_code == status, response.text
    return response.text


def banner(html: str) -> tuple[str, str]:
    """(kind, message) of the answer's banner."""
    kind = re.search(r'class="banner banner--(\w+)', html).group(1)
    message = re.search(r'<p class="banner__message">(.*?)</p>', html, re.S).group(1)
    return kind, " ".join(message.split())


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
