"""Make docs/screenshot.png: the lot card of a demo lot, in headless Chromium at tablet size.

    .venv/bin/python scripts/screenshot.py [OUTPUT]

Seeds a throw-away SQLite database with station.demo (or, without it, a few lots made through
the services), serves it with waitress on 127.0.0.1 and scans a lot that has been received, put
away, picked and shipped. Uses the browser helpers of the test suite (tests/browser_support.py).
"""
from __future__ import annotations

import datetime as dt
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from sqlalchemy import func, select  # noqa: E402

from browser_support import TABLET, LiveServer, chromium, require_chromium  # noqa: E402
from station import clock, create_app  # noqa: E402
from station.db import Database  # noqa: E402
from station.models import LocationKind, Lot, LotStatus, Movement, MovementKind, Stock  # noqa: E402
from station.schema import upgrade  # noqa: E402


def seed(db: Database) -> None:
    try:
        from station.demo import seed_demo
    except ImportError:
        seed_few(db)
    else:
        seed_demo(db)


def seed_few(db: Database) -> None:
    """A lot with a story, when the demo seeder is not there."""
    from station.models import Operator, Order, OrderLine, Role
    from station.services import catalog, holds, picking, receiving, stock
    from station.services.actor import Actor

    today = clock.today()
    with db.write() as s:
        qa = Operator(badge="OP-1001", name="Maria Keller", role=Role.SUPERVISOR)
        picker = Operator(badge="OP-1002", name="Omar Diallo", role=Role.PICKER)
        s.add_all([qa, picker])
        s.flush()
        item = catalog.create_item(s, sku="YOG-500", name="Greek yoghurt 500 g", unit="cup",
                                   shelf_life_days=21)
        dairy = catalog.create_supplier(s, code="NORDMILK", name="Nordic Dairy")
        shop = catalog.create_customer(s, code="FRESH", name="FreshMart Centrum")
        dock = catalog.create_location(s, code="DOCK-1", kind=LocationKind.DOCK)
        rack = catalog.create_location(s, code="C-02-01", kind=LocationKind.STORAGE)
        catalog.create_location(s, code="SHIP-1", kind=LocationKind.SHIPPING)
        lot = receiving.receive(s, item=item, qty=480, location=dock, supplier=dairy,
                                supplier_lot="ND-7781", produced=today - dt.timedelta(days=2),
                                sscc="376123450000000016", by=Actor(picker.id))
        stock.move(s, lot, 400, dock, rack, by=Actor(picker.id))
        holds.hold(s, lot, "Lid seal check after cold-chain alarm", by=Actor(qa.id))
    with db.write() as s:
        lot = catalog.lot_by_number(s, lot.lot_number)
        holds.release(s, lot, "Seals checked, all fine", by=Actor(qa.id))
        rack = catalog.location_by_code(s, "C-02-01")
        order = Order(number="SO-1042", customer_id=shop.id)
        s.add(order)
        s.flush()
        line = OrderLine(order_id=order.id, line_no=1, item_id=item.id, qty=24)
        s.add(line)
        s.flush()
        picking.pick(s, lot=lot, location=rack, qty=24, line=line, by=Actor(picker.id))
        picking.ship(s, order, by=Actor(picker.id))


def showcase_lot(db: Database) -> str:
    """A received lot, available, in more than one place, already shipped to customers."""
    with db.read() as s:
        moves = func.count(func.distinct(Movement.id))
        places = func.count(func.distinct(Stock.id))
        shipped = select(Movement.lot_id).where(Movement.kind == MovementKind.SHIP)
        return s.scalar(
            select(Lot.lot_number)
            .join(Movement, Movement.lot_id == Lot.id)
            .join(Stock, (Stock.lot_id == Lot.id) & (Stock.qty > 0))
            .where(Lot.status == LotStatus.AVAILABLE, Lot.origin == "receipt", Lot.id.in_(shipped))
            .group_by(Lot.id, Lot.lot_number)
            .having(moves <= 9)
            .order_by(places.desc(), moves.desc(), Lot.lot_number)
            .limit(1))


def main(output: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/station.db"
        db = Database(url)
        upgrade(db)
        seed(db)
        lot_number = showcase_lot(db)
        db.dispose()
        os.environ["STATION_INSTANCE"] = f"{tmp}/instance"
        app = create_app({"DATABASE_URL": url})
        with LiveServer(app) as server, chromium(require_chromium()) as browser:
            page = browser.new_context(viewport=TABLET).new_page()
            page.goto(f"{server.url}/lots")
            page.keyboard.type(lot_number)
            page.keyboard.press("Enter")
            page.locator("#lot-card").wait_for()
            output.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(output), full_page=True)
        app.extensions["station.db"].dispose()
    print(f"{output}: lot {lot_number}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "screenshot.png")
