"""The lot lookup workflow without Flask (no app, no client): scans through the one intake
(workflows.intake.take) and workflows/lookup.py called directly on a real database (SQLite and
PostgreSQL): what a scan names, the answer in words, the card's screen, the lot card's taps, and a scan
of a station's own scanner reaching the open lookup once."""
from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pytest
from sqlalchemy import func, select

from factories import operator as make_operator
from station import clock
from station.models import FloorSession, LotStatus, ScanApplication
from station.scanning import ScanContext, resolve
from station.services import catalog
from station.services.actor import Actor
from station.services.errors import DomainError
from station.workflows import Scanned, intake
from station.workflows import lookup as workflow
from station.workflows import state as held_state
from station.workflows.intake import ScanIn

_ids = iter(range(10**6))
SSCC = "376123450000000016"  # a pallet's SSCC (check digit right)


@pytest.fixture
def site(site):
    """BOLT 300 at A-01 (loose), BOLT 5 on hold at A-02, a MILK pallet at A-01; the station "Dock tablet"
    with a sim:// scanner; a picker."""
    site.lot("loose", "BOLT", 300, location="A-01")
    site.lot("held", "BOLT", 5, location="A-02", hold="Thread damage")
    site.lot("pallet", "MILK", 24, location="A-01", supplier="ACME", supplier_lot="ACM-77", sscc=SSCC,
             expiry=clock.today() + dt.timedelta(days=20))
    site.station("Dock tablet", scanner_url="sim://dock-scanner")
    with site.write() as s:
        site["pat"] = make_operator(s, badge="OP-PAT", name="Pat Picker", role="picker").id
    return site


def step(site, code: str):
    """The lookup step with a session, as a scan of the station's own scanner gets it."""
    with site.read() as s:
        res = resolve(s, code, ScanContext(workflow=workflow.NAME))
        answer = workflow.step(s, {}, Scanned(scan_id=0, resolution=res, raw=code, actor=Actor()))
        _, screen = workflow.shown(s, answer.data["target"])
        return answer, {k: v for k, v in screen.items() if k != "details"}


def take(site, code: str, to: str | None = workflow.NAME, **scan) -> intake.Taken:
    args = {"source": "wedge", "station_id": site["Dock tablet"], "operator_id": site["pat"],
            "client_id": f"wf-lookup-{next(_ids):08d}", **scan}
    return intake.take(site.db, ScanIn(code=code, **args), to)


def test_the_workflow_module_imports_no_flask():
    code = ("import sys, station.workflows.lookup; "
            "assert 'flask' not in sys.modules, sorted(m for m in sys.modules if m.startswith('flask'))")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_lot_label_answers_with_its_card(site):
    answer, screen = step(site, f"LOT:{site['loose']}")
    assert (answer.kind, answer.message, answer.detail) == ("ok", f"Lot {site['loose']}: BOLT Bolt M8",
                                                            "300 ea on hand.")
    assert answer.data == {"target": {"lot": site["loose"], "unit": None}}
    assert screen["outcome"] == "found" and screen["lot_status"] == "available"


def test_a_held_lot_is_amber_and_says_why(site):
    answer, screen = step(site, site["held"])  # a bare lot number: the resolver does not know it, the step does
    assert answer.kind == "warn" and "on hold" in answer.detail and screen["status_label"] == "On hold"


def test_a_pallet_a_location_an_item_and_a_supplier_label(site):
    pallet, _ = step(site, SSCC)
    assert pallet.message == f"Pallet {SSCC}: 24 ea of MILK, lot {site['pallet']} at A-01"
    place, screen = step(site, "LOC:A-01")
    assert (place.kind, place.message, place.detail) == ("ok", "Location A-01", "2 lots here. Tap one for its card.")
    assert sorted(row["lot_number"] for row in screen["lots"]) == sorted([site["loose"], site["pallet"]])
    for code in ("BOLT", "bolt", "4000000000013"):
        item, screen = step(site, code)
        assert item.message == "Item BOLT — Bolt M8", code
        assert [row["lot_number"] for row in screen["lots"]] == [site["loose"], site["held"]]
    supplier, screen = step(site, "]C1010400000000002010ACM-77")
    assert supplier.kind == "ok" and screen["query"] == site["pallet"]


def test_what_is_no_lot_is_said_in_words(site):
    unknown, screen = step(site, "NOPE-NOPE-42")
    assert (unknown.kind, unknown.message) == ("error", "No lot 'NOPE-NOPE-42' — check the number or scan the "
                                                        "label again")
    assert unknown.detail == workflow.ASK and screen == {}
    badge, _ = step(site, "OPR:OP-PAT")
    assert badge.kind == "info" and "not looked up here" in badge.detail


def test_a_page_scan_is_logged_once_and_answered_from_its_resolution(site):
    """The page path (READ_ONLY): no session for the step, the resolver's words and the target; the
    page then asks shown() in its own read. A client-id retry logs nothing new."""
    taken = take(site, f"LOT:{site['loose']}", client_id="wf-lookup-page-0001")
    assert taken.workflow == "lookup" and taken.answer.kind == "info"
    assert taken.answer.data == {"target": {"lot": site["loose"], "unit": None}}
    with site.read() as s:
        answer, _ = workflow.shown(s, taken.answer.data["target"])
    assert answer.message == f"Lot {site['loose']}: BOLT Bolt M8"
    again = take(site, f"LOT:{site['loose']}", client_id="wf-lookup-page-0001")
    assert again.outcome.retried and again.scan_id == taken.scan_id and again.answer is None
    assert workflow.target(again.resolution, again.resolution.code) == taken.answer.data["target"]
    with site.read() as s:
        assert s.scalar(select(func.count()).select_from(ScanApplication)) == 0  # a page lookup keeps no answer


def test_a_scan_of_the_stations_own_scanner_reaches_the_open_lookup_once(site, monkeypatch):
    """A sim:// scan at a station whose lookup page is open (a live floor session) is logged, resolved
    once and looked up once, with a session: the real answer is kept with the scan; a bounce is not
    applied."""
    from station.services import scans

    steps, resolves = [], []
    real_step, real_resolve = workflow.step, scans._resolve
    monkeypatch.setattr(workflow, "step", lambda *a: steps.append(a[2].scan_id) or real_step(*a))
    monkeypatch.setattr(scans, "_resolve", lambda *a: resolves.append(a[1]) or real_resolve(*a))
    with site.write() as s:
        floor = FloorSession(secret_hash="e" * 64, operator_id=site["pat"], station_id=site["Dock tablet"],
                             started_at=clock.now(), last_seen_at=clock.now())
        s.add(floor)
        s.flush()
        held_state.open_at(s, site["Dock tablet"], workflow.NAME, floor_session_id=floor.id,
                           operator_id=site["pat"])
    at = clock.now()
    device = {"source": "sim://dock-scanner", "operator_id": None, "client_id": None}
    taken = take(site, f"LOT:{site['held']}", to=None, now=at, **device)
    bounce = take(site, f"LOT:{site['held']}", to=None, now=at + dt.timedelta(milliseconds=100), **device)
    assert taken.workflow == "lookup" and taken.answer.kind == "warn"
    assert taken.answer.message == f"Lot {site['held']}: BOLT Bolt M8"
    assert bounce.outcome.ignored and bounce.answer is None
    assert steps == [taken.scan_id] and len(resolves) == 1
    with site.read() as s:
        assert intake.applied(s, taken.scan_id) == ("lookup", taken.answer)
        assert s.scalar(select(func.count()).select_from(ScanApplication)) == 1


def test_hold_and_release_from_the_card(site):
    boss = Actor(operator_id=site["pat"], station_id=site["Dock tablet"])
    reason = workflow.action_reason("QA check", "lid seals")
    with site.write() as s:
        held = workflow.change_status(s, site["loose"], "hold", reason, boss)
    assert held.message == f"Lot {site['loose']} is on hold — QA check — lid seals"
    assert held.data == {"lot": site["loose"], "words": "is on hold", "reason": "QA check — lid seals"}
    with site.write() as s:
        released = workflow.change_status(s, site["loose"], "release", "QA passed", boss)
    assert released.data["words"] == "is released and available again"
    with pytest.raises(DomainError):
        with site.write() as s:
            workflow.change_status(s, site["loose"], "release", "again", boss)  # not on hold: nothing to release
    with site.read() as s:
        assert catalog.lot_by_number(s, site["loose"]).status is LotStatus.AVAILABLE
