"""Fixtures: a real database per test, on SQLite and on the PostgreSQL server at 127.0.0.1:5432.

PostgreSQL tests skip when no server answers, except under CI=true, where they fail:
CI always has the server, so an unreachable one is a broken run, not a reason to skip.
"""
from __future__ import annotations

import os
import shutil
import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from station import create_app
from station.db import Database
from station.models import Base
from station.schema import ensure_defaults, upgrade

PG_ADMIN_URL = os.environ.get("STATION_TEST_PG_URL",
                              "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> str:
    """A migrated SQLite file, copied for each test (faster than migrating every time)."""
    path = tmp_path_factory.mktemp("template") / "station.db"
    db = Database(f"sqlite:///{path}")
    upgrade(db)
    db.dispose()
    return str(path)


@pytest.fixture(scope="session")
def pg_url():
    """A fresh PostgreSQL database for this test run, migrated once; dropped at the end."""
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"station_test_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        admin.dispose()
        message = f"PostgreSQL at {PG_ADMIN_URL} is unreachable: {exc.orig}"
        if IN_CI:
            pytest.fail("CI=true requires PostgreSQL; " + message, pytrace=False)
        pytest.skip(message)
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    db = Database(url)
    upgrade(db)
    db.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _empty_postgres(db: Database) -> None:
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with db.engine.begin() as conn:
        # The ledger refuses TRUNCATE through its trigger; replica mode lets the test reset it.
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    ensure_defaults(db)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path) -> str:
    """The URL of an empty, migrated database: one per test, on each backend."""
    if request.param == "sqlite":
        path = tmp_path / "station.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("pg_url")
    db = Database(url)
    _empty_postgres(db)
    db.dispose()
    return url


@pytest.fixture
def db(db_url):
    database = Database(db_url)
    yield database
    database.dispose()


@pytest.fixture
def app(db_url, tmp_path, monkeypatch):
    monkeypatch.setenv("STATION_INSTANCE", str(tmp_path / "instance"))
    application = create_app({"TESTING": True, "DATABASE_URL": db_url})
    yield application
    application.extensions["station.db"].dispose()


@pytest.fixture
def client(app):
    return app.test_client()


# --- browser tests: the app behind a real server, driven by Debian's Chromium -----------------
# (helpers in tests/browser_support.py)


@pytest.fixture
def sqlite_app(tmp_path, sqlite_template, monkeypatch):
    """The app on its own migrated SQLite file: one backend, for a live server."""
    path = tmp_path / "live.db"
    shutil.copy(sqlite_template, path)
    monkeypatch.setenv("STATION_INSTANCE", str(tmp_path / "instance"))
    application = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{path}"})
    yield application
    application.extensions["station.db"].dispose()


@pytest.fixture
def live_server(sqlite_app):
    """`sqlite_app` served by waitress on 127.0.0.1; `.url` is its base URL."""
    from browser_support import LiveServer

    with LiveServer(sqlite_app) as server:
        yield server


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium (skips without it, fails under CI=true)."""
    from browser_support import chromium, require_chromium

    with chromium(require_chromium()) as instance:
        yield instance


@pytest.fixture
def browser_page(browser):
    """A fresh tab at tablet size (1280x800); page errors fail the test."""
    from browser_support import TABLET

    context = browser.new_context(viewport=TABLET)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert not errors, errors


# --- the floor: signed-in operators and bound stations (station/views/floor.py) ------------------

def _floor_operator(app, role, badge=None, name=None):
    from station.models import Operator, Role
    from station.views.floor import FloorOperator

    role = Role(role)
    badge = badge or f"T-{role.value}-{uuid.uuid4().hex[:6]}"
    with app.extensions["station.db"].write() as s:
        op = Operator(badge=badge, name=name or f"Test {role.value.replace('_', ' ')}", role=role)
        s.add(op)
        s.flush()
        return FloorOperator(op.id, op.badge, op.name, role)


@pytest.fixture
def signed_in():
    """signed_in(client, role, badge=None, name=None) -> FloorOperator: an active operator of that role
    (a Role or its value, e.g. "picker"; no PIN) is created in the client's database and the test client
    is signed in as them, as if their badge had been scanned."""
    from station.views.floor import SESSION_KEY, start_session

    def sign_in(client, role, badge=None, name=None):
        op = _floor_operator(client.application, role, badge, name)
        secret = start_session(client.application.extensions["station.db"], op.id)  # a floor_sessions row
        with client.session_transaction() as session:
            session[SESSION_KEY] = {"s": secret}
        return op

    return sign_in


@pytest.fixture
def bound_station():
    """bound_station(client, name="Test station", location_id=None, printer_id=None) -> station id:
    the test client's device is bound to that station (created when missing), as /setup does."""
    from sqlalchemy import select

    from station.models import StationDevice
    from station.views.floor import STATION_COOKIE, station_cookie_value

    def bind(client, name="Test station", location_id=None, printer_id=None):
        with client.application.extensions["station.db"].write() as s:
            row = s.scalar(select(StationDevice).where(StationDevice.name == name))
            if row is None:
                row = StationDevice(name=name, location_id=location_id, printer_id=printer_id)
                s.add(row)
                s.flush()
            station_id = row.id
        with client.application.test_request_context():  # signed with the app's key, as set-up does
            client.set_cookie(STATION_COOKIE, station_cookie_value(name))
        return station_id

    return bind


@pytest.fixture
def signed_in_page():
    """signed_in_page(page, base_url, app, role, badge=None, name=None) -> FloorOperator: for browser
    tests, creates the operator (no PIN) and signs the Playwright page in through the sign-in page."""

    def sign_in(page, base_url, app, role, badge=None, name=None):
        op = _floor_operator(app, role, badge, name)
        page.goto(f"{base_url}/signin")
        page.fill("#badge", op.badge)
        page.click("form.signin__form button[type=submit]")
        page.wait_for_url(f"{base_url}/")
        return op

    return sign_in
