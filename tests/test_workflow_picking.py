"""The picking workflow without Flask (no app, no client): scans through the one intake
(workflows.intake.take) and the step and taps of workflows/picking.py called directly, on a real
database, asserting each answer and the state the station holds afterwards."""
from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pytest
from sqlalchemy import func, select

from factories import operator as make_operator
from station import clock
from station.models import FloorSession, Movement, MovementKind, OrderLine, ScanApplication
from station.scanning import ScanContext, resolve
from station.services import catalog
from station.services.actor import Actor
from station.services.errors import DomainError
from station.workflows import Scanned, intake, pick_list
from station.workflows import picking as workflow
from station.workflows import state as held_state
from station.workflows.intake import ScanIn

_ids = iter(range(10**6))


@pytest.fixture
def site(site):
    """MILK (FEFO): the suggested lot `soon` (6 at A-01) and a younger `later` (50 at A-02); BOLT 10 at
    A-01; order SO-1 for 10 MILK and 4 BOLT; a picker, and the station "Pick 1" holding the pick state."""
    today = clock.today()
    site.lot("soon", "MILK", 6, location="A-01", expiry=today + dt.timedelta(days=5))
    site.lot("later", "MILK", 50, location="A-02", expiry=today + dt.timedelta(days=20))
    site.lot("bolt", "BOLT", 10, location="A-01")
    site.order("SO-1", [("MILK", 10), ("BOLT", 4)])
    site.station("Pick 1")
    with site.write() as s:
        site["picker"] = make_operator(s, badge="OP-PICK", name="Pia Picker", role="picker").id
    return site


def holder(site) -> str:
    return held_state.holder(site["Pick 1"], None)


def opened(site, **extra) -> dict:
    """The pick page was opened on SO-1 at the station: the state names the order."""
    fresh = {"order": site["SO-1"], **extra}
    with site.write() as s:
        held_state.save(s, holder(site), workflow.NAME, fresh)
    return fresh


def held(site) -> dict:
    with site.read() as s:
        return held_state.load(s, holder(site), workflow.NAME)


def take(site, code: str, *, to: str | None = workflow.NAME, bounce_ms: int = 500, **scan):
    """A wedge scan on the pick page of "Pick 1" (or as `scan` says), through the one intake; `to`:
    the page's workflow (None: a scan of the station's own scanner, for the workflow open there)."""
    args = {"source": "wedge", "station_id": site["Pick 1"], "operator_id": site["picker"],
            "client_id": f"wf-pick-{next(_ids):08d}", **scan}
    return intake.take(site.db, ScanIn(code=code, **args), to, bounce_ms=bounce_ms)


def tap(site, act, *args) -> workflow.Answer:
    """A tap as the page makes it: the function on the held state, the new state saved with its work."""
    with site.write() as s:
        answer = act(s, held_state.load(s, holder(site), workflow.NAME), *args)
        if answer.state is not None:
            held_state.save(s, holder(site), workflow.NAME, answer.state)
    return answer


def picks(site) -> list[tuple[str, int, str | None, str | None]]:
    with site.read() as s:
        rows = s.scalars(select(Movement).where(Movement.kind == MovementKind.PICK).order_by(Movement.id))
        return [(mv.lot.lot_number, mv.qty, mv.reason, mv.raw_scan) for mv in rows]


def line_id(site, no: int) -> int:
    with site.read() as s:
        return s.scalar(select(OrderLine.id).where(OrderLine.order_id == site["SO-1"], OrderLine.line_no == no))


def picker(site) -> Actor:
    return Actor(operator_id=site["picker"], station_id=site["Pick 1"])


def test_the_workflow_modules_import_no_flask():
    code = ("import sys, station.workflows.picking, station.workflows.pick_list; "
            "assert 'flask' not in sys.modules, sorted(m for m in sys.modules if m.startswith('flask'))")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_scan_picks_the_suggested_lot_and_the_state_remembers_the_line_and_the_pick(site):
    opened(site)
    taken = take(site, f"LOT:{site['soon']}\r\n")
    assert taken.workflow == "picking" and taken.answer.kind == "ok"
    assert taken.answer.message == f"Picked 6 ea of lot {site['soon']} from A-01. 4 ea more: lot {site['later']} at A-02."
    assert picks(site) == [(site["soon"], 6, None, f"LOT:{site['soon']}")]  # the scan as recorded, CR/LF gone
    with site.read() as s:
        last = s.scalar(select(func.max(Movement.id)))
        applied = s.get(ScanApplication, taken.scan_id)
        assert (applied.workflow, applied.answer["message"]) == ("picking", taken.answer.message)
    assert held(site) == {"order": site["SO-1"], "line": line_id(site, 1), "last": last}


def test_a_retried_scan_is_answered_again_and_picks_once(site):
    opened(site)
    first = take(site, f"LOT:{site['soon']}", client_id="wf-pick-retry-1")
    again = take(site, f"LOT:{site['soon']}", client_id="wf-pick-retry-1")
    assert again.outcome.retried and again.scan_id == first.scan_id
    assert again.answer == first.answer
    assert len(picks(site)) == 1


def test_a_younger_lot_waits_in_the_state_for_a_reason_then_the_override_tap_picks_it(site):
    opened(site)
    taken = take(site, f"LOT:{site['later']}")
    assert taken.answer.kind == "warn"
    assert taken.answer.message == (f"Lot {site['later']} expires later than the suggested lot {site['soon']}, "
                                    f"which is at A-01.")
    pending = held(site)["pending"]
    assert (pending["lot_number"], pending["older"], pending["older_at"]) == (site["later"], site["soon"], "A-01")
    assert picks(site) == []

    refused = tap(site, workflow.override, "", picker(site))
    assert refused.kind == "error" and "pending" in held(site)
    answer = tap(site, workflow.override, pick_list.OVERRIDE_REASONS[0], picker(site))
    assert answer.kind == "ok" and "instead of the older lot" in answer.message
    assert picks(site) == [(site["later"], 10, pick_list.OVERRIDE_REASONS[0], f"LOT:{site['later']}")]
    assert "pending" not in held(site)
    assert tap(site, workflow.override, "Suggested lot damaged", picker(site)).message.startswith("Nothing waits")


def test_with_the_location_rule_the_location_comes_first_and_is_held_until_the_lot(site):
    opened(site, scan_location=True)
    first = take(site, f"LOT:{site['soon']}")
    assert (first.answer.kind, first.answer.message) == ("error", "Scan the location first (A-01), then the lot.")
    here = take(site, "LOC:A-01")
    assert here.answer.message == f"Location A-01 — now scan lot {site['soon']}."
    with site.read() as s:
        assert held(site)["loc"] == catalog.location_by_code(s, "A-01").id
    assert take(site, f"LOT:{site['soon']}").answer.kind == "ok"
    assert "loc" not in held(site) and held(site)["scan_location"] is True


def test_the_taps_set_a_quantity_choose_lines_undo_and_ship(site):
    opened(site)
    assert tap(site, workflow.set_qty, "40").message == "Line 1 needs only 10 ea more."
    assert tap(site, workflow.set_qty, "x").kind == "error"
    assert tap(site, workflow.set_qty, " 4 ").message == "The next lot scan picks 4 ea."
    assert held(site)["qty"] == 4
    assert take(site, f"LOT:{site['soon']}").answer.message.startswith(f"Picked 4 ea of lot {site['soon']}")
    assert "qty" not in held(site)

    undone = tap(site, workflow.undo, picker(site))
    assert undone.message == (f"Pick taken back: 4 ea of lot {site['soon']} — take it from SHIP and put it "
                              f"back at A-01.")
    assert "last" not in held(site)
    assert tap(site, workflow.undo, picker(site)).message.startswith("No pick to take back")

    assert tap(site, workflow.next_line).message == "Line 2: BOLT Bolt M8."
    assert held(site)["line"] == line_id(site, 2)
    assert tap(site, workflow.choose_line, 3).message == "Order SO-1 has no line 3."
    assert tap(site, workflow.choose_line, 1).message == "Line 1: MILK Milk 1 L."

    with pytest.raises(DomainError) as early:  # the page's savepoint turns it into the red banner
        tap(site, workflow.ship, picker(site))
    assert early.value.message == "Nothing has been picked for order SO-1 yet."
    take(site, f"LOT:{site['soon']}", bounce_ms=0)  # the first lot again, at once: no bounce
    with pytest.raises(DomainError) as short:  # services.picking.short_reasons: the API's rule too
        tap(site, workflow.ship, picker(site))
    assert short.value.message == (
        f"Not everything is picked: line 1 (MILK) still needs 4 ea and lot {site['later']} is at A-02 (and 1 "
        f"more line). Pick it, report it short, or give the reason it ships short.")
    for code in (site["later"], site["bolt"]):
        take(site, f"LOT:{code}", bounce_ms=0)
    shipped = tap(site, workflow.ship, picker(site))
    assert shipped.message == "Order SO-1 shipped to Corner Shop: 14 units from 3 lots."
    assert held(site) == {"order": site["SO-1"]}
    late = take(site, f"LOT:{site['later']}")
    assert late.answer.message == "Order SO-1 is shipped — nothing more can be picked."


def test_a_refused_tap_raises_and_leaves_the_state_alone(site):
    """A service's refusal is a DomainError: the page's savepoint undoes it and keeps the state."""
    opened(site)
    take(site, f"LOT:{site['soon']}")
    with site.write() as s:  # the pick is taken back elsewhere (the API) meanwhile
        from station.services import picking
        picking.undo_pick(s, s.scalar(select(Movement).where(Movement.kind == MovementKind.PICK)))
    before = held(site)
    with pytest.raises(DomainError), site.write() as s:
        workflow.undo(s, before, picker(site))
    assert held(site) == before


def test_the_step_called_directly_needs_an_order_in_the_state(site):
    with site.write() as s:
        code = f"LOT:{site['soon']}"
        scanned = Scanned(scan_id=1, resolution=resolve(s, code, ScanContext(workflow="picking")), raw=code,
                          actor=picker(site))
        assert workflow.step(s, {}, scanned) == workflow.NO_ORDER
        answer = workflow.step(s, {"order": site["SO-1"]}, scanned)
        assert answer.kind == "ok" and answer.state["last"] is not None
    assert picks(site) == [(site["soon"], 6, None, code)]


def test_another_orders_state_is_not_carried_over_and_the_version_follows_the_state(site):
    site.order("SO-2", [("BOLT", 1)])
    mine = {"order": site["SO-1"], "line": line_id(site, 2), "qty": 2}
    assert pick_list.for_order(site["SO-2"], mine) == {"order": site["SO-2"]}
    assert pick_list.for_order(site["SO-1"], mine, scan_location=False) == {**mine, "scan_location": False}
    with site.read() as s:
        screen = pick_list.screen(s, mine)
        assert screen["order"].number == "SO-1" and screen["current"].line.line_no == 2 and screen["qty"] == 2
        assert pick_list.intro(screen)[1] == f"Line 2: scan lot {site['bolt']} at A-01."
        fresh = pick_list.screen(s, {"order": site["SO-1"]})
        assert fresh["current"].line.line_no == 1 and fresh["version"] != screen["version"]


def test_a_scan_of_the_stations_own_scanner_reaches_the_open_pick_step_once(site, monkeypatch):
    """A sim:// scanner's scan at a station whose pick page is open (a live floor session) is logged,
    resolved once and applied to the picking step once, as the signed-in picker; a bounce and a retry
    are not applied again."""
    from station.services import scans

    steps, resolves = [], []
    step, resolve_once = workflow.step, scans._resolve
    monkeypatch.setattr(workflow, "step", lambda *a: steps.append(a[2].scan_id) or step(*a))
    monkeypatch.setattr(scans, "_resolve", lambda *a: resolves.append(a[1]) or resolve_once(*a))
    opened(site)
    with site.write() as s:
        session = FloorSession(secret_hash="f" * 64, operator_id=site["picker"], station_id=site["Pick 1"],
                               started_at=clock.now(), last_seen_at=clock.now())
        s.add(session)
        s.flush()
        held_state.open_at(s, site["Pick 1"], workflow.NAME, floor_session_id=session.id,
                           operator_id=site["picker"])

    at = clock.now()
    device = {"source": "sim://pick1", "operator_id": None, "client_id": None, "to": None}
    taken = take(site, f"LOT:{site['soon']}", now=at, **device)
    bounce = take(site, f"LOT:{site['soon']}", now=at + dt.timedelta(milliseconds=100), **device)
    assert taken.workflow == "picking" and taken.answer.kind == "ok"
    assert bounce.outcome.ignored and bounce.answer is None
    assert steps == [taken.scan_id] and len(resolves) == 1
    with site.read() as s:
        moves = s.scalars(select(Movement).where(Movement.kind == MovementKind.PICK)).all()
        assert [(m.qty, m.operator_id, m.station_id) for m in moves] == [(6, site["picker"], site["Pick 1"])]
        assert intake.applied(s, taken.scan_id) == ("picking", taken.answer)
        assert s.scalar(select(func.count()).select_from(ScanApplication)) == 1
        first_pick = moves[0].id
    assert held(site)["last"] == first_pick
