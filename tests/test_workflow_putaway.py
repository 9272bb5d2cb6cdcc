"""The put-away workflow without Flask (no app, no client): scans through the one intake
(workflows.intake.take) and the taps of workflows/putaway.py called directly, on a real database,
asserting each answer and the move the station holds afterwards."""
from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pytest
from sqlalchemy import func, select

from factories import assert_books_balance
from factories import operator as make_operator
from station import clock
from station.models import FloorSession, HandlingUnit, Movement, MovementKind, ScanApplication
from station.services import catalog
from station.workflows import intake, notes
from station.workflows import putaway as workflow
from station.workflows import state as held_state
from station.workflows.intake import ScanIn

SSCC = "376130321109103420"
_ids = iter(range(10**6))


@pytest.fixture
def site(site):
    """A pallet of 120 BOLT at DOCK; MILK 30 at A-01 and 20 at LINE-1; a held MILK lot at DOCK; a
    picker, and the station "Dock 1" holding the move."""
    site.lot("pallet", "BOLT", 120, location="DOCK", sscc=SSCC)
    site.lot("milk", "MILK", 50, location="A-01")
    site.move("milk", 20, "A-01", "LINE-1")
    site.lot("held", "MILK", 8, location="DOCK", hold="Cold chain alarm")
    site.station("Dock 1", location="DOCK")
    with site.write() as s:
        site["pat"] = make_operator(s, badge="OP-PAT", name="Pat Picker", role="picker").id
    return site


def holder(site) -> str:
    return held_state.holder(site["Dock 1"], None)


def held(site) -> dict:
    with site.read() as s:
        return held_state.load(s, holder(site), workflow.NAME)


def take(site, code: str, *, to: str | None = workflow.NAME, **scan):
    """A wedge scan on the put-away page of "Dock 1" (or as `scan` says), through the one intake; `to`:
    the page's workflow (None: a scan of the station's own scanner, for the workflow open there)."""
    args = {"source": "wedge", "station_id": site["Dock 1"], "operator_id": site["pat"],
            "client_id": f"wf-move-{next(_ids):08d}", **scan}
    return intake.take(site.db, ScanIn(code=code, **args), to)


def tap(site, act, *args) -> workflow.Answer:
    """A tap as the page makes it: the function on the held state, the new state saved with its work."""
    with site.write() as s:
        answer = act(s, held_state.load(s, holder(site), workflow.NAME), *args)
        if answer.state is not None:
            held_state.save(s, holder(site), workflow.NAME, answer.state)
    return answer


def moves(site) -> list[tuple[int, str, str, str | None, int | None]]:
    with site.read() as s:
        rows = s.scalars(select(Movement).where(Movement.kind == MovementKind.MOVE, Movement.operator_id.is_not(None))
                         .order_by(Movement.id))
        return [(m.qty, m.from_location.code, m.to_location.code, m.raw_scan, m.station_id) for m in rows]


def test_the_workflow_modules_import_no_flask():
    code = ("import sys, station.workflows.putaway, station.workflows.notes, station.workflows.inputs; "
            "assert 'flask' not in sys.modules, sorted(m for m in sys.modules if m.startswith('flask'))")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_pallet_moves_with_two_scans_and_the_station_holds_the_move_between_them(site):
    first = take(site, SSCC)
    assert (first.workflow, first.answer.kind) == ("putaway", "ok")
    assert first.answer.message == f"Pallet {SSCC}: 120 ea of BOLT, lot {site['pallet']} at DOCK."
    assert held(site) == {"sscc": SSCC}
    with site.read() as s:
        shown = workflow.screen(s, held(site))
    assert shown["step"] == "dest" and shown["goods"].on_pallet == 120 and shown["available"] == 120
    assert workflow.prompt(shown).message == f"Scan where pallet {SSCC} goes"

    done = take(site, "LOC:A-02")
    assert done.answer.message == f"Moved: 120 ea of BOLT, lot {site['pallet']}, DOCK → A-02."
    assert done.answer.data == {"moved": 120}
    assert held(site) == {}
    assert moves(site) == [(120, "DOCK", "A-02", "LOC:A-02", site["Dock 1"])]
    with site.read() as s:
        assert s.scalar(select(HandlingUnit).where(HandlingUnit.sscc == SSCC)).location.code == "A-02"
        assert (s.get(ScanApplication, done.scan_id).workflow, s.get(ScanApplication, done.scan_id).answer["kind"]) \
            == ("putaway", "ok")
        assert_books_balance(s)


def test_a_lot_in_two_places_goes_source_quantity_destination(site):
    answer = take(site, site["milk"]).answer
    assert answer.kind == "ok" and "is in 2 places" in answer.message
    assert held(site) == {"lot": site["milk"]}
    wrong = take(site, "A-02").answer
    assert (wrong.kind, wrong.message) == ("error", f"Lot {site['milk']} is not at A-02.")
    assert held(site) == {"lot": site["milk"]}  # a refusal leaves the move as it was

    tapped = tap(site, workflow.choose_source, "A-01")
    assert tapped.message == f"How many of lot {site['milk']}?"  # nothing to say: the next prompt
    assert held(site) == {"lot": site["milk"], "from": "A-01", "qty": None}
    too_many = tap(site, workflow.choose_qty, "31")
    assert too_many.kind == "error" and too_many.state is None
    assert too_many.message == f"Only 30 ea of lot {site['milk']} at A-01; 31 typed."
    assert take(site, "LOC:A-02").answer.message.startswith("Type how many first")
    assert tap(site, workflow.choose_qty, "x").message.startswith("The quantity must be a number")
    tap(site, workflow.choose_qty, "12")
    assert take(site, "A-02").answer.message == f"Moved: 12 ea of MILK, lot {site['milk']}, A-01 → A-02."
    assert held(site) == {}
    with site.read() as s:
        assert_books_balance(s)


def test_part_of_a_pallet_and_cancel(site):
    take(site, SSCC)
    tap(site, workflow.part)
    assert held(site) == {"sscc": SSCC, "part": True, "qty": None}
    tap(site, workflow.choose_qty, "20")
    assert take(site, "A-01").answer.message.startswith("Moved: 20 ea of BOLT")
    with site.read() as s:
        assert s.scalar(select(HandlingUnit).where(HandlingUnit.sscc == SSCC)).location.code == "DOCK"

    take(site, site["held"])
    cancelled = tap(site, workflow.cancel)
    assert (cancelled.kind, cancelled.message, cancelled.state) == ("info", "Cancelled — nothing was moved.", {})
    assert held(site) == {}
    assert tap(site, workflow.cancel).message == "Scan a pallet or a lot"  # nothing to cancel


@pytest.mark.parametrize("first,second,words", [
    (SSCC, "DOCK", "is already at DOCK"),
    (SSCC, "NOWHERE-9", "not recognised"),
    ("376130321109103437", None, "has not been received"),
    ("LOC:A-01", None, "scan what to move first"),
    ("4000000000013", None, "not of one lot"),
])
def test_refusals_are_error_answers_and_move_nothing(site, first, second, words):
    answer = take(site, first).answer
    if second is not None:
        answer = take(site, second).answer
    assert answer.kind == "error" and words in answer.message, answer
    assert moves(site) == []


def test_a_held_lot_may_be_moved_and_says_so(site):
    answer = take(site, site["held"]).answer
    assert answer.kind == "ok" and "HOLD: it may be moved, not used" in answer.detail


def test_a_retried_scan_gets_its_first_answer_and_moves_once(site):
    take(site, SSCC)
    first = take(site, "A-01", client_id="wf-move-retry-1")
    again = take(site, "A-01", client_id="wf-move-retry-1")
    assert again.outcome.retried and again.scan_id == first.scan_id and again.answer == first.answer
    assert len(moves(site)) == 1


def test_a_note_left_by_a_tap_is_dropped_by_the_next_scan(site):
    with site.write() as s:
        held_state.save(s, holder(site), workflow.NAME,
                        notes.noted({}, workflow.Answer("info", "Cancelled — nothing was moved.")))
    take(site, SSCC)
    assert held(site) == {"sscc": SSCC}
    with site.write() as s:
        held_state.save(s, holder(site), workflow.NAME, notes.noted({"sscc": SSCC}, workflow.Answer("info", "x")))
    take(site, "NOWHERE-9")  # refused: the move stays, the note goes
    assert held(site) == {"sscc": SSCC}


def test_goods_gone_since_the_scan_drop_the_move_from_the_screen(site):
    take(site, SSCC)
    with site.write() as s:
        unit = s.scalar(select(HandlingUnit).where(HandlingUnit.sscc == SSCC))
        unit.location_id = None  # shipped
    with site.read() as s:
        shown = workflow.screen(s, held(site))
    assert shown["state"] == {} and shown["step"] == "what" and shown["goods"] is None


def test_a_scan_of_the_stations_own_scanner_reaches_the_open_putaway_step_once(site, monkeypatch):
    """A sim:// scanner's scan at a station whose put-away page is open (a live floor session) is logged,
    resolved once and applied to the put-away step once, as the signed-in operator; a bounce is not."""
    from station.services import scans

    steps, resolves = [], []
    step, resolve_once = workflow.step, scans._resolve
    monkeypatch.setattr(workflow, "step", lambda *a: steps.append(a[2].scan_id) or step(*a))
    monkeypatch.setattr(scans, "_resolve", lambda *a: resolves.append(a[1]) or resolve_once(*a))
    with site.write() as s:
        session = FloorSession(secret_hash="e" * 64, operator_id=site["pat"], station_id=site["Dock 1"],
                               started_at=clock.now(), last_seen_at=clock.now())
        s.add(session)
        s.flush()
        held_state.open_at(s, site["Dock 1"], workflow.NAME, floor_session_id=session.id, operator_id=site["pat"])

    at = clock.now()
    device = {"source": "sim://dock1", "operator_id": None, "client_id": None, "to": None}
    taken = take(site, SSCC, now=at, **device)
    bounce = take(site, SSCC, now=at + dt.timedelta(milliseconds=100), **device)
    assert taken.workflow == "putaway" and taken.answer.kind == "ok"
    assert bounce.outcome.ignored and bounce.answer is None
    assert steps == [taken.scan_id] and len(resolves) == 1
    assert held(site) == {"sscc": SSCC}
    moved = take(site, "LOC:A-02", now=at + dt.timedelta(seconds=2), **device)
    assert moved.answer.message.startswith("Moved: 120 ea of BOLT")
    with site.read() as s:
        assert [(m.operator_id, m.station_id) for m in s.scalars(select(Movement).where(
            Movement.kind == MovementKind.MOVE, Movement.raw_scan == "LOC:A-02"))] == [(site["pat"], site["Dock 1"])]
        assert intake.applied(s, taken.scan_id) == ("putaway", taken.answer)
        assert s.scalar(select(func.count()).select_from(ScanApplication)) == 2
        assert catalog.location_by_code(s, "A-02").id is not None
