"""Customer returns (services.returns), on SQLite and PostgreSQL: the goods come back into their own lot at
the quarantine place with a RETURN ledger row, the lot goes to quarantine unless a stricter status holds it,
no customer sends back more than they received, and every refusal changes nothing."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from station.models import (HandlingUnit, LocationKind, Lot, LotEvent, LotStatus, Movement, MovementKind, Order,
                            OrderLine, Stock)
from station.services import catalog, holds, picking, returns, trace
from station.services.actor import Actor
from station.services.suggest import suggest
from station.services.errors import Conflict, DomainError, Invalid

from factories import assert_books_balance, basic_site, operator, received_lot

SSCC = "003456789012345670"


def ship(s, lot: Lot, qty: int, customer: str = "SHOP", number: str = "SO-1", where: str = "A-01") -> None:
    """Pick `qty` of `lot` for a one-line order of `customer` and ship it."""
    o = Order(number=number, customer_id=s.scalar(select(catalog.Customer.id).where(catalog.Customer.code == customer)))
    s.add(o)
    s.flush()
    line = OrderLine(order_id=o.id, line_no=1, item_id=lot.item_id, qty=qty)
    s.add(line)
    s.flush()
    picking.pick(s, lot=lot, location=catalog.location_by_code(s, where), qty=qty, line=line)
    picking.ship(s, o)


def returns_site(db, *, quarantine: bool = True) -> str:
    """basic_site + a quarantine place + customer BIG (who never got anything); lot of 40 BOLT, 10 shipped
    to SHOP. Answers the lot number."""
    basic_site(db)
    with db.write() as s:
        catalog.create_customer(s, code="BIG", name="Big Co")
        if quarantine:
            catalog.create_location(s, code="Q-DOCK", kind=LocationKind.QUARANTINE)
        lot = received_lot(s, "BOLT", 40)
        ship(s, lot, 10)
        return lot.lot_number


def _state(s, number: str):
    lot = s.scalar(select(Lot).where(Lot.lot_number == number))
    return (lot.status, lot.on_hand, s.scalar(select(func.count()).select_from(Movement)),
            s.scalar(select(func.count()).select_from(LotEvent)), s.scalar(select(func.count()).select_from(Stock)))


def test_a_return_comes_back_into_its_lot_in_quarantine_with_a_ledger_row_and_an_event(db):
    number = returns_site(db)
    with db.write() as s:
        who = operator(s, badge="REC-1", name="Rita Receiver", role="receiver")
        lot = catalog.lot_by_number(s, number)
        shop = s.scalar(select(catalog.Customer).where(catalog.Customer.code == "SHOP"))
        assert [(r.code, r.shipped, r.returned, r.may_return) for r in returns.receivers(s, lot)] == \
            [("SHOP", 10, 0, 10)]
        movement = returns.book_return(s, lot=lot, qty=4, customer=shop, reason="Damaged box",
                                       by=Actor(operator_id=who.id))
        place = catalog.location_by_code(s, "Q-DOCK")
        assert (movement.kind, movement.qty, movement.from_location_id, movement.to_location_id,
                movement.customer_id, movement.reason, movement.operator_id) == \
            (MovementKind.RETURN, 4, None, place.id, shop.id, "Damaged box", who.id)
        assert (lot.status, lot.on_hand) == (LotStatus.QUARANTINE, 34)
        event = s.scalar(select(LotEvent).where(LotEvent.lot_id == lot.id))
        assert (event.action, event.from_status, event.to_status, event.reason) == \
            ("return", LotStatus.AVAILABLE, LotStatus.QUARANTINE, "Returned by Corner Shop: Damaged box")
        assert [(r.code, r.returned, r.may_return) for r in returns.receivers(s, lot)] == [("SHOP", 4, 6)]
        assert_books_balance(s)


def test_trace_forward_lists_the_return_after_the_shipment(db):
    number = returns_site(db)
    with db.write() as s:
        lot = catalog.lot_by_number(s, number)
        shop = s.scalar(select(catalog.Customer).where(catalog.Customer.code == "SHOP"))
        returns.book_return(s, lot=lot, qty=3, customer=shop, reason="Wrong item ordered")
    with db.read() as s:
        found = trace.trace(s, catalog.lot_by_number(s, number), "forward")
        assert [(x.kind, x.customer_code, x.qty) for x in found.shipments] == [("ship", "SHOP", 10),
                                                                               ("return", "SHOP", 3)]
        assert found.node(number).places == [trace.Place("A-01", 30), trace.Place("Q-DOCK", 3)]


def test_no_customer_sends_back_more_than_they_received_and_a_refusal_changes_nothing(db):
    number = returns_site(db)
    with db.write() as s:
        lot = catalog.lot_by_number(s, number)
        shop = s.scalar(select(catalog.Customer).where(catalog.Customer.code == "SHOP"))
        returns.book_return(s, lot=lot, qty=7, customer=shop, reason="Damaged")
        before = _state(s, number)
        with pytest.raises(Conflict, match="Corner Shop can send back at most 3 of lot .* not 4"):
            returns.book_return(s, lot=lot, qty=4, customer=shop, reason="Damaged")
        assert _state(s, number) == before
        returns.book_return(s, lot=lot, qty=3, customer=shop, reason="Damaged")
        assert lot.on_hand == 40 and lot.status is LotStatus.QUARANTINE
        assert_books_balance(s)


def test_a_customer_who_never_received_the_lot_needs_a_confirmation(db):
    number = returns_site(db)
    with db.write() as s:
        lot = catalog.lot_by_number(s, number)
        big = s.scalar(select(catalog.Customer).where(catalog.Customer.code == "BIG"))
        before = _state(s, number)
        with pytest.raises(Conflict, match="Big Co never received lot .* confirm it") as refused:
            returns.book_return(s, lot=lot, qty=2, customer=big, reason="Came through a distributor")
        assert refused.value.code == "customer_not_shipped" and _state(s, number) == before
        with pytest.raises(Conflict, match="at most 10"):  # what left the site in all
            returns.book_return(s, lot=lot, qty=11, customer=big, reason="x", confirm_unshipped=True)
        assert _state(s, number) == before
        returns.book_return(s, lot=lot, qty=2, customer=big, reason="Came through a distributor",
                            confirm_unshipped=True)
        assert lot.on_hand == 32
        assert_books_balance(s)


def test_a_lot_that_never_left_the_site_cannot_come_back(db):
    basic_site(db)
    with db.write() as s:
        catalog.create_location(s, code="Q-DOCK", kind=LocationKind.QUARANTINE)
        lot = received_lot(s, "BOLT", 5)
        shop = s.scalar(select(catalog.Customer))
        before = _state(s, lot.lot_number)
        with pytest.raises(Conflict, match="never been shipped"):
            returns.book_return(s, lot=lot, qty=1, customer=shop, reason="x", confirm_unshipped=True)
        assert _state(s, lot.lot_number) == before


@pytest.mark.parametrize("qty, reason, words", [
    (0, "Damaged", "a number greater than 0"),
    (-2, "Damaged", "a number greater than 0"),
    (2, "   ", "A reason is required"),
    (2, "x" * 201, "at most 200 characters"),
])
def test_bad_input_is_refused_in_words_and_changes_nothing(db, qty, reason, words):
    number = returns_site(db)
    with db.write() as s:
        lot = catalog.lot_by_number(s, number)
        shop = s.scalar(select(catalog.Customer).where(catalog.Customer.code == "SHOP"))
        before = _state(s, number)
        with pytest.raises(Invalid, match=words):
            returns.book_return(s, lot=lot, qty=qty, customer=shop, reason=reason)
        with pytest.raises(Invalid, match="which customer"):
            returns.book_return(s, lot=lot, qty=1, customer=None, reason="x")
        assert _state(s, number) == before


def test_a_site_without_a_quarantine_place_is_told_so(db):
    number = returns_site(db, quarantine=False)
    with db.write() as s:
        lot = catalog.lot_by_number(s, number)
        shop = s.scalar(select(catalog.Customer).where(catalog.Customer.code == "SHOP"))
        before = _state(s, number)
        with pytest.raises(DomainError, match="no quarantine place .* admin must add a location of kind"):
            returns.book_return(s, lot=lot, qty=1, customer=shop, reason="Damaged")
        assert _state(s, number) == before


@pytest.mark.parametrize("status", [LotStatus.HOLD, LotStatus.RECALLED])
def test_a_stricter_status_stays(db, status):
    number = returns_site(db)
    with db.write() as s:
        lot = catalog.lot_by_number(s, number)
        if status is LotStatus.HOLD:
            holds.hold(s, lot, "QA check")
        else:
            lot.status = LotStatus.RECALLED
        events = s.scalar(select(func.count()).select_from(LotEvent))
        shop = s.scalar(select(catalog.Customer).where(catalog.Customer.code == "SHOP"))
        returns.book_return(s, lot=lot, qty=2, customer=shop, reason="Damaged")
        assert lot.status is status and s.scalar(select(func.count()).select_from(LotEvent)) == events


def test_a_consumed_lot_that_comes_back_is_in_quarantine(db):
    basic_site(db)
    with db.write() as s:
        catalog.create_location(s, code="Q-DOCK", kind=LocationKind.QUARANTINE)
        lot = received_lot(s, "BOLT", 6)
        ship(s, lot, 6)
        assert lot.status is LotStatus.CONSUMED
        returns.book_return(s, lot=lot, qty=6, customer=s.scalar(select(catalog.Customer)), reason="Refused")
        event = s.scalar(select(LotEvent).where(LotEvent.lot_id == lot.id))
        assert (lot.status, lot.on_hand, event.from_status) == (LotStatus.QUARANTINE, 6, LotStatus.CONSUMED)
        assert_books_balance(s)


def test_a_pallet_that_left_whole_comes_back_on_its_pallet(db):
    basic_site(db)
    with db.write() as s:
        place = catalog.create_location(s, code="Q-DOCK", kind=LocationKind.QUARANTINE)
        lot = received_lot(s, "BOLT", 12, sscc=SSCC)
        unit = s.scalar(select(HandlingUnit).where(HandlingUnit.sscc == SSCC))
        ship(s, lot, 12)
        movement = returns.book_return(s, lot=lot, qty=12, customer=s.scalar(select(catalog.Customer)),
                                       reason="Refused at delivery", unit=unit)
        assert (unit.location_id, movement.handling_unit_id) == (place.id, unit.id)
        assert s.scalar(select(Stock.qty).where(Stock.handling_unit_id == unit.id, Stock.location_id == place.id)) == 12
        assert_books_balance(s)


# --- the API --------------------------------------------------------------------------------------------


def _api(client, database, role=None):
    from station.models import Role
    from station.services.tokens import create_token

    from actions import Api

    with database.write() as s:
        token = create_token(s, "erp", role or Role.RECEIVER)
    return Api(client, token)


def test_api_books_a_return_and_lists_who_received_the_lot(client, database):
    from test_floor_api import refused

    number = returns_site(database)
    api = _api(client, database)
    listed = api.get(f"/lots/{number}/receivers")
    assert listed.status_code == 200 and listed.get_json()["data"] == [
        {"customer": "SHOP", "name": "Corner Shop", "shipped": "10", "returned": "0", "may_return": "10"}]
    made = api.post("/returns", {"lot": number, "qty": 4, "customer": "SHOP", "reason": "Damaged box",
                                 "reference": "RMA-77", "request_id": "return-0001"})
    assert made.status_code == 201, made.get_json()
    body = made.get_json()
    assert (body["qty"], body["customer"], body["location"], body["status_before"], body["lot"]["status"]) == \
        ("4", "SHOP", "Q-DOCK", "available", "quarantine")
    assert {"location": "Q-DOCK", "qty": "4", "sscc": None} in body["lot"]["stock"]
    again = api.post("/returns", {"lot": number, "qty": 4, "customer": "SHOP", "reason": "Damaged box",
                                  "reference": "RMA-77", "request_id": "return-0001"})
    assert again.status_code == 201 and again.get_json() == body  # the same request once only
    with database.read() as s:
        before = _state(s, number)
        row = s.scalar(select(Movement).where(Movement.kind == MovementKind.RETURN))
        assert (row.reference, row.token_id is not None) == ("RMA-77", True)
    refused(api.post("/returns", {"lot": number, "qty": 7, "customer": "SHOP", "reason": "x"}), 409,
            "over_returned", "at most 6")
    refused(api.post("/returns", {"lot": number, "qty": 1, "customer": "BIG", "reason": "x"}), 409,
            "customer_not_shipped", "never received")
    refused(api.post("/returns", {"lot": number, "qty": 1, "customer": "NOPE", "reason": "x"}), 422,
            "unknown_customer")
    refused(api.post("/returns", {"lot": "NO-SUCH", "qty": 1, "customer": "SHOP", "reason": "x"}), 422,
            "unknown_lot")
    refused(api.post("/returns", {"qty": 1, "customer": "SHOP", "reason": "x"}), 422, "invalid")
    refused(api.post("/returns", {"lot": number, "qty": 0, "customer": "SHOP", "reason": "x"}), 422, "invalid")
    with database.read() as s:
        assert _state(s, number) == before
    ok = api.post("/returns", {"lot": number, "qty": 1, "customer": "BIG", "reason": "Via distributor",
                               "confirm_unshipped": True})
    assert ok.status_code == 201, ok.get_json()


def test_api_returns_need_a_returns_role(client, database):
    from station.models import Role

    number = returns_site(database)
    picker = _api(client, database, Role.PICKER)
    refused = picker.post("/returns", {"lot": number, "qty": 1, "customer": "SHOP", "reason": "x"})
    assert refused.status_code == 403
    with database.read() as s:
        assert s.scalar(select(func.count()).select_from(Movement).where(Movement.kind == MovementKind.RETURN)) == 0


# --- the page (/return), its scans through the intake and its taps -------------------------------------


def _page_scan(client, code):
    from actions import scanner

    return scanner("/return/scan", text=True)(client, code)


def test_the_returns_page_books_a_return_by_scan_keypad_and_taps(client, database, signed_in, bound_station):
    from actions import banner

    number = returns_site(database)
    signed_in(client, "receiver", name="Rita Receiver")
    bound_station(client, "Dock tablet")
    page = client.get("/return")
    assert page.status_code == 200 and 'data-scan-url="/return/scan"' in page.text
    assert "Scan the returned lot or pallet" in page.text
    html = _page_scan(client, f"LOT:{number}")
    assert banner(html) == ("ok", f"Lot {number}: BOLT Bolt M8.")
    assert "Received by Corner Shop (10). How many came back?" in html and 'data-keypad="return-qty"' in html
    with database.read() as s:
        before = _state(s, number)
    for typed, words in [("abc", "must be a number like 12 or 12.35"), ("", "Type how many first")]:
        assert client.post("/return/qty", data={"qty": typed}).status_code == 303
        assert words in client.get("/return").text
    client.post("/return/qty", data={"qty": "11"})
    page = client.get("/return").text
    assert 'data-customer="SHOP"' in page and "got 10" in page and "Another customer (never received this lot)" in page
    client.post("/return/customer", data={"customer": "SHOP"})
    assert "Corner Shop can send back at most 10 of lot" in client.get("/return").text
    client.post("/return/customer", data={"customer": "<script>"})
    assert "There is no customer &#39;&lt;script&gt;&#39;" in client.get("/return").text
    client.post("/return/book", data={"reason": "Damaged"})  # not at the reason step yet: nothing booked
    with database.read() as s:
        assert _state(s, number) == before
    client.post("/return/qty", data={"qty": "4"})
    client.post("/return/customer", data={"customer": "SHOP"})
    page = client.get("/return").text
    assert "Why did Corner Shop send it back?" in page and 'value="Damaged"' in page
    client.post("/return/book", data={"reason": "", "note": "  "})
    assert "A reason is required." in client.get("/return").text
    with database.read() as s:
        assert _state(s, number) == before
    client.post("/return/book", data={"reason": "Damaged", "note": "crushed corner"})
    page = client.get("/return").text
    assert f"Returned: 4 ea of BOLT, lot {number}, from Corner Shop → Q-DOCK." in page
    assert "It is now in QUARANTINE" in page and "Scan the returned lot or pallet" not in page
    with database.read() as s:
        row = s.scalar(select(Movement).where(Movement.kind == MovementKind.RETURN))
        assert (row.qty, row.reason, row.operator_id is not None, row.station_id is not None) == \
            (4, "Damaged — crushed corner", True, True)
        assert s.scalar(select(Lot.status).where(Lot.lot_number == number)) is LotStatus.QUARANTINE
        assert_books_balance(s)


def test_a_customer_who_never_received_the_lot_is_confirmed_on_the_page(client, database, signed_in, bound_station):
    number = returns_site(database)
    signed_in(client, "supervisor")
    bound_station(client, "Dock tablet")
    _page_scan(client, f"LOT:{number}")
    client.post("/return/qty", data={"qty": "2"})
    client.post("/return/customer", data={"customer": "BIG"})
    page = client.get("/return").text
    assert "Big Co never received lot" in page and 'action="/return/confirm"' in page
    client.post("/return/book", data={"reason": "Damaged"})  # not confirmed: nothing booked
    with database.read() as s:
        assert s.scalar(select(func.count()).select_from(Movement).where(Movement.kind == MovementKind.RETURN)) == 0
    client.post("/return/confirm")
    client.post("/return/book", data={"reason": "Refused at delivery"})
    assert "from Big Co → Q-DOCK" in client.get("/return").text
    with database.read() as s:
        assert s.scalar(select(Movement.customer_id).where(Movement.kind == MovementKind.RETURN)) is not None


def test_the_returns_page_refuses_what_is_not_a_lot_and_cancels(client, database, signed_in, bound_station):
    from actions import banner

    number = returns_site(database)
    signed_in(client, "receiver")
    bound_station(client, "Dock tablet")
    assert banner(_page_scan(client, "LOC:A-01"))[0] == "error"
    assert banner(_page_scan(client, "LOT:NO-SUCH-LOT"))[0] == "error"
    _page_scan(client, f"LOT:{number}")
    html = _page_scan(client, "CMD:CANCEL")  # a command is the page's: its Cancel button has data-command
    assert client.post("/return/cancel").status_code == 303
    assert "Cancelled — nothing was booked." in client.get("/return").text
    assert html is not None


def test_only_receivers_supervisors_and_admins_take_returns(client, database, signed_in):
    returns_site(database)
    signed_in(client, "picker")
    assert client.get("/return").status_code == 403
    assert client.post("/return/book", data={"reason": "x"}).status_code == 403
    assert client.post("/return/scan", data={"code": "LOT:x"}).status_code == 403


def test_a_pallet_scanned_by_the_stations_own_scanner_starts_a_return(client, database, signed_in, bound_station):
    """The returns page open at a station: a sim:// scan of a pallet that left whole goes through the intake
    to the returns step, /floor/answer/<scan id> shows it as the page's own scan would; booked, the goods
    go back on the pallet at the quarantine place."""
    from station.workflows.intake import ScanIn, take

    basic_site(database)
    with database.write() as s:
        catalog.create_location(s, code="Q-DOCK", kind=LocationKind.QUARANTINE)
        lot = received_lot(s, "BOLT", 12, sscc=SSCC)
        ship(s, lot, 12)
        number = lot.lot_number
    signed_in(client, "receiver")
    station_id = bound_station(client, "Dock tablet")
    assert client.get("/return").status_code == 200
    taken = take(database, ScanIn(code=SSCC, source="sim://dock-scanner", station_id=station_id))
    assert taken.workflow == "returns"
    shown = client.get(f"/floor/answer/{taken.scan_id}", headers={"HX-Request": "true"})
    assert shown.status_code == 200
    assert f"Pallet {SSCC}, lot {number}: BOLT Bolt M8." in shown.text and "Received by Corner Shop (12)" in shown.text
    client.post("/return/qty", data={"qty": "12"})
    client.post("/return/customer", data={"customer": "SHOP"})
    client.post("/return/book", data={"reason": "Refused at delivery"})
    assert "from Corner Shop → Q-DOCK" in client.get("/return").text
    with database.read() as s:
        unit = s.scalar(select(HandlingUnit).where(HandlingUnit.sscc == SSCC))
        assert unit.location.code == "Q-DOCK"
        assert s.scalar(select(Movement.raw_scan).where(Movement.kind == MovementKind.RETURN)) is None
        assert_books_balance(s)


def test_returned_goods_are_not_picked_from_the_quarantine_place_even_once_their_lot_is_released(db):
    number = returns_site(db)
    with db.write() as s:
        lot = catalog.lot_by_number(s, number)
        shop = s.scalar(select(catalog.Customer).where(catalog.Customer.code == "SHOP"))
        returns.book_return(s, lot=lot, qty=4, customer=shop, reason="Damaged box")
        holds.release(s, lot, "Inspected: boxes fine")
    with db.write() as s:
        lot = catalog.lot_by_number(s, number)
        found = suggest(s, lot.item_id, 40)
        assert [(a.lot_number, a.location_code, a.qty) for a in found.allocations] == [(number, "A-01", 30)]
        o = Order(number="SO-2", customer_id=s.scalar(select(catalog.Customer.id)
                                                      .where(catalog.Customer.code == "SHOP")))
        s.add(o)
        s.flush()
        line = OrderLine(order_id=o.id, line_no=1, item_id=lot.item_id, qty=34)
        s.add(line)
        s.flush()
        with pytest.raises(Conflict, match="is in quarantine: move it out after inspection"):
            picking.pick_line(s, line=line, lot=lot, location=catalog.location_by_code(s, "Q-DOCK"))
        picking.pick_line(s, line=line, lot=lot)  # without a place: the shelf's 30, not the quarantine's 4
        assert line.picked_qty == 30
        assert_books_balance(s)
