"""GET /api/v1/print-jobs on SQLite and PostgreSQL: filters by state, printer and lot, keyset pages that
neither repeat nor skip a job, bad filters 422 in words, every role may look, the OpenAPI document
describes it, and each filter walks its index in id order."""
from __future__ import annotations

import pytest
from sqlalchemy import text

from station.api import openapi, print_job_list_views  # noqa: F401 - fill the route registry
from station.models import PrintJobStatus, Role
from station.services import catalog, printing
from station.services.print_job_search import JobFilter, job_query
from station.services.tokens import create_token


@pytest.fixture
def db(app):
    return app.extensions["station.db"]


@pytest.fixture
def get(client, db):
    with db.write() as s:
        secret = create_token(s, "reader", Role.PICKER)

    def call(query: str = ""):
        return client.get("/api/v1/print-jobs" + query, headers={"Authorization": f"Bearer {secret}"})

    return call


@pytest.fixture
def site(site):
    """Two printers; lot `milk` has 2 label jobs on dock (the first cancelled) and 1 on line; lot `bolt`
    1 on line; a test label on dock (no lot)."""
    site.printer("dock")
    site.printer("line")
    site.lot("milk", "MILK", 5, location="A-01")
    site.lot("bolt", "BOLT", 5, location="A-01")
    with site.write() as s:
        jobs = [printing.request_labels(s, site["milk"], printer="dock"),
                printing.request_labels(s, site["milk"], printer="dock"),
                printing.request_labels(s, site["milk"], printer="line"),
                printing.request_labels(s, site["bolt"], printer="line"),
                printing.test_print(s, "dock")]
        s.flush()
        printing.cancel(s, jobs[0].id)
        site["jobs"] = [job.id for job in jobs]
    return site


def ids(response) -> list[int]:
    assert response.status_code == 200, response.get_json()
    return [job["id"] for job in response.get_json()["data"]]


def test_every_job_oldest_first_as_one_job_reads(get, site):
    body = get().get_json()
    jobs = site["jobs"]
    assert [job["id"] for job in body["data"]] == jobs and body["next_after"] is None
    first = body["data"][0]
    assert (first["status"], first["printer"], first["lot_number"], first["template"]) == (
        "cancelled", "dock", site["milk"], "lot")
    assert body["data"][4]["lot_number"] is None
    one = get().get_json()["data"][2]
    assert one == {**one, "printer": "line", "lot_number": site["milk"], "status": "queued"}


def test_filters_by_state_printer_and_lot(get, site):
    jobs = site["jobs"]
    assert ids(get("?status=cancelled")) == [jobs[0]]
    assert ids(get("?status=queued")) == jobs[1:]
    assert ids(get("?printer=line")) == [jobs[2], jobs[3]]
    assert ids(get(f"?lot={site['milk']}")) == jobs[:3]
    assert ids(get(f"?lot={site['milk']}&printer=dock&status=queued")) == [jobs[1]]
    assert ids(get("?status=failed")) == []


def test_pages_follow_the_cursor(get, site):
    seen, after, pages = [], None, 0
    while True:
        body = get("?limit=2" + (f"&after={after}" if after else "")).get_json()
        seen += [job["id"] for job in body["data"]]
        pages += 1
        after = body["next_after"]
        if after is None:
            break
    assert seen == site["jobs"] and pages == 3


@pytest.mark.parametrize("query, field, words", [
    ("?printer=nowhere", "printer", "nowhere"),
    ("?lot=NOPE", "lot", "NOPE"),
    ("?status=lost", "status", "queued"),
    ("?limit=5000", "limit", "1000"),
    ("?after=0", "after", "1"),
    ("?page=2", "page", ""),
])
def test_bad_filters_are_422_in_words(get, site, query, field, words):
    response = get(query)
    assert response.status_code == 422, response.get_json()
    error = response.get_json()["error"]
    assert field in (error.get("field") or "") + error["message"] + str(error.get("fields")), error
    assert words in error["message"] + str(error.get("fields")), error


def test_without_a_token_it_is_refused(client, site):
    assert client.get("/api/v1/print-jobs").status_code == 401


def test_openapi_describes_the_filters_and_the_page(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    op = doc["paths"]["/api/v1/print-jobs"]["get"]
    assert {"status", "printer", "lot", "after", "limit"} <= {p["name"] for p in op["parameters"]}
    assert op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/PrintJobPage")


def test_each_filter_walks_its_index(db, site):
    with db.write() as s:
        dialect = s.get_bind().dialect.name
        if dialect == "postgresql":
            s.execute(text("SET LOCAL enable_seqscan = off"))  # a tiny table: ask which index it can use
        prefix = "EXPLAIN QUERY PLAN " if dialect == "sqlite" else "EXPLAIN "
        lot = catalog.lot_by_number(s, site["milk"])
        dock = printing.printer_by_name(s, "dock")
        wanted = {"ix_print_jobs_lot": JobFilter(lot=lot), "ix_print_jobs_printer": JobFilter(printer=dock),
                  "ix_print_jobs_status": JobFilter(status=PrintJobStatus.QUEUED)}
        for index, where in wanted.items():
            statement = job_query(where).limit(101).compile(s.get_bind(), compile_kwargs={"literal_binds": True})
            plan = " ".join(str(c) for row in s.execute(text(prefix + str(statement))) for c in row)
            assert index in plan, (index, plan)
