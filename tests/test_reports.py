"""The pick-override report: picks, overrides and rate per operator, overrides per reason, the
override rows, refused scans by operator and kind, the CSV — exact counts on constructed data, on
SQLite and PostgreSQL."""
from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from sqlalchemy import func, select

from factories import TODAY, basic_site, gtin13, operator, order
from station import clock
from station.models import Scan
from station.services import catalog, receiving, reports, scans
from station.services.actor import Actor

D = dt.timedelta
UTC = dt.timezone.utc


def noon(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(12), tzinfo=UTC)


@pytest.fixture
def picks(db):
    """MILK (FEFO): an older lot (expires first) and a younger one. In range (TODAY-1 .. TODAY):
    Ann 3 picks as suggested + 1 override ("Suggested lot damaged"); Bob 1 as suggested + 2 overrides
    ("Suggested lot damaged", "Customer asked"); nobody signed in (API) 1 override ("Customer asked").
    Out of range (TODAY-10): Bob 1 override. Refused scans: Ann 2 unknown codes + 1 unknown GTIN,
    Bob 1 unknown code, one bounce (not a refusal) and one good scan."""
    basic_site(db)
    with db.write() as s:
        ann, bob = operator(s, "B-ANN", "Ann", "picker"), operator(s, "B-BOB", "Bob", "picker")
        ids = {"ann": ann.id, "bob": bob.id}
        a01 = catalog.location_by_code(s, "A-01")
        milk = catalog.item_by_sku(s, "MILK")
        older = receiving.receive(s, item=milk, qty=100, location=a01, expiry=TODAY + D(days=5), on=TODAY - D(days=20))
        younger = receiving.receive(s, item=milk, qty=100, location=a01, expiry=TODAY + D(days=50),
                                    on=TODAY - D(days=20))
        o = order(s, "SO-9", [("MILK", 100)])
        line = o.lines[0]
        from station.services import picking

        def pick(who, lot, day, reason=None):
            with clock.at(noon(day)):
                picking.pick_line(s, line=line, lot=lot, qty=1, override_reason=reason,
                                  by=Actor(operator_id=ids[who]) if who else Actor(), on=day)

        pick("bob", younger, TODAY - D(days=10), "Old reason")  # out of range
        for _ in range(3):
            pick("ann", older, TODAY)
        pick("ann", younger, TODAY - D(days=1), "Suggested lot damaged")
        pick("bob", older, TODAY)
        pick("bob", younger, TODAY, "Suggested lot damaged")
        pick("bob", younger, TODAY, "Customer asked")
        pick(None, younger, TODAY, "Customer asked")
    for who, code, seconds in [("ann", "???", 0), ("ann", "!!!", 10), ("ann", "4006381333931", 20),
                               ("bob", "???", 30), ("bob", "???", 30.1), ("bob", gtin13("400000000002"), 40)]:
        scans.ingest(db, code, source="manual", operator_id=ids[who], now=noon(TODAY) + D(seconds=seconds))
    scans.ingest(db, "???", source="manual", operator_id=ids["ann"], now=noon(TODAY - D(days=10)))  # out of range
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Scan).where(Scan.ok.is_(True))) == 1
        assert s.scalar(select(func.count()).select_from(Scan).where(Scan.ignored.is_(True))) == 1
    return ids


def test_report_counts_are_exact(db, picks):
    with db.read() as s:
        report = reports.override_report(s, TODAY - D(days=1), TODAY)
    lines = {(o.name, o.badge): (o.picks, o.overrides, round(o.rate, 4)) for o in report.operators}
    assert lines == {("Ann", "B-ANN"): (4, 1, 0.25), ("Bob", "B-BOB"): (3, 2, 0.6667),
                     (reports.NOBODY_NAME, None): (1, 1, 1.0)}
    assert [o.name for o in report.operators] == ["Bob", reports.NOBODY_NAME, "Ann"]  # most overrides first
    assert report.reasons == [("Customer asked", 2), ("Suggested lot damaged", 2)]
    assert (report.total_picks, report.total_overrides, report.rate_words) == (8, 4, "50%")
    assert len(report.rows) == 4 and all(r.followed_suggestion is False for r in report.rows)
    assert [r.order_number for r in report.rows] == ["SO-9"] * 4
    assert [r.id for r in report.rows] == sorted((r.id for r in report.rows), reverse=True)
    refused = {(r.name, r.error): r.count for r in report.refused}
    assert refused == {("Ann", "not_recognised"): 2, ("Ann", "unknown_gtin"): 1, ("Bob", "not_recognised"): 1}
    assert report.refused_total == 4


def test_the_range_selects_by_site_date(db, picks):
    with db.read() as s:
        wide = reports.override_report(s, TODAY - D(days=30), TODAY)
        old = reports.override_report(s, TODAY - D(days=10), TODAY - D(days=10))
    assert wide.total_overrides == 5 and ("Old reason", 1) in wide.reasons
    assert (old.total_picks, old.total_overrides, old.refused_total) == (1, 1, 1)
    with pytest.raises(reports.Invalid):
        reports.date_range(TODAY, TODAY - D(days=1))
    assert reports.date_range(None, None, today=TODAY) == (TODAY - D(days=29), TODAY)


def test_the_page_and_its_csv(client, signed_in, picks):
    signed_in(client, "supervisor")
    html = client.get(f"/reports/overrides?from={TODAY - D(days=1)}&to={TODAY}").get_data(as_text=True)
    assert 'data-operator="B-BOB"' in html and "67%" in html and "Suggested lot damaged" in html
    assert "not_recognised" in html
    answer = client.get(f"/reports/overrides.csv?from={TODAY - D(days=1)}&to={TODAY}", buffered=False)
    assert answer.is_streamed and answer.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(b"".join(answer.response).decode())))
    answer.close()
    assert rows[0] == reports.OVERRIDE_CSV_HEADER and len(rows) == 5
    records = [dict(zip(rows[0], r)) for r in rows[1:]]
    assert sorted(r["reason"] for r in records) == ["Customer asked", "Customer asked", "Suggested lot damaged",
                                                  "Suggested lot damaged"]
    assert sorted(r["operator"] for r in records) == sorted(["Ann", "Bob", "Bob", reports.NOBODY_NAME])


def test_the_page_refuses_bad_dates_and_is_for_supervisors(client, signed_in, picks):
    signed_in(client, "picker")
    assert client.get("/reports/overrides").status_code == 403
    signed_in(client, "supervisor")
    bad = client.get("/reports/overrides?from=2026-13-01")
    assert bad.status_code == 400 and "must be a date like" in bad.get_data(as_text=True)
    swapped = client.get(f"/reports/overrides.csv?from={TODAY}&to={TODAY - D(days=3)}")
    assert swapped.status_code == 400 and "Nothing exported" in swapped.get_data(as_text=True)
    assert client.get("/reports/overrides").status_code == 200  # the last 30 days by default
