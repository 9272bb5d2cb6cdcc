"""The recall workflow without Flask (no app, no client): workflows/recall.py and the one intake on a
real database (SQLite and PostgreSQL): a scanned lot opens its recall's preview, or that lot's form on
the recall's page the state names; the taps start, follow up and close a recall or refuse in words; a
scan of the station's own scanner reaches the open recall page once."""
from __future__ import annotations

import dataclasses
import datetime as dt
import subprocess
import sys
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from factories import gtin13
from station import clock
from station.models import FloorSession, Recall, ScanApplication, StationDevice
from station.scanning import ScanContext, resolve
from station.services.actor import Actor
from station.services.errors import DomainError
from station.workflows import Answer, Scanned, intake, notes
from station.workflows import recall as workflow
from station.workflows import state as held_state
from station.workflows.intake import ScanIn
from test_recalls import build_site

_ids = iter(range(10**6))


@pytest.fixture
def site(db):
    """test_recalls' genealogy (a: the source lot, shipped to BIG; b: unrelated) and the station
    "Office" with a sim:// scanner."""
    lots = build_site(db)
    with db.write() as s:
        office = StationDevice(name="Office", scanner_url="sim://office-scanner")
        s.add(office)
        s.flush()
        return SimpleNamespace(**dataclasses.asdict(lots), db=db, office=office.id, boss=lots.supervisor_id)


def boss(site) -> Actor:
    return Actor(operator_id=site.boss, station_id=site.office)


def step(site, code: str, state: dict | None = None) -> Answer:
    with site.db.read() as s:
        res = resolve(s, code, ScanContext(workflow=workflow.NAME))
        return workflow.step(s, state or {}, Scanned(scan_id=0, resolution=res, raw=code, actor=Actor()))


def start(site, lot: str, reason: str = "Customer complaint") -> Answer:
    with site.db.write() as s:
        return workflow.start(s, {"lot": lot}, reason, boss(site))


def take(site, code: str, to: str | None = workflow.NAME, **scan) -> intake.Taken:
    args = {"source": "wedge", "station_id": site.office, "operator_id": site.boss,
            "client_id": f"wf-recall-{next(_ids):08d}", **scan}
    return intake.take(site.db, ScanIn(code=code, **args), to)


def test_the_workflow_module_imports_no_flask():
    code = ("import sys, station.workflows.recall; "
            "assert 'flask' not in sys.modules, sorted(m for m in sys.modules if m.startswith('flask'))")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_scanned_lot_opens_its_preview_and_what_is_no_lot_is_refused(site):
    lot = step(site, site.p)
    assert (lot.kind, lot.data) == ("ok", {"preview": site.p})
    item = step(site, gtin13("400000000001"))
    assert item.kind == "error" and "barcode of the item BOLT, not of one lot" in item.message
    assert item.data == {"status": 422}
    nothing = step(site, "ZZZ-NOTHING")
    assert nothing.kind == "error" and nothing.detail == workflow.SCAN_LOT


def test_on_a_recalls_page_a_lot_of_it_opens_its_form(site):
    number = start(site, site.a).data["recall"]
    on_page = workflow.showing(number)
    assert on_page == {"recall": number}
    ours = step(site, site.q, on_page)
    assert (ours.kind, ours.data) == ("ok", {"recall": number, "lot": site.q})
    other = step(site, site.b, on_page)
    assert other.message == f"Lot {site.b} is not part of recall {number}." and other.data == {"status": 422}
    gone = step(site, site.q, {"recall": "R-1999-0001"})
    assert gone.kind == "error" and gone.data == {"status": 404}
    # A scan drops a tap's answer that was waiting to be shown.
    waiting = notes.noted(on_page, Answer("ok", "Recall started"))
    assert step(site, site.q, waiting).state == on_page


def test_the_taps_start_follow_up_and_close_or_refuse_in_words(site):
    started = start(site, site.a)
    number = started.data["recall"]
    assert started.kind == "ok" and started.message == f"Recall {number} started: 5 lots stopped"
    twice = start(site, site.a)  # the same confirm sent twice: the open recall holds the lot already
    assert twice.kind == "info" and twice.data == {"recall": number} and twice.detail == "Nothing more was stopped."
    with pytest.raises(DomainError):
        start(site, site.b, "CMD:CONFIRM")  # the confirm barcode scanned into the reason is no reason
    with site.db.write() as s:
        assert workflow.retrieved(s, number, site.a, "40", "put aside", boss(site)).message == \
            f"Lot {site.a}: 40 more retrieved"
    for qty, words in (("", "Type how many"), ("abc", "must be a number"), ("23", "at most 62")):
        with pytest.raises(DomainError) as refused, site.db.write() as s:
            workflow.retrieved(s, number, site.a, qty, "", boss(site))
        assert words in refused.value.message
    with pytest.raises(DomainError), site.db.write() as s:
        workflow.close(s, number, "done", False, boss(site))  # customers not told yet
    with site.db.write() as s:
        assert workflow.notified(s, number, "SHOP", "Phoned", boss(site)).data == {"recall": number}
        closed = workflow.close(s, number, "Big Co told by letter", True, boss(site))
    assert closed.message == f"Recall {number} closed"
    with site.db.read() as s:
        assert s.scalar(select(Recall.status).where(Recall.number == number)).value == "closed"


def test_a_page_scan_is_stepped_in_the_write_and_its_answer_kept(site):
    number = start(site, site.a).data["recall"]
    holder = held_state.holder(site.office, None)
    with site.db.write() as s:
        held_state.save(s, holder, workflow.NAME, workflow.showing(number))
    taken = take(site, site.q, client_id="wf-recall-page-0001")
    assert taken.workflow == "recall" and taken.answer.data == {"recall": number, "lot": site.q}
    again = take(site, site.q, client_id="wf-recall-page-0001")
    assert again.outcome.retried and again.answer == taken.answer  # a retry gets the same answer


def test_a_scan_of_the_stations_own_scanner_reaches_the_open_recall_page_once(site, monkeypatch):
    number = start(site, site.a).data["recall"]
    steps = []
    real_step = workflow.step
    monkeypatch.setattr(workflow, "step", lambda *a: steps.append(a[2].scan_id) or real_step(*a))
    with site.db.write() as s:
        floor = FloorSession(secret_hash="a" * 64, operator_id=site.boss, station_id=site.office,
                             started_at=clock.now(), last_seen_at=clock.now())
        s.add(floor)
        s.flush()
        held_state.open_at(s, site.office, workflow.NAME, floor_session_id=floor.id, operator_id=site.boss)
        held_state.save(s, held_state.holder(site.office, None), workflow.NAME, workflow.showing(number))
    at = clock.now()
    device = {"source": "sim://office-scanner", "operator_id": None, "client_id": None}
    taken = take(site, site.q, to=None, now=at, **device)
    bounce = take(site, site.q, to=None, now=at + dt.timedelta(milliseconds=100), **device)
    assert taken.workflow == "recall" and taken.answer.data == {"recall": number, "lot": site.q}
    assert bounce.outcome.ignored and bounce.answer is None
    assert steps == [taken.scan_id]
    with site.db.read() as s:
        assert intake.applied(s, taken.scan_id) == ("recall", taken.answer)
        assert s.scalar(select(func.count()).select_from(ScanApplication)) == 1
