"""The long-running processes meet a database that cannot be reached: each says so in one line (no
traceback: an outage is not a bug, and the outage tests read the logs for tracebacks) and carries on.
The database here is a PostgreSQL URL on a port nothing listens on, so every connection is refused."""
from __future__ import annotations

import logging
import socket

import pytest

from station.db import Database
from station.processes import expiry_job
from station.processes.expiry_job import ExpiryJob
from station.processes.scanner_service import ScannerService
from test_server import wait_for


@pytest.fixture
def unreachable_db():
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens on it
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    db = Database(f"postgresql+psycopg://postgres@127.0.0.1:{port}/station")
    yield db
    db.dispose()


def _said(caplog, words: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if words in r.getMessage()]


def test_the_expiry_job_says_an_outage_in_one_line_and_tries_again_soon(unreachable_db, caplog):
    caplog.set_level(logging.INFO)
    job = ExpiryJob(unreachable_db).start()
    try:
        wait_for(lambda: job.runs >= 1, what="the expiry job's first try")
    finally:
        job.stop()
    (line,) = _said(caplog, "the expiry job: the database cannot be reached")
    assert line.levelno == logging.WARNING and line.exc_info is None
    assert f"tries again in {expiry_job.OUTAGE_RETRY_S} s" in line.getMessage()
    assert not [r for r in caplog.records if r.exc_info], "an outage logged a traceback"


def test_the_scanner_service_says_an_outage_once_however_often_it_looks(unreachable_db, caplog):
    caplog.set_level(logging.INFO)
    service = ScannerService(unreachable_db, refresh_s=0.01, networks="")
    looks = []
    read_stations = service.refresh

    def counted() -> None:
        looks.append(1)
        read_stations()

    service.refresh = counted
    with service:
        wait_for(lambda: len(looks) >= 5, what="the service to look at the stations five times")
    assert len(_said(caplog, "scanner service: the database cannot be reached")) == 1
    assert not [r for r in caplog.records if r.exc_info], "an outage logged a traceback"
