"""Lot numbering: patterns, resets, context codes, and uniqueness under concurrent workers."""
from __future__ import annotations

import datetime as dt
import threading

import pytest

from station.models import SequenceReset
from station.services import numbering
from station.services.errors import Invalid

D = dt.date(2026, 2, 3)


@pytest.mark.parametrize("pattern, expected", [
    ("{yy}{mm}{dd}-{seq:03}", "260203-007"),
    ("{yyyy}{jjj}{seq:05}", "202603400007"),
    ("{item}-{yy}{jjj}-{seq}", "FLOUR-26034-7"),
    ("{supplier}/{line}/{seq:02}", "ACME/L1/07"),
])
def test_render_fills_every_token(pattern, expected):
    assert numbering.render(pattern, 7, D, item="FLOUR", supplier="ACME", line="L1") == expected


def test_render_refuses_a_missing_context_code_and_an_overlong_number():
    with pytest.raises(Invalid, match="needs a supplier code"):
        numbering.render("{supplier}-{seq}", 1, D)
    with pytest.raises(Invalid, match="longer than 40"):
        numbering.render("{item}{seq}", 1, D, item="X" * 40)


@pytest.mark.parametrize("pattern, reset, message", [
    ("{yy}{mm}{dd}", SequenceReset.DAILY, "exactly one {seq}"),
    ("{seq}{seq}", SequenceReset.NEVER, "exactly one {seq}"),
    ("{yy}{hh}{seq}", SequenceReset.NEVER, "Unknown token {hh}"),
    ("{yy}{mm}-{seq", SequenceReset.MONTHLY, "unmatched brace"),
    ("{mm}{dd}-{seq}", SequenceReset.DAILY, "needs a year"),
    ("{yy}-{seq}", SequenceReset.DAILY, "needs a year"),
    ("{yy}{seq}", SequenceReset.MONTHLY, "needs a year"),
    ("{seq:04}", SequenceReset.YEARLY, "needs a year"),
])
def test_patterns_that_could_repeat_a_number_are_refused(pattern, reset, message):
    with pytest.raises(Invalid, match=message.replace("{", r"\{").replace("}", r"\}")):
        numbering.validate_pattern(pattern, reset)


@pytest.mark.parametrize("pattern, reset", [
    ("{yy}{mm}{dd}-{seq:03}", SequenceReset.DAILY),
    ("{yyyy}{jjj}{seq}", SequenceReset.DAILY),
    ("{item}{yy}{mm}{seq}", SequenceReset.MONTHLY),
    ("{yy}-{seq:06}", SequenceReset.YEARLY),
    ("L{seq:08}", SequenceReset.NEVER),
])
def test_sound_patterns_are_accepted(pattern, reset):
    numbering.validate_pattern(pattern, reset)


@pytest.mark.parametrize("reset, days, restarts", [
    (SequenceReset.DAILY, 1, True),
    (SequenceReset.MONTHLY, 1, False),
    (SequenceReset.MONTHLY, 31, True),
    (SequenceReset.YEARLY, 31, False),
    (SequenceReset.YEARLY, 366, True),
    (SequenceReset.NEVER, 800, False),
])
def test_sequences_reset_with_their_period(db, reset, days, restarts):
    with db.write() as s:
        scheme = numbering.create_scheme(s, "s", "{yyyy}{mm}{dd}-{seq}", reset)
        assert [numbering.draw(s, scheme, D) for _ in range(3)] == [1, 2, 3]
        assert numbering.draw(s, scheme, D + dt.timedelta(days=days)) == (1 if restarts else 4)


def test_default_scheme_numbers_by_day(db):
    with db.write() as s:
        first = numbering.next_lot_number(s, None, D)
        second = numbering.next_lot_number(s, None, D)
        next_day = numbering.next_lot_number(s, None, D + dt.timedelta(days=1))
    assert (first, second, next_day) == ("260203-001", "260203-002", "260204-001")


def test_eight_workers_drawing_a_thousand_numbers_get_a_thousand_distinct_numbers(db):
    with db.write() as s:
        numbering.create_scheme(s, "busy", "{yy}{mm}{dd}-{seq:04}", SequenceReset.DAILY)
    numbers: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def worker():
        start.wait()
        try:
            for _ in range(125):
                with db.write() as s:
                    scheme = s.scalar(numbering.select(numbering.LotScheme).where(
                        numbering.LotScheme.name == "busy"))
                    number = numbering.next_lot_number(s, scheme, D)
                with lock:
                    numbers.append(number)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(numbers) == 1000
    assert len(set(numbers)) == 1000
    assert sorted(numbers) == [f"260203-{n:04d}" for n in range(1, 1001)]


def test_an_item_can_have_its_own_pattern_beside_the_site_default(db):
    from station.services import catalog, receiving

    with db.write() as s:
        flour = catalog.create_item(s, sku="FLOUR", name="Flour")
        catalog.create_item(s, sku="SALT", name="Salt")
        catalog.create_location(s, code="DOCK", kind="dock")
        numbering.set_scheme(s, "{item}-{yy}{jjj}-{seq:04}", SequenceReset.YEARLY, flour)
        numbering.set_scheme(s, "{yyyy}{mm}{dd}/{seq:02}", SequenceReset.DAILY)
    with db.write() as s:
        got = [receiving.receive(s, item=catalog.item_by_sku(s, sku), qty=1,
                                 location=catalog.location_by_code(s, "DOCK"), on=D).lot_number
               for sku in ("FLOUR", "SALT", "FLOUR")]
    assert got == ["FLOUR-26034-0001", "20260203/01", "FLOUR-26034-0002"]
    with pytest.raises(Invalid):
        with db.write() as s:
            numbering.set_scheme(s, "{yy}{seq}", SequenceReset.DAILY)
