"""The trace workflow without Flask (no app, no client): workflows/trace.py and the one intake on a real
database (SQLite and PostgreSQL): a lot, pallet or GS1 label names the lot whose trace opens, in the
direction the station's trace page shows; anything else is refused in words; a scan of the station's
own scanner reaches the open trace once."""
from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pytest
from sqlalchemy import func, select

from factories import operator as make_operator
from station import clock
from station.models import FloorSession, ScanApplication
from station.scanning import ScanContext, resolve
from station.services.actor import Actor
from station.workflows import Scanned, intake
from station.workflows import state as held_state
from station.workflows import trace as workflow
from station.workflows.intake import ScanIn

_ids = iter(range(10**6))
SSCC = "376123450000000016"


@pytest.fixture
def site(site):
    site.lot("flour", "BOLT", 40, location="A-01", sscc=SSCC)
    for name, days in (("milk", 10), ("milk2", 12)):  # one supplier lot in two of ours (two expiry dates)
        site.lot(name, "MILK", 10, location="A-02", supplier="ACME", supplier_lot="ACM-1",
                 expiry=clock.today() + dt.timedelta(days=days))
    site.station("QA desk", scanner_url="sim://qa-scanner")
    with site.write() as s:
        site["sue"] = make_operator(s, badge="OP-SUE", name="Sue Super", role="supervisor").id
    return site


def step(site, code: str, state: dict | None = None):
    with site.read() as s:
        res = resolve(s, code, ScanContext(workflow=workflow.NAME))
        return workflow.step(s, state or {}, Scanned(scan_id=0, resolution=res, raw=code, actor=Actor()))


def take(site, code: str, to: str | None = workflow.NAME, **scan) -> intake.Taken:
    args = {"source": "wedge", "station_id": site["QA desk"], "operator_id": site["sue"],
            "client_id": f"wf-trace-{next(_ids):08d}", **scan}
    return intake.take(site.db, ScanIn(code=code, **args), to)


def test_the_workflow_module_imports_no_flask():
    code = ("import sys, station.workflows.trace; "
            "assert 'flask' not in sys.modules, sorted(m for m in sys.modules if m.startswith('flask'))")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_lot_or_pallet_opens_its_trace_in_the_pages_direction(site):
    lot = step(site, f"LOT:{site['flour']}")
    assert (lot.kind, lot.data) == ("ok", {"lot": site["flour"], "direction": "backward"})
    pallet = step(site, SSCC, {"direction": "forward"})
    assert pallet.data == {"lot": site["flour"], "direction": "forward"}
    assert step(site, SSCC, {"direction": "sideways"}).data["direction"] == "backward"
    assert workflow.opened({}, "forward") == {"direction": "forward"}


def test_what_names_no_one_lot_is_refused_in_words(site):
    place = step(site, "LOC:A-01")
    assert place.kind == "error" and place.message.startswith("That is not a lot — ") and place.data == {}
    unknown = step(site, "NOPE-123")
    assert unknown.kind == "error" and unknown.detail == "Scan a lot label, a pallet label or type the lot number."
    several = step(site, "]C1010400000000002010ACM-1")
    assert several.message == "That supplier lot is in several of our lots."
    assert site["milk"] in several.detail and site["milk2"] in several.detail


def test_a_page_scan_is_answered_from_its_resolution_and_keeps_no_answer(site):
    taken = take(site, f"LOT:{site['flour']}")
    assert taken.workflow == "trace" and taken.answer.data == {"lot": site["flour"], "direction": "backward"}
    with site.read() as s:
        assert s.scalar(select(func.count()).select_from(ScanApplication)) == 0


def test_a_scan_of_the_stations_own_scanner_opens_the_trace_the_open_page_shows(site, monkeypatch):
    steps = []
    real_step = workflow.step
    monkeypatch.setattr(workflow, "step", lambda *a: steps.append(a[2].scan_id) or real_step(*a))
    holder = held_state.holder(site["QA desk"], None)
    with site.write() as s:
        floor = FloorSession(secret_hash="f" * 64, operator_id=site["sue"], station_id=site["QA desk"],
                             started_at=clock.now(), last_seen_at=clock.now())
        s.add(floor)
        s.flush()
        held_state.open_at(s, site["QA desk"], workflow.NAME, floor_session_id=floor.id, operator_id=site["sue"])
        held_state.save(s, holder, workflow.NAME, workflow.opened({}, "forward"))
    at = clock.now()
    device = {"source": "sim://qa-scanner", "operator_id": None, "client_id": None}
    taken = take(site, SSCC, to=None, now=at, **device)
    bounce = take(site, SSCC, to=None, now=at + dt.timedelta(milliseconds=100), **device)
    assert taken.workflow == "trace" and taken.answer.data == {"lot": site["flour"], "direction": "forward"}
    assert bounce.outcome.ignored and bounce.answer is None
    assert steps == [taken.scan_id]
    with site.read() as s:
        assert intake.applied(s, taken.scan_id) == ("trace", taken.answer)
        assert held_state.load(s, holder, workflow.NAME) == {"direction": "forward"}
