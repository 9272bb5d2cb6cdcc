"""Split and adjust over the API and in the services they use (splits.split_off, stock.adjust_to), on SQLite and
PostgreSQL: a split gets its own number, its label queued on the printer asked for, the genealogy link; an
adjustment writes one ADJUST row with its reason; every refusal is in words and changes nothing."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from station.models import LinkKind, Lot, LotLink, Movement, MovementKind, Printer, PrintJob, Role, Stock
from station.services import catalog, splits, stock
from station.services.errors import Invalid
from station.services.tokens import create_token

from actions import Api
from factories import assert_books_balance, basic_site, printer, received_lot
from test_floor_api import refused


def _world(s):
    return (s.scalar(select(func.count()).select_from(Movement)), s.scalar(select(func.count()).select_from(Lot)),
            s.scalar(select(func.count()).select_from(LotLink)), s.scalar(select(func.count()).select_from(PrintJob)),
            tuple(s.execute(select(Stock.lot_id, Stock.location_id, Stock.qty).order_by(Stock.id)).all()))


@pytest.fixture
def lot(database) -> str:
    """40 BOLT at A-01; two printers, so a label needs one named."""
    basic_site(database)
    with database.write() as s:
        printer(s, "dock-zebra")
        printer(s, "office-zebra")
        return received_lot(s, "BOLT", 40).lot_number


def _api(client, database, role=Role.SUPERVISOR) -> Api:
    with database.write() as s:
        return Api(client, create_token(s, f"qa-{role.value}", role))


def test_split_over_the_api_makes_a_linked_lot_and_queues_its_label(client, database, lot):
    api = _api(client, database)
    made = api.post(f"/lots/{lot}/split", {"qty": 15, "print": True, "printer": "office-zebra"})
    assert made.status_code == 201, made.get_json()
    body = made.get_json()
    child = body["lot"]["lot_number"]
    assert child != lot and body["lot"]["on_hand"] == "15" and body["parent"]["on_hand"] == "25"
    assert body["lot"]["stock"] == [{"location": "A-01", "qty": "15", "sscc": None}]
    assert (body["print_job"]["printer"], body["print_job"]["lot_number"], body["print_job"]["status"]) == \
        ("office-zebra", child, "queued")
    with database.read() as s:
        link = s.scalar(select(LotLink))
        assert link.kind is LinkKind.SPLIT and link.qty == 15
        assert_books_balance(s)
    plain = api.post(f"/lots/{lot}/split", {"qty": 5, "location": "A-01"})
    assert plain.status_code == 201 and plain.get_json()["print_job"] is None


def test_split_refusals_change_nothing(client, database, lot):
    api = _api(client, database)
    with database.write() as s:
        received = received_lot(s, "BOLT", 3, location="A-02")
        stock.move(s, received, 3, catalog.location_by_code(s, "A-02"), catalog.location_by_code(s, "A-01"))
        before = _world(s)
    refused(api.post(f"/lots/{lot}/split", {"qty": 5, "print": True}), 400, "no_printer", "Choose a printer")
    refused(api.post(f"/lots/{lot}/split", {"qty": 41}), 409, "insufficient_stock", "Only 40")
    refused(api.post(f"/lots/{lot}/split", {"qty": 5, "location": "NOWHERE"}), 422, "unknown_location")
    refused(api.post(f"/lots/{lot}/split", {"qty": 0}), 422, "invalid")
    refused(api.post("/lots/NO-SUCH/split", {"qty": 1}), 404, "unknown_lot")
    with database.read() as s:
        assert _world(s) == before
    assert _api(client, database, Role.RECEIVER).post(f"/lots/{lot}/split", {"qty": 1}).status_code == 403
    with database.read() as s:
        assert _world(s) == before


def test_split_off_asks_where_when_the_lot_is_in_several_places(database, lot):
    with database.write() as s:
        parent = catalog.lot_by_number(s, lot)
        stock.move(s, parent, 10, catalog.location_by_code(s, "A-01"), catalog.location_by_code(s, "A-02"))
        before = _world(s)
        with pytest.raises(Invalid, match="in 2 places .*A-01, A-02.* say which one") as asked:
            splits.split_off(s, parent, 5)
        assert asked.value.code == "choose_location" and _world(s) == before
        done = splits.split_off(s, parent, 5, catalog.location_by_code(s, "A-02"))
        assert done.job is None and done.child.on_hand == 5


def test_adjust_over_the_api_to_a_counted_quantity_or_by_a_delta(client, database, lot):
    api = _api(client, database)
    down = api.post(f"/lots/{lot}/adjust", {"location": "A-01", "counted": 37, "reason": "Counted: 3 crushed"})
    assert down.status_code == 200, down.get_json()
    assert down.get_json()["on_hand"] == "37"
    up = api.post(f"/lots/{lot}/adjust", {"location": "A-01", "delta": 2, "reason": "Found behind the rack"})
    assert up.get_json()["on_hand"] == "39"
    with database.read() as s:
        rows = s.execute(select(Movement.qty, Movement.from_location_id.is_not(None), Movement.reason)
                         .where(Movement.kind == MovementKind.ADJUST).order_by(Movement.id)).all()
        assert [tuple(r) for r in rows] == [(3, True, "Counted: 3 crushed"), (2, False, "Found behind the rack")]
        assert_books_balance(s)
        before = _world(s)
    refused(api.post(f"/lots/{lot}/adjust", {"location": "A-01", "counted": 39, "reason": "x"}), 422,
            "no_difference", "nothing to correct")
    refused(api.post(f"/lots/{lot}/adjust", {"location": "A-01", "counted": 30, "reason": " "}), 422,
            "reason_required")
    refused(api.post(f"/lots/{lot}/adjust", {"location": "A-01", "counted": 30, "delta": 1, "reason": "x"}),
            422, "invalid")
    refused(api.post(f"/lots/{lot}/adjust", {"location": "A-01", "delta": -40, "reason": "x"}), 409,
            "insufficient_stock")
    refused(api.post(f"/lots/{lot}/adjust", {"location": "NOWHERE", "delta": 1, "reason": "x"}), 422,
            "unknown_location")
    assert _api(client, database, Role.RECEIVER).post(
        f"/lots/{lot}/adjust", {"location": "A-01", "delta": 1, "reason": "x"}).status_code == 403
    with database.read() as s:
        assert _world(s) == before


@pytest.mark.parametrize("counted, words", [(-1, "0 or more"), (True, "0 or more"), ("5", "0 or more")])
def test_adjust_to_refuses_a_bad_count(database, lot, counted, words):
    with database.write() as s:
        before = _world(s)
        with pytest.raises(Invalid, match=words):
            stock.adjust_to(s, catalog.lot_by_number(s, lot), catalog.location_by_code(s, "A-01"), counted, "x")
        assert _world(s) == before


# --- the lot card's forms (pages, through the test client) ----------------------------------------------


HX = {"HX-Request": "true"}


def test_the_card_offers_split_and_adjust_to_supervisors_only(client, database, lot, signed_in):
    signed_in(client, "receiver")
    page = client.get(f"/lots/{lot}").text
    assert 'data-lot-change="split"' not in page
    assert client.get(f"/lots/change/split?lot={lot}").status_code == 403
    assert client.post("/lots/change/split", data={"lot": lot, "qty": "5"}).status_code == 403
    assert client.post("/lots/change/adjust", data={"lot": lot, "location": "A-01", "counted": "1",
                                                    "reason": "Counted"}).status_code == 403
    signed_in(client, "supervisor")
    page = client.get(f"/lots/{lot}").text
    assert 'data-lot-change="split"' in page and 'data-lot-change="adjust"' in page
    form = client.get(f"/lots/change/split?lot={lot}", headers=HX).text
    assert 'name="qty"' in form and '<option value="office-zebra">Print on office-zebra</option>' in form
    assert 'value="A-01"' in form  # the lot's one place, given


def test_split_on_the_card_makes_the_new_lot_and_queues_its_label(client, database, lot, signed_in):
    signed_in(client, "supervisor")
    answer = client.post("/lots/change/split", data={"lot": lot, "qty": "12", "location": "A-01",
                                                     "printer": "dock-zebra"}, headers=HX)
    assert answer.status_code == 200
    with database.read() as s:
        child = s.scalar(select(Lot).where(Lot.origin == "split"))
        job = s.scalar(select(PrintJob))
        printer_name = s.scalar(select(Printer.name).where(Printer.id == job.printer_id))
        assert (child.on_hand, job.lot_id, printer_name) == (12, child.id, "dock-zebra")
        assert_books_balance(s)
        number = child.lot_number
    assert f'is now lot <a class="nowrap" href="/lots/{number}">{number}</a>' in answer.text
    assert "its label is queued on dock-zebra" in answer.text


def test_split_refusals_on_the_card_keep_the_form_and_change_nothing(client, database, lot, signed_in):
    signed_in(client, "supervisor")
    with database.read() as s:
        before = _world(s)
    for data, status, words in [({"qty": "abc"}, 422, "must be a number like 12"),
                                ({"qty": ""}, 422, "Type how many to split off"),
                                ({"qty": "41"}, 409, "Only 40 of lot"),
                                ({"qty": "5", "location": "NOWHERE"}, 422, "No location"),
                                ({"qty": "5", "printer": "no-such"}, 400, "no-such")]:
        answer = client.post("/lots/change/split", data={"lot": lot, "location": "A-01", **data}, headers=HX)
        assert answer.status_code == status, (data, answer.text[:300])
        assert words in answer.text and "nothing changed" in answer.text.lower()
        assert 'class="lot-action-form lot-change-form lot-change-form--split"' in answer.text
    assert client.post("/lots/change/split", data={"lot": "NO-SUCH", "qty": "1"}, headers=HX).status_code == 404
    with database.read() as s:
        assert _world(s) == before


def test_adjust_on_the_card_corrects_to_the_count_with_a_reason(client, database, lot, signed_in):
    signed_in(client, "supervisor")
    with database.read() as s:
        before = _world(s)
    for data, status, words in [({"counted": "37"}, 422, "A reason is required"),
                                ({"counted": "-1", "reason": "Counted"}, 422, "a number, 0 or more"),
                                ({"counted": "40", "reason": "Counted"}, 422, "nothing to correct"),
                                ({"counted": "3", "reason": "Counted", "location": "NOWHERE"}, 422, "No location")]:
        answer = client.post("/lots/change/adjust", data={"lot": lot, "location": "A-01", **data}, headers=HX)
        assert answer.status_code == status, (data, answer.text[:300])
        assert words in answer.text and 'lot-change-form--adjust' in answer.text
    with database.read() as s:
        assert _world(s) == before
    answer = client.post("/lots/change/adjust", data={"lot": lot, "location": "A-01", "counted": "37",
                                                      "reason": "Counted", "note": "3 crushed"}, headers=HX)
    assert answer.status_code == 200
    assert "corrected: 3 fewer at A-01, now 37 ea there — Counted — 3 crushed." in answer.text
    answer = client.post("/lots/change/adjust", data={"lot": lot, "location": "A-02", "counted": "2",
                                                      "reason": "Found"}, headers=HX)
    assert "2 more at A-02" in answer.text
    with database.read() as s:
        assert s.scalar(select(Lot.on_hand).where(Lot.lot_number == lot)) == 39
        reasons = s.scalars(select(Movement.reason).where(Movement.kind == MovementKind.ADJUST)
                            .order_by(Movement.id)).all()
        assert reasons == ["Counted — 3 crushed", "Found"]
        assert_books_balance(s)
