"""Print jobs by their sequential id, on SQLite and PostgreSQL: every role may read a job; cancelling and
reprinting one need a role that prints labels (receiver, line operator, supervisor, admin) — a picker's
token gets 403 in words, before anything is read, and the job stays as it was."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from factories import basic_site, printer, received_lot
from station import clock
from station.api.print_views import PRINTING
from station.models import PrintJob, PrintJobStatus, Role
from station.services import printing
from station.services.tokens import create_token
from station.auth import WORKFLOWS

PRINTERS = [Role.RECEIVER, Role.LINE_OPERATOR, Role.SUPERVISOR, Role.ADMIN]


@pytest.fixture
def db(app):
    database = app.extensions["station.db"]
    basic_site(database)
    with database.write() as s:
        printer(s, "dock-zebra")
    return database


@pytest.fixture
def headers(db) -> dict[Role, dict[str, str]]:
    with db.write() as s:
        return {role: {"Authorization": f"Bearer {create_token(s, f'{role.value} token', role)}"} for role in Role}


def make_job(db, status: PrintJobStatus = PrintJobStatus.QUEUED) -> int:
    with db.write() as s:
        lot = received_lot(s, "BOLT", 5, on=clock.today())
        job = printing.request_labels(s, lot.lot_number, printer="dock-zebra")
        job.status = status
        return job.id


def jobs(db) -> int:
    with db.read() as s:
        return s.scalar(select(func.count()).select_from(PrintJob))


def test_the_printing_roles_are_those_of_receiving_the_line_and_supervisors():
    assert WORKFLOWS[PRINTING] == frozenset(PRINTERS)


def test_a_picker_may_read_a_job_but_not_cancel_or_reprint_it(client, db, headers):
    queued, sent = make_job(db), make_job(db, PrintJobStatus.SENT)
    picker = headers[Role.PICKER]
    assert client.get(f"/api/v1/print-jobs/{queued}", headers=picker).get_json()["status"] == "queued"
    for path, doing in [(f"{queued}/cancel", "Cancelling a print job"), (f"{sent}/reprint", "Reprinting a print job")]:
        answer = client.post(f"/api/v1/print-jobs/{path}", headers=picker)
        assert answer.status_code == 403, answer.get_json()
        error = answer.get_json()["error"]
        assert error["code"] == "forbidden" and error["role"] == "picker"
        assert error["message"] == (f"{doing} needs a receiver, a line operator, a supervisor or an admin token; "
                                    f"this token is a picker's.")
        assert error["allowed"] == sorted(r.value for r in PRINTERS)
    # An id that does not exist is refused the same way: a picker learns nothing about which ids are jobs.
    assert client.post("/api/v1/print-jobs/999999/cancel", headers=picker).status_code == 403
    with db.read() as s:
        assert s.get(PrintJob, queued).status is PrintJobStatus.QUEUED
    assert jobs(db) == 2


@pytest.mark.parametrize("role", PRINTERS, ids=[r.value for r in PRINTERS])
def test_a_printing_role_may_cancel_and_reprint(client, db, headers, role):
    queued, sent = make_job(db), make_job(db, PrintJobStatus.SENT)
    cancelled = client.post(f"/api/v1/print-jobs/{queued}/cancel", headers=headers[role])
    assert cancelled.status_code == 200 and cancelled.get_json()["status"] == "cancelled"
    again = client.post(f"/api/v1/print-jobs/{sent}/reprint", headers=headers[role])
    assert again.status_code == 202 and again.get_json()["reprint_of"] == sent
    assert client.get(f"/api/v1/print-jobs/{sent}", headers=headers[role]).status_code == 200
    assert jobs(db) == 3


def test_the_openapi_document_lists_403_for_cancel_and_reprint_only(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for path in ("/api/v1/print-jobs/{job_id}/cancel", "/api/v1/print-jobs/{job_id}/reprint"):
        words = paths[path]["post"]["responses"]["403"]["description"]
        assert words.endswith("admin, line_operator, receiver, supervisor."), words
    assert "403" not in paths["/api/v1/print-jobs/{job_id}"]["get"]["responses"]


def test_the_printers_page_holds_cancel_and_reprint_to_the_same_roles(client, db, signed_in):
    """The printers page's buttons act on any job by its id too: a picker signed in gets 403 in words
    and the job is as it was; a receiver cancels and reprints."""
    queued, sent = make_job(db), make_job(db, PrintJobStatus.SENT)
    signed_in(client, Role.PICKER)
    for path in (f"/printers/jobs/{queued}/cancel", f"/printers/jobs/{sent}/reprint"):
        answer = client.post(path, headers={"HX-Request": "true"})
        assert answer.status_code == 403 and "Cancelling and reprinting labels is for" in answer.text, answer.text
    with db.read() as s:
        assert s.get(PrintJob, queued).status == PrintJobStatus.QUEUED
    assert jobs(db) == 2
    signed_in(client, Role.RECEIVER)
    assert client.post(f"/printers/jobs/{queued}/cancel", headers={"HX-Request": "true"}).status_code == 200
    assert client.post(f"/printers/jobs/{sent}/reprint", headers={"HX-Request": "true"}).status_code == 200
    with db.read() as s:
        assert s.get(PrintJob, queued).status == PrintJobStatus.CANCELLED
    assert jobs(db) == 3


def test_the_printers_page_shows_a_picker_no_cancel_or_reprint_buttons(client, db, signed_in):
    make_job(db, PrintJobStatus.FAILED)
    signed_in(client, Role.PICKER)
    board = client.get("/printers").text
    assert 'data-status="failed"' in board and "/cancel" not in board and "/reprint" not in board
    signed_in(client, Role.LINE_OPERATOR)
    board = client.get("/printers").text
    assert "/cancel" in board and "/reprint" in board
