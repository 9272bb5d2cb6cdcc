"""The line workflow without Flask (no app, no client): scans through the one intake
(workflows.intake.take) and the taps of workflows/line.py called directly, on a real database,
asserting each answer, the run in the database and the lot the station holds before its quantity."""
from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pytest
from sqlalchemy import func, select

from factories import assert_books_balance
from factories import operator as make_operator
from station import clock
from station.models import FloorSession, Lot, LotLink, PrintJob, ProductionRun, RunStatus, ScanApplication
from station.services.actor import Actor
from station.workflows import intake
from station.workflows import line as workflow
from station.workflows import state as held_state
from station.workflows.intake import ScanIn

_ids = iter(range(10**6))


@pytest.fixture
def site(site):
    """MILK 20 at LINE-1 and 30 at A-01, BOLT 100 at A-02, a held MILK lot at LINE-1; the station
    "Line 1 PC" at LINE-1 printing on "line-zebra"; a line operator."""
    site.lot("milk", "MILK", 50, location="A-01")
    site.move("milk", 20, "A-01", "LINE-1")
    site.lot("bolts", "BOLT", 100, location="A-02")
    site.lot("held", "MILK", 10, location="LINE-1", hold="Cold chain alarm")
    site.printer("line-zebra")
    site.station("Line 1 PC", location="LINE-1", printer="line-zebra")
    site.station("Dock 1", location="DOCK")
    with site.write() as s:
        site["lee"] = make_operator(s, badge="OP-LEE", name="Lee Line", role="line_operator").id
    return site


def holder(site, station: str = "Line 1 PC") -> str:
    return held_state.holder(site[station], None)


def held(site) -> dict:
    with site.read() as s:
        return held_state.load(s, holder(site), workflow.NAME)


def lee(site, station: str = "Line 1 PC") -> Actor:
    return Actor(operator_id=site["lee"], station_id=site[station])


def take(site, code: str, *, to: str | None = workflow.NAME, station: str = "Line 1 PC", **scan):
    """A wedge scan on the line page of `station` (or as `scan` says), through the one intake; `to`:
    the page's workflow (None: a scan of the station's own scanner, for the workflow open there)."""
    args = {"source": "wedge", "station_id": site[station], "operator_id": site["lee"],
            "client_id": f"wf-line-{next(_ids):08d}", **scan}
    return intake.take(site.db, ScanIn(code=code, **args), to)


def tap(site, act, *args) -> workflow.Answer:
    """A tap as the page makes it: the function on the held state, the new state saved with its work."""
    with site.write() as s:
        answer = act(s, held_state.load(s, holder(site), workflow.NAME), lee(site), *args)
        if answer.state is not None:
            held_state.save(s, holder(site), workflow.NAME, answer.state)
    return answer


def open_runs(site) -> list[int]:
    with site.read() as s:
        return list(s.scalars(select(ProductionRun.id).where(ProductionRun.status == RunStatus.OPEN)))


def test_the_workflow_module_imports_no_flask():
    code = ("import sys, station.workflows.line; "
            "assert 'flask' not in sys.modules, sorted(m for m in sys.modules if m.startswith('flask'))")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_run_from_start_to_its_lot_and_labels(site):
    with site.read() as s:
        shown = workflow.screen(s, {}, site["Line 1 PC"])
        assert shown["step"] == "start" and workflow.prompt(shown).message == "Line LINE-1: start a run"
    started = tap(site, workflow.start, "CAKE")
    (run_id,) = open_runs(site)
    assert (started.kind, started.message) == ("ok", f"Run {run_id} started: CAKE Cake on LINE-1.")

    lot = take(site, site["milk"]).answer  # at the line and in A-01: the line's stock is used
    assert (lot.kind, lot.message) == ("ok", f"Lot {site['milk']}: MILK Milk 1 L, 20 ea at LINE-1.")
    assert held(site) == {"run": run_id, "lot": site["milk"], "from": "LINE-1"}
    refused = tap(site, workflow.add_component, str(run_id), "21")
    assert refused.kind == "error" and "Only 20 of lot" in refused.message and refused.state is None
    assert held(site)["lot"] == site["milk"]
    added = tap(site, workflow.add_component, str(run_id), "15")
    assert added.message == f"Added: 15 ea of lot {site['milk']} from LINE-1." and held(site) == {}
    take(site, f"LOT:{site['bolts']}")  # only in A-02: taken from there
    tap(site, workflow.add_component, str(run_id), "30")

    made = tap(site, workflow.finish, str(run_id), "12", "2")
    assert made.kind == "ok" and made.data == {"run": run_id}
    assert made.message.startswith(f"Run {run_id} finished: lot ") and made.detail == "2 labels sent to line-zebra."
    again = tap(site, workflow.finish, str(run_id), "12", "2")  # a double tap: its page again, nothing new
    assert again.data == {"run": run_id, "again": True}
    with site.read() as s:
        run = s.get(ProductionRun, run_id)
        assert run.status is RunStatus.FINISHED and run.finished_by_id == site["lee"]
        links = {(s.get(Lot, link.component_lot_id).lot_number, link.qty)
                 for link in s.scalars(select(LotLink).where(LotLink.output_lot_id == run.output_lot_id))}
        assert links == {(site["milk"], 15), (site["bolts"], 30)}
        assert s.execute(select(PrintJob.printer_id, PrintJob.copies, PrintJob.station_id)).all() == [
            (site["line-zebra"], 2, site["Line 1 PC"])]
        assert_books_balance(s)

    more = tap(site, workflow.print_more, run_id, "3", "line-token-1")
    assert more.message.startswith("3 more labels of lot") and more.data == {"run": run_id}
    tap(site, workflow.print_more, run_id, "3", "line-token-1")  # the same form token: one job
    early = tap(site, workflow.reprint, run_id, "line-token-2")
    assert early.kind == "error" and "has not been printed yet" in early.message
    with site.read() as s:
        assert [c for (c,) in s.execute(select(PrintJob.copies).order_by(PrintJob.id))] == [2, 3]


def test_refused_components_are_error_answers_and_add_nothing(site):
    answer = take(site, site["milk"]).answer
    assert answer.kind == "error" and "no run is open" in answer.message
    tap(site, workflow.start, "CAKE")
    (run_id,) = open_runs(site)
    answer = take(site, site["held"]).answer
    assert (answer.kind, answer.message) == ("error", f"Lot {site['held']} is on hold — QA release needed; "
                                                      f"it cannot be used.")
    assert "not known here" in take(site, "LOT:NOPE-1").answer.message
    assert take(site, "4000000000013").answer.kind == "error"  # an item's GTIN, not a lot
    assert take(site, "LOC:A-01").answer.message == "Location A-01 — scan a component lot here."
    assert held(site) == {}
    with site.read() as s:
        assert s.get(ProductionRun, run_id).components == []


def test_a_lot_in_two_places_off_the_line_asks_where_from(site):
    site.move("bolts", 40, "A-02", "A-01")
    tap(site, workflow.start, "CAKE")
    (run_id,) = open_runs(site)
    answer = take(site, site["bolts"]).answer
    assert answer.kind == "ok" and held(site) == {"run": run_id, "lot": site["bolts"], "from": None}
    with site.read() as s:
        assert workflow.screen(s, held(site), site["Line 1 PC"])["step"] == "source"
    assert take(site, "SHIP").answer.message == f"Lot {site['bolts']} is not at SHIP."
    refused = tap(site, workflow.choose_source, "A-03")
    assert refused.kind == "error" and held(site)["from"] is None
    chosen = tap(site, workflow.choose_source, "A-01")
    assert chosen.message == f"How much of lot {site['bolts']}?" and held(site)["from"] == "A-01"
    assert tap(site, workflow.add_component, str(run_id), "40").message == \
        f"Added: 40 ea of lot {site['bolts']} from A-01."


def test_undo_forget_and_cancel_the_run(site):
    tap(site, workflow.start, "CAKE")
    (run_id,) = open_runs(site)
    take(site, site["milk"])
    tap(site, workflow.add_component, str(run_id), "5")
    take(site, f"LOT:{site['bolts']}")
    assert tap(site, workflow.forget_component).message == "Lot not added." and held(site) == {}
    assert tap(site, workflow.undo, str(run_id), None).message == f"Taken back: 5 of lot {site['milk']}."
    assert tap(site, workflow.undo, str(run_id), None).message == "There is no component to take back."
    assert tap(site, workflow.cancel_run, "999").message == "This run is no longer open on the line."
    cancelled = tap(site, workflow.cancel_run, str(run_id))
    assert cancelled.message == f"Run {run_id} cancelled — nothing was used or made."
    with site.read() as s:
        assert s.get(ProductionRun, run_id).status is RunStatus.CANCELLED
        assert_books_balance(s)


def test_a_refused_finish_changes_nothing(site):
    tap(site, workflow.start, "CAKE")
    (run_id,) = open_runs(site)
    assert tap(site, workflow.finish, str(run_id), "4", "1").message.startswith(f"Run {run_id} has no components")
    assert tap(site, workflow.finish, str(run_id), "", "1").message.startswith("Type how much was made")
    with site.read() as s:
        assert s.get(ProductionRun, run_id).status is RunStatus.OPEN and s.scalar(select(PrintJob.id)) is None


@pytest.mark.parametrize("code", ["4000000000020", "]C10104000000000020", "MILK", "milk",
                                  "]C1010400000000002010NEWLOT-9"])
def test_scanning_an_item_with_no_run_open_starts_a_run_of_it(site, code):
    answer = take(site, code).answer
    (run_id,) = open_runs(site)
    assert (answer.kind, answer.message) == ("ok", f"Run {run_id} started: MILK Milk 1 L on LINE-1.")
    assert take(site, "4000000000013").answer.kind == "error" and open_runs(site) == [run_id]


def test_a_station_that_is_no_line_says_why(site):
    answer = take(site, "4000000000020", station="Dock 1").answer
    assert answer.kind == "error" and "not a production line" in answer.message
    with site.read() as s:
        shown = workflow.screen(s, {}, None)
    assert shown["step"] == "problem" and "not set up as a station" in workflow.prompt(shown).message
    assert open_runs(site) == []


def test_a_scan_of_the_stations_own_scanner_reaches_the_open_line_step_once(site, monkeypatch):
    """A sim:// scanner's scan at a station whose line page is open (a live floor session) is logged,
    resolved once and applied to the line step once, as the signed-in operator; a bounce is not."""
    from station.services import scans

    steps, resolves = [], []
    step, resolve_once = workflow.step, scans._resolve
    monkeypatch.setattr(workflow, "step", lambda *a: steps.append(a[2].scan_id) or step(*a))
    monkeypatch.setattr(scans, "_resolve", lambda *a: resolves.append(a[1]) or resolve_once(*a))
    tap(site, workflow.start, "CAKE")
    (run_id,) = open_runs(site)
    with site.write() as s:
        session = FloorSession(secret_hash="d" * 64, operator_id=site["lee"], station_id=site["Line 1 PC"],
                               started_at=clock.now(), last_seen_at=clock.now())
        s.add(session)
        s.flush()
        held_state.open_at(s, site["Line 1 PC"], workflow.NAME, floor_session_id=session.id,
                           operator_id=site["lee"])

    at = clock.now()
    device = {"source": "sim://line1", "operator_id": None, "client_id": None, "to": None}
    taken = take(site, f"LOT:{site['milk']}", now=at, **device)
    bounce = take(site, f"LOT:{site['milk']}", now=at + dt.timedelta(milliseconds=100), **device)
    assert taken.workflow == "line" and taken.answer.kind == "ok"
    assert bounce.outcome.ignored and bounce.answer is None
    assert steps == [taken.scan_id] and len(resolves) == 1
    assert held(site) == {"run": run_id, "lot": site["milk"], "from": "LINE-1"}
    with site.read() as s:
        assert intake.applied(s, taken.scan_id) == ("line", taken.answer)
        assert s.scalar(select(func.count()).select_from(ScanApplication)) == 1
