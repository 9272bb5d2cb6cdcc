"""The count workflow without Flask: scans through the one intake (workflows.intake.take) and the taps of
workflows/count.py called directly, on a real database (SQLite and PostgreSQL), asserting each answer,
the state the station holds and what is booked."""
from __future__ import annotations

import subprocess
import sys

import pytest
from sqlalchemy import select

from factories import assert_books_balance
from factories import operator as make_operator
from station.models import Count, CountStatus, Movement, MovementKind, ScanApplication
from station.services.actor import Actor
from station.workflows import count as workflow
from station.workflows import intake
from station.workflows import state as held_state
from station.workflows.intake import ScanIn

SSCC = "376130321109103420"
_ids = iter(range(10**6))


@pytest.fixture
def site(site):
    """At A-01: MILK 40 ("milk"), a pallet of 120 BOLT ("pallet"); CAKE 12 at A-02 ("cake"); a picker
    counting at station "Aisle A"."""
    site.lot("milk", "MILK", 40, location="A-01")
    site.lot("pallet", "BOLT", 120, location="A-01", sscc=SSCC)
    site.lot("cake", "CAKE", 12, location="A-02")
    site.station("Aisle A", location="A-01")
    with site.write() as s:
        site["pat"] = make_operator(s, badge="OP-PAT", name="Pat Picker", role="picker").id
    return site


def holder(site) -> str:
    return held_state.holder(site["Aisle A"], None)


def held(site) -> dict:
    with site.read() as s:
        return held_state.load(s, holder(site), workflow.NAME)


def take(site, code: str, **scan):
    args = {"source": "wedge", "station_id": site["Aisle A"], "operator_id": site["pat"],
            "client_id": f"wf-count-{next(_ids):08d}", **scan}
    return intake.take(site.db, ScanIn(code=code, **args), workflow.NAME, bounce_ms=0)  # a recount scans again


def tap(site, act, *args) -> workflow.Answer:
    """A tap as the page makes it: the function on the held state, the new state saved with its work."""
    with site.write() as s:
        answer = act(s, held_state.load(s, holder(site), workflow.NAME),
                     Actor(operator_id=site["pat"], station_id=site["Aisle A"]), *args)
        if answer.state is not None:
            held_state.save(s, holder(site), workflow.NAME, answer.state)
    return answer


def shown(site) -> dict:
    with site.read() as s:
        view = workflow.screen(s, held(site))
        return {**view, "prompt": workflow.prompt(view)}


def test_the_workflow_module_imports_no_flask():
    code = "import sys, station.workflows.count; assert 'flask' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_count_from_the_location_scan_to_its_booking(site):
    assert shown(site)["prompt"].message == "Scan the location to count"
    early = take(site, f"LOT:{site['milk']}").answer
    assert early.kind == "error" and early.message.endswith("— but scan the location you count first.")

    opened = take(site, "LOC:A-01").answer
    assert (opened.kind, opened.message) == ("ok", "Counting A-01: 2 lots or pallets on the books there.")
    count_id = held(site)["count"]
    assert held(site) == {"count": count_id, "line": None}
    assert take(site, "LOC:A-02").answer.message == "You are counting A-01 — finish that count first (DONE), or cancel it."

    lot = take(site, f"LOT:{site['milk']}").answer
    assert lot.message == f"Lot {site['milk']}: MILK Milk 1 L."
    assert lot.detail == "40 ea on the books. Key how many you count, then OK."
    assert shown(site)["step"] == "qty"
    assert tap(site, workflow.key_qty, "x7").message == "The count must be a number like 12 or 12.35, not 'x7'."
    assert tap(site, workflow.key_qty, "").message == "Key how many first, then OK."
    keyed = tap(site, workflow.key_qty, "36")
    assert keyed.message == f"Lot {site['milk']}: 36 ea counted (-4 against the books)."

    # a lot not on the books here is added (expected 0)
    cake = take(site, f"LOT:{site['cake']}").answer
    assert cake.detail == "Not on the books at A-01. Key how many you count, then OK."
    tap(site, workflow.key_qty, "2")

    # DONE: the pallet was not scanned -> asked about
    asked = take(site, "CMD:DONE").answer
    assert asked.kind == "warn"
    assert asked.message == f"Pallet {SSCC} (lot {site['pallet']}) — 120 ea on the books: not here?"
    view = shown(site)
    assert view["step"] == "ask" and view["asked"].sscc == SSCC
    tap(site, workflow.count_it, str(view["asked"].id))
    assert shown(site)["step"] == "qty"
    confirmed = tap(site, workflow.as_books)
    assert confirmed.message == f"Pallet {SSCC}: 120 ea counted — as the books say."

    # reasons, one difference at a time
    view = shown(site)
    assert view["step"] == "reason" and view["prompt"].message == f"Why is lot {site['milk']} (MILK) 40 → 36?"
    assert tap(site, workflow.give_reason, str(view["reason_for"].id), "not a reason", "").message \
        == "Say why it differs: pick a reason or type one."
    tap(site, workflow.give_reason, str(view["reason_for"].id), "Damaged", "")
    view = shown(site)
    tap(site, workflow.give_reason, str(view["reason_for"].id), "Damaged", "  behind the racking ")
    view = shown(site)
    assert view["step"] == "book" and view["prompt"].detail == "2 differences to book."

    booked = tap(site, workflow.finish, 10)
    assert booked.kind == "ok" and booked.state == {}
    assert booked.message == f"Count {count_id} of A-01 booked: {site['milk']} 40 → 36, {site['cake']} 0 → 2."
    assert held(site) == {}
    with site.read() as s:
        assert s.get(Count, count_id).status is CountStatus.BOOKED
        reasons = [m.reason for m in s.scalars(select(Movement).where(Movement.kind == MovementKind.COUNT)
                                               .order_by(Movement.id))]
        assert reasons == [f"count {count_id}: 40 → 36, Damaged", f"count {count_id}: 0 → 2, behind the racking"]
        assert_books_balance(s)


def test_not_here_above_the_threshold_waits_for_a_supervisor(site):
    take(site, "LOC:A-02")
    count_id = held(site)["count"]
    tap(site, workflow.done)
    view = shown(site)
    assert view["prompt"].message == f"Lot {site['cake']} (CAKE) — 12 ea on the books: not here?"
    assert tap(site, workflow.not_here, str(view["asked"].id)).message == f"Lot {site['cake']}: not here (0 counted)."
    tap(site, workflow.give_reason, str(shown(site)["reason_for"].id), "Taken without a scan", "")
    answer = tap(site, workflow.finish, 10)
    assert (answer.kind, answer.message) == ("warn", f"Count {count_id} of A-02 waits for a supervisor: "
                                                     f"{site['cake']} 12 → 0.")
    with site.read() as s:
        assert s.get(Count, count_id).status is CountStatus.PENDING
        assert not s.scalars(select(Movement).where(Movement.kind == MovementKind.COUNT)).all()


def test_stock_moved_while_counting_asks_for_a_recount_in_words(site):
    take(site, "LOC:A-02")
    take(site, f"LOT:{site['cake']}")
    tap(site, workflow.key_qty, "12")
    site.move("cake", 5, "A-02", "A-01")
    tap(site, workflow.done)
    answer = tap(site, workflow.finish, 10)
    assert answer.kind == "warn"
    assert answer.message == (f"Stock moved at A-02 while you counted — count again: lot {site['cake']} "
                              f"(12 on the books when you started, 7 now).")
    assert shown(site)["step"] == "ask"  # the changed lot is asked about again
    take(site, f"LOT:{site['cake']}")
    tap(site, workflow.key_qty, "7")
    assert tap(site, workflow.finish, 10).message.endswith("everything matches the books.")


def test_a_scan_of_the_stations_own_scanner_goes_to_the_open_count_and_cancel_books_nothing(site):
    with site.write() as s:
        held_state.open_at(s, site["Aisle A"], workflow.NAME, operator_id=site["pat"], token_id=None)
    take(site, "LOC:A-01")
    count_id = held(site)["count"]
    wrong = take(site, "400000000001")  # not a GTIN with a check digit of ours: refused, state kept
    assert wrong.answer.kind == "error" and held(site)["count"] == count_id
    with site.read() as s:
        assert s.get(ScanApplication, wrong.scan_id).workflow == "count"
    cancelled = tap(site, workflow.cancel)
    assert (cancelled.message, cancelled.state) == (f"Count {count_id} cancelled — nothing was booked.", {})
    with site.read() as s:
        assert s.get(Count, count_id).status is CountStatus.CANCELLED
    assert shown(site)["step"] == "location"
