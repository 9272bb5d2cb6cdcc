"""Stock counts as a service (station/services/counts.py) on SQLite and PostgreSQL: what a count finds
against the books, how its differences are booked (count movements through the stock service), the
threshold that makes a count wait for a supervisor, approvals and rejections, and stock that moves at
the location while the count is open. After every booking the ledger still equals the stock."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from factories import assert_books_balance
from factories import operator as make_operator
from station.models import (Count, CountStatus, HandlingUnit, Lot, LotStatus, Movement, MovementKind, Stock)
from station.services import catalog, chain_verify, counts
from station.services.actor import Actor
from station.services.errors import Conflict, DomainError, Invalid

SSCC = "376130321109103420"
THRESHOLD = 10


@pytest.fixture
def site(site):
    """At A-01: MILK 40 loose ("milk"), BOLT 30 loose ("bolt"), a pallet of 120 BOLT ("pallet"); CAKE 12 at
    A-02 ("cake"); a picker who counts and two supervisors."""
    site.lot("milk", "MILK", 40, location="A-01")
    site.lot("bolt", "BOLT", 30, location="A-01")
    site.lot("pallet", "BOLT", 120, location="A-01", sscc=SSCC)
    site.lot("cake", "CAKE", 12, location="A-02")
    site.station("Aisle A", location="A-01")
    with site.write() as s:
        site["pat"] = make_operator(s, badge="OP-PAT", name="Pat Picker", role="picker").id
        site["sam"] = make_operator(s, badge="OP-SAM", name="Sam Super", role="supervisor").id
        site["sue"] = make_operator(s, badge="OP-SUE", name="Sue Boss", role="supervisor").id
    return site


def by(site, who: str = "pat") -> Actor:
    return Actor(operator_id=site[who], station_id=site["Aisle A"])


def start(site, where: str = "A-01", who: str = "pat") -> int:
    with site.write() as s:
        return counts.start(s, catalog.location_by_code(s, where), by=by(site, who)).id


def lines(site, count_id: int) -> dict[str, tuple[int, int | None, str | None]]:
    """Each line by "lot number" (or "lot number@sscc"): (expected, counted, reason)."""
    with site.read() as s:
        count = s.get(Count, count_id)
        return {_key(s, line): (line.expected_qty, line.counted_qty, line.reason) for line in count.lines}


def _key(s, line) -> str:
    lot = s.get(Lot, line.lot_id).lot_number
    return f"{lot}@{s.get(HandlingUnit, line.handling_unit_id).sscc}" if line.handling_unit_id else lot


def count_lot(site, count_id: int, lot: str, qty: int, reason: str | None = None) -> None:
    with site.write() as s:
        count = s.get(Count, count_id)
        line = counts.line_for_lot(s, count, catalog.lot_by_number(s, site[lot]))
        counts.set_counted(count, line, qty)
        if reason:
            counts.set_reason(count, line, reason)


def count_pallet(site, count_id: int, qty: int, reason: str | None = None) -> None:
    with site.write() as s:
        count = s.get(Count, count_id)
        line = counts.line_for_unit(s, count, s.scalar(select(HandlingUnit).where(HandlingUnit.sscc == SSCC)))
        counts.set_counted(count, line, qty)
        if reason:
            counts.set_reason(count, line, reason)


def finish(site, count_id: int, who: str = "pat", threshold: int = THRESHOLD) -> counts.Finished:
    with site.write() as s:
        done = counts.finish(s, s.get(Count, count_id), by=by(site, who), threshold=threshold)
        return counts.Finished(done.status, None, done.changed)


def at(site, lot: str, where: str = "A-01") -> int:
    with site.read() as s:
        return s.scalar(select(func.coalesce(func.sum(Stock.qty), 0)).where(
            Stock.lot_id == catalog.lot_by_number(s, site[lot]).id,
            Stock.location_id == catalog.location_by_code(s, where).id))


def count_movements(site) -> list[tuple[str, int, str | None, str | None, str | None, int | None, int | None]]:
    with site.read() as s:
        rows = s.scalars(select(Movement).where(Movement.kind == MovementKind.COUNT).order_by(Movement.id))
        return [(m.lot.lot_number, m.qty, m.from_location.code if m.from_location else None,
                 m.to_location.code if m.to_location else None, m.reason, m.operator_id, m.station_id)
                for m in rows]


def status(site, count_id: int) -> CountStatus:
    with site.read() as s:
        return s.get(Count, count_id).status


def books_hold(site) -> None:
    with site.read() as s:
        assert_books_balance(s)
    assert all(report.ok for report in chain_verify.verify(site.db)), chain_verify.verify(site.db)


def test_a_count_opens_with_every_lot_and_pallet_on_the_books_there(site):
    count_id = start(site)
    assert lines(site, count_id) == {site["milk"]: (40, None, None), site["bolt"]: (30, None, None),
                                     f"{site['pallet']}@{SSCC}": (120, None, None)}
    assert start(site) == count_id  # the counter's own open count is taken up again
    with pytest.raises(Conflict, match=r"A-01 is being counted by Pat Picker since \d\d:\d\d \(count \d+\)"):
        start(site, who="sam")


def test_found_missing_unchanged_and_a_lot_not_on_the_books_are_booked_as_count_movements(site):
    count_id = start(site)
    count_lot(site, count_id, "milk", 36, "Damaged")  # missing 4
    count_lot(site, count_id, "bolt", 30)  # unchanged
    count_pallet(site, count_id, 122, "Counted wrong before")  # found 2 on the pallet
    count_lot(site, count_id, "cake", 5, "In the wrong place")  # not on the books here: found 5
    assert lines(site, count_id)[site["cake"]] == (0, 5, "In the wrong place")
    assert finish(site, count_id).status == "booked"

    assert status(site, count_id) is CountStatus.BOOKED
    assert (at(site, "milk"), at(site, "bolt"), at(site, "pallet"), at(site, "cake"), at(site, "cake", "A-02")) \
        == (36, 30, 122, 5, 12)
    n = count_id
    assert count_movements(site) == [
        (site["milk"], 4, "A-01", None, f"count {n}: 40 → 36, Damaged", site["pat"], site["Aisle A"]),
        (site["pallet"], 2, None, "A-01", f"count {n}: 120 → 122, Counted wrong before", site["pat"], site["Aisle A"]),
        (site["cake"], 5, None, "A-01", f"count {n}: 0 → 5, In the wrong place", site["pat"], site["Aisle A"]),
    ]
    with site.read() as s:
        pallet_move = s.scalar(select(Movement).where(Movement.kind == MovementKind.COUNT,
                                                      Movement.to_location_id.is_not(None)).order_by(Movement.id))
        assert pallet_move.reference == f"count {n}"
        assert pallet_move.handling_unit_id == s.scalar(select(HandlingUnit.id).where(HandlingUnit.sscc == SSCC))
        assert catalog.lot_by_number(s, site["cake"]).on_hand == 17
    books_hold(site)


def test_nothing_different_books_nothing(site):
    count_id = start(site, "A-02")
    count_lot(site, count_id, "cake", 12)
    assert finish(site, count_id).status == "booked"
    assert count_movements(site) == []


def test_a_count_cannot_finish_with_lots_not_counted_or_differences_without_a_reason(site):
    count_id = start(site)
    count_lot(site, count_id, "milk", 39)
    with pytest.raises(Invalid, match=rf"2 not counted yet: lot {site['bolt']}, lot {site['pallet']} on pallet {SSCC}"):
        finish(site, count_id)
    count_lot(site, count_id, "bolt", 0)  # not here
    count_pallet(site, count_id, 120)
    with pytest.raises(Invalid, match=rf"Say why lot {site['milk']}, lot {site['bolt']} differ from the books"):
        finish(site, count_id)
    assert status(site, count_id) is CountStatus.OPEN and count_movements(site) == []
    with site.write() as s, pytest.raises(Invalid, match="pick a reason or type one"):
        count = s.get(Count, count_id)
        counts.set_reason(count, count.lines[0], "   ")
    for bad in (-1, "7", 1.5, True, 10**9):
        with site.write() as s, pytest.raises(Invalid, match="must be a number, 0 or more"):
            count = s.get(Count, count_id)
            counts.set_counted(count, count.lines[0], bad)
    assert lines(site, count_id)[site["milk"]] == (40, 39, None)  # the refusals changed nothing


def test_stock_never_goes_negative_and_a_consumed_lot_found_again_is_available(site):
    site.move("cake", 12, "A-02", "A-01")  # all of CAKE now at A-01
    count_id = start(site)
    count_lot(site, count_id, "cake", 0, "Taken without a scan")
    for lot in ("milk", "bolt"):
        count_lot(site, count_id, lot, 40 if lot == "milk" else 30)
    count_pallet(site, count_id, 120)
    assert finish(site, count_id).status == "pending"  # 12 missing > 10
    with site.write() as s:
        counts.approve(s, s.get(Count, count_id), by=by(site, "sam"), approver_name="Sam Super")
    with site.read() as s:
        lot = catalog.lot_by_number(s, site["cake"])
        assert (lot.on_hand, lot.status) == (0, LotStatus.CONSUMED)
    found = start(site, "A-02")
    count_lot(site, found, "cake", 3, "Found — not booked in")
    assert finish(site, found).status == "booked"
    with site.read() as s:
        lot = catalog.lot_by_number(s, site["cake"])
        assert (lot.on_hand, lot.status) == (3, LotStatus.AVAILABLE)
    books_hold(site)


def test_stock_that_moved_during_the_count_is_counted_again_before_booking(site):
    count_id = start(site)
    count_lot(site, count_id, "milk", 40)
    count_lot(site, count_id, "bolt", 30)
    count_pallet(site, count_id, 120)
    site.move("milk", 15, "A-01", "A-02")  # a picker took some meanwhile
    site.move("cake", 2, "A-02", "A-01")  # and someone put some cake here
    done = finish(site, count_id)
    assert done.status == "recount"
    assert done.changed == [f"lot {site['milk']} (40 on the books when you started, 25 now)",
                            f"lot {site['cake']} arrived (2 on the books now)"]
    assert status(site, count_id) is CountStatus.OPEN and count_movements(site) == []
    assert lines(site, count_id)[site["milk"]] == (25, None, None)
    assert lines(site, count_id)[site["cake"]] == (2, None, None)
    count_lot(site, count_id, "milk", 25)
    count_lot(site, count_id, "cake", 2)
    assert finish(site, count_id).status == "booked"
    assert count_movements(site) == []
    books_hold(site)


def test_above_the_threshold_the_count_waits_and_another_supervisor_approves_it(site):
    count_id = start(site, "A-02", who="sam")
    count_lot(site, count_id, "cake", 1, "Damaged")  # 11 missing > 10
    assert finish(site, count_id, who="sam").status == "pending"
    assert status(site, count_id) is CountStatus.PENDING and at(site, "cake", "A-02") == 12
    with site.write() as s, pytest.raises(Conflict, match="your own count — another supervisor approves it"):
        counts.approve(s, s.get(Count, count_id), by=by(site, "sam"))
    with site.write() as s, pytest.raises(Conflict, match="your own count"):
        counts.reject(s, s.get(Count, count_id), by=by(site, "sam"), note="no")
    assert status(site, count_id) is CountStatus.PENDING
    with site.write() as s:
        counts.approve(s, s.get(Count, count_id), by=by(site, "sue"), approver_name="Sue Boss")
    assert status(site, count_id) is CountStatus.BOOKED and at(site, "cake", "A-02") == 1
    assert count_movements(site)[0][4] == f"count {count_id}: 12 → 1, Damaged; approved by Sue Boss"
    assert count_movements(site)[0][5] == site["sam"]  # the counter's name stays on the ledger
    with site.write() as s, pytest.raises(Conflict, match="booked, not waiting for approval"):
        counts.approve(s, s.get(Count, count_id), by=by(site, "sue"))
    assert len(count_movements(site)) == 1
    books_hold(site)


def test_exactly_the_threshold_is_booked_at_once(site):
    count_id = start(site, "A-02")
    count_lot(site, count_id, "cake", 22, "Found — not booked in")  # +10: not more than 10
    assert finish(site, count_id).status == "booked"
    assert finish_zero_threshold(site) == "pending"


def finish_zero_threshold(site) -> str:
    count_id = start(site, "A-02")
    count_lot(site, count_id, "cake", 21, "Counted wrong before")
    return finish(site, count_id, threshold=0).status


def test_a_rejected_count_books_nothing_and_keeps_the_note(site):
    count_id = start(site, "A-02")
    count_lot(site, count_id, "cake", 50, "Found — not booked in")
    assert finish(site, count_id).status == "pending"
    with site.write() as s, pytest.raises(Invalid, match="Say why the count is rejected"):
        counts.reject(s, s.get(Count, count_id), by=by(site, "sue"), note="  ")
    with site.write() as s:
        counts.reject(s, s.get(Count, count_id), by=by(site, "sue"), note="Count it again with a torch")
    with site.read() as s:
        count = s.get(Count, count_id)
        assert (count.status, count.decision_note, count.decided_by_id) == \
            (CountStatus.REJECTED, "Count it again with a torch", site["sue"])
    assert at(site, "cake", "A-02") == 12 and count_movements(site) == []
    books_hold(site)


def test_a_pending_count_whose_books_changed_cannot_be_approved(site):
    count_id = start(site, "A-02")
    count_lot(site, count_id, "cake", 40, "Found — not booked in")
    assert finish(site, count_id).status == "pending"
    site.move("cake", 2, "A-02", "A-01")
    with site.write() as s, pytest.raises(Conflict, match=rf"changed since count {count_id} \(lot {site['cake']}: 12 "
                                                           r"on the books at the count, 10 now\)"):
        counts.approve(s, s.get(Count, count_id), by=by(site, "sue"))
    assert status(site, count_id) is CountStatus.PENDING and count_movements(site) == []


def test_a_pallet_at_another_place_or_a_lot_on_two_pallets_is_refused_in_words(site):
    count_id = start(site, "A-02")
    with site.write() as s, pytest.raises(Invalid, match=f"Pallet {SSCC} is on the books at A-01, not at A-02"):
        counts.line_for_unit(s, s.get(Count, count_id), s.scalar(select(HandlingUnit).where(HandlingUnit.sscc == SSCC)))
    assert len(lines(site, count_id)) == 1
    with site.write() as s:
        counts.cancel(s, s.get(Count, count_id), by=by(site))
    with site.write() as s, pytest.raises(DomainError, match="cancelled — it cannot be changed"):
        count = s.get(Count, count_id)
        counts.set_counted(count, count.lines[0], 3)


@pytest.mark.parametrize("value, expected", [(None, 10), ("0", 0), (" 25 ", 25), ("", 10)])
def test_the_threshold_setting(monkeypatch, value, expected):
    from station import config

    if value is None:
        monkeypatch.delenv("STATION_COUNT_APPROVAL_THRESHOLD", raising=False)
    else:
        monkeypatch.setenv("STATION_COUNT_APPROVAL_THRESHOLD", value)
    assert config.count_approval_threshold() == expected


@pytest.mark.parametrize("value", ["-1", "ten", "2.5", "1e3", "999999999999"])
def test_a_threshold_that_is_no_whole_number_stops_the_start_in_words(monkeypatch, value):
    from station import config

    monkeypatch.setenv("STATION_COUNT_APPROVAL_THRESHOLD", value)
    with pytest.raises(config.ConfigError, match="STATION_COUNT_APPROVAL_THRESHOLD must be a whole number"):
        config.count_approval_threshold()
