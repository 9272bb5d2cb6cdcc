"""Schemathesis against /api/v1/openapi.json: generated requests for every documented operation, valid
and invalid, against the real app on a seeded site.

Each answer must: not be a 5xx, be one of the statuses the document lists for the operation, match
the documented response schema and content type, and refuse schema-invalid input — and an answer
that refuses (4xx) must have changed nothing in the database (every table's row count and the
stock, compared before and after).

Left out: "positive data acceptance" (every schema-valid request gets a 2xx/404). Schema-valid
requests that name a record that does not exist (a lot, a station, an order) or break a rule the
schema cannot state (give a lot or an SSCC) are refused with 422 by design — the document lists
422 as "names an unknown record".

(Schemathesis' own pytest plugin does not run under pytest 9, so each operation is a parametrized
test that drives its Hypothesis strategy directly.)
"""
from __future__ import annotations

import re
import shutil

import pytest
import schemathesis
from schemathesis.checks import positive_data_acceptance
from hypothesis import HealthCheck, given, settings
from sqlalchemy import func, select

from factories import basic_site, order, received_lot
from station import create_app
from station.api.core import ROUTES
from station.models import Base, Lot, Role, StationDevice, Stock
from station.services.tokens import create_token

EXAMPLES = 25
_PARAM = re.compile(r"<(?:\w+:)?(\w+)>")


def _operations() -> list[tuple[str, str]]:
    """(method, OpenAPI path) of every documented operation, from the route registry the document is
    built from. Building an app (no database is opened) imports every API module."""
    create_app({"TESTING": True, "DATABASE_URL": "sqlite://"})
    return sorted({(r.method, "/api/v1" + _PARAM.sub(r"{\1}", r.rule)) for r in ROUTES
                   if r.rule != "/openapi.json"})


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory, sqlite_template):
    folder = tmp_path_factory.mktemp("fuzz")
    path = folder / "station.db"
    shutil.copy(sqlite_template, path)
    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{path}"})
    db = app.extensions["station.db"]
    basic_site(db)
    with db.write() as s:
        for _ in range(3):
            received_lot(s, "BOLT", 20)
            received_lot(s, "MILK", 20)
        order(s, "SO-1", [("BOLT", 5), ("MILK", 2)])
        app.config["FUZZ_TOKEN"] = create_token(s, "fuzz", Role.ADMIN)
        # POST /scans takes only a station's agent token (an admin's gets 403 before the body is read).
        s.add(StationDevice(name="Fuzz PC", scanner_url="agent://"))
        s.flush()
        app.config["FUZZ_AGENT_TOKEN"] = create_token(s, "fuzz agent", "agent", station="Fuzz PC")
    yield app
    db.dispose()


@pytest.fixture(scope="module")
def api_schema(fuzz_app):
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", fuzz_app)


def _state(db) -> dict:
    """Row counts of every table plus the stock totals: what a refused request must leave alone."""
    with db.read() as s:
        counts = {t.name: s.scalar(select(func.count()).select_from(t)) for t in Base.metadata.sorted_tables}
        counts["stock total"] = s.scalar(select(func.coalesce(func.sum(Stock.qty), 0)))
        counts["lots on hand"] = s.scalar(select(func.coalesce(func.sum(Lot.on_hand), 0)))
    return counts


@pytest.mark.parametrize("method, path", _operations(), ids=lambda v: v)
def test_every_operation_answers_as_documented(method, path, api_schema, fuzz_app):
    operation = api_schema[path][method]
    db = fuzz_app.extensions["station.db"]
    token = fuzz_app.config["FUZZ_AGENT_TOKEN" if (method, path) == ("POST", "/api/v1/scans") else "FUZZ_TOKEN"]
    headers = {"Authorization": f"Bearer {token}"}

    @given(case=operation.as_strategy())
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def check(case):
        before = _state(db)
        response = case.call_and_validate(headers=headers, excluded_checks=[positive_data_acceptance])
        if 400 <= response.status_code < 500:
            assert _state(db) == before, (f"{method} {case.formatted_path} refused with "
                                          f"{response.status_code} but changed the database")

    check()
