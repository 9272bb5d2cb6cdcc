"""services.picking on SQLite and PostgreSQL: the per-item policy that refuses a younger lot (against
the default warn + override reason), and lines shipped short (short_reason from the short pick,
short_qty set when the order ships)."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

import factories as f
from station.models import Item, Lot, Movement, MovementKind, Order, OrderLine, OrderStatus, Stock
from station.services import catalog, picking
from station.services.errors import Conflict

TODAY = f.TODAY
DAYS = dt.timedelta


@pytest.fixture
def site(site):
    """The small site with BOLT (FIFO): `old` (produced 30 days ago, 5 at A-01) before `new` (today, 40
    at A-02). MILK (FEFO): `soon` (6 at A-01) before `later` (50 at A-02). Order SO-1: 10 BOLT, 10 MILK."""
    with site.write() as s:
        old = f.received_lot(s, "BOLT", 5, location="A-01", produced=TODAY - DAYS(30), on=TODAY)
        new = f.received_lot(s, "BOLT", 40, location="A-02", on=TODAY)
        soon = f.received_lot(s, "MILK", 6, location="A-01", expiry=TODAY + DAYS(5), on=TODAY)
        later = f.received_lot(s, "MILK", 50, location="A-02", expiry=TODAY + DAYS(20), on=TODAY)
        f.order(s, "SO-1", [("BOLT", 10), ("MILK", 10)])
        site.update({k: v.lot_number for k, v in dict(old=old, new=new, soon=soon, later=later).items()})
    return site


def refuse_younger(db, sku: str) -> None:
    with db.write() as s:
        catalog.item_by_sku(s, sku).refuse_younger_lots = True


def line(s, no: int) -> OrderLine:
    return s.scalar(select(OrderLine).join(Order).where(Order.number == "SO-1", OrderLine.line_no == no))


def snapshot(s) -> tuple:
    """Stock, the ledger and the order lines: everything a pick could change."""
    return (sorted(s.execute(select(Stock.lot_id, Stock.location_id, Stock.qty)).all()),
            s.scalar(select(func.count()).select_from(Movement)),
            sorted(s.execute(select(OrderLine.id, OrderLine.picked_qty, OrderLine.short_qty,
                                    OrderLine.short_reason)).all()),
            s.scalar(select(Order.status).where(Order.number == "SO-1")))


# --- the policy --------------------------------------------------------------------------------


def test_by_default_a_younger_lot_warns_and_takes_an_override_reason(db, site):
    with db.write() as s:
        with pytest.raises(Conflict) as refused:
            picking.pick_line(s, line=line(s, 1), lot=catalog.lot_by_number(s, site["new"]), on=TODAY)
        assert refused.value.code == "override_reason_required"
        movement = picking.pick_line(s, line=line(s, 1), lot=catalog.lot_by_number(s, site["new"]),
                                     override_reason="Suggested lot damaged", on=TODAY)
        assert (movement.qty, movement.followed_suggestion, movement.reason) == (10, False, "Suggested lot damaged")


@pytest.mark.parametrize("sku, lot, words", [
    ("BOLT", "new", "Lot {new} is newer than lot {old} — take {old} from A-01; this item must go oldest "
                    "first."),
    ("MILK", "later", "Lot {later} expires later than lot {soon} — take {soon} from A-01; this item must "
                      "go soonest-expiring first."),
])
def test_an_item_that_refuses_younger_lots_refuses_them_whatever_the_reason(db, site, sku, lot, words):
    refuse_younger(db, sku)
    no = 1 if sku == "BOLT" else 2
    with db.write() as s:
        before = snapshot(s)
        for reason in (None, "Suggested lot damaged", "Customer asked for a single lot on the order"):
            with pytest.raises(Conflict) as refused:
                picking.pick_line(s, line=line(s, no), lot=catalog.lot_by_number(s, site[lot]),
                                  override_reason=reason, on=TODAY)
            assert refused.value.code == "younger_lot_refused"
            assert refused.value.message == words.format(**site)
            older = "old" if sku == "BOLT" else "soon"
            assert refused.value.details == {"suggested_lot": site[older], "suggested_location": "A-01"}
        s.flush()
        assert snapshot(s) == before  # stock, ledger, picked_qty untouched
        # the suggested lot is picked as always
        done = picking.pick_line(s, line=line(s, no), lot=catalog.lot_by_number(s, site[older]), on=TODAY)
        assert done.followed_suggestion is True


def test_the_policy_does_not_refuse_an_older_or_equally_old_lot(db, site):
    refuse_younger(db, "BOLT")
    with db.write() as s:
        twin = f.received_lot(s, "BOLT", 3, location="A-02", produced=TODAY - DAYS(30), on=TODAY)
        movement = picking.pick_line(s, line=line(s, 1), lot=twin, on=TODAY)  # same age: not younger
        assert movement.qty == 3 and movement.followed_suggestion is True


def test_the_policy_is_stored_on_the_item(db, site):
    refuse_younger(db, "MILK")
    with db.read() as s:
        assert dict(s.execute(select(Item.sku, Item.refuse_younger_lots)).all()) == {
            "BOLT": False, "MILK": True, "CAKE": False}


# --- short lines -------------------------------------------------------------------------------


def test_a_short_pick_writes_off_the_stock_and_records_the_pickers_reason_on_the_line(db, site):
    with db.write() as s:
        adjust = picking.short_pick(s, line=line(s, 1), reason="Not at the location", on=TODAY)
        s.flush()
        assert (adjust.qty, adjust.from_location.code, adjust.reason) == (
            5, "A-01", "Short pick SO-1 line 1: Not at the location")
        assert line(s, 1).short_reason == "Not at the location"
        assert line(s, 1).short_qty == 0  # known only when the order ships
        # the next suggested lot is not there either: the same reason is kept once
        assert picking.short_pick(s, line=line(s, 1), reason="Not at the location", on=TODAY).qty == 40
        assert line(s, 1).short_reason == "Not at the location"
        with pytest.raises(Conflict) as nothing:
            picking.short_pick(s, line=line(s, 1), reason="Damaged — cannot be sent", on=TODAY)
        assert nothing.value.code == "nothing_to_short"
        f.assert_books_balance(s)
    with db.write() as s:  # another reason on another lot is added to the first
        picking.short_pick(s, line=line(s, 2), reason="Damaged — cannot be sent", on=TODAY)
        picking.short_pick(s, line=line(s, 2), reason="Less there than the system says", on=TODAY)
        assert line(s, 2).short_reason == "Damaged — cannot be sent; Less there than the system says"


def test_shipping_with_open_quantity_sets_short_qty_and_reason_in_the_same_transaction(db, site):
    with db.write() as s:
        # BOLT: all 5 of `old` picked; the 40 of `new` are not where the books say
        picking.pick_line(s, line=line(s, 1), lot=catalog.lot_by_number(s, site["old"]), on=TODAY)
        picking.short_pick(s, line=line(s, 1), reason="Less there than the system says", on=TODAY)
        # MILK: 6 picked, 4 open, `later` still there to pick, and no reason given
        picking.pick_line(s, line=line(s, 2), lot=catalog.lot_by_number(s, site["soon"]), on=TODAY)
    with db.write() as s:  # the one rule for page and API: open quantity that could be picked needs a reason
        before = snapshot(s)
        with pytest.raises(Conflict) as refused:
            picking.ship(s, s.scalar(select(Order).where(Order.number == "SO-1")), on=TODAY)
        assert refused.value.code == "short_reason_required"
        assert refused.value.message == (
            f"Not everything is picked: line 2 (MILK) still needs 4 ea and lot {site['later']} is at A-02. "
            f"Pick it, report it short, or give the reason it ships short.")
        assert snapshot(s) == before
    with db.write() as s:
        order = s.scalar(select(Order).where(Order.number == "SO-1"))
        shipped = picking.ship(s, order, on=TODAY, short_reason="  Customer   takes the rest next week ")
        assert sorted((m.lot.lot_number, m.qty) for m in shipped) == sorted([(site["old"], 5), (site["soon"], 6)])
    with db.read() as s:
        # the picker's own reason stays with its line; the shipment's reason goes to the line without one
        assert (line(s, 1).short_qty, line(s, 1).short_reason) == (5, "Less there than the system says")
        assert (line(s, 2).short_qty, line(s, 2).short_reason) == (4, "Customer takes the rest next week")
        assert s.scalar(select(Order.status).where(Order.number == "SO-1")) is OrderStatus.SHIPPED
        f.assert_books_balance(s)


def test_a_line_shipped_in_full_keeps_no_short(db, site):
    with db.write() as s:
        picking.short_pick(s, line=line(s, 2), reason="Damaged — cannot be sent", on=TODAY)  # `soon`
        picking.pick_line(s, line=line(s, 2), lot=catalog.lot_by_number(s, site["later"]), on=TODAY)
        picking.pick_line(s, line=line(s, 1), lot=catalog.lot_by_number(s, site["old"]), on=TODAY)
        picking.pick_line(s, line=line(s, 1), lot=catalog.lot_by_number(s, site["new"]), on=TODAY)
        assert line(s, 2).short_reason == "Damaged — cannot be sent"
        picking.ship(s, s.scalar(select(Order).where(Order.number == "SO-1")), on=TODAY)
    with db.read() as s:
        assert [(line(s, no).short_qty, line(s, no).short_reason) for no in (1, 2)] == [(0, None), (0, None)]


def test_a_refused_ship_sets_nothing(db, site):
    with db.write() as s:
        order = s.scalar(select(Order).where(Order.number == "SO-1"))
        with pytest.raises(Conflict) as refused:
            picking.ship(s, order, on=TODAY)
        assert refused.value.code == "nothing_picked"
        assert [line(s, no).short_qty for no in (1, 2)] == [0, 0]


def test_the_demo_has_one_item_that_refuses_younger_lots_and_no_override_for_it(db, monkeypatch):
    from station import demo

    monkeypatch.setattr(demo, "DAYS", 20)  # a shortened history keeps the test quick
    demo.seed_demo(db)
    with db.read() as s:
        assert list(s.scalars(select(Item.sku).where(Item.refuse_younger_lots.is_(True)))) == ["PH-AMOX500"]
        overridden = s.scalars(
            select(Item.sku).join(Lot, Lot.item_id == Item.id).join(Movement, Movement.lot_id == Lot.id)
            .where(Movement.kind == MovementKind.PICK, Movement.followed_suggestion.is_(False)).distinct()).all()
        assert "PH-AMOX500" not in overridden  # the demo's pickers never override for it


def test_a_pick_waiting_while_the_order_ships_is_refused_once_it_has_shipped(db, site):
    """The pick's session read the order before the ship committed; it waits for the line's lock
    (seen waiting on PostgreSQL) and then finds the order shipped."""
    import threading

    from test_pick_undo import _wait_until_a_session_waits_for_a_lock

    with db.write() as s:
        picking.pick_line(s, line=line(s, 2), lot=catalog.lot_by_number(s, site["soon"]), on=TODAY)
    outcome: dict = {}

    def late_pick() -> None:
        try:
            with db.write() as s:
                milk = line(s, 2)
                assert milk.order.status is OrderStatus.PICKING or db.is_sqlite
                picking.pick_line(s, line=milk, lot=catalog.lot_by_number(s, site["later"]),
                                  override_reason="Suggested lot damaged", on=TODAY)
                outcome["picked"] = True
        except Conflict as exc:
            outcome["refused"] = exc.code

    with db.write() as s:
        picking.ship(s, s.scalar(select(Order).where(Order.number == "SO-1")), on=TODAY,
                     short_reason="Customer takes the rest next week")
        s.flush()
        racer = threading.Thread(target=late_pick)
        racer.start()
        if not db.is_sqlite:
            _wait_until_a_session_waits_for_a_lock(db)
    racer.join(timeout=60)
    assert not racer.is_alive()
    assert outcome == {"refused": "order_closed"}
    with db.read() as s:
        assert line(s, 2).picked_qty == 6
        f.assert_books_balance(s)
