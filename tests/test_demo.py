"""The demo site (`station demo`): its shape, a ledger that adds up, and --if-empty, on both databases."""
from __future__ import annotations

import datetime as dt
import re
from collections import Counter, defaultdict

import pytest
from biip.gln import Gln
from biip.gtin import Gtin
from biip.sscc import Sscc
from sqlalchemy import func, select

from station import clock, demo
from station.db import Database
from station.models import (Customer, HandlingUnit, Item, ItemGtin, Location, LocationKind, Lot, LotEvent,
                            LotLink, LotScheme, LotStatus, Movement, MovementKind, Operator, Order,
                            OrderLine, OrderStatus, Printer, RemovalStrategy, Role, StationDevice, Stock,
                            Supplier)
from station.services.errors import Conflict

SUMMARY = re.compile(r"^demo site: 20 items, 5 suppliers, 4 customers, 32 locations, \d+ lots "
                     r"\(\d+ on hold, \d+ in quarantine, \d+ expired\), 8 open orders, \d+ shipped, "
                     r"6 operators$")


def test_check_digits_agree_with_biip():
    gtin = demo.gtin13("7312345", "00101")
    assert Gtin.parse(gtin).value == gtin
    case = demo.gtin14(1, gtin)
    assert len(case) == 14 and Gtin.parse(case).value == case
    assert Gln.parse(demo.gln("4012345", 1)).value == demo.gln("4012345", 1)
    for serial in (0, 1, 123456789):
        code = demo.sscc(3, "8712345", serial)
        assert len(code) == 18 and Sscc.parse(code).value == code


def test_demo_site_through_the_cli(app, db):
    # `station` (a FlaskGroup) pushes the app context itself; app.cli in the test runner does not.
    runner = app.test_cli_runner()
    with app.app_context():
        result = runner.invoke(args=["demo", "--if-empty"])
    assert result.exit_code == 0, result.output
    assert SUMMARY.match(result.output.strip()), result.output

    with db.read() as s:
        _check_catalogue(s)
        _check_lots(s)
        _check_ledger(s)
        _check_flows(s)
        _check_orders(s)
        before = s.scalar(select(func.count()).select_from(Movement))

    with app.app_context():
        again = runner.invoke(args=["demo", "--if-empty"])
    assert again.exit_code == 0, again.output
    assert again.output.strip() == "demo site not seeded: the database already has 20 items"
    with app.app_context():
        refused = runner.invoke(args=["demo"])
    assert refused.exit_code == 1 and "already has 20 items" in refused.output
    with pytest.raises(Conflict):
        demo.seed_demo(db)
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Movement)) == before
        assert s.scalar(select(func.count()).select_from(Item)) == 20


def test_same_seed_same_site(tmp_path, monkeypatch):
    """Deterministic for a seed (on a shortened history, to keep the test quick)."""
    monkeypatch.setattr(demo, "DAYS", 20)
    from station.schema import upgrade

    def site(name: str, seed: int):
        database = Database(f"sqlite:///{tmp_path / name}")
        upgrade(database)
        summary = demo.seed_demo(database, seed=seed)
        with database.read() as s:
            lots = s.execute(select(Lot.lot_number, Lot.supplier_lot, Lot.expiry, Lot.on_hand, Lot.status)
                             .order_by(Lot.id)).all()
            ledger = s.execute(select(Movement.kind, Movement.lot_id, Movement.qty, Movement.from_location_id,
                                      Movement.to_location_id).order_by(Movement.id)).all()
            units = s.scalars(select(HandlingUnit.sscc).order_by(HandlingUnit.id)).all()
        database.dispose()
        return summary, lots, ledger, units

    first, second, other = site("a.db", 7), site("b.db", 7), site("c.db", 8)
    assert first == second
    assert first[1] and first[1] != other[1]


# --- checks ------------------------------------------------------------------------------------


def _count(s, model, *where) -> int:
    return s.scalar(select(func.count()).select_from(model).where(*where))


def _check_catalogue(s) -> None:
    items = s.scalars(select(Item).order_by(Item.sku)).all()
    assert 18 <= len(items) <= 22
    assert {i.removal_strategy for i in items} == {RemovalStrategy.FIFO, RemovalStrategy.FEFO}
    assert all(i.unit and i.name for i in items)
    assert any(i.shelf_life_days is None for i in items) and any(i.shelf_life_days for i in items)

    gtins = s.scalars(select(ItemGtin.gtin)).all()
    assert all(i.gtins for i in items)
    for gtin in gtins:
        assert Gtin.parse(gtin).as_gtin_14() == gtin
    assert any(g.startswith("0") for g in gtins)        # GTIN-13s (stored as 14 digits)
    assert any(not g.startswith("0") for g in gtins)    # case GTIN-14s with an indicator digit

    own = {i.sku: i for i in items if i.lot_scheme_id is not None}
    assert 1 <= len(own) <= 3
    for item in own.values():
        scheme = s.get(LotScheme, item.lot_scheme_id)
        assert scheme.name != "default"
        numbers = s.scalars(select(Lot.lot_number).where(Lot.item_id == item.id)).all()
        assert numbers
        if "{item}" in scheme.pattern:
            assert all(n.startswith(item.sku + "-") for n in numbers)

    suppliers = s.scalars(select(Supplier)).all()
    assert len(suppliers) == 5
    assert all(Gln.parse(sup.gln).value == sup.gln for sup in suppliers)
    assert 3 <= _count(s, Customer) <= 4

    locations = s.scalars(select(Location)).all()
    assert 25 <= len(locations) <= 35
    kinds = Counter(loc.kind for loc in locations)
    assert kinds[LocationKind.DOCK] == 2 and kinds[LocationKind.LINE] == 2
    assert 1 <= kinds[LocationKind.SHIPPING] <= 2 and kinds[LocationKind.STORAGE] >= 20
    assert {"DOCK-1", "DOCK-2", "LINE-1", "SHIP-1", "A-01-01"} <= {loc.code for loc in locations}
    assert all(loc.barcode == "LOC:" + loc.code for loc in locations)

    operators = s.scalars(select(Operator)).all()
    assert {op.role for op in operators} == set(Role)
    assert all(re.fullmatch(r"OP-\d{4}", op.badge) for op in operators)
    printers = s.scalars(select(Printer).order_by(Printer.name)).all()
    assert [p.url for p in printers] == ["tcp://127.0.0.1:9100", "sim://line-zebra"]  # emulator, simulated
    assert all(p.dpi == 203 and p.label_size == "4x6" for p in printers)
    assert _count(s, StationDevice) >= 2


def _check_lots(s) -> None:
    today = clock.today()
    lots = s.scalars(select(Lot)).all()
    assert 250 <= len(lots) <= 350
    received = [lot for lot in lots if lot.origin == "receipt"]
    made = [lot for lot in lots if lot.origin == "production"]
    assert len(received) >= 230 and 3 <= len(made) <= 20
    assert min(lot.received_on for lot in received) >= today - dt.timedelta(days=92)
    assert max(lot.received_on for lot in received) <= today
    assert all(lot.produced_on is None or lot.produced_on <= lot.received_on for lot in received)
    assert all(lot.fifo_date == (lot.produced_on or lot.received_on) for lot in received)
    assert all(abs(lot.created_at.date() - lot.received_on) <= dt.timedelta(days=1)  # backdated (UTC)
               for lot in received)

    in_stock = [lot for lot in lots if lot.on_hand > 0]
    expired = [lot for lot in in_stock if lot.expiry and lot.expiry < today]
    soon = [lot for lot in in_stock if lot.expiry and today <= lot.expiry <= today + dt.timedelta(days=7)]
    later = [lot for lot in in_stock if lot.expiry is None or lot.expiry > today + dt.timedelta(days=7)]
    assert 3 <= len(expired) <= demo.MAX_EXPIRED
    assert len(soon) >= 1
    assert len(later) > len(in_stock) / 2

    statuses = Counter(lot.status for lot in lots)
    assert 8 <= statuses[LotStatus.HOLD] <= 12
    assert 2 <= statuses[LotStatus.QUARANTINE] <= 4
    assert statuses[LotStatus.CONSUMED] >= 50     # used up, picked out, shipped
    for lot in lots:
        if lot.status in (LotStatus.HOLD, LotStatus.QUARANTINE):
            event = s.scalar(select(LotEvent).where(LotEvent.lot_id == lot.id).order_by(LotEvent.id.desc()))
            assert event.to_status is lot.status and event.reason.strip()
            assert lot.on_hand > 0
    cage = s.scalar(select(Location).where(Location.code == "QA-CAGE"))
    for lot in lots:
        if lot.status is LotStatus.QUARANTINE:
            assert {st.location_id for st in lot.stock if st.qty} == {cage.id}

    units = s.scalars(select(HandlingUnit)).all()
    assert len(units) >= 100
    assert all(Sscc.parse(u.sscc).value == u.sscc for u in units)
    # partly used: some lots have less than they came with and more than nothing
    received_qty = dict(s.execute(
        select(Movement.lot_id, func.sum(Movement.qty))
        .where(Movement.kind == MovementKind.RECEIVE).group_by(Movement.lot_id)).all())
    partly = [lot for lot in received if 0 < lot.on_hand < received_qty[lot.id]]
    assert len(partly) >= 10
    # some of today's deliveries may wait on the docks; nothing older does
    docks = {loc.id for loc in s.scalars(select(Location).where(Location.kind == LocationKind.DOCK))}
    for row in s.scalars(select(Stock).where(Stock.location_id.in_(docks), Stock.qty > 0)):
        assert row.lot.received_on >= today - dt.timedelta(days=1)


def _check_ledger(s) -> None:
    """For each (lot, location): what came in minus what went out is the stock; lots.on_hand adds up."""
    balance: dict[tuple[int, int], int] = defaultdict(int)
    for lot_id, source, dest, qty in s.execute(
            select(Movement.lot_id, Movement.from_location_id, Movement.to_location_id, Movement.qty)):
        if dest is not None:
            balance[lot_id, dest] += qty
        if source is not None:
            balance[lot_id, source] -= qty
    stock = {(lot_id, loc): qty for lot_id, loc, qty in s.execute(
        select(Stock.lot_id, Stock.location_id, func.sum(Stock.qty))
        .group_by(Stock.lot_id, Stock.location_id))}
    assert all(v >= 0 for v in balance.values())
    assert {k: v for k, v in balance.items() if v} == {k: v for k, v in stock.items() if v}

    per_lot: dict[int, int] = defaultdict(int)
    for (lot_id, _), qty in stock.items():
        per_lot[lot_id] += qty
    for lot_id, on_hand in s.execute(select(Lot.id, Lot.on_hand)):
        assert on_hand == per_lot[lot_id], lot_id


def _check_flows(s) -> None:
    kinds = Counter(dict(s.execute(select(Movement.kind, func.count()).group_by(Movement.kind)).all()))
    for kind in (MovementKind.RECEIVE, MovementKind.MOVE, MovementKind.PICK, MovementKind.CONSUME,
                 MovementKind.PRODUCE, MovementKind.SHIP):
        assert kinds[kind] > 0, kind
    # production on the lines, linked to the component lots it consumed
    lines = {loc.id for loc in s.scalars(select(Location).where(Location.kind == LocationKind.LINE))}
    produced = s.scalars(select(Movement).where(Movement.kind == MovementKind.PRODUCE)).all()
    assert all(m.to_location_id in lines for m in produced)
    assert _count(s, LotLink) >= 3 * len(produced)
    # forward trace: supplier lot -> consumed into a made lot -> shipped to a customer
    traced = s.execute(
        select(Lot.lot_number, Customer.code)
        .join(LotLink, LotLink.component_lot_id == Lot.id)
        .join(Movement, Movement.lot_id == LotLink.output_lot_id)
        .join(Customer, Customer.id == Movement.customer_id)
        .where(Lot.origin == "receipt", Movement.kind == MovementKind.SHIP).limit(1)).first()
    assert traced is not None
    # picks follow the suggestion, and the few that do not say why
    overrides = s.scalars(select(Movement).where(Movement.kind == MovementKind.PICK,
                                                 Movement.followed_suggestion.is_(False))).all()
    assert all(m.reason for m in overrides)
    assert _count(s, Movement, Movement.kind == MovementKind.PICK,
                  Movement.followed_suggestion.is_(True)) > 5 * len(overrides)


def _check_orders(s) -> None:
    shipped = s.scalars(select(Order).where(Order.status == OrderStatus.SHIPPED)).all()
    assert len(shipped) >= 3 and all(o.shipped_at for o in shipped)
    open_orders = s.scalars(select(Order).where(
        Order.status.in_([OrderStatus.OPEN, OrderStatus.PICKING, OrderStatus.PICKED]))).all()
    assert len(open_orders) == 8
    for order in open_orders:
        assert 1 <= len(order.lines) <= 4
        assert order.due_on >= clock.today()
    partly = [o for o in open_orders if any(0 < l.picked_qty < l.qty for l in o.lines)
              or (o.status is OrderStatus.PICKING)]
    assert partly
    # an order line's picked quantity is what its pick movements say
    for line_id, picked in s.execute(select(OrderLine.id, OrderLine.picked_qty)):
        moved = s.scalar(select(func.coalesce(func.sum(Movement.qty), 0))
                         .where(Movement.order_line_id == line_id, Movement.kind == MovementKind.PICK))
        assert moved == picked
