"""Recalls (services.recalls) on a real genealogy, on SQLite and PostgreSQL: exactly the affected lots are
stopped, exactly the customers who got any are listed, and nothing else in the database changes."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from station.models import (HandlingUnit, LinkKind, LocationKind, Lot, LotEvent, LotLink, LotStatus, Movement,
                            MovementKind, Order,
                            OrderLine, Recall, RecallCustomer, RecallEvent, RecallLot, Stock)
from station.services import catalog, holds, picking, production, recalls
from station.services.actor import Actor
from station.services.errors import Conflict, DomainError, Invalid, LotNotPickable
from station.services.production import Component

from factories import assert_books_balance, basic_site, operator, received_lot


@dataclass(frozen=True)
class Site:
    """Lot numbers of the constructed genealogy (see build_site)."""

    a: str      # BOLT from ACME lot S-77: the source
    a2: str     # BOLT from ACME lot S-77 too (another expiry): a second lot of the supplier lot
    b: str      # BOLT, unrelated (but went into q with p)
    u: str      # BOLT from ACME lot S-99: unrelated
    p: str      # CAKE made from a
    q: str      # CAKE made from p and b (a product made from two lots)
    s: str      # CAKE split off p, on hold before the recall
    c: str      # CAKE made from a, all of it shipped (consumed)
    d: str      # CAKE made from a2
    supervisor_id: int


def _order(s, number: str, customer: str, lines: list[tuple[str, int]]) -> Order:
    o = Order(number=number, customer_id=s.scalar(select(catalog.Customer.id)
                                                  .where(catalog.Customer.code == customer)))
    s.add(o)
    s.flush()
    for no, (sku, qty) in enumerate(lines, 1):
        s.add(OrderLine(order_id=o.id, line_no=no, item_id=catalog.item_by_sku(s, sku).id, qty=qty))
    s.flush()
    return o


def _pick(s, o: Order, line_no: int, lot: Lot, where: str, qty: int) -> None:
    line = next(line for line in o.lines if line.line_no == line_no)
    picking.pick(s, lot=lot, location=catalog.location_by_code(s, where), qty=qty, line=line)


def build_site(db) -> Site:
    """receipts -> production -> split -> shipments to two customers; unrelated lots and customer."""
    basic_site(db)
    with db.write() as s:
        catalog.create_customer(s, code="BIG", name="Big Co")
        catalog.create_customer(s, code="OTHER", name="Other Ltd")
        catalog.create_location(s, code="Q-DOCK", kind=LocationKind.QUARANTINE)  # where retrieved goods go
        boss = operator(s, badge="SUP-1", name="Sam Supervisor", role="supervisor")
        line = catalog.location_by_code(s, "LINE-1")
        a = received_lot(s, "BOLT", 100, supplier="ACME", supplier_lot="S-77")
        a2 = received_lot(s, "BOLT", 40, supplier="ACME", supplier_lot="S-77", expiry=dt.date(2030, 1, 1))
        b = received_lot(s, "BOLT", 50)
        u = received_lot(s, "BOLT", 30, supplier="ACME", supplier_lot="S-99")
        a01 = catalog.location_by_code(s, "A-01")
        cake = catalog.item_by_sku(s, "CAKE")
        p = production.produce(s, item=cake, qty=20, location=line, components=[Component(a, a01, 30)])
        q = production.produce(s, item=cake, qty=10, location=line,
                               components=[Component(p, line, 5), Component(b, a01, 5)])
        split = production.produce(s, item=cake, qty=4, location=line, components=[Component(p, line, 4)])
        s.execute(update(LotLink).where(LotLink.output_lot_id == split.id).values(kind=LinkKind.SPLIT))
        c = production.produce(s, item=cake, qty=8, location=line, components=[Component(a, a01, 8)])
        d = production.produce(s, item=cake, qty=6, location=line, components=[Component(a2, a01, 6)])
        holds.hold(s, split, "QA check")
        # Shipments: SHOP gets 6 of p; BIG gets 10 of a, 3 of q and all 8 of c; OTHER gets b and u.
        o1 = _order(s, "SO-1", "SHOP", [("CAKE", 6)])
        _pick(s, o1, 1, p, "LINE-1", 6)
        picking.ship(s, o1)
        o2 = _order(s, "SO-2", "BIG", [("BOLT", 10), ("CAKE", 3)])
        _pick(s, o2, 1, a, "A-01", 10)
        _pick(s, o2, 2, q, "LINE-1", 3)
        picking.ship(s, o2)
        o3 = _order(s, "SO-3", "BIG", [("CAKE", 8)])
        _pick(s, o3, 1, c, "LINE-1", 8)
        picking.ship(s, o3)
        o4 = _order(s, "SO-4", "OTHER", [("BOLT", 10)])
        _pick(s, o4, 1, b, "A-01", 5)
        _pick(s, o4, 1, u, "A-01", 5)
        picking.ship(s, o4)
        # Picked, not shipped yet: 2 of p wait at SHIP for SHOP.
        o5 = _order(s, "SO-5", "SHOP", [("CAKE", 2)])
        _pick(s, o5, 1, p, "LINE-1", 2)
        return Site(a.lot_number, a2.lot_number, b.lot_number, u.lot_number, p.lot_number, q.lot_number,
                    split.lot_number, c.lot_number, d.lot_number, boss.id)


def snapshot(s) -> dict:
    """Every row of the tables a recall must leave alone (lots without their status)."""
    def rows(model, *order):
        table = model.__table__
        return [tuple(r) for r in s.execute(select(table).order_by(*order))]

    lots = [(r.id, r.lot_number, r.item_id, r.supplier_id, r.supplier_lot, r.expiry, r.on_hand, r.origin)
            for r in s.execute(select(Lot.__table__).order_by(Lot.id))]
    return {"lots": lots, "stock": rows(Stock, Stock.id), "movements": rows(Movement, Movement.id),
            "orders": rows(Order, Order.id), "order_lines": rows(OrderLine, OrderLine.id),
            "lot_links": rows(LotLink, LotLink.output_lot_id, LotLink.component_lot_id),
            "units": rows(HandlingUnit, HandlingUnit.id)}


def statuses(s) -> dict[str, str]:
    return {n: st.value for n, st in s.execute(select(Lot.lot_number, Lot.status))}


def recall_rows(s) -> tuple:
    return tuple(len(s.scalars(select(m)).all()) for m in (Recall, RecallLot, RecallCustomer, RecallEvent, LotEvent))


def test_recall_from_a_lot_stops_exactly_the_affected_lots_and_lists_exactly_their_customers(db):
    site = build_site(db)
    by = Actor(operator_id=site.supervisor_id)
    with db.read() as s:
        before, status_before = snapshot(s), statuses(s)
    with db.write() as s:
        recall = recalls.open_recall(s, reason="Customer complaint: metal in cake", lot=site.a, by=by)
        number = recall.number
    assert number == f"R-{dt.date.today().year}-0001"
    with db.read() as s:
        after, status_after = snapshot(s), statuses(s)
        assert after == before  # no stock, ledger, order, link or lot field other than status changed
        changed = {n for n in status_after if status_after[n] != status_before[n]}
        # c is used up, and stopped too: stock booked back into it later must not be pickable
        assert changed == {site.a, site.p, site.q, site.s, site.c}
        assert {status_after[n] for n in changed} == {"recalled"}

        recall = recalls.recall_by_number(s, number)
        entries = {s.get(Lot, e.lot_id).lot_number: e for e in recall.lots}
        assert set(entries) == {site.a, site.p, site.q, site.s, site.c}
        assert {n: e.depth for n, e in entries.items()} == {site.a: 0, site.p: 1, site.c: 1, site.q: 2, site.s: 2}
        assert entries[site.s].status_before is LotStatus.HOLD
        assert entries[site.c].status_before is LotStatus.CONSUMED
        assert {n: e.on_hand_at_start for n, e in entries.items()} == {
            site.a: 52, site.p: 5, site.q: 7, site.s: 4, site.c: 0}
        customers = {c.customer.code: c.shipped_qty for c in recall.customers}
        assert customers == {"SHOP": 6, "BIG": 21}  # 6 of p; 10 of a + 3 of q + 8 of c. Not OTHER.

        events = s.scalars(select(LotEvent).where(LotEvent.action == "recall").order_by(LotEvent.lot_id)).all()
        assert {s.get(Lot, e.lot_id).lot_number for e in events} == changed
        assert all(e.reason == f"Recall {number}: Customer complaint: metal in cake" for e in events)
        assert all(e.operator_id == site.supervisor_id and e.to_status is LotStatus.RECALLED for e in events)
        held = next(e for e in events if s.get(Lot, e.lot_id).lot_number == site.s)
        assert held.from_status is LotStatus.HOLD
        opened = s.scalars(select(RecallEvent)).all()
        assert [(e.action, e.operator_id) for e in opened] == [("open", site.supervisor_id)]
        assert_books_balance(s)


def test_supplier_lot_recall_starts_from_every_lot_received_under_it(db):
    site = build_site(db)
    with db.write() as s:
        preview = recalls.preview_recall(s, supplier="ACME", supplier_lot="S-77")
        assert {lot.lot_number for lot in preview.lots} == {site.a, site.a2, site.p, site.q, site.s, site.c, site.d}
        assert {lot.lot_number for lot in preview.lots if lot.depth == 0} == {site.a, site.a2}
        recall = recalls.open_recall(s, reason="Supplier notice 2026/14", supplier="ACME", supplier_lot=" S-77 ")
        assert recall.supplier_lot == "S-77" and recall.lot_id is None
    with db.read() as s:
        st = statuses(s)
        assert st[site.a2] == st[site.d] == st[site.a] == "recalled"
        assert st[site.b] == st[site.u] == "available"
        report = recalls.recall_report(s, recalls.recall_by_number(s, recall.number))
        assert report.source == "Acme Foods's lot S-77"
        assert {c.code for c in report.customers} == {"SHOP", "BIG"}


def test_the_recall_report(db):
    site = build_site(db)
    with db.write() as s:
        number = recalls.open_recall(s, reason="Complaint", lot=site.a).number
    with db.read() as s:
        report = recalls.recall_report(s, recalls.recall_by_number(s, number))
    lots = {lot.lot_number: lot for lot in report.lots}
    assert [lot.lot_number for lot in report.lots][0] == site.a  # by depth
    assert [(p.location, p.qty) for p in lots[site.a].stock_now] == [("A-01", 52)]
    assert [(p.location, p.qty) for p in lots[site.p].stock_now] == [("LINE-1", 3), ("SHIP", 2)]
    assert lots[site.a].shipped_qty == 10 and lots[site.a].to_retrieve == 62
    assert lots[site.c].status_now == "recalled" and lots[site.c].to_retrieve == 8
    assert report.stock_at_start == 52 + 5 + 7 + 4 and report.stock_now == report.stock_at_start
    big = next(c for c in report.customers if c.code == "BIG")
    assert [(sh.order, sh.lot_number, sh.qty) for sh in big.shipments] == [
        ("SO-2", site.a, 10), ("SO-2", site.q, 3), ("SO-3", site.c, 8)]
    assert big.notified_at is None
    assert report.notified == 0 and len(report.customers) == 2
    assert report.lots_stopped == 5
    assert [e.action for e in report.events] == ["open"]


def test_refusals_change_nothing(db):
    site = build_site(db)
    with db.write() as s:
        recalls.open_recall(s, reason="First", lot=site.p)
    with db.read() as s:
        before, st, counts = snapshot(s), statuses(s), recall_rows(s)
    cases = [
        (dict(reason="  ", lot=site.a), "reason_required", "Write why"),
        (dict(reason="x", lot="NO-SUCH-LOT"), "unknown_lot", "no lot 'NO-SUCH-LOT'"),
        (dict(reason="x", supplier="ACME", supplier_lot="S-00"), "no_supplier_lot", "S-00"),
        (dict(reason="x", supplier="NOPE", supplier_lot="S-77"), "unknown_supplier", "NOPE"),
        (dict(reason="x", supplier="ACME"), "recall_source", "both"),
        (dict(reason="x"), "recall_source", "Say what is recalled"),
        (dict(reason="x", lot=site.a, supplier="ACME", supplier_lot="S-77"), "recall_source", "not both"),
        (dict(reason="again", lot=site.p), "already_recalled", "already in open recall R-"),
        (dict(reason="again", lot=site.q), "already_recalled", "already in open recall R-"),  # a descendant of p
        (dict(reason="x" * 201, lot=site.a), "reason_too_long", "200"),
    ]
    for kwargs, code, words in cases:
        with pytest.raises(DomainError) as caught:
            with db.write() as s:
                recalls.open_recall(s, **kwargs)
        assert caught.value.code == code, kwargs
        assert words.lower() in caught.value.message.lower(), caught.value.message
    with db.read() as s:
        assert (snapshot(s), statuses(s), recall_rows(s)) == (before, st, counts)


def test_a_source_partly_in_another_open_recall_is_not_blocked(db):
    site = build_site(db)
    with db.write() as s:
        first = recalls.open_recall(s, reason="First", lot=site.p).number
        second = recalls.open_recall(s, reason="Supplier notice", supplier="ACME", supplier_lot="S-77").number
    assert second != first
    with db.read() as s:
        report = recalls.recall_report(s, recalls.recall_by_number(s, second))
        p = next(lot for lot in report.lots if lot.lot_number == site.p)
        assert p.status_before == "recalled" and p.other_recalls == (first,)


def test_numbers_do_not_repeat_and_the_counter_survives_rollbacks(db):
    site = build_site(db)
    with db.write() as s:
        n1 = recalls.open_recall(s, reason="one", lot=site.b).number
        n2 = recalls.open_recall(s, reason="two", lot=site.u).number
    with pytest.raises(Conflict):
        with db.write() as s:
            recalls.open_recall(s, reason="dup", lot=site.b)
    with db.write() as s:
        n3 = recalls.open_recall(s, reason="three", lot=site.a2).number
    year = dt.date.today().year
    assert [n1, n2, n3] == [f"R-{year}-0001", f"R-{year}-0002", f"R-{year}-0003"]


def test_recalled_lots_cannot_be_released_held_picked_used_or_shipped(db):
    site = build_site(db)
    with db.write() as s:
        recalls.open_recall(s, reason="Complaint", lot=site.a)
    with db.write() as s:
        p = catalog.lot_by_number(s, site.p)
        with pytest.raises(Conflict) as caught:
            holds.release(s, p, "QA passed")
        assert "recalled" in caught.value.message and "nothing to release" in caught.value.message
        with pytest.raises(Conflict) as caught:
            holds.hold(s, p, "QA")
        assert "the recall keeps it stopped" in caught.value.message
        with pytest.raises(LotNotPickable) as caught:
            picking.pick(s, lot=p, location=catalog.location_by_code(s, "LINE-1"), qty=1)
        assert "is recalled — it must not leave the site" in caught.value.message
        with pytest.raises(LotNotPickable):
            production.consume(s, p, catalog.location_by_code(s, "LINE-1"), 1)
        so5 = s.scalar(select(Order).where(Order.number == "SO-5"))
        with pytest.raises(LotNotPickable) as caught:
            picking.ship(s, so5)  # picked before the recall: it must not ship now
        assert "cannot be shipped" in caught.value.message


def test_progress_retrieved_notified_and_close(db):
    site = build_site(db)
    by = Actor(operator_id=site.supervisor_id)
    with db.write() as s:
        number = recalls.open_recall(s, reason="Complaint", lot=site.a, by=by).number
    with db.write() as s:
        recall = recalls.recall_by_number(s, number)
        recalls.record_retrieved(s, recall, site.a, 50, by=by, note="put aside")  # from A-01, its one place
        recalls.record_retrieved(s, recall, site.a, 2, by=by, location="A-01")
        recalls.record_retrieved(s, recall, site.a, 10, by=by, customer="BIG")  # 52 on site + 10 shipped = 62
    with pytest.raises(Conflict) as caught:
        with db.write() as s:
            recalls.record_retrieved(s, recalls.recall_by_number(s, number), site.a, 1, by=by)
    assert caught.value.code == "over_retrieved"
    assert "at most 62" in caught.value.message and "0 more at most" in caught.value.message
    for lot, qty, code in [(site.b, 1, "lot_not_in_recall"), (site.p, 0, "invalid_qty"), ("ZZZ", 1, "lot_not_in_recall")]:
        with pytest.raises(DomainError) as caught:
            with db.write() as s:
                recalls.record_retrieved(s, recalls.recall_by_number(s, number), lot, qty, by=by)
        assert caught.value.code == code

    with db.write() as s:
        recall = recalls.recall_by_number(s, number)
        recalls.mark_notified(s, recall, "SHOP", by=by, note="Phoned Ann, 10:05")
    with pytest.raises(Conflict) as caught:
        with db.write() as s:
            recalls.mark_notified(s, recalls.recall_by_number(s, number), "SHOP", by=by)
    assert "already marked notified" in caught.value.message and "Sam Supervisor" in caught.value.message
    with pytest.raises(Invalid):
        with db.write() as s:
            recalls.mark_notified(s, recalls.recall_by_number(s, number), "OTHER", by=by)

    # BIG has not been told: closing is refused unless the closer says so on purpose.
    with pytest.raises(Conflict) as caught:
        with db.write() as s:
            recalls.close_recall(s, recalls.recall_by_number(s, number), reason="All done", by=by)
    assert caught.value.code == "customers_not_notified" and "Big Co" in caught.value.message
    with pytest.raises(Invalid):
        with db.write() as s:
            recalls.close_recall(s, recalls.recall_by_number(s, number), reason=" ", by=by)
    with db.write() as s:
        recalls.close_recall(s, recalls.recall_by_number(s, number), by=by, accept_unnotified=True,
                             reason="Big Co has ceased trading; letter sent to the administrator")
    with db.read() as s:
        recall = recalls.recall_by_number(s, number)
        report = recalls.recall_report(s, recall)
        assert report.status == "closed" and report.closed_by == "Sam Supervisor"
        assert report.retrieved == 62 and report.notified == 1
        assert [(e.action, e.qty) for e in report.events] == [
            ("open", None), ("retrieve", 50), ("retrieve", 2), ("retrieve", 10), ("notify", None), ("close", None)]
        assert report.events[1].note == "A-01 → Q-DOCK — put aside" and report.events[3].customer == "Big Co"
        assert report.events[4].customer == "Corner Shop"
        assert "1 customer(s) not notified" in report.events[5].note
        assert statuses(s)[site.a] == "recalled"  # closing releases nothing
    with pytest.raises(Conflict) as caught:
        with db.write() as s:
            recalls.record_retrieved(s, recalls.recall_by_number(s, number), site.p, 1)
    assert caught.value.code == "recall_closed"
    with pytest.raises(Conflict):
        with db.write() as s:
            recalls.close_recall(s, recalls.recall_by_number(s, number), reason="again")
    with db.write() as s:  # the lot is free for a new recall once the old one is closed
        assert recalls.open_recall(s, reason="Second look", lot=site.a).number != number


def test_recall_events_refuse_update_and_delete_at_the_database(db):
    site = build_site(db)
    with db.write() as s:
        recalls.open_recall(s, reason="Complaint", lot=site.a)
    for statement in ("UPDATE recall_events SET note = 'rewritten'", "DELETE FROM recall_events"):
        with pytest.raises((DBAPIError, IntegrityError)) as caught:
            with db.engine.begin() as conn:
                conn.execute(text(statement))
        assert "append-only" in str(caught.value)
    with db.read() as s:
        assert [e.note for e in s.scalars(select(RecallEvent))] == [f"lot {site.a}: Complaint"]


def test_recalls_opened_at_the_same_time_get_different_numbers(db):
    """Each thread is its own connection and transaction, as separate app processes would be."""
    import threading

    basic_site(db)
    with db.write() as s:
        numbers = [received_lot(s, "BOLT", 5).lot_number for _ in range(4)]
    got, failed = [], []
    start = threading.Barrier(len(numbers))

    def run(lot_number):
        try:
            start.wait()
            with db.write() as s:
                got.append(recalls.open_recall(s, reason="race", lot=lot_number).number)
        except Exception as exc:  # noqa: BLE001 - reported below
            failed.append(repr(exc))

    threads = [threading.Thread(target=run, args=(n,)) for n in numbers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failed, failed
    assert len(set(got)) == len(numbers)


def test_expired_and_quarantined_lots_are_recalled_too_and_remember_their_status(db):
    basic_site(db)
    with db.write() as s:
        source = received_lot(s, "BOLT", 20)
        line = catalog.location_by_code(s, "LINE-1")
        made = production.produce(s, item=catalog.item_by_sku(s, "CAKE"), qty=5, location=line,
                                  components=[Component(source, catalog.location_by_code(s, "A-01"), 4)])
        holds.hold(s, made, "Lab test pending", status=LotStatus.QUARANTINE)
        source.status = LotStatus.EXPIRED  # as the expiry job marks a lot past its date
        numbers = source.lot_number, made.lot_number
    with db.write() as s:
        number = recalls.open_recall(s, reason="Lab result", lot=numbers[0]).number
    with db.read() as s:
        report = recalls.recall_report(s, recalls.recall_by_number(s, number))
        assert [(lot.lot_number, lot.status_before, lot.status_now) for lot in report.lots] == [
            (numbers[0], "expired", "recalled"), (numbers[1], "quarantine", "recalled")]
        events = s.scalars(select(LotEvent).where(LotEvent.action == "recall").order_by(LotEvent.id)).all()
        assert [(e.from_status.value, e.to_status.value) for e in events] == [
            ("expired", "recalled"), ("quarantine", "recalled")]


def test_a_used_up_lot_stays_stopped_when_stock_is_booked_back_into_it(db):
    """A customer return booked into a recalled lot that was used up must not make it pickable."""
    from station.services import stock
    from station.services.catalog import location_by_code
    from station.services.errors import LotNotPickable

    site = build_site(db)
    with db.write() as s:
        recalls.open_recall(s, reason="Supplier notice", lot=site.a, by=Actor(operator_id=site.supervisor_id))
    with db.write() as s:
        lot = s.scalar(select(Lot).where(Lot.lot_number == site.c))
        stock.adjust(s, lot, location_by_code(s, "A-01"), 3, "Customer return of recalled goods")
    with db.read() as s:
        lot = s.scalar(select(Lot).where(Lot.lot_number == site.c))
        assert lot.status is LotStatus.RECALLED and lot.on_hand == 3
        with pytest.raises(LotNotPickable):
            stock.ensure_pickable(lot)


def test_retrieving_moves_the_goods_into_the_quarantine_place_with_ledger_rows(db):
    """On site: a MOVE to the quarantine place; from a customer: a RETURN from them. Both name the recall,
    the recall's count goes up by the same, the books balance, and trace forward shows the return."""
    from station.services import trace

    site = build_site(db)
    with db.write() as s:
        number = recalls.open_recall(s, reason="Complaint", lot=site.a).number
    with db.write() as s:
        lot = catalog.lot_by_number(s, site.a)
        assert [(x.value, x.qty) for x in recalls.retrieval_sources(s, lot)] == [("site:A-01", 52),
                                                                                 ("customer:BIG", 10)]
        recall = recalls.recall_by_number(s, number, lock=True)
        recalls.record_retrieved(s, recall, site.a, 30, location="A-01")
        recalls.record_retrieved(s, recall, site.a, 4, customer="BIG", note="collected by van")
    with db.read() as s:
        lot = catalog.lot_by_number(s, site.a)
        rows = s.execute(select(Movement.kind, Movement.qty, Movement.reference, Movement.customer_id.is_not(None))
                         .where(Movement.lot_id == lot.id, Movement.kind.in_([MovementKind.MOVE, MovementKind.RETURN]))
                         .order_by(Movement.id)).all()
        assert [tuple(r) for r in rows] == [(MovementKind.MOVE, 30, f"recall {number}", False),
                                            (MovementKind.RETURN, 4, f"recall {number}", True)]
        assert lot.status is LotStatus.RECALLED and lot.on_hand == 56
        report = recalls.recall_report(s, recalls.recall_by_number(s, number))
        source = next(x for x in report.lots if x.lot_number == site.a)
        assert source.retrieved_qty == 34
        assert [(p.location, p.qty) for p in source.stock_now] == [("A-01", 22), ("Q-DOCK", 34)]
        forward = trace.trace(s, lot, "forward")
        assert ("return", "BIG", 4, f"recall {number}") in [(x.kind, x.customer_code, x.qty, x.order_number)
                                                            for x in forward.shipments]
        assert_books_balance(s)


def test_a_retrieval_that_cannot_be_booked_changes_nothing(db):
    site = build_site(db)
    with db.write() as s:
        number = recalls.open_recall(s, reason="Complaint", lot=site.a).number
        lot = catalog.lot_by_number(s, site.a)
        stock_move = catalog.location_by_code
        from station.services import stock
        stock.move(s, lot, 2, stock_move(s, "A-01"), stock_move(s, "A-02"))
    cases = [({}, "choose_source", "Say where the goods of lot .* come from: A-01 \\(50\\), A-02 \\(2\\), Big Co \\(10\\)"),
             ({"customer": "OTHER"}, "customer_not_shipped", "Other Ltd received nothing of lot"),
             ({"customer": "NOPE"}, "unknown_customer", "no customer"),
             ({"location": "A-02", "qty": 3}, "insufficient_stock", "Only 2"),
             ({"customer": "BIG", "qty": 11}, "over_returned", "at most 10"),
             ({"location": "NOWHERE"}, "unknown_location", "no location")]
    with db.read() as s:
        before = (snapshot(s), recall_rows(s), s.scalar(select(RecallLot.retrieved_qty).where(RecallLot.lot_id == lot.id)))
    for where, code, words in cases:
        qty = where.pop("qty", 1)
        with pytest.raises(DomainError, match=words) as caught:
            with db.write() as s:
                recalls.record_retrieved(s, recalls.recall_by_number(s, number, lock=True), site.a, qty, **where)
        assert caught.value.code == code
    with db.write() as s:  # no quarantine place: said in words
        s.execute(update(catalog.Location).where(catalog.Location.code == "Q-DOCK")
                  .values(kind=LocationKind.STORAGE))
        with pytest.raises(DomainError, match="no quarantine place"):
            recalls.record_retrieved(s, recalls.recall_by_number(s, number, lock=True), site.a, 1, location="A-01")
        s.rollback()
    with db.read() as s:
        assert (snapshot(s), recall_rows(s),
                s.scalar(select(RecallLot.retrieved_qty).where(RecallLot.lot_id == lot.id))) == before
