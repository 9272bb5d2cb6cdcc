"""The audit trail: each filter exact, keyset pages complete and non-overlapping, the CSV export
streamed with every row and formula cells neutralised, unknown names refused — pages and API, on
SQLite and PostgreSQL."""
from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from factories import TODAY, basic_site, operator, order
from station import clock
from station.models import Movement, Operator, Role, StationDevice
from station.services import audit, catalog, holds, picking, receiving, stock
from station.spreadsheet import safe_cell
from station.services.actor import Actor
from station.services.tokens import create_token

ZONE = "America/New_York"  # UTC-4 in June: a late-evening movement is on the next UTC day
D = dt.timedelta


def local(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    from zoneinfo import ZoneInfo

    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=ZoneInfo(ZONE))


@dataclass(frozen=True)
class Rec:
    id: int
    lot: str
    sku: str
    places: tuple[str | None, str | None]
    operator: str | None  # badge
    station: str | None
    day: dt.date  # site-local


@pytest.fixture
def ledger(db, monkeypatch):
    """Movements by two operators at two stations over three site days (one at 23:30 local, which is
    the next day in UTC); returns their records, independent of the SQL under test."""
    monkeypatch.setenv("STATION_TIMEZONE", ZONE)
    basic_site(db)
    recs: list[Rec] = []
    with db.write() as s:
        ann, bob = operator(s, "B-ANN", "Ann", "receiver"), operator(s, "B-BOB", "Bob", "picker")
        s1, s2 = StationDevice(name="Dock tablet"), StationDevice(name="Aisle handheld")
        s.add_all([s1, s2])
        s.flush()
        loc = {code: catalog.location_by_code(s, code) for code in ("DOCK", "A-01", "A-02")}
        day1, day2, day3 = TODAY - D(days=2), TODAY - D(days=1), TODAY

        def add(m: Movement, lot, sku, who, where, day):
            s.flush()
            codes = {v.id: k for k, v in loc.items()}
            recs.append(Rec(m.id, lot.lot_number, sku, (codes.get(m.from_location_id), codes.get(m.to_location_id)),
                            who.badge if who else None, where.name if where else None, day))

        def by(who, where):
            return Actor(operator_id=who.id if who else None, station_id=where.id if where else None)

        with clock.at(local(day1, 9)):
            milk = receiving.receive(s, item=catalog.item_by_sku(s, "MILK"), qty=10, location=loc["A-01"],
                                     expiry=TODAY + D(days=20), on=day1, by=by(ann, s1))
            add(s.scalar(select(Movement).where(Movement.lot_id == milk.id)), milk, "MILK", ann, s1, day1)
        with clock.at(local(day2, 8)):
            add(stock.move(s, milk, 4, loc["A-01"], loc["A-02"], by=by(bob, s2)), milk, "MILK", bob, s2, day2)
        with clock.at(local(day2, 23, 30)):  # 03:30 UTC on day3
            bolt = receiving.receive(s, item=catalog.item_by_sku(s, "BOLT"), qty=20, location=loc["DOCK"],
                                     on=day2, by=by(ann, s2))
            add(s.scalar(select(Movement).where(Movement.lot_id == bolt.id)), bolt, "BOLT", ann, s2, day2)
        with clock.at(local(day3, 7)):
            add(stock.adjust(s, bolt, loc["DOCK"], -1, "damaged in handling"), bolt, "BOLT", None, None, day3)
        with clock.at(local(day3, 10)):
            add(stock.move(s, bolt, 5, loc["DOCK"], loc["A-01"], by=by(bob, s1)), bolt, "BOLT", bob, s1, day3)
        # Eighteen more small moves on day 3, back and forth, so pages have something to walk.
        for n in range(18):
            src, dst = (loc["A-01"], loc["A-02"]) if n % 2 == 0 else (loc["A-02"], loc["A-01"])
            with clock.at(local(day3, 11, n)):
                add(stock.move(s, bolt, 1, src, dst, by=by(bob, s1)), bolt, "BOLT", bob, s1, day3)
    return recs


def _ids(recs, keep) -> list[int]:
    return sorted((r.id for r in recs if keep(r)), reverse=True)


def _all(db, filters: audit.Filters, limit=1000) -> list[int]:
    with db.read() as s:
        page = audit.ledger_page(s, audit.resolve(s, filters), limit=limit)
    assert page.next_cursor is None
    return [r.id for r in page.rows]


def test_each_filter_is_exact(db, ledger):
    milk = ledger[0].lot
    day1, day2, day3 = TODAY - D(days=2), TODAY - D(days=1), TODAY
    cases = [
        (audit.Filters(), lambda r: True),
        (audit.Filters(lot=milk), lambda r: r.lot == milk),
        (audit.Filters(item="BOLT"), lambda r: r.sku == "BOLT"),
        (audit.Filters(location="A-02"), lambda r: "A-02" in r.places),
        (audit.Filters(location="DOCK"), lambda r: "DOCK" in r.places),
        (audit.Filters(operator="B-ANN"), lambda r: r.operator == "B-ANN"),
        (audit.Filters(station="Aisle handheld"), lambda r: r.station == "Aisle handheld"),
        (audit.Filters(date_from=day2, date_to=day2), lambda r: r.day == day2),
        (audit.Filters(date_from=day3), lambda r: r.day == day3),
        (audit.Filters(date_to=day1), lambda r: r.day == day1),
        (audit.Filters(item="BOLT", operator="B-BOB", location="DOCK"),
         lambda r: r.sku == "BOLT" and r.operator == "B-BOB" and "DOCK" in r.places),
    ]
    for filters, keep in cases:
        expected = _ids(ledger, keep)
        assert expected, filters  # every case selects something
        assert _all(db, filters) == expected, filters
    # The 23:30 receipt is on day 2 at the site although it is day 3 in UTC.
    late = next(r for r in ledger if r.sku == "BOLT" and r.places == (None, "DOCK"))
    assert late.id in _all(db, audit.Filters(date_from=day2, date_to=day2))
    assert late.id not in _all(db, audit.Filters(date_from=day3, date_to=day3))


def test_names_that_match_nothing_are_refused_in_words(db, ledger):
    with db.read() as s:
        for filters, field, words in [
            (audit.Filters(lot="NOPE-1"), "lot", "There is no lot 'NOPE-1'"),
            (audit.Filters(item="NOPE"), "item", "There is no item with SKU 'NOPE'"),
            (audit.Filters(location="Z-99"), "location", "There is no location 'Z-99'"),
            (audit.Filters(operator="B-NOBODY"), "operator", "There is no operator with badge 'B-NOBODY'"),
            (audit.Filters(station="Moon"), "station", "There is no station 'Moon'"),
            (audit.Filters(date_from=TODAY, date_to=TODAY - D(days=1)), "from", "is after the 'to' date"),
        ]:
            with pytest.raises(audit.Invalid) as caught:
                audit.resolve(s, filters)
            assert caught.value.details["field"] == field and words in caught.value.message


def test_pages_are_complete_and_never_overlap(db, ledger):
    with db.read() as s:
        resolved = audit.resolve(s, audit.Filters(item="BOLT"))
        seen, before, pages = [], None, 0
        while True:
            page = audit.ledger_page(s, resolved, before=before, limit=5)
            pages += 1
            seen += [r.id for r in page.rows]
            if page.next_cursor is None:
                break
            before = page.next_cursor
    expected = _ids(ledger, lambda r: r.sku == "BOLT")
    assert seen == expected and len(set(seen)) == len(seen)
    assert pages == -(-len(expected) // 5)


@pytest.mark.parametrize("filters, keep", [
    (audit.Filters(location="A-01"), lambda r: "A-01" in r.places),
    (audit.Filters(location="A-02", operator="B-BOB"), lambda r: "A-02" in r.places and r.operator == "B-BOB"),
])
def test_location_pages_walk_both_directions_completely(db, ledger, filters, keep):
    with db.read() as s:
        resolved = audit.resolve(s, filters)
        seen, before = [], None
        while True:
            page = audit.ledger_page(s, resolved, before=before, limit=4)
            seen += [r.id for r in page.rows]
            if page.next_cursor is None:
                break
            before = page.next_cursor
    assert seen == _ids(ledger, keep) and len(seen) > 8


def test_events_tab_merges_lot_events_and_override_picks_page_by_page(db, ledger):
    with db.write() as s:
        bob = s.scalar(select(Operator).where(Operator.badge == "B-BOB"))
        by = Actor(operator_id=bob.id)
        a01 = catalog.location_by_code(s, "A-01")
        older = receiving.receive(s, item=catalog.item_by_sku(s, "MILK"), qty=5, location=a01,
                                  expiry=TODAY + D(days=3), on=TODAY)
        younger = receiving.receive(s, item=catalog.item_by_sku(s, "MILK"), qty=5, location=a01,
                                    expiry=TODAY + D(days=90), on=TODAY)
        o = order(s, "SO-1", [("MILK", 2)])
        picking.pick_line(s, line=o.lines[0], lot=younger, qty=1, override_reason="Suggested lot damaged", by=by,
                          on=TODAY)
        picking.pick_line(s, line=o.lines[0], lot=younger, qty=1, override_reason="Customer asked", by=by,
                          on=TODAY)
        for n in range(3):
            holds.hold(s, older, f"QA check {n}", by=by)
            holds.release(s, older, f"QA passed {n}", by=by)
    with db.read() as s:
        resolved = audit.resolve(s, audit.Filters())
        seen, cursor = [], None
        while True:
            page = audit.events_page(s, resolved, cursor=cursor, limit=3)
            seen += [(e.source, e.id, e.action, e.reason) for e in page.rows]
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
    overrides = [x for x in seen if x[0] == "override"]
    events = [x for x in seen if x[0] == "event"]
    assert sorted(x[3] for x in overrides) == ["Customer asked", "Suggested lot damaged"]
    assert [x[2] for x in events] == ["release", "hold"] * 3  # newest first
    assert len(set(seen)) == len(seen) == 8
    with db.read() as s:  # a location filter keeps the override picks only
        page = audit.events_page(s, audit.resolve(s, audit.Filters(location="A-01")), limit=50)
    assert sorted(e.reason for e in page.rows) == ["Customer asked", "Suggested lot damaged"]
    with pytest.raises(audit.Invalid):
        audit.parse_event_cursor("garbage")


# --- the page and the export ---------------------------------------------------------------------


def test_the_page_lists_newest_first_with_older_pages(client, signed_in, ledger, monkeypatch):
    monkeypatch.setattr(audit, "PAGE", 8)
    signed_in(client, "supervisor")
    expected = _ids(ledger, lambda r: r.sku == "BOLT")  # 21 rows: pages of 8, 8 and 5
    seen, url, pages = [], "/audit?item=BOLT", 0
    while url:
        html = client.get(url).get_data(as_text=True)
        pages += 1
        seen += [int(x.split('"')[0]) for x in html.split('class="audit-row" data-id="')[1:]]
        nxt = html.split('data-command="next" href="')
        url = nxt[1].split('"')[0].replace("&amp;", "&") if len(nxt) > 1 else None
    assert seen == expected and pages == 3
    dock = client.get("/audit?location=DOCK&operator=&from=").get_data(as_text=True)  # empty fields: no filter
    assert dock.count('class="audit-row"') == 3 and "damaged in handling" in dock and "Newest" not in dock


def test_the_page_refuses_unknown_names_and_is_for_supervisors(client, signed_in, ledger):
    signed_in(client, "picker")
    assert client.get("/audit").status_code == 403
    assert client.get("/audit.csv").status_code == 403
    signed_in(client, "supervisor")
    answer = client.get("/audit?lot=NOPE-1")
    assert answer.status_code == 400 and "There is no lot &#39;NOPE-1&#39;" in answer.get_data(as_text=True)
    assert 'class="audit-row"' not in answer.get_data(as_text=True)
    export = client.get("/audit.csv?operator=B-NOBODY")
    assert export.status_code == 400 and export.mimetype == "text/html"
    assert "Nothing exported" in export.get_data(as_text=True)
    assert client.get("/audit?from=yesterday").status_code == 400
    assert client.get("/audit?before=abc").status_code == 400


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_the_csv_export_streams_every_row_with_a_header(client, signed_in, ledger):
    signed_in(client, "supervisor")
    answer = client.get("/audit.csv", buffered=False)
    assert answer.status_code == 200 and answer.is_streamed and answer.mimetype == "text/csv"
    assert "attachment" in answer.headers["Content-Disposition"]
    rows = _rows(b"".join(answer.response).decode())
    answer.close()
    assert rows[0] == audit.CSV_HEADER
    assert [int(r[0]) for r in rows[1:]] == _ids(ledger, lambda r: True)
    milk = ledger[0].lot
    filtered = _rows(client.get(f"/audit.csv?lot={milk}&to={TODAY}").get_data(as_text=True))
    assert [int(r[0]) for r in filtered[1:]] == _ids(ledger, lambda r: r.lot == milk)
    first = dict(zip(audit.CSV_HEADER, filtered[-1]))
    assert (first["kind"], first["sku"], first["to"], first["badge"], first["station"]) == \
        ("receive", "MILK", "A-01", "B-ANN", "Dock tablet")
    assert first["time (site)"].endswith("-04:00") and first["time (site)"].startswith(str(TODAY - D(days=2)))


def test_the_csv_export_neutralises_formula_cells(db, client, signed_in, ledger):
    nasty = ["=HYPERLINK(\"http://x\")", "+1+2", "-3", "@SUM(A1)", "plain, with \"quotes\""]
    with db.write() as s:
        lot = catalog.lot_by_number(s, ledger[0].lot)
        for reason in nasty:
            stock.adjust(s, lot, catalog.location_by_code(s, "A-01"), 1, reason)
    signed_in(client, "supervisor")
    rows = _rows(client.get(f"/audit.csv?lot={ledger[0].lot}").get_data(as_text=True))
    reasons = [dict(zip(audit.CSV_HEADER, r))["reason"] for r in rows[1:len(nasty) + 1]]
    assert reasons == ["'" + x if x[0] in "=+-@" else x for x in reversed(nasty)]
    assert safe_cell(-3) == -3 and safe_cell("") == "" and safe_cell("\tx") == "'\tx"


# --- the API -------------------------------------------------------------------------------------------


@pytest.fixture
def auth(db):
    with db.write() as s:
        return {"Authorization": f"Bearer {create_token(s, 'audit', Role.SUPERVISOR)}"}


def test_api_movements_pages_by_cursor(client, ledger, auth):
    seen, cursor = [], None
    while True:
        body = client.get("/api/v1/movements?item=BOLT&limit=4" + (f"&cursor={cursor}" if cursor else ""),
                          headers=auth).get_json()
        seen += [m["id"] for m in body["data"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == _ids(ledger, lambda r: r.sku == "BOLT")
    one = client.get(f"/api/v1/movements?operator=B-ANN&from={TODAY - D(days=2)}&to={TODAY - D(days=2)}",
                     headers=auth).get_json()["data"]
    assert [(m["kind"], m["sku"], m["to_location"], m["operator"], m["station"]) for m in one] == \
        [("receive", "MILK", "A-01", "Ann", "Dock tablet")]


def test_api_refuses_unknown_names_and_bad_values(client, ledger, auth):
    answer = client.get("/api/v1/movements?location=Z-99", headers=auth)
    assert answer.status_code == 422
    error = answer.get_json()["error"]
    assert error["code"] == "unknown_location" and error["field"] == "location" and "Z-99" in error["message"]
    assert client.get("/api/v1/movements.csv?station=Moon", headers=auth).status_code == 422
    assert client.get("/api/v1/movements?from=June", headers=auth).status_code == 422
    assert client.get("/api/v1/movements?colour=red", headers=auth).status_code == 422
    assert client.get("/api/v1/movements").status_code == 401


def test_api_csv_matches_the_filters(client, ledger, auth):
    answer = client.get("/api/v1/movements.csv?station=Aisle%20handheld", headers=auth)
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    rows = _rows(answer.get_data(as_text=True))
    assert rows[0] == audit.CSV_HEADER
    assert [int(r[0]) for r in rows[1:]] == _ids(ledger, lambda r: r.station == "Aisle handheld")


def test_text_from_the_floor_is_escaped_on_the_pages(db, client, signed_in, ledger):
    with db.write() as s:
        lot = catalog.lot_by_number(s, ledger[0].lot)
        stock.adjust(s, lot, catalog.location_by_code(s, "A-01"), 1, '<script>alert("x")</script>',
                     by=Actor(raw_scan="<img src=x onerror=alert(1)>"))
    signed_in(client, "supervisor")
    html = client.get(f"/audit?lot={ledger[0].lot}").get_data(as_text=True)
    assert "<script>alert" not in html and "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    refused = client.get("/audit?lot=%3Cb%3Ebold%3C/b%3E").get_data(as_text=True)
    assert "<b>bold</b>" not in refused and "&lt;b&gt;bold&lt;/b&gt;" in refused
