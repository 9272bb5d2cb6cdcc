"""services.picking.undo_pick on SQLite and PostgreSQL: a pick taken back puts the same lot back where it
came from with an 'unpick' ledger row, the line needs it again, the order goes back to picking/open;
refusals (not a pick, taken back already, order shipped, goods gone from the lane) change nothing;
ship() ships picks minus picks taken back; two undos of one pick at the same moment: one wins."""
from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import func, select, text

import factories as f
from station.models import Movement, MovementKind, Order, OrderLine, OrderStatus, Stock
from station.services import catalog, picking, stock
from station.services.actor import Actor
from station.services.errors import Conflict

TODAY = f.TODAY
DAYS = dt.timedelta


@pytest.fixture
def site(site):
    """The small site with MILK (FEFO): `soon` 6 at A-01, `later` 50 at A-02; BOLT 10 at A-01. SO-1: 10
    MILK, 4 BOLT."""
    with site.write() as s:
        soon = f.received_lot(s, "MILK", 6, location="A-01", expiry=TODAY + DAYS(5), on=TODAY)
        later = f.received_lot(s, "MILK", 50, location="A-02", expiry=TODAY + DAYS(20), on=TODAY)
        bolt = f.received_lot(s, "BOLT", 10, location="A-01", on=TODAY)
        f.order(s, "SO-1", [("MILK", 10), ("BOLT", 4)])
        site.update({k: v.lot_number for k, v in dict(soon=soon, later=later, bolt=bolt).items()})
    return site


def line(s, no: int) -> OrderLine:
    return s.scalar(select(OrderLine).join(Order).where(Order.number == "SO-1", OrderLine.line_no == no))


def pick(db, no: int, lot: str, **kw) -> int:
    with db.write() as s:
        return picking.pick_line(s, line=line(s, no), lot=catalog.lot_by_number(s, lot), on=TODAY, **kw).id


def undo(db, movement_id: int, **kw) -> int:
    with db.write() as s:
        return picking.undo_pick(s, s.get(Movement, movement_id), **kw).id


def at(s, lot: str, code: str) -> int:
    return s.scalar(select(func.coalesce(func.sum(Stock.qty), 0))
                    .where(Stock.lot_id == catalog.lot_by_number(s, lot).id,
                           Stock.location_id == catalog.location_by_code(s, code).id))


def status(s) -> OrderStatus:
    return s.scalar(select(Order.status).where(Order.number == "SO-1"))


def snapshot(s) -> tuple:
    return (sorted(s.execute(select(Stock.lot_id, Stock.location_id, Stock.qty)).all()),
            s.scalar(select(func.count()).select_from(Movement)),
            sorted(s.execute(select(OrderLine.id, OrderLine.picked_qty)).all()), status(s))


def test_an_undone_pick_goes_back_where_it_came_from_with_a_ledger_row(db, site):
    first = pick(db, 1, site["soon"])
    with db.write() as s:
        operator = f.operator(s, badge="OP-PICK", name="Pia Picker", role="picker")
        pick_row = s.get(Movement, first)
        unpick = picking.undo_pick(s, pick_row, by=Actor(operator.id), reason="Scanned the wrong pallet")
        assert (unpick.kind, unpick.lot_id, unpick.qty, unpick.from_location_id, unpick.to_location_id,
                unpick.order_line_id, unpick.reference, unpick.reason, unpick.operator_id) == (
            MovementKind.UNPICK, pick_row.lot_id, 6, pick_row.to_location_id, pick_row.from_location_id,
            pick_row.order_line_id, f"undo of movement {first}", "Scanned the wrong pallet", operator.id)
    with db.read() as s:
        assert (at(s, site["soon"], "A-01"), at(s, site["soon"], "SHIP")) == (6, 0)
        assert line(s, 1).picked_qty == 0
        assert status(s) is OrderStatus.OPEN
        assert catalog.lot_by_number(s, site["soon"]).on_hand == 6
        assert picking.undone_picks(s, [line(s, 1).id]) == {first}
        f.assert_books_balance(s)
    # the line's suggestion is the same lot again
    with db.read() as s:
        assert picking.line_suggestion(s, line(s, 1), on=TODAY).allocations[0].lot_number == site["soon"]


def test_the_order_goes_back_to_picking_while_something_else_is_picked(db, site):
    pick(db, 1, site["soon"])
    pick(db, 1, site["later"])
    last = pick(db, 2, site["bolt"])
    with db.read() as s:
        assert status(s) is OrderStatus.PICKED
    undo(db, last)
    with db.read() as s:
        assert status(s) is OrderStatus.PICKING
        assert (line(s, 1).picked_qty, line(s, 2).picked_qty) == (10, 0)
        f.assert_books_balance(s)


def test_an_undo_without_a_reason_and_a_pick_taken_back_twice_is_refused(db, site):
    first = pick(db, 1, site["soon"])
    with db.read() as s:
        assert s.get(Movement, undo(db, first)).reason is None
    with db.write() as s:
        before = snapshot(s)
        with pytest.raises(Conflict) as twice:
            picking.undo_pick(s, s.get(Movement, first))
        assert twice.value.code == "already_undone"
        assert twice.value.message == f"The pick of 6 ea of lot {site['soon']} from A-01 has already been taken back."
        s.flush()
        assert snapshot(s) == before


def test_only_a_pick_of_an_open_order_whose_goods_are_still_in_the_lane_can_be_taken_back(db, site):
    with db.read() as s:
        receipt = s.scalar(select(Movement.id).where(Movement.kind == MovementKind.RECEIVE).limit(1))
    first = pick(db, 1, site["soon"])
    with db.write() as s:  # 2 of the 6 picked have gone from the lane (moved on by hand)
        stock.move(s, catalog.lot_by_number(s, site["soon"]), 2, catalog.location_by_code(s, "SHIP"),
                   catalog.location_by_code(s, "A-02"))
    with db.write() as s:
        before = snapshot(s)
        for movement_id, code, words in [
                (receipt, "not_a_pick", f"Movement {receipt} is a receipt, not a pick — only a pick can be "
                                        f"taken back."),
                (first, "staging_stock_gone", f"Only 4 of lot {site['soon']} is left at SHIP — the pick of 6 "
                                              f"cannot be taken back.")]:
            with pytest.raises(Conflict) as refused:
                picking.undo_pick(s, s.get(Movement, movement_id))
            assert (refused.value.code, refused.value.message) == (code, words)
        s.flush()
        assert snapshot(s) == before
    with db.write() as s:  # a pick for no order line
        loose = picking.pick(s, lot=catalog.lot_by_number(s, site["later"]), qty=1,
                             location=catalog.location_by_code(s, "A-02"), on=TODAY)
        s.flush()
        with pytest.raises(Conflict) as refused:
            picking.undo_pick(s, loose)
        assert refused.value.code == "not_an_order_pick"


def test_a_shipped_orders_picks_cannot_be_taken_back(db, site):
    first = pick(db, 1, site["soon"])
    pick(db, 1, site["later"])
    pick(db, 2, site["bolt"])
    with db.write() as s:
        picking.ship(s, s.scalar(select(Order).where(Order.number == "SO-1")), on=TODAY)
    with db.write() as s:
        before = snapshot(s)
        with pytest.raises(Conflict) as refused:
            picking.undo_pick(s, s.get(Movement, first))
        assert refused.value.code == "order_closed"
        assert refused.value.message == (f"Order SO-1 is shipped — the pick of 6 ea of lot {site['soon']} cannot "
                                         f"be taken back.")
        s.flush()
        assert snapshot(s) == before


def test_undo_then_ship_ships_picks_minus_the_picks_taken_back(db, site):
    soon = pick(db, 1, site["soon"])                      # 6 of soon
    wrong = pick(db, 1, site["later"], qty=4)             # 4 of later ...
    undo(db, wrong)                                       # ... taken back
    pick(db, 1, site["later"], qty=3)                     # 3 of later again
    bolt = pick(db, 2, site["bolt"])                      # 4 of bolt ...
    undo(db, bolt)                                        # ... taken back: the line ships nothing
    with db.read() as s:
        assert (line(s, 1).picked_qty, line(s, 2).picked_qty) == (9, 0)
        assert status(s) is OrderStatus.PICKING
        assert at(s, site["soon"], "SHIP") == 6 and at(s, site["later"], "SHIP") == 3
    with db.write() as s:
        shipped = picking.ship(s, s.scalar(select(Order).where(Order.number == "SO-1")), on=TODAY,
                               short_reason="Truck leaves now")  # stock is left for both lines: a reason
        assert sorted((m.lot.lot_number, m.qty, m.order_line_id) for m in shipped) == sorted(
            [(site["soon"], 6, line(s, 1).id), (site["later"], 3, line(s, 1).id)])
    with db.read() as s:
        assert (line(s, 1).short_qty, line(s, 2).short_qty) == (1, 4)
        assert (at(s, site["later"], "A-02"), at(s, site["bolt"], "A-01")) == (47, 10)
        assert s.scalar(select(func.coalesce(func.sum(Stock.qty), 0))
                        .where(Stock.location_id == catalog.location_by_code(s, "SHIP").id)) == 0
        assert soon not in picking.undone_picks(s, [line(s, 1).id])
        f.assert_books_balance(s)


def test_an_order_whose_every_pick_was_taken_back_has_nothing_to_ship(db, site):
    undo(db, pick(db, 1, site["soon"]))
    with db.write() as s:
        with pytest.raises(Conflict) as refused:
            picking.ship(s, s.scalar(select(Order).where(Order.number == "SO-1")), on=TODAY)
        assert refused.value.code == "nothing_picked"


def test_two_undos_of_one_pick_at_the_same_moment_one_is_refused(db, site):
    """The first undo holds the order line's row lock; the second waits for it (seen waiting on
    PostgreSQL; SQLite's writers queue at BEGIN IMMEDIATE) and then finds the pick taken back.
    Another order's pick of the same lot stands in the same lane, so the lane's stock alone could
    not stop the second undo."""
    with db.write() as s:
        other = f.order(s, "SO-2", [("MILK", 10)])
        picking.pick(s, lot=catalog.lot_by_number(s, site["later"]), location=catalog.location_by_code(s, "A-02"),
                     qty=10, line=other.lines[0], on=TODAY)
    first = pick(db, 1, site["later"], qty=4, override_reason="Customer asked for a single lot on the order")
    outcome: dict = {}

    def second() -> None:
        try:
            outcome["id"] = undo(db, first)
        except Conflict as exc:
            outcome["refused"] = exc.code

    with db.write() as s:
        picking.undo_pick(s, s.get(Movement, first))
        s.flush()
        racer = threading.Thread(target=second)
        racer.start()
        if not db.is_sqlite:
            _wait_until_a_session_waits_for_a_lock(db)
    racer.join(timeout=60)
    assert not racer.is_alive()
    assert outcome == {"refused": "already_undone"}
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Movement).where(Movement.kind == MovementKind.UNPICK)) == 1
        assert line(s, 1).picked_qty == 0
        assert (at(s, site["later"], "SHIP"), at(s, site["later"], "A-02")) == (10, 40)
        f.assert_books_balance(s)


def _wait_until_a_session_waits_for_a_lock(db) -> None:
    """Block until PostgreSQL shows another session of this database waiting on a row lock."""
    waiting = text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                   "AND wait_event_type = 'Lock'")
    with db.engine.connect() as conn:
        for _ in range(2000):
            if conn.execute(waiting).scalar():
                return
            conn.execute(text("SELECT pg_sleep(0.01)"))
            conn.rollback()
    raise AssertionError("the second undo never waited for the order line's lock")

