"""Trace, the service: a genealogy of several levels built through the real services (receipts ->
production -> split -> shipments), traced both ways with exact node, edge, receipt and shipment sets;
a cycle in lot_links ends; the number of queries does not grow with the genealogy."""
from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import event, select

from station.models import Customer, LinkKind, LocationKind, Lot, LotLink, Order, OrderLine
from station.services import catalog, picking, production, receiving, splits
from station.services.actor import Actor
from station.services.errors import Invalid
from station.services.trace import check_direction, trace

from factories import TODAY, operator


@dataclass
class Site:
    """Lot numbers of the constructed genealogy, by role."""

    flour: str   # received from ACME (pallet), went into PIE and COOKIE
    sugar: str   # received from ACME (loose), went into PIE
    pie: str     # made from flour + sugar
    cookie: str  # made from flour only
    pie_part: str  # split off pie
    receiver: str  # who received


def build_genealogy(db, *, supplier_lot: str = "S-FL-1", customer_name: str = "Corner Shop") -> Site:
    """R(flour), R(sugar) -> P(pie from both), P(cookie from flour) -> split(pie) -> shipped to two
    customers on three orders. Everything goes through the domain services, like the app."""
    with db.write() as s:
        for sku, name in [("FLOUR", "Flour 1 kg"), ("SUGAR", "Sugar 1 kg"), ("PIE", "Apple pie"),
                          ("COOKIE", "Cookie")]:
            catalog.create_item(s, sku=sku, name=name)
        acme = catalog.create_supplier(s, code="ACME", name="Acme Foods")
        shop = catalog.create_customer(s, code="SHOP", name=customer_name)
        big = catalog.create_customer(s, code="BIG", name="Big Mart")
        for code, kind in [("DOCK", LocationKind.DOCK), ("A-01", LocationKind.STORAGE),
                           ("LINE-1", LocationKind.LINE), ("SHIP", LocationKind.SHIPPING)]:
            catalog.create_location(s, code=code, kind=kind)
        who = operator(s, badge="R-1", name="Rita Receiver", role="receiver")
        a01, line = catalog.location_by_code(s, "A-01"), catalog.location_by_code(s, "LINE-1")
        item = lambda sku: catalog.item_by_sku(s, sku)  # noqa: E731
        flour = receiving.receive(s, item=item("FLOUR"), qty=100, location=a01, supplier=acme,
                                  supplier_lot=supplier_lot, sscc="000000000000000017",
                                  by=Actor(operator_id=who.id), on=TODAY)
        sugar = receiving.receive(s, item=item("SUGAR"), qty=50, location=a01, supplier=acme,
                                  supplier_lot="S-SU-1", by=Actor(operator_id=who.id), on=TODAY)
        pie = production.produce(s, item=item("PIE"), qty=20, location=line, on=TODAY, components=[
            production.Component(flour, a01, 30), production.Component(sugar, a01, 10)])
        cookie = production.produce(s, item=item("COOKIE"), qty=50, location=line, on=TODAY,
                                    components=[production.Component(flour, a01, 40)])
        part = splits.split_lot(s, pie, 5, line, on=TODAY)
        _ship(s, "O-1", shop, pie, 8, line)
        _ship(s, "O-2", big, part, 3, line)
        _ship(s, "O-3", shop, cookie, 10, line)
        return Site(flour.lot_number, sugar.lot_number, pie.lot_number, cookie.lot_number, part.lot_number,
                    who.name)


def _ship(s, number: str, customer: Customer, lot: Lot, qty: int, where) -> None:
    order = Order(number=number, customer_id=customer.id)
    s.add(order)
    s.flush()
    line = OrderLine(order_id=order.id, line_no=1, item_id=lot.item_id, qty=qty)
    s.add(line)
    s.flush()
    picking.pick(s, lot=lot, location=where, qty=qty, line=line, on=TODAY)
    picking.ship(s, order, on=TODAY)


def _trace(db, lot_number: str, direction: str):
    with db.read() as s:
        return trace(s, catalog.lot_by_number(s, lot_number), direction)


def _shape(t):
    nodes = {(n.lot_number, n.depth) for n in t.nodes}
    edges = {(e.component, e.output, e.qty, e.kind) for e in t.edges}
    return nodes, edges


def test_forward_from_a_lot_that_went_into_two_products(db):
    site = build_genealogy(db)
    t = _trace(db, site.flour, "forward")
    nodes, edges = _shape(t)
    assert nodes == {(site.flour, 0), (site.pie, 1), (site.cookie, 1), (site.pie_part, 2)}
    assert edges == {(site.flour, site.pie, 30, "production"), (site.flour, site.cookie, 40, "production"),
                     (site.pie, site.pie_part, 5, "split")}
    assert {(x.lot_number, x.customer_code, x.customer_name, x.order_number, x.qty) for x in t.shipments} == {
        (site.pie, "SHOP", "Corner Shop", "O-1", 8), (site.pie_part, "BIG", "Big Mart", "O-2", 3),
        (site.cookie, "SHOP", "Corner Shop", "O-3", 10)}
    assert t.receipts == [] and t.max_depth == 2
    # Where stock is now, and what the lot is.
    pie = t.node(site.pie)
    assert (pie.sku, pie.item_name, pie.origin, pie.on_hand, pie.status) == ("PIE", "Apple pie", "production", 7,
                                                                            "available")
    assert [(p.location, p.qty) for p in pie.places] == [("LINE-1", 7)]
    flour = t.node(site.flour)
    assert (flour.supplier_code, flour.supplier_lot, flour.received_on, flour.on_hand) == ("ACME", "S-FL-1",
                                                                                           TODAY, 30)
    part = t.node(site.pie_part)
    assert (part.sku, part.origin, part.on_hand, [(p.location, p.qty) for p in part.places]) == (
        "PIE", "split", 2, [("LINE-1", 2)])


def test_forward_from_the_second_component_misses_what_it_did_not_go_into(db):
    site = build_genealogy(db)
    t = _trace(db, site.sugar, "forward")
    nodes, edges = _shape(t)
    assert nodes == {(site.sugar, 0), (site.pie, 1), (site.pie_part, 2)}
    assert edges == {(site.sugar, site.pie, 10, "production"), (site.pie, site.pie_part, 5, "split")}
    assert {(x.lot_number, x.order_number, x.qty) for x in t.shipments} == {(site.pie, "O-1", 8),
                                                                             (site.pie_part, "O-2", 3)}


def test_backward_from_a_split_reaches_both_receipts_of_a_product_made_from_two_lots(db):
    site = build_genealogy(db)
    t = _trace(db, site.pie_part, "backward")
    nodes, edges = _shape(t)
    assert nodes == {(site.pie_part, 0), (site.pie, 1), (site.flour, 2), (site.sugar, 2)}
    assert edges == {(site.pie, site.pie_part, 5, "split"), (site.flour, site.pie, 30, "production"),
                     (site.sugar, site.pie, 10, "production")}
    assert {(r.lot_number, r.supplier_code, r.supplier_name, r.supplier_lot, r.qty, r.sscc, r.received_by,
             r.location) for r in t.receipts} == {
        (site.flour, "ACME", "Acme Foods", "S-FL-1", 100, "000000000000000017", "Rita Receiver", "A-01"),
        (site.sugar, "ACME", "Acme Foods", "S-SU-1", 50, None, "Rita Receiver", "A-01")}
    assert t.shipments == []


def test_backward_from_a_product_of_one_lot_and_from_a_root(db):
    site = build_genealogy(db)
    nodes, edges = _shape(_trace(db, site.cookie, "backward"))
    assert nodes == {(site.cookie, 0), (site.flour, 1)}
    assert edges == {(site.flour, site.cookie, 40, "production")}
    root = _trace(db, site.flour, "backward")
    assert _shape(root) == ({(site.flour, 0)}, set())
    assert [r.lot_number for r in root.receipts] == [site.flour]


def test_forward_from_a_shipped_leaf_has_its_own_shipment_only(db):
    site = build_genealogy(db)
    t = _trace(db, site.pie_part, "forward")
    assert _shape(t) == ({(site.pie_part, 0)}, set())
    assert [(x.lot_number, x.order_number, x.qty) for x in t.shipments] == [(site.pie_part, "O-2", 3)]


def test_a_cycle_in_lot_links_ends_both_ways(db):
    site = build_genealogy(db)
    with db.write() as s:
        ids = {n: catalog.lot_by_number(s, n).id for n in (site.flour, site.pie, site.pie_part)}
        # Bad data: the flour "made from" the split part of the pie made from it.
        s.add(LotLink(output_lot_id=ids[site.flour], component_lot_id=ids[site.pie_part], qty=1,
                      kind=LinkKind.PRODUCTION))
    forward = _trace(db, site.flour, "forward")
    assert {(n.lot_number, n.depth) for n in forward.nodes} == {
        (site.flour, 0), (site.pie, 1), (site.cookie, 1), (site.pie_part, 2)}
    assert (site.pie_part, site.flour, 1, "production") in {(e.component, e.output, e.qty, e.kind)
                                                            for e in forward.edges}
    backward = _trace(db, site.pie, "backward")
    assert {(n.lot_number, n.depth) for n in backward.nodes} == {
        (site.pie, 0), (site.flour, 1), (site.sugar, 1), (site.pie_part, 2)}
    # Every lot in the cycle has components, so only the sugar is a root with a receipt.
    assert [r.lot_number for r in backward.receipts] == [site.sugar]


def test_direction_is_checked_in_words():
    assert check_direction(None) == "backward"
    assert check_direction(" Forward ") == "forward"
    with pytest.raises(Invalid, match="'backward' .* or 'forward'"):
        check_direction("sideways")


def _statements(db, fn) -> int:
    count = [0]

    def on_exec(*_args):
        count[0] += 1

    event.listen(db.engine, "before_cursor_execute", on_exec)
    try:
        fn()
    finally:
        event.remove(db.engine, "before_cursor_execute", on_exec)
    return count[0]


def test_the_queries_do_not_grow_with_the_genealogy(db):
    site = build_genealogy(db)
    small = _statements(db, lambda: _trace(db, site.cookie, "forward"))
    with db.write() as s:
        cookie = catalog.lot_by_number(s, site.cookie)
        line = catalog.location_by_code(s, "LINE-1")
        parts = [splits.split_lot(s, cookie, 1, line, on=TODAY) for _ in range(12)]
        for part in parts[:6]:
            splits.split_lot(s, part, 1, line, on=TODAY)
    big = _trace(db, site.cookie, "forward")
    assert len(big.nodes) == 19 and big.max_depth == 2
    assert _statements(db, lambda: _trace(db, site.cookie, "forward")) == small
    assert _statements(db, lambda: _trace(db, site.cookie, "backward")) == _statements(
        db, lambda: _trace(db, site.pie_part, "backward"))
    with db.read() as s:
        assert s.scalar(select(Lot.origin).where(Lot.lot_number == parts[0].lot_number)) == "split"


def test_any_depth_both_ways(db):
    site = build_genealogy(db)
    with db.write() as s:
        line = catalog.location_by_code(s, "LINE-1")
        chain = [catalog.lot_by_number(s, site.cookie)]
        for _ in range(25):  # a split of a split of a split ...
            chain.append(splits.split_lot(s, chain[-1], 1, line, on=TODAY))
        numbers = [lot.lot_number for lot in chain]
    forward = _trace(db, site.flour, "forward")
    depth = {n.lot_number: n.depth for n in forward.nodes}
    assert [depth[n] for n in numbers] == list(range(1, 27))
    backward = _trace(db, numbers[-1], "backward")
    assert {(n.lot_number, n.depth) for n in backward.nodes} == (
        {(n, 25 - i) for i, n in enumerate(numbers)} | {(site.flour, 26)})
    assert [r.lot_number for r in backward.receipts] == [site.flour]
