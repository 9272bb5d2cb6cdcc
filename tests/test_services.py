"""Domain services on a real database (SQLite and PostgreSQL): every action and its refusals."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import DBAPIError

from station.models import (HandlingUnit, Lot, LotEvent, LotLink, LotStatus, Movement, MovementKind,
                            Operator, Order, OrderLine, OrderStatus, Role, Stock)
from station.services import catalog, holds, picking, production, receiving, stock
from station.services.actor import Actor
from station.services.errors import (Conflict, InsufficientStock, Invalid, LotNotPickable,
                                     NotFound)

from factories import TODAY, assert_books_balance, gtin13, order

SSCC = "376130321109103420"


def receive(db, sku="BOLT", qty=100, location="DOCK", **kw):
    kw.setdefault("on", TODAY)
    with db.write() as s:
        lot = receiving.receive(s, item=catalog.item_by_sku(s, sku), qty=qty,
                                location=catalog.location_by_code(s, location), **kw)
        return lot.lot_number


def movement_count(db) -> int:
    with db.read() as s:
        return s.scalar(select(func.count()).select_from(Movement))


def qty_at(db, lot_number, location) -> int:
    with db.read() as s:
        lot = catalog.lot_by_number(s, lot_number)
        return sum(st.qty for st in lot.stock if st.location.code == location)


# --- receiving -------------------------------------------------------------------------------


def test_receive_creates_lot_with_number_stock_and_ledger_row(site):
    number = receive(site, qty=40)
    assert number == "260615-001"
    with site.read() as s:
        lot = catalog.lot_by_number(s, number)
        assert (lot.status, lot.on_hand, lot.received_on, lot.fifo_date) == (
            LotStatus.AVAILABLE, 40, TODAY, TODAY)
        (m,) = s.scalars(select(Movement)).all()
        assert (m.kind, m.qty, m.from_location_id, m.to_location.code) == (
            MovementKind.RECEIVE, 40, None, "DOCK")
    assert receive(site, qty=1) == "260615-002"


def test_receive_computes_expiry_from_shelf_life_and_keeps_given_dates(site):
    with site.write() as s:
        lot = receiving.receive(s, item=catalog.item_by_sku(s, "MILK"), qty=5,
                                location=catalog.location_by_code(s, "DOCK"),
                                produced=TODAY - dt.timedelta(days=2), on=TODAY)
        assert lot.expiry == TODAY + dt.timedelta(days=28)
        assert lot.fifo_date == TODAY - dt.timedelta(days=2)


def test_receive_records_pallet_and_refuses_the_same_sscc_twice_saying_who_and_when(site):
    with site.write() as s:
        s.add(Operator(badge="OP-1", name="Ana", role=Role.RECEIVER))
    number = receive(site, qty=10, sscc=SSCC, by=Actor(operator_id=1))
    before = movement_count(site)
    with pytest.raises(Conflict) as err:
        receive(site, qty=10, sscc=SSCC)
    assert err.value.code == "sscc_already_received"
    assert "Ana" in err.value.message and number in err.value.message
    assert movement_count(site) == before
    with site.read() as s:
        unit = s.scalar(select(HandlingUnit))
        assert (unit.sscc, unit.qty_received, unit.location.code) == (SSCC, 10, "DOCK")


@pytest.mark.parametrize("kwargs, code", [
    ({"qty": 0}, "invalid_qty"),
    ({"qty": -3}, "invalid_qty"),
    ({"sscc": "376130321109103421"}, "invalid_sscc"),
    ({"produced": TODAY + dt.timedelta(days=1)}, "invalid_date"),
    ({"produced": TODAY, "expiry": TODAY - dt.timedelta(days=1)}, "invalid_date"),
    ({"supplier_lot": "A\x1dB"}, "invalid_supplier_lot"),
])
def test_receive_refuses_bad_input_and_changes_nothing(site, kwargs, code):
    kwargs = {"qty": 5, **kwargs}
    with pytest.raises(Invalid) as err:
        receive(site, **kwargs)
    assert err.value.code == code
    assert movement_count(site) == 0
    with site.read() as s:
        assert s.scalar(select(func.count()).select_from(Lot)) == 0


def test_a_second_pallet_of_a_supplier_lot_joins_its_lot(site):
    def supplier_receipt(qty, sscc=None, supplier_lot="S-1"):
        with site.write() as s:
            return receiving.receive(
                s, item=catalog.item_by_sku(s, "BOLT"), qty=qty, location=catalog.location_by_code(s, "DOCK"),
                supplier=catalog.supplier_by_code(s, "ACME"), supplier_lot=supplier_lot, sscc=sscc,
                on=TODAY).lot_number
    first = supplier_receipt(10, SSCC)
    assert supplier_receipt(5) == first
    assert supplier_receipt(5, supplier_lot="S-2") != first
    with site.read() as s:
        assert catalog.lot_by_number(s, first).on_hand == 15
        assert_books_balance(s)


def test_unknown_references_are_not_found(site):
    with site.read() as s:
        for finder, value in [(catalog.item_by_sku, "NOPE"), (catalog.location_by_code, "Z-99"),
                              (catalog.lot_by_number, "000000-000"), (catalog.supplier_by_code, "X")]:
            with pytest.raises(NotFound):
                finder(s, value)
        with pytest.raises(Invalid):
            catalog.item_by_gtin(s, "4000000000019")  # bad check digit
        with pytest.raises(NotFound):
            catalog.item_by_gtin(s, "5901234123457")


# --- moves and adjustments -------------------------------------------------------------------


def test_move_and_move_pallet_keep_stock_and_ledger_together(site):
    number = receive(site, qty=30, sscc=SSCC)
    with site.write() as s:
        lot = catalog.lot_by_number(s, number)
        stock.move(s, lot, 10, catalog.location_by_code(s, "DOCK"), catalog.location_by_code(s, "A-01"))
    assert (qty_at(site, number, "DOCK"), qty_at(site, number, "A-01")) == (20, 10)
    with site.write() as s:
        unit = s.scalar(select(HandlingUnit))
        stock.move_unit(s, unit, catalog.location_by_code(s, "A-02"))
    assert (qty_at(site, number, "DOCK"), qty_at(site, number, "A-02")) == (0, 20)
    with site.read() as s:
        assert s.scalar(select(HandlingUnit)).location.code == "A-02"
        assert catalog.lot_by_number(s, number).on_hand == 30
        assert_books_balance(s)


def test_move_refuses_more_than_is_there_and_the_same_place(site):
    number = receive(site, qty=5)
    before = movement_count(site)
    with pytest.raises(InsufficientStock, match="Only 5"):
        with site.write() as s:
            stock.move(s, catalog.lot_by_number(s, number), 6, catalog.location_by_code(s, "DOCK"),
                       catalog.location_by_code(s, "A-01"))
    with pytest.raises(Invalid, match="already at DOCK"):
        with site.write() as s:
            stock.move(s, catalog.lot_by_number(s, number), 1, catalog.location_by_code(s, "DOCK"),
                       catalog.location_by_code(s, "DOCK"))
    assert movement_count(site) == before and qty_at(site, number, "DOCK") == 5


def test_adjust_up_and_down_with_a_reason(site):
    number = receive(site, qty=10)
    with site.write() as s:
        lot, dock = catalog.lot_by_number(s, number), catalog.location_by_code(s, "DOCK")
        stock.adjust(s, lot, dock, -4, "damaged in handling")
        stock.adjust(s, lot, dock, 1, "found in count")
    assert qty_at(site, number, "DOCK") == 7
    for delta, reason, error in [(-8, "count", InsufficientStock), (0, "x", Invalid), (2, "  ", Invalid)]:
        with pytest.raises(error):
            with site.write() as s:
                stock.adjust(s, catalog.lot_by_number(s, number), catalog.location_by_code(s, "DOCK"),
                             delta, reason)
    with site.read() as s:
        reasons = s.scalars(select(Movement.reason).where(Movement.kind == MovementKind.ADJUST)).all()
        assert sorted(reasons) == ["damaged in handling", "found in count"]
        assert_books_balance(s)


def test_stock_cannot_go_negative_even_bypassing_the_services(site):
    receive(site, qty=3)
    with pytest.raises(DBAPIError):
        with site.write() as s:
            s.execute(update(Stock).values(qty=Stock.qty - 4))  # the CHECK judges, not the service
    with pytest.raises(DBAPIError):
        with site.write() as s:
            s.execute(text("UPDATE lots SET on_hand = -1"))


def test_the_ledger_refuses_update_and_delete(site):
    receive(site, qty=3)
    for statement in ["UPDATE movements SET qty = 99", "DELETE FROM movements"]:
        with pytest.raises(DBAPIError, match="append-only"):
            with site.write() as s:
                s.execute(text(statement))
    with site.read() as s:
        assert s.scalar(select(Movement.qty)) == 3


def test_emptying_a_lot_marks_it_consumed_and_refilling_makes_it_available(site):
    number = receive(site, qty=2)
    with site.write() as s:
        stock.adjust(s, catalog.lot_by_number(s, number), catalog.location_by_code(s, "DOCK"), -2, "scrap")
    with site.read() as s:
        assert catalog.lot_by_number(s, number).status is LotStatus.CONSUMED
    with site.write() as s:
        stock.adjust(s, catalog.lot_by_number(s, number), catalog.location_by_code(s, "DOCK"), 1, "found")
    with site.read() as s:
        assert catalog.lot_by_number(s, number).status is LotStatus.AVAILABLE


# --- picking and shipping --------------------------------------------------------------------


def test_pick_for_an_order_line_then_ship_to_the_customer(site):
    number = receive(site, qty=50)
    with site.write() as s:
        o = order(s, "SO-1", [("BOLT", 20)])
        lot, dock = catalog.lot_by_number(s, number), catalog.location_by_code(s, "DOCK")
        picking.pick(s, lot=lot, location=dock, qty=15, line=o.lines[0], on=TODAY, followed_suggestion=True)
        assert o.status is OrderStatus.PICKING
        picking.pick(s, lot=lot, location=dock, qty=5, line=o.lines[0], on=TODAY,
                     followed_suggestion=False, override_reason="older lot blocked in")
        assert (o.status, o.lines[0].picked_qty) == (OrderStatus.PICKED, 20)
    assert (qty_at(site, number, "DOCK"), qty_at(site, number, "SHIP")) == (30, 20)
    with site.write() as s:
        o = s.scalar(select(Order))
        shipped = picking.ship(s, o, on=TODAY)
        assert [(m.qty, m.customer_id is not None) for m in shipped] == [(20, True)]
        assert o.status is OrderStatus.SHIPPED
    with site.read() as s:
        lot = catalog.lot_by_number(s, number)
        assert lot.on_hand == 30 and qty_at(site, number, "SHIP") == 0
        overrides = s.scalars(select(Movement.reason).where(Movement.followed_suggestion.is_(False))).all()
        assert overrides == ["older lot blocked in"]
        assert_books_balance(s)


@pytest.mark.parametrize("status", [LotStatus.HOLD, LotStatus.QUARANTINE])
def test_a_held_lot_cannot_be_picked_used_or_shipped(site, status):
    number = receive(site, qty=10)
    with site.write() as s:
        o = order(s, "SO-1", [("BOLT", 5)])
        picking.pick(s, lot=catalog.lot_by_number(s, number), location=catalog.location_by_code(s, "DOCK"),
                     qty=5, line=o.lines[0], on=TODAY)
        holds.hold(s, catalog.lot_by_number(s, number), "customer complaint", status=status)
    before = movement_count(site)
    attempts = [
        lambda s: picking.pick(s, lot=catalog.lot_by_number(s, number),
                               location=catalog.location_by_code(s, "DOCK"), qty=1, on=TODAY),
        lambda s: production.consume(s, catalog.lot_by_number(s, number),
                                     catalog.location_by_code(s, "DOCK"), 1, on=TODAY),
        lambda s: picking.ship(s, s.scalar(select(Order)), on=TODAY),
    ]
    for attempt in attempts:
        with pytest.raises(LotNotPickable, match="QA release needed"):
            with site.write() as s:
                attempt(s)
    assert movement_count(site) == before
    with site.read() as s:
        assert s.scalar(select(Order)).status is OrderStatus.PICKED


def test_an_expired_lot_cannot_be_picked(site):
    with site.write() as s:
        lot = receiving.receive(s, item=catalog.item_by_sku(s, "MILK"), qty=5,
                                location=catalog.location_by_code(s, "DOCK"),
                                expiry=TODAY + dt.timedelta(days=1), on=TODAY)
        number = lot.lot_number
    with pytest.raises(LotNotPickable, match="expired on"):
        with site.write() as s:
            picking.pick(s, lot=catalog.lot_by_number(s, number), location=catalog.location_by_code(s, "DOCK"),
                         qty=1, on=TODAY + dt.timedelta(days=2))
    with site.write() as s:  # on the expiry day itself it is still good
        picking.pick(s, lot=catalog.lot_by_number(s, number), location=catalog.location_by_code(s, "DOCK"),
                     qty=1, on=TODAY + dt.timedelta(days=1))


def test_pick_refuses_wrong_item_over_pick_and_missing_stock(site):
    bolt = receive(site, "BOLT", qty=10)
    milk = receive(site, "MILK", qty=10)
    with site.write() as s:
        order(s, "SO-1", [("BOLT", 4)])
    cases = [(milk, 1, "wrong_item"), (bolt, 5, "over_pick")]
    for number, qty, code in cases:
        with pytest.raises(Conflict) as err:
            with site.write() as s:
                line = s.scalar(select(OrderLine))
                picking.pick(s, lot=catalog.lot_by_number(s, number), location=catalog.location_by_code(s, "DOCK"),
                             qty=qty, line=line, on=TODAY)
        assert err.value.code == code
    with pytest.raises(InsufficientStock):
        with site.write() as s:
            picking.pick(s, lot=catalog.lot_by_number(s, bolt), location=catalog.location_by_code(s, "A-01"),
                         qty=1, on=TODAY)
    with pytest.raises(Conflict, match="Nothing has been picked"):
        with site.write() as s:
            picking.ship(s, s.scalar(select(Order)), on=TODAY)


# --- production ------------------------------------------------------------------------------


def test_produce_consumes_components_and_links_the_new_lot_to_them(site):
    flour = receive(site, "BOLT", qty=20)
    milk = receive(site, "MILK", qty=20)
    with site.write() as s:
        line = catalog.location_by_code(s, "LINE-1")
        dock = catalog.location_by_code(s, "DOCK")
        parts = [production.Component(catalog.lot_by_number(s, flour), dock, 5),
                 production.Component(catalog.lot_by_number(s, milk), dock, 8),
                 production.Component(catalog.lot_by_number(s, flour), dock, 1)]
        cake = production.produce(s, item=catalog.item_by_sku(s, "CAKE"), qty=12, location=line,
                                  components=parts, on=TODAY)
        number = cake.lot_number
        assert (cake.origin, cake.produced_on, cake.expiry) == ("production", TODAY, TODAY + dt.timedelta(days=10))
    assert qty_at(site, number, "LINE-1") == 12
    assert (qty_at(site, flour, "DOCK"), qty_at(site, milk, "DOCK")) == (14, 12)
    with site.read() as s:
        cake = catalog.lot_by_number(s, number)
        links = s.scalars(select(LotLink.qty).where(LotLink.output_lot_id == cake.id)).all()
        assert sorted(links) == [6, 8]
        kinds = s.scalars(select(Movement.kind).order_by(Movement.id)).all()
        assert kinds[-4:] == [MovementKind.CONSUME] * 3 + [MovementKind.PRODUCE]
        assert_books_balance(s)


def test_produce_with_a_held_component_changes_nothing(site):
    flour = receive(site, "BOLT", qty=20)
    with site.write() as s:
        holds.hold(s, catalog.lot_by_number(s, flour), "metal fragment suspected")
    before = movement_count(site)
    with pytest.raises(LotNotPickable):
        with site.write() as s:
            production.produce(
                s, item=catalog.item_by_sku(s, "CAKE"), qty=1, location=catalog.location_by_code(s, "LINE-1"),
                components=[production.Component(catalog.lot_by_number(s, flour),
                                                  catalog.location_by_code(s, "DOCK"), 1)], on=TODAY)
    assert movement_count(site) == before
    with site.read() as s:
        assert s.scalar(select(func.count()).select_from(Lot)) == 1


# --- holds -----------------------------------------------------------------------------------


def test_hold_and_release_record_who_when_and_why(site):
    number = receive(site, qty=5)
    with site.write() as s:
        s.add(Operator(badge="QA-1", name="Quinn", role=Role.SUPERVISOR))
    qa = Actor(operator_id=1)
    with site.write() as s:
        holds.hold(s, catalog.lot_by_number(s, number), "lab test pending", by=qa)
    with pytest.raises(Conflict, match="already on hold"):
        with site.write() as s:
            holds.hold(s, catalog.lot_by_number(s, number), "again")
    with site.write() as s:
        holds.release(s, catalog.lot_by_number(s, number), "lab test passed", by=qa)
    with pytest.raises(Conflict, match="not on hold"):
        with site.write() as s:
            holds.release(s, catalog.lot_by_number(s, number), "again")
    with pytest.raises(Invalid, match="reason is required"):
        with site.write() as s:
            holds.hold(s, catalog.lot_by_number(s, number), "")
    with site.read() as s:
        events = s.scalars(select(LotEvent).order_by(LotEvent.id)).all()
        assert [(e.action, e.from_status, e.to_status, e.reason, e.operator.name) for e in events] == [
            ("hold", LotStatus.AVAILABLE, LotStatus.HOLD, "lab test pending", "Quinn"),
            ("release", LotStatus.HOLD, LotStatus.AVAILABLE, "lab test passed", "Quinn"),
        ]
        assert catalog.lot_by_number(s, number).status is LotStatus.AVAILABLE


# --- catalogue -------------------------------------------------------------------------------


def test_catalogue_refuses_duplicates_and_bad_gtins(site):
    with pytest.raises(Conflict, match="already exists"):
        with site.write() as s:
            catalog.create_item(s, sku="BOLT", name="again")
    with pytest.raises(Conflict, match="already belongs to item BOLT"):
        with site.write() as s:
            catalog.create_item(s, sku="BOLT2", name="x", gtins=[gtin13("400000000001")])
    with pytest.raises(Invalid, match="check digit"):
        with site.write() as s:
            catalog.create_item(s, sku="NEW", name="x", gtins=["4000000000014"])
    with pytest.raises(Invalid):
        with site.write() as s:
            catalog.create_location(s, code="bad code!", kind="storage")
    with pytest.raises(Invalid, match="check digit"):
        with site.write() as s:
            catalog.create_supplier(s, code="BADGLN", name="x", gln="4000000000017")
    with site.write() as s:
        item = catalog.create_item(s, sku="UPC", name="Imported", gtins=["036000291452"])
        assert [g.gtin for g in item.gtins] == ["00036000291452"]


def test_hold_and_release_in_one_transaction(site):
    number = receive(site, qty=5)
    with site.write() as s:
        lot = catalog.lot_by_number(s, number)
        holds.hold(s, lot, "sample taken")
        holds.release(s, lot, "sample fine")
    with site.read() as s:
        assert catalog.lot_by_number(s, number).status is LotStatus.AVAILABLE
        assert len(s.scalars(select(LotEvent)).all()) == 2


def test_moving_part_of_a_pallet_leaves_the_pallet_where_it_was(site):
    number = receive(site, qty=30, sscc=SSCC)
    with site.write() as s:
        unit = s.scalar(select(HandlingUnit))
        stock.move(s, unit.lot, 10, unit.location, catalog.location_by_code(s, "A-01"), unit=unit)
    with site.read() as s:
        assert s.scalar(select(HandlingUnit)).location.code == "DOCK"
    with site.write() as s:
        unit = s.scalar(select(HandlingUnit))
        stock.move(s, unit.lot, 20, unit.location, catalog.location_by_code(s, "A-01"), unit=unit)
    with site.read() as s:
        assert s.scalar(select(HandlingUnit)).location.code == "A-01"
    assert qty_at(site, number, "A-01") == 30
