"""Numbers out of range are refused in words, never a 500 — on SQLite and PostgreSQL (issue 13, point 5).

PostgreSQL refuses a bind parameter beyond its INTEGER id columns (SQLite beyond 64 bits raises
OverflowError), so a path id, a cursor or a form id of ten to thirty digits used to reach the database
and answer 500. Every rule of the URL map with an int converter is asked for with 2**31, 2**63, 2**64
and 10**30 (pages signed in as an
admin, the API with an admin token), every cursor / after= / before= parameter likewise, and set-up's
form ids: each answers 4xx with a sentence, and nothing in the database changes."""
from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import func, select

from factories import TODAY
from station.ids import MAX_ID, IdConverter
from station.models import Base, Role, StationDevice
from station.services.tokens import create_token
from actions import text_of as words

BIG = (2**31, 2**63, 2**64, 10**30, int("9" * 60))  # ids are INTEGER: 32 bits on PostgreSQL
HX = {"HX-Request": "true"}


@pytest.fixture
def site(app, site):
    """The small site with a lot, a printer and a station; a 500 shows as a 500 (not as a raised exception)."""
    app.config["PROPAGATE_EXCEPTIONS"] = False
    site.lot("lot", "BOLT", 5, on=TODAY)
    site.printer("zebra")
    site.station("Dock 1")
    with site.write() as s:
        site["api"] = {"Authorization": f"Bearer {create_token(s, 'range admin', Role.ADMIN)}"}
    return site


def _counts(app) -> dict[str, int]:
    with app.extensions["station.db"].read() as s:
        return {t.name: s.execute(select(func.count()).select_from(t)).scalar_one()
                for t in Base.metadata.sorted_tables}


def _int_rules(app):
    for rule in app.url_map.iter_rules():
        if any(isinstance(conv, IdConverter) for conv in rule._converters.values()):
            yield rule
        else:
            assert "<int:" not in rule.rule, f"{rule.rule}: an int converter that is not an id converter"


def _fill(rule: str, number: int) -> str:
    def value(match: re.Match) -> str:
        converter, args = match.group(1) or "", match.group(2) or ""
        if converter == "int":
            return str(number)
        if converter == "any":
            return args.split(",")[0].strip().strip("'\"")
        return "NOPE-1"
    return re.sub(r"<(?:(\w+)(?:\(([^)]*)\))?:)?\w+>", value, rule)


def _assert_refused_in_words(answer, where: str, statuses=(400, 404, 422)) -> str:
    assert answer.status_code in statuses, f"{where}: {answer.status_code} {answer.text[:300]}"
    if answer.mimetype == "application/json":
        error = answer.get_json()["error"]
        message = error["message"] if isinstance(error, dict) else answer.get_json()["message"]
    else:
        message = words(answer.text)
    assert re.search(r"[A-Za-z]{3,} [a-z]{2,}", message), f"{where}: no sentence in {message!r}"
    return message


def test_every_int_rule_refuses_ids_out_of_range(app, client, site, signed_in):
    signed_in(client, "admin")
    rules = list(_int_rules(app))
    assert len(rules) >= 19  # print jobs, runs, picks, printers, line runs, settings, order lines
    before = _counts(app)
    asked = 0
    for rule in rules:
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            for number in BIG:
                path = _fill(rule.rule, number)
                api = path.startswith("/api/")
                kwargs = {"headers": site["api"]} if api else {}
                if method in ("POST", "PATCH", "PUT"):
                    kwargs["json" if api else "data"] = {"qty": 1, "reason": "range check"} if api else {"qty": "1"}
                answer = client.open(path, method=method, **kwargs)
                where = f"{method} {path}"
                message = _assert_refused_in_words(answer, where, statuses=(404,))
                assert "no " in message.lower(), where
                if api:
                    assert answer.get_json()["error"]["code"] == "not_found", where
                asked += 1
    assert asked >= 19 * len(BIG)
    assert _counts(app) == before


def test_an_id_in_range_still_routes(app, client, site, signed_in):
    """The largest id a row can have reaches the view (its own "no such" answer), and 0 is no id."""
    signed_in(client, "admin")
    answer = client.get(f"/api/v1/print-jobs/{MAX_ID}", headers=site["api"])
    assert answer.status_code == 404
    assert str(MAX_ID) in answer.get_json()["error"]["message"]
    page = client.get(f"/printers/jobs/{2**64}", headers=HX)
    assert page.status_code == 404
    assert "There is no print job 18446744073709551616" in words(page.text)
    api = client.get(f"/api/v1/production-runs/{10**30}", headers=site["api"])
    assert "There is no production run 1000000000000000000000000000000" in api.get_json()["error"]["message"]


QUERY_CURSORS = (
    # (path with {n}, signed in as, statuses)
    ("/api/v1/movements?cursor={n}", None, (422,)),
    ("/api/v1/movements.csv?cursor={n}", None, (200, 422)),  # the export takes no cursor: ignored or refused
    ("/audit?before={n}", "supervisor", (400,)),
    ("/audit?tab=events&cursor=e{n}.m1", "supervisor", (400,)),
    ("/audit?tab=events&cursor=e1.m{n}", "supervisor", (400,)),
    ("/scan/feed?station=Dock+1&after={n}", "picker", (400,)),
    ("/scan/station-feed?station=Dock+1&after={n}", "picker", (400,)),
    ("/scans?limit={n}", "supervisor", (200,)),
)


@pytest.mark.parametrize("template,role,statuses", QUERY_CURSORS)
def test_cursors_out_of_range_are_refused_in_words(app, client, site, signed_in, template, role, statuses):
    if role:
        signed_in(client, role)
    for number in BIG:
        path = template.format(n=number)
        answer = client.get(path, headers=site["api"] if path.startswith("/api/") else {})
        assert answer.status_code < 500, f"{path}: {answer.status_code}"
        if answer.status_code != 200:
            _assert_refused_in_words(answer, path, statuses)


def test_feed_cursors_still_work_in_range(app, client, site, signed_in, bound_station):
    signed_in(client, "picker")
    bound_station(client, "Dock 1")
    assert client.get(f"/scan/station-feed?station=Dock+1&after={MAX_ID}").status_code == 204
    assert client.get("/scan/station-feed?station=Dock+1&after=0").status_code in (200, 204)
    assert client.get("/scan/feed?station=Dock+1&after=-1").status_code == 400


def test_api_movements_cursor_names_the_field(client, site):
    answer = client.get(f"/api/v1/movements?cursor={2**64}", headers=site["api"])
    assert answer.status_code == 422
    error = answer.get_json()["error"]
    assert error["fields"][0]["field"] == "cursor"
    assert f"less than or equal to {MAX_ID}" in error["message"]


@pytest.mark.parametrize("path", ["/setup/new", "/setup/edit", "/setup/bind"])
@pytest.mark.parametrize("field", ["station_id", "location_id", "printer_id"])
def test_setup_form_ids_out_of_range_change_nothing(app, client, site, signed_in, path, field):
    signed_in(client, "admin")
    with app.extensions["station.db"].read() as s:
        station_id = s.scalar(select(StationDevice.id).where(StationDevice.name == "Dock 1"))
    before = _counts(app)
    for number in BIG:
        form = {"name": f"Tablet {number % 97}", "station_id": str(station_id), "location_id": "", "printer_id": ""}
        form[field] = str(number)
        if path == "/setup/new" and field == "station_id":
            continue  # a new station has no id of its own
        if path == "/setup/bind" and field != "station_id":
            continue  # binding reads only the station
        answer = client.post(path, data=form)
        message = _assert_refused_in_words(answer, f"{path} {field}={number}", statuses=(400, 404))
        assert "gone" in message, message
    assert _counts(app) == before


def test_line_forms_with_huge_ids_answer_in_words(app, client, site, signed_in):
    signed_in(client, "line_operator")
    for number in BIG:
        for path, form in (("/line/undo", {"run": str(number), "component": str(number)}),
                           ("/line/finish", {"run": str(number), "qty": "1"})):
            answer = client.post(path, data=form, headers=HX)
            assert answer.status_code < 500, f"{path}: {answer.status_code}"


def test_api_bodies_with_huge_numbers_are_refused_in_words(client, site):
    """Every int in a request body is bounded (by its model, or by the service for copies): a 30-digit
    line, quantity or number of copies is a 400/422 in words."""
    for path, body in (("/api/v1/picks", {"order": "SO-1", "line": 10**30, "lot": "X", "qty": 1}),
                       ("/api/v1/picks", {"order": "SO-1", "line": 1, "lot": "X", "qty": 2**64}),
                       ("/api/v1/receipts", {"sku": "BOLT", "qty": 10**30}),
                       (f"/api/v1/lots/{site['lot']}/labels", {"copies": 2**64})):
        answer = client.post(path, data=json.dumps(body), headers={**site["api"], "Content-Type": "application/json"})
        _assert_refused_in_words(answer, f"{path} {body}", statuses=(400, 422))


QUERY_EXTREMES = (
    "/audit?from={d}", "/audit?to={d}", "/audit?from={d}&to={d}", "/audit.csv?to={d}", "/audit?tab=events&to={d}",
    "/reports/overrides?from={d}", "/reports/overrides?to={d}", "/reports/overrides.csv?to={d}",
    "/api/v1/movements?from={d}", "/api/v1/movements?to={d}", "/api/v1/movements.csv?to={d}",
    "/expiry?days={n}", "/api/v1/expiry?days={n}", "/scans?limit={n}", "/api/v1/items?offset={n}",
    "/api/v1/items?limit={n}", "/api/v1/recalls?limit={n}", "/api/v1/recalls?offset={n}",
    "/pick/SO-1/work?since=x&lots={n},1", "/lots/{n}", "/trace/{n}", "/api/v1/lots/{n}",
    "/api/v1/items/BOLT/suggestions?qty={n}", "/api/v1/lots/{lot}/label.zpl?copies={n}",
    "/api/v1/lots/{lot}/label.zpl?dpi={n}", "/api/v1/lots/{lot}/trace?depth={n}",
)


def test_query_numbers_and_dates_at_the_ends_of_their_range_are_no_5xx(app, client, site, signed_in):
    """Dates at the calendar's ends (0001-01-01, 9999-12-31: a day after is no date) and numbers of 10 to
    30 digits in every query parameter that takes one: answered or refused, never a 500."""
    from factories import order

    with app.extensions["station.db"].write() as s:
        order(s, "SO-1", [("BOLT", 1)])
    signed_in(client, "admin")
    failed = set()
    for template in QUERY_EXTREMES:
        for d in ("0001-01-01", "9999-12-31", "1900-01-01"):
            for n in (2**31, 10**30):
                path = template.format(d=d, n=n, lot=site["lot"])
                answer = client.get(path, headers=site["api"] if path.startswith("/api/") else {})
                answer.get_data()  # a streamed CSV runs to its end here
                answer.close()
                if answer.status_code >= 500:
                    failed.add(f"{path}: {answer.status_code}")
    assert not failed, sorted(failed)


def test_a_report_range_outside_the_kept_dates_is_refused_in_words(client, site, signed_in):
    signed_in(client, "supervisor")
    answer = client.get("/reports/overrides?to=9999-12-31")
    assert answer.status_code == 400
    assert "The 'to' date 9999-12-31 is outside the dates Station keeps" in words(answer.text)
