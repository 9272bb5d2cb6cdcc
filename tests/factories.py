"""Small builders for test data, going through the domain services like the app does."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from station.models import LocationKind, Movement, Order, OrderLine, RemovalStrategy, Stock, Lot
from station.services import catalog

TODAY = dt.date(2026, 6, 15)


def gtin13(body12: str) -> str:
    """Append the GS1 mod-10 check digit to 12 digits."""
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body12))
    return body12 + str((10 - total % 10) % 10)


def basic_site(db) -> None:
    """Two items (FIFO, FEFO), a supplier, a customer, dock/storage/line/shipping locations."""
    with db.write() as s:
        catalog.create_item(s, sku="BOLT", name="Bolt M8", gtins=[gtin13("400000000001")],
                            removal_strategy=RemovalStrategy.FIFO)
        catalog.create_item(s, sku="MILK", name="Milk 1 L", gtins=[gtin13("400000000002")],
                            removal_strategy=RemovalStrategy.FEFO, shelf_life_days=30)
        catalog.create_item(s, sku="CAKE", name="Cake", removal_strategy=RemovalStrategy.FEFO,
                            shelf_life_days=10)
        acme = catalog.create_supplier(s, code="ACME", name="Acme Foods", gln="4000000000013")
        for item in s.scalars(select(catalog.Item)):
            item.supplier_id = acme.id  # receiving needs a supplier: the usual one when nothing else says
        catalog.create_customer(s, code="SHOP", name="Corner Shop")
        for code, kind in [("DOCK", LocationKind.DOCK), ("A-01", LocationKind.STORAGE),
                           ("A-02", LocationKind.STORAGE), ("LINE-1", LocationKind.LINE),
                           ("SHIP", LocationKind.SHIPPING)]:
            catalog.create_location(s, code=code, kind=kind)


def order(session, number: str, lines: list[tuple[str, int]]) -> Order:
    customer = session.scalar(select(catalog.Customer).limit(1))
    o = Order(number=number, customer_id=customer.id)
    session.add(o)
    session.flush()
    for no, (sku, qty) in enumerate(lines, 1):
        session.add(OrderLine(order_id=o.id, line_no=no, item_id=catalog.item_by_sku(session, sku).id, qty=qty))
    session.flush()
    return o


def ledger_balance(session) -> dict[tuple[int, int], int]:
    """Stock per (lot, location) as the ledger says it: what came in minus what went out."""
    balance: dict[tuple[int, int], int] = {}
    for lot_id, src, dst, qty in session.execute(
            select(Movement.lot_id, Movement.from_location_id, Movement.to_location_id, Movement.qty)):
        if dst is not None:
            balance[(lot_id, dst)] = balance.get((lot_id, dst), 0) + qty
        if src is not None:
            balance[(lot_id, src)] = balance.get((lot_id, src), 0) - qty
    return {k: v for k, v in balance.items() if v}


def stock_balance(session) -> dict[tuple[int, int], int]:
    """Stock per (lot, location) as the stock table says it."""
    rows = session.execute(select(Stock.lot_id, Stock.location_id, func.sum(Stock.qty))
                           .group_by(Stock.lot_id, Stock.location_id))
    return {(lot, loc): qty for lot, loc, qty in rows if qty}


def assert_books_balance(session) -> None:
    """The ledger, the stock table and lots.on_hand tell the same story."""
    assert ledger_balance(session) == stock_balance(session)
    for lot in session.scalars(select(Lot)):
        held = session.scalar(select(func.coalesce(func.sum(Stock.qty), 0)).where(Stock.lot_id == lot.id))
        assert lot.on_hand == held, lot.lot_number


# --- labels: lots, operators and printers to print for ------------------------------------------


def received_lot(session, sku: str, qty: int, *, location: str = "A-01", supplier: str | None = None,
                 supplier_lot: str | None = None, expiry: dt.date | None = None,
                 produced: dt.date | None = None, sscc: str | None = None, on: dt.date = TODAY) -> Lot:
    """A lot received through the receiving service (after basic_site)."""
    from station.services import receiving

    return receiving.receive(
        session, item=catalog.item_by_sku(session, sku), qty=qty,
        location=catalog.location_by_code(session, location),
        supplier=catalog.supplier_by_code(session, supplier) if supplier else None,
        supplier_lot=supplier_lot, expiry=expiry, produced=produced, sscc=sscc, on=on)


def operator(session, badge: str = "OP-7", name: str = "Grace Hopper", role: str = "line_operator",
             active: bool = True):
    from station.models import Operator, Role

    person = Operator(badge=badge, name=name, role=Role(role), active=active)
    session.add(person)
    session.flush()
    return person


def printer(session, name: str = "zebra", label_size: str = "4x6", dpi: int = 203, active: bool = True,
            url: str | None = None):
    from station.models import Printer

    device = Printer(name=name, url=url or f"sim://{name}", label_size=label_size, dpi=dpi, active=active)
    session.add(device)
    session.flush()
    return device


# --- a site a test refers to by name ----------------------------------------------------------------


class Site(dict):
    """The test site: `site.db` and the facts a test names, `site["milk"]` (a lot number), `site["dock"]`
    (an id). `site["db"]` is the database too, so a test reads it like any other fact.

    Built by small_site(); a test file that needs more extends the `site` fixture with the adders, each
    of which writes at once and records what it made under the name given:

        @pytest.fixture
        def site(site):
            site.lot("milk", "MILK", 50, location="A-01")
            site.move("milk", 20, "A-01", "LINE-1")
            site.lot("held", "MILK", 8, location="DOCK", hold="Cold chain alarm")
            return site
    """

    def __init__(self, db, **facts) -> None:
        super().__init__(db=db, **facts)
        self.db = db

    def __getattr__(self, name: str):
        # A site stands in for its database where a test passes it as one (intake.take(site, ...)).
        if name == "db":
            raise AttributeError(name)
        return getattr(self.db, name)

    def read(self):
        return self.db.read()

    def write(self):
        return self.db.write()

    def lot(self, name: str, sku: str, qty: int, *, hold: str | None = None, on: dt.date | None = None,
            **received) -> str:
        """Receive a lot (received_lot's keywords; `on` defaults to the real today, by which the app
        judges expiry); `hold` puts it on hold with that reason. Returns and records its number."""
        from station import clock
        from station.services import holds

        with self.db.write() as s:
            lot = received_lot(s, sku, qty, on=on or clock.today(), **received)
            if hold:
                holds.hold(s, lot, hold)
            self[name] = lot.lot_number
        return self[name]

    def move(self, name: str, qty: int, source: str, dest: str) -> None:
        """Move `qty` of the lot called `name` from one location code to another."""
        from station.services import stock

        with self.db.write() as s:
            stock.move(s, catalog.lot_by_number(s, self[name]), qty, catalog.location_by_code(s, source),
                       catalog.location_by_code(s, dest))

    def printer(self, name: str, **options) -> int:
        """A printer (printer()'s keywords; a sim:// printer unless `url` says); records its id."""
        with self.db.write() as s:
            self[name] = printer(s, name, **options).id
        return self[name]

    def station(self, name: str, *, location: str | None = None, printer: str | None = None,
                scanner_url: str | None = None) -> int:
        """A station standing at location `location` (a code) printing on printer `printer` (a name);
        records its id."""
        from station.models import Printer, StationDevice

        with self.db.write() as s:
            row = StationDevice(
                name=name, scanner_url=scanner_url,
                location_id=catalog.location_by_code(s, location).id if location else None,
                printer_id=s.scalar(select(Printer.id).where(Printer.name == printer)) if printer else None)
            s.add(row)
            s.flush()
            self[name] = row.id
        return self[name]

    def order(self, number: str, lines: list[tuple[str, int]]) -> int:
        """A customer order of (sku, qty) lines; records its id under its number."""
        with self.db.write() as s:
            self[number] = order(s, number, lines).id
        return self[number]


def small_site(db) -> Site:
    """The standard small site: basic_site's items, supplier, customer and locations; no lots, stations
    or printers until a test adds them (a test of "the first lot" or "no printer yet" starts from this)."""
    basic_site(db)
    return Site(db)
