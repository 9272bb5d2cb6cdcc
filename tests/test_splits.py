"""Splitting a lot: a new number from the item's scheme, the same goods, a split link, a balanced ledger;
a bad quantity, place or lot is refused in words with nothing changed."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from station.models import LinkKind, LotCounter, LotLink, LotStatus, Movement, MovementKind, SequenceReset
from station.services import catalog, holds, numbering, splits
from station.services.actor import Actor
from station.services.errors import DomainError, InsufficientStock, Invalid, LotNotPickable

from factories import TODAY, assert_books_balance, basic_site, operator, received_lot


def _counts(s):
    return (s.scalar(select(func.count()).select_from(Movement)), s.scalar(select(func.count()).select_from(LotLink)),
            s.scalar(select(func.count()).select_from(catalog.Lot)),
            s.scalar(select(func.coalesce(func.sum(LotCounter.value), 0))))


def test_split_makes_a_linked_lot_with_the_same_goods_and_balanced_books(db):
    basic_site(db)
    with db.write() as s:
        item = catalog.item_by_sku(s, "MILK")
        numbering.set_scheme(s, "M{yy}{mm}{dd}-{seq:02}", SequenceReset.DAILY, item=item)
        parent = received_lot(s, "MILK", 40, supplier="ACME", supplier_lot="SUP-9")
        who = operator(s, badge="SUP-1", name="Sam Supervisor", role="supervisor")
        a01 = catalog.location_by_code(s, "A-01")
        child = splits.split_lot(s, parent, 15, a01, by=Actor(operator_id=who.id), on=TODAY)
        assert child.lot_number == "M260615-02"  # the item's scheme: the parent drew -01
        assert (child.item_id, child.supplier_id, child.supplier_lot, child.expiry, child.fifo_date,
                child.received_on) == (parent.item_id, parent.supplier_id, "SUP-9", parent.expiry,
                                       parent.fifo_date, parent.received_on)
        assert (child.origin, child.status, child.on_hand, parent.on_hand) == ("split", LotStatus.AVAILABLE, 15, 25)
        link = s.scalar(select(LotLink).where(LotLink.output_lot_id == child.id))
        assert (link.component_lot_id, link.qty, link.kind) == (parent.id, 15, LinkKind.SPLIT)
        rows = s.execute(select(Movement.kind, Movement.lot_id, Movement.qty, Movement.from_location_id,
                                Movement.to_location_id, Movement.reference, Movement.operator_id)
                         .where(Movement.kind.in_([MovementKind.CONSUME, MovementKind.PRODUCE]))
                         .order_by(Movement.id)).all()
        ref = f"split of {parent.lot_number} into {child.lot_number}"
        assert [tuple(r) for r in rows] == [
            (MovementKind.CONSUME, parent.id, 15, a01.id, None, ref, who.id),
            (MovementKind.PRODUCE, child.id, 15, None, a01.id, ref, who.id)]
        assert_books_balance(s)


def test_splitting_everything_at_a_place_empties_the_parent(db):
    basic_site(db)
    with db.write() as s:
        parent = received_lot(s, "BOLT", 10)
        child = splits.split_lot(s, parent, 10, catalog.location_by_code(s, "A-01"), on=TODAY)
        assert (parent.on_hand, parent.status, child.on_hand) == (0, LotStatus.CONSUMED, 10)
        assert_books_balance(s)


@pytest.mark.parametrize("qty, error, words", [
    (0, Invalid, "must be a number greater than 0"),
    (-3, Invalid, "must be a number greater than 0"),
    (2.5, Invalid, "must be a number greater than 0"),
    ("4", Invalid, "must be a number greater than 0"),
    (11, InsufficientStock, "Only 10 of lot .* at A-01; 11 cannot be split off"),
])
def test_a_bad_quantity_is_refused_and_nothing_changes(db, qty, error, words):
    basic_site(db)
    with db.write() as s:
        parent = received_lot(s, "BOLT", 10)
        before = _counts(s)
        with pytest.raises(error, match=words):
            splits.split_lot(s, parent, qty, catalog.location_by_code(s, "A-01"), on=TODAY)
        assert _counts(s) == before and parent.on_hand == 10
        assert_books_balance(s)


def test_a_bad_place_or_a_blocked_lot_is_refused_and_nothing_changes(db):
    basic_site(db)
    with db.write() as s:
        parent = received_lot(s, "BOLT", 10)
        before = _counts(s)
        with pytest.raises(InsufficientStock, match="Only 0 of lot .* at A-02"):
            splits.split_lot(s, parent, 1, catalog.location_by_code(s, "A-02"), on=TODAY)
        with pytest.raises(Invalid, match="Say where the part to split off is"):
            splits.split_lot(s, parent, 1, "A-01", on=TODAY)
        holds.hold(s, parent, "QA check")
        s.flush()
        movements = _counts(s)
        with pytest.raises(LotNotPickable, match="is on hold .* cannot be split"):
            splits.split_lot(s, parent, 1, catalog.location_by_code(s, "A-01"), on=TODAY)
        assert _counts(s) == movements and _counts(s)[:3] == before[:3]
        assert_books_balance(s)


def test_errors_are_domain_errors_with_codes(db):
    basic_site(db)
    with db.write() as s:
        parent = received_lot(s, "BOLT", 5)
        with pytest.raises(DomainError) as refused:
            splits.split_lot(s, parent, 6, catalog.location_by_code(s, "A-01"), on=TODAY)
        assert refused.value.code == "insufficient_stock" and refused.value.status == 409
