"""Fixtures: a real database per test, on SQLite and on the PostgreSQL server at 127.0.0.1:5432.

PostgreSQL tests skip when no server answers, except under CI=true, where they fail:
CI always has the server, so an unreachable one is a broken run, not a reason to skip.

What a page test starts from (tests/test_floor_actions.py shows them together):
    site      the standard small site (factories.small_site), extended per file: `def site(site): ...`
    floor     the test client as an operator at a station: sign_in, bind, scan, print_label (actions.py)
    database  the app's own Database; `db` is another connection to the same database, for tests
              without an app
    live_site the small site in `sqlite_app`, for browser tests against `live_server`
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


# --- the site and the floor: shared by the test files (tests/factories.py, tests/actions.py) ---------


@pytest.fixture
def database(app):
    """The app's own Database (what its pages and API read and write)."""
    return app.extensions["station.db"]


@pytest.fixture
def site(db):
    """The standard small site on the parametrised database (factories.small_site: items, supplier,
    customer, locations), as a factories.Site: `site.db`, `site["name"]`. A test file needing more
    extends it with a fixture of the same name, `def site(site): site.lot(...); return site`."""
    from factories import small_site

    return small_site(db)


@pytest.fixture
def live_site(sqlite_app):
    """The standard small site in `sqlite_app`'s database, for browser tests (extend it like `site`)."""
    from factories import small_site

    return small_site(sqlite_app.extensions["station.db"])


@pytest.fixture
def floor(client):
    """The test client as an operator at a station (actions.Floor): floor.sign_in(role),
    floor.bind(station), floor.scan(code, url=...), floor.print_label(lot, ...)."""
    from actions import Floor

    return Floor(client)


@pytest.fixture
def signed_in():
    """signed_in(client, role, badge=None, name=None) -> FloorOperator: an active operator of that role
    (a Role or its value, e.g. "picker"; no PIN) is created in the client's database and the test client
    is signed in as them, as if their badge had been scanned (actions.sign_in)."""
    from actions import sign_in

    return sign_in


@pytest.fixture
def bound_station():
    """bound_station(client, name="Test station", location_id=None, printer_id=None) -> station id:
    the test client's device is bound to that station (created when missing), as /setup does
    (actions.bind_station)."""
    from actions import bind_station

    return bind_station


@pytest.fixture
def signed_in_page():
    """signed_in_page(page, base_url, app, role, badge=None, name=None) -> FloorOperator: for browser
    tests, creates the operator (no PIN) and signs the Playwright page in through the sign-in page."""
    from actions import new_operator

    def sign_in(page, base_url, app, role, badge=None, name=None):
        op = new_operator(app, role, badge, name)
        page.goto(f"{base_url}/signin")
        page.fill("#badge", op.badge)
        page.click("form.signin__form button[type=submit]")
        page.wait_for_url(f"{base_url}/")
        return op

    return sign_in
