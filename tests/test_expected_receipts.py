"""Expected receipts (services/expected.py): entering one, idempotently; refusals that change nothing;
closing short; booking receipts against it. On SQLite and PostgreSQL."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from factories import gtin13, received_lot
from labels import gs1
from station.models import ExpectedPallet, ExpectedReceipt, ExpectedReceiptLine, ExpectedStatus
from station.services import catalog, expected
from station.services.errors import Conflict, Invalid, NotFound
from station.services.expected import ExpectedLineIn

BOLT_GTIN = gtin13("400000000001")
P1, P2, P3 = (gs1.sscc(0, "4000001", n) for n in (101, 102, 103))


def enter(s, reference="PO-1", lines=None, **kw):
    lines = lines if lines is not None else [ExpectedLineIn(qty=40, sku="BOLT", ssccs=(P1, P2)),
                                             ExpectedLineIn(qty=10, gtin=BOLT_GTIN)]
    return expected.enter_expected_receipt(s, supplier_code="ACME", reference=reference, lines=lines, **kw)


def usual_supplier(s, sku: str = "BOLT", supplier: str = "ACME") -> None:
    """Give item `sku` its usual supplier: receiving books it when the label names none."""
    catalog.item_by_sku(s, sku).supplier_id = catalog.supplier_by_code(s, supplier).id
    s.flush()


def no_usual_supplier(site, sku: str = "MILK") -> None:
    """Take item `sku`'s usual supplier away (factories.basic_site gives every item ACME)."""
    with site.write() as s:
        catalog.item_by_sku(s, sku).supplier_id = None


def counts(s) -> tuple[int, int, int]:
    return (s.scalar(select(func.count(ExpectedReceipt.id))), s.scalar(select(func.count(ExpectedReceiptLine.id))),
            s.scalar(select(func.count(ExpectedPallet.sscc))))


def test_entering_one_keeps_its_lines_and_pallets(site):
    with site.write() as s:
        receipt, created = enter(s, expected_on=dt.date(2026, 12, 9))
        assert created and receipt.status == ExpectedStatus.OPEN
        assert [(line.item.sku, line.qty, line.received_qty) for line in receipt.lines] == [
            ("BOLT", 40, 0), ("BOLT", 10, 0)]
        assert [(p.sscc, p.qty) for p in receipt.lines[0].pallets] == sorted([(P1, 20), (P2, 20)])
    with site.read() as s:
        assert counts(s) == (1, 2, 2)


def test_the_same_body_again_answers_the_one_entered(site):
    with site.write() as s:
        first, _ = enter(s, expected_on=dt.date(2026, 12, 9))
    with site.write() as s:
        again, created = enter(s, expected_on=dt.date(2026, 12, 9))
        assert not created and again.id == first.id
    with site.read() as s:
        assert counts(s) == (1, 2, 2)


@pytest.mark.parametrize("change", [
    {"expected_on": dt.date(2026, 12, 10)},
    {"lines": [ExpectedLineIn(qty=41, sku="BOLT", ssccs=(P1, P2))]},
])
def test_a_different_body_under_the_same_reference_is_a_conflict(site, change):
    with site.write() as s:
        enter(s, expected_on=dt.date(2026, 12, 9))
    kw = {"expected_on": dt.date(2026, 12, 9), **change}
    with pytest.raises(Conflict, match="already has an expected receipt PO-1"):
        with site.write() as s:
            enter(s, **kw)
    with site.read() as s:
        assert counts(s) == (1, 2, 2)


@pytest.mark.parametrize("lines, error, words", [
    ([], Invalid, "at least one line"),
    ([ExpectedLineIn(qty=0, sku="BOLT")], Invalid, "Line 1: the quantity"),
    ([ExpectedLineIn(qty=True, sku="BOLT")], Invalid, "Line 1: the quantity"),
    ([ExpectedLineIn(qty=5)], Invalid, "SKU or its GTIN"),
    ([ExpectedLineIn(qty=5, sku="NOPE")], NotFound, "No item with SKU 'NOPE'"),
    ([ExpectedLineIn(qty=5, gtin=gtin13("499999999999"))], NotFound, "No item has GTIN"),
    ([ExpectedLineIn(qty=5, gtin="4000000000012")], Invalid, "GTIN '4000000000012' is not valid"),
    ([ExpectedLineIn(qty=5, sku="MILK", gtin=BOLT_GTIN)], Invalid, "is not an item MILK GTIN"),
    ([ExpectedLineIn(qty=5, sku="BOLT", ssccs=(P1[:-1] + str((int(P1[-1]) + 1) % 10),))], Invalid,
     "SSCC .* is not valid"),
    ([ExpectedLineIn(qty=5, sku="BOLT", ssccs=(P1,)), ExpectedLineIn(qty=5, sku="MILK", ssccs=(P1,))],
     Invalid, "listed twice"),
    ([ExpectedLineIn(qty=1, sku="BOLT", ssccs=(P1, P2))], Invalid, "2 pallets cannot carry only 1"),
    ([ExpectedLineIn(qty=5, sku="BOLT", supplier_lot="x" * 41)], Invalid, "at most 40"),
])
def test_bad_lines_are_refused_in_words_and_change_nothing(site, lines, error, words):
    with pytest.raises(error, match=words):
        with site.write() as s:
            enter(s, lines=lines)
    with site.read() as s:
        assert counts(s) == (0, 0, 0)


def test_an_unknown_supplier_or_empty_reference_is_refused(site):
    with pytest.raises(NotFound, match="No supplier 'NOBODY'"):
        with site.write() as s:
            expected.enter_expected_receipt(s, supplier_code="NOBODY", reference="PO-1",
                                            lines=[ExpectedLineIn(qty=1, sku="BOLT")])
    with pytest.raises(Invalid, match="reference .* is required"):
        with site.write() as s:
            expected.enter_expected_receipt(s, supplier_code="ACME", reference="  ",
                                            lines=[ExpectedLineIn(qty=1, sku="BOLT")])
    with site.read() as s:
        assert counts(s) == (0, 0, 0)


def test_a_pallet_already_expected_or_received_is_a_conflict(site):
    with site.write() as s:
        enter(s, lines=[ExpectedLineIn(qty=5, sku="BOLT", ssccs=(P1,))])
        received_lot(s, "BOLT", 5, sscc=P3)
    with pytest.raises(Conflict, match=f"Pallet {P1} is already expected from Acme Foods .reference PO-1"):
        with site.write() as s:
            enter(s, reference="PO-2", lines=[ExpectedLineIn(qty=5, sku="BOLT", ssccs=(P1,))])
    with pytest.raises(Conflict, match=f"Pallet {P3} has already been received"):
        with site.write() as s:
            enter(s, reference="PO-2", lines=[ExpectedLineIn(qty=5, sku="BOLT", ssccs=(P3,))])
    with site.read() as s:
        assert counts(s) == (1, 1, 1)


def test_closing_short_needs_a_reason_and_an_open_receipt(site):
    with site.write() as s:
        receipt, _ = enter(s, lines=[ExpectedLineIn(qty=5, sku="BOLT")])
        with pytest.raises(Invalid, match="reason is required"):
            expected.close_short(s, receipt, "   ")
        assert receipt.status == ExpectedStatus.OPEN
        expected.close_short(s, receipt, "  Supplier  out of stock ")
        assert (receipt.status, receipt.close_reason) == (ExpectedStatus.CLOSED, "Supplier out of stock")
        assert receipt.closed_at is not None
        with pytest.raises(Conflict, match="already closed"):
            expected.close_short(s, receipt, "again")


def test_booking_counts_received_and_turns_the_receipt_received_when_every_line_is_in(site):
    with site.write() as s:
        receipt, _ = enter(s, lines=[ExpectedLineIn(qty=40, sku="BOLT", ssccs=(P1, P2)),
                                     ExpectedLineIn(qty=10, sku="MILK")])
        bolt, milk = receipt.lines
        first = expected.book_against(s, bolt, 20, P1)
        assert (first.over, first.completed, bolt.received_qty) == (0, False, 20)
        assert s.get(ExpectedPallet, P1).received_at is not None
        assert expected.open_pallet(s, P1) is None and expected.open_pallet(s, P2).line_id == bolt.id
        assert expected.missing_words(receipt) == "Still missing from Acme Foods (PO-1): 20 ea BOLT, 10 ea MILK."
        over = expected.book_against(s, bolt, 32, P2)
        assert (over.over, over.completed) == (12, False)
        done = expected.book_against(s, milk, 10)
        assert done.completed and receipt.status == ExpectedStatus.RECEIVED
        assert expected.missing_words(receipt) is None
        with pytest.raises(Conflict, match="is received: nothing more"):
            expected.book_against(s, milk, 1)


def test_open_lines_of_an_item_from_a_supplier_oldest_first(site):
    with site.write() as s:
        catalog.create_supplier(s, code="OTHER", name="Other Mill")
        enter(s, reference="PO-2", lines=[ExpectedLineIn(qty=5, sku="BOLT")], expected_on=dt.date(2026, 12, 20))
        enter(s, reference="PO-1", lines=[ExpectedLineIn(qty=5, sku="BOLT")], expected_on=dt.date(2026, 12, 10))
        bolt, acme, other = (catalog.item_by_sku(s, "BOLT"), catalog.supplier_by_code(s, "ACME"),
                             catalog.supplier_by_code(s, "OTHER"))
        assert [line.expected.reference for line in expected.open_lines_for(s, bolt)] == ["PO-1", "PO-2"]
        assert [line.expected.reference for line in expected.open_lines_for(s, bolt, acme)] == ["PO-1", "PO-2"]
        assert expected.open_lines_for(s, bolt, other) == []
        assert expected.open_from(s, acme) and not expected.open_from(s, other)


def test_two_docks_booking_the_same_receipt_at_once_both_count(site):
    """The second booking waits for the first (a row lock on PostgreSQL, BEGIN IMMEDIATE on SQLite): both
    pallets count, and the one that completes the receipt turns it received."""
    import threading

    from sqlalchemy import event, text

    from test_expiry import _wait_until_blocked

    with site.write() as s:
        rid = enter(s, lines=[ExpectedLineIn(qty=40, sku="BOLT")])[0].id
    reached, errors, results = threading.Event(), [], {}

    def second():
        try:
            with site.write() as s:
                line = s.get(ExpectedReceipt, rid).lines[0]
                results["second"] = expected.book_against(s, line, 20).completed
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    def on_begin(conn) -> None:
        if threading.current_thread() is thread:
            reached.set()

    thread = threading.Thread(target=second)
    with site.write() as s:
        writer = s.get_bind()
    event.listen(writer, "begin", on_begin, insert=True)
    try:
        with site.write() as s:
            line = s.get(ExpectedReceipt, rid).lines[0]
            results["first"] = expected.book_against(s, line, 20).completed
            first_pid = None if site.is_sqlite else s.execute(text("SELECT pg_backend_pid()")).scalar()
            thread.start()
            _wait_until_blocked(site.db, first_pid, reached, thread)
    finally:
        event.remove(writer, "begin", on_begin)
    thread.join(60)
    assert not errors, errors
    assert results == {"first": False, "second": True}
    with site.read() as s:
        row = s.get(ExpectedReceipt, rid)
        assert (row.status, row.lines[0].received_qty) == (ExpectedStatus.RECEIVED, 40)
