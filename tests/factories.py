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
        catalog.create_supplier(s, code="ACME", name="Acme Foods", gln="4000000000013")
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
