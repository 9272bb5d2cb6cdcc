"""FIFO/FEFO suggestions: order, ties, splits, and the lots that must be skipped."""
from __future__ import annotations

import datetime as dt

import pytest

from station.models import LotStatus
from station.services import catalog, holds, receiving, stock
from station.services.errors import Invalid, NotFound
from station.services.suggest import suggest

from factories import TODAY

DAY = dt.timedelta(days=1)


def receive(db, sku, qty, *, received=TODAY, produced=None, expiry=None, location="A-01"):
    with db.write() as s:
        return receiving.receive(s, item=catalog.item_by_sku(s, sku), qty=qty,
                                 location=catalog.location_by_code(s, location),
                                 produced=produced, expiry=expiry, on=received).lot_number


def plan(db, sku, qty, on=TODAY):
    with db.read() as s:
        result = suggest(s, catalog.item_by_sku(s, sku), qty, on=on)
        return [(a.lot_number, a.location_code, a.qty) for a in result.allocations], result.short


def test_fifo_takes_the_oldest_receipt_first_and_production_date_before_receipt_date(site):
    newest = receive(site, "BOLT", 10, received=TODAY - 1 * DAY)
    oldest = receive(site, "BOLT", 10, received=TODAY - 5 * DAY)
    made_long_ago = receive(site, "BOLT", 10, received=TODAY, produced=TODAY - 9 * DAY)
    assert plan(site, "BOLT", 25) == ([(made_long_ago, "A-01", 10), (oldest, "A-01", 10),
                                       (newest, "A-01", 5)], 0)


def test_fefo_takes_the_first_to_expire_then_receipt_date_and_never_expiring_last(site):
    late = receive(site, "MILK", 5, received=TODAY - 9 * DAY, expiry=TODAY + 20 * DAY)
    soon_new = receive(site, "MILK", 5, received=TODAY - 1 * DAY, expiry=TODAY + 3 * DAY)
    soon_old = receive(site, "MILK", 5, received=TODAY - 2 * DAY, expiry=TODAY + 3 * DAY)
    with site.write() as s:  # a lot with no expiry on a FEFO item (shelf life cleared)
        item = catalog.item_by_sku(s, "MILK")
        item.shelf_life_days = None
    never = receive(site, "MILK", 5, received=TODAY - 30 * DAY)
    lots = [a[0] for a in plan(site, "MILK", 20)[0]]
    assert lots == [soon_old, soon_new, late, never]


def test_ties_are_broken_by_lot_number(site):
    first = receive(site, "BOLT", 1)
    second = receive(site, "BOLT", 1)
    third = receive(site, "BOLT", 1)
    assert [a[0] for a in plan(site, "BOLT", 3)[0]] == sorted([first, second, third]) == [first, second, third]


def test_a_lot_split_over_locations_and_a_short_quantity(site):
    a = receive(site, "BOLT", 6, received=TODAY - 3 * DAY)
    b = receive(site, "BOLT", 4, received=TODAY - 2 * DAY)
    with site.write() as s:
        stock.move(s, catalog.lot_by_number(s, a), 2, catalog.location_by_code(s, "A-01"),
                   catalog.location_by_code(s, "A-02"))
    assert plan(site, "BOLT", 7) == ([(a, "A-01", 4), (a, "A-02", 2), (b, "A-01", 1)], 0)
    assert plan(site, "BOLT", 15) == ([(a, "A-01", 4), (a, "A-02", 2), (b, "A-01", 4)], 5)


def test_held_quarantined_expired_empty_and_staged_stock_is_skipped(site):
    expired = receive(site, "MILK", 5, received=TODAY - 20 * DAY, expiry=TODAY - 1 * DAY)
    held = receive(site, "MILK", 5, received=TODAY - 19 * DAY, expiry=TODAY + 1 * DAY)
    quarantined = receive(site, "MILK", 5, received=TODAY - 18 * DAY, expiry=TODAY + 2 * DAY)
    empty = receive(site, "MILK", 5, received=TODAY - 17 * DAY, expiry=TODAY + 3 * DAY)
    receive(site, "MILK", 5, received=TODAY - 16 * DAY, expiry=TODAY + 4 * DAY, location="SHIP")
    good = receive(site, "MILK", 5, received=TODAY - 15 * DAY, expiry=TODAY + 5 * DAY)
    with site.write() as s:
        holds.hold(s, catalog.lot_by_number(s, held), "QA")
        holds.hold(s, catalog.lot_by_number(s, quarantined), "QA", status=LotStatus.QUARANTINE)
        stock.adjust(s, catalog.lot_by_number(s, empty), catalog.location_by_code(s, "A-01"), -5, "scrap")
    assert plan(site, "MILK", 50) == ([(good, "A-01", 5)], 45)
    # The day before it expires, the expired lot was still first in line.
    assert plan(site, "MILK", 1, on=TODAY - 2 * DAY) == ([(expired, "A-01", 1)], 0)


def test_a_released_lot_comes_back_into_the_suggestions(site):
    number = receive(site, "BOLT", 3)
    with site.write() as s:
        holds.hold(s, catalog.lot_by_number(s, number), "QA")
    assert plan(site, "BOLT", 1) == ([], 1)
    with site.write() as s:
        holds.release(s, catalog.lot_by_number(s, number), "ok")
    assert plan(site, "BOLT", 1) == ([(number, "A-01", 1)], 0)


def test_many_lots_are_walked_in_pages_without_losing_order(site):
    numbers = [receive(site, "BOLT", 1, received=TODAY - n * DAY) for n in range(30, 0, -1)]
    assert [a[0] for a in plan(site, "BOLT", 30)[0]] == numbers


def test_bad_requests(site):
    with site.read() as s:
        item = catalog.item_by_sku(s, "BOLT")
        with pytest.raises(Invalid):
            suggest(s, item, 0)
        with pytest.raises(NotFound):
            suggest(s, 9999, 1)


def test_fefo_pages_keep_expiry_order_across_many_lots(site):
    numbers = [receive(site, "MILK", 1, expiry=TODAY + n * DAY) for n in range(40, 0, -1)]
    assert [a[0] for a in plan(site, "MILK", 40)[0]] == numbers[::-1]


def test_lots_expiring_before_a_day_are_left_out_undated_ones_kept(site):
    """expiring_from: an order's due date or its customer's shelf life (services.shelf_life) — on every
    page of the walk, FEFO and FIFO alike; a day before today changes nothing."""
    dated = [receive(site, "MILK", 1, expiry=TODAY + n * DAY) for n in range(1, 21)]
    with site.write() as s:  # a MILK lot without an expiry
        catalog.item_by_sku(s, "MILK").shelf_life_days = None
    undated = receive(site, "MILK", 1)
    with site.read() as s:
        milk = catalog.item_by_sku(s, "MILK")
        lots = [a.lot_number for a in suggest(s, milk, 30, on=TODAY, expiring_from=TODAY + 12 * DAY).allocations]
        assert lots == dated[11:] + [undated]
        assert [a.lot_number for a in suggest(s, milk, 30, on=TODAY, expiring_from=TODAY - 5 * DAY).allocations] \
            == dated + [undated]
    bolt_soon = receive(site, "BOLT", 1, received=TODAY - 3 * DAY, expiry=TODAY + 2 * DAY)
    bolt_never = receive(site, "BOLT", 1, received=TODAY - 2 * DAY)
    bolt_late = receive(site, "BOLT", 1, received=TODAY - 1 * DAY, expiry=TODAY + 9 * DAY)
    with site.read() as s:
        bolt = catalog.item_by_sku(s, "BOLT")
        assert [a.lot_number for a in suggest(s, bolt, 3, on=TODAY).allocations] == [bolt_soon, bolt_never, bolt_late]
        assert [a.lot_number for a in suggest(s, bolt, 3, on=TODAY, expiring_from=TODAY + 5 * DAY).allocations] == [
            bolt_never, bolt_late]
