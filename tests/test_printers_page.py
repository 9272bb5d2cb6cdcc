"""The printers page (server-rendered, htmx): states in words, jobs live, test print, reprint, cancel, the
lot card's print buttons; and in Chromium, with a running print worker, at tablet size with gloves."""
from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from PIL import Image
from sqlalchemy import select, update

from devices.printers import PrinterState, sim
from station import clock
from station.models import Printer, PrintJob, PrintJobStatus, StationDevice
from station.processes.print_worker import PrintWorker
from station.services import print_queue, printing

from test_printing import jobs, make_site
from actions import text_of

HX = {"HX-Request": "true"}


def set_state(db, name: str, state: str, checked: dt.datetime | None = None) -> None:
    with db.write() as s:
        s.execute(update(Printer).where(Printer.name == name).values(
            state=state, state_checked_at=checked or clock.now()))


@pytest.fixture
def db(app):
    return app.extensions["station.db"]


@pytest.fixture
def client(app, signed_in):
    """A device with a receiver signed in: printing needs someone signed in (any floor role); reprinting
    and cancelling a job, a role whose work prints labels (tests/test_print_job_roles.py)."""
    device = app.test_client()
    signed_in(device, "receiver")
    return device


@pytest.fixture
def lot(db) -> str:
    return make_site(db, {"dock-zebra": "sim://dock-zebra", "line-zebra": "sim://line-zebra"})


def card(body: str, name: str) -> str:
    match = re.search(rf'<section class="card printer[^"]*"[^>]*data-printer="{name}".*?</section>', body, re.S)
    assert match, name
    return match.group(0)


def test_each_printers_state_is_shown_in_big_words_and_colour(client, db, lot):
    set_state(db, "dock-zebra", "paper_out")
    set_state(db, "line-zebra", "ready")
    body = client.get("/printers").text
    dock, line = card(body, "dock-zebra"), card(body, "line-zebra")
    assert "printer--bad" in dock and "Paper out" in text_of(dock)
    assert "Printer is out of labels — load a roll" in text_of(dock)
    assert "printer--ok" in line and "Ready" in text_of(line)
    for state, words, tone in [("head_open", "Head open", "bad"), ("paused", "Paused", "warn"),
                               ("offline", "Offline", "bad"), ("unknown", "Unknown", "muted")]:
        set_state(db, "dock-zebra", state)
        dock = card(client.get("/printers").text, "dock-zebra")
        assert f"printer--{tone}" in dock and words in text_of(dock), state


def test_a_printer_never_checked_says_so_and_jobs_without_a_worker_are_flagged(client, db, lot):
    with db.write() as s:
        printing.request_labels(s, lot, printer="dock-zebra")
    body = client.get("/printers").text
    assert "Not checked yet" in text_of(card(body, "dock-zebra"))
    assert "no print worker has checked the printers" in text_of(body)
    set_state(db, "dock-zebra", "ready")
    assert "no print worker" not in client.get("/printers").text


def test_the_home_page_links_the_printers_page(client):
    assert 'href="/printers"' in client.get("/").text


def test_test_print_queues_a_job_and_answers_the_fresh_board(client, db, lot):
    printer_id = next(p.id for p in _printers(db) if p.name == "line-zebra")
    response = client.post(f"/printers/{printer_id}/test", headers=HX)
    assert response.status_code == 200
    (job,) = jobs(db)
    assert job.template == "test" and job.status is PrintJobStatus.QUEUED
    line = card(response.text, "line-zebra")
    assert "Test print" in text_of(line) and "Waiting" in text_of(line) and f'data-job="{job.id}"' in line
    assert 'id="printers-message" class="printers__message" hx-swap-oob="true"' in response.text
    assert f"Test label queued for line-zebra (job {job.id})" in text_of(response.text)
    # Without JavaScript: a redirect back to the page, which shows the message.
    plain = client.post(f"/printers/{printer_id}/test")
    assert plain.status_code == 303 and plain.headers["Location"].startswith("/printers?")
    assert "Test label queued" in client.get(plain.headers["Location"]).text


def _printers(db) -> list[Printer]:
    with db.read() as s:
        rows = list(s.scalars(select(Printer)))
        s.expunge_all()
        return rows


def test_the_board_answers_204_until_something_on_it_changes(client, db, lot):
    first = client.get("/printers/board", headers=HX)
    version = re.search(r'data-version="(\w+)"', first.text).group(1)
    assert f"/printers/board?v={version}" in first.text and 'hx-trigger="every 1000ms"' in first.text
    assert client.get(f"/printers/board?v={version}", headers=HX).status_code == 204
    with db.write() as s:
        job = printing.test_print(s, "dock-zebra")
    changed = client.get(f"/printers/board?v={version}", headers=HX)
    assert changed.status_code == 200 and f'data-job="{job.id}"' in changed.text
    version = re.search(r'data-version="(\w+)"', changed.text).group(1)
    with db.write() as s:
        print_queue.claim_next(s, "w")
    sending = client.get(f"/printers/board?v={version}", headers=HX)
    assert sending.status_code == 200 and 'data-status="sending"' in sending.text


def test_a_waiting_job_shows_its_tries_and_reason_and_can_be_cancelled(client, db, lot):
    with db.write() as s:
        job = printing.request_labels(s, lot, printer="dock-zebra", copies=3)
    with db.write() as s:
        print_queue.claim_next(s, "w")
        print_queue.retry_later(s, job.id, "w", "Printer is out of labels — load a roll", delay=dt.timedelta(seconds=20))
    row = re.search(rf'<li class="job[^"]*" id="job-{job.id}".*?</li>', client.get("/printers").text, re.S).group(0)
    words = text_of(row)
    assert f"Lot label {lot}" in words and "3 copies" in words and "1 try" in words
    assert "Waiting to retry" in words and "next try" in words
    assert "Printer is out of labels — load a roll" in words
    assert "Cancel" in words and "Reprint" not in words
    response = client.post(f"/printers/jobs/{job.id}/cancel", headers=HX)
    assert response.status_code == 200 and f"Job {job.id} cancelled" in text_of(response.text)
    assert jobs(db)[0].status is PrintJobStatus.CANCELLED
    again = client.post(f"/printers/jobs/{job.id}/cancel", headers=HX)  # a second tap
    assert again.status_code == 200 and "banner--error" in again.text and "already cancelled" in again.text


def test_a_sent_job_can_be_reprinted_from_the_board_and_from_its_page(client, db, lot):
    with db.write() as s:
        job = printing.request_labels(s, lot, printer="dock-zebra")
        s.flush()
        s.execute(update(PrintJob).values(status=PrintJobStatus.SENT, attempts=1, sent_at=clock.now()))
    response = client.post(f"/printers/jobs/{job.id}/reprint", headers=HX)
    assert response.status_code == 200 and f"Printing job {job.id} again" in text_of(response.text)
    original, copy = jobs(db)
    assert copy.reprint_of_id == original.id and copy.payload == original.payload
    assert f"reprint of {original.id}" in text_of(card(response.text, "dock-zebra"))
    page = client.post(f"/printers/jobs/{job.id}/reprint", data={"from": "job"})
    assert page.status_code == 303 and page.headers["Location"] == f"/printers/jobs/{jobs(db)[-1].id}"
    queued = client.post(f"/printers/jobs/{copy.id}/reprint", headers=HX)  # not printed yet
    assert "has not been printed yet" in queued.text and len(jobs(db)) == 3


def test_a_jobs_page_shows_its_state_and_its_preview(client, db, lot):
    with db.write() as s:
        job = printing.request_labels(s, lot, printer="dock-zebra", template="pallet")
    page = client.get(f"/printers/jobs/{job.id}")
    assert page.status_code == 200
    words = text_of(page.text)
    assert f"Pallet label {job.sscc}" in words and "Waiting" in words and "4x6 in · 203 dpi" in words
    assert f'src="/printers/jobs/{job.id}/preview.png"' in page.text
    status = client.get(f"/printers/jobs/{job.id}/status")
    assert f'hx-get="/printers/jobs/{job.id}/status"' in status.text  # polls until finished
    preview = client.get(f"/printers/jobs/{job.id}/preview.png")
    assert preview.mimetype == "image/png" and "immutable" in preview.headers["Cache-Control"]
    with Image.open(io.BytesIO(preview.data)) as image:
        assert image.size == (812, 1218)
    with db.write() as s:
        s.execute(update(PrintJob).values(status=PrintJobStatus.FAILED, last_error="Printer offline"))
    status = client.get(f"/printers/jobs/{job.id}/status")
    assert "hx-get" not in status.text and "Printer offline" in text_of(status.text)
    assert client.get("/printers/jobs/999").status_code == 404


def test_the_lot_card_prints_on_the_stations_printer(client, db, lot):
    with db.write() as s:
        line = s.scalar(select(Printer).where(Printer.name == "line-zebra"))
        s.add(StationDevice(name="Line 1 PC", printer_id=line.id))
    card_html = client.get(f"/lots/{lot}").text
    assert f'hx-get="/printers/lot-form?lot={lot}"' in card_html
    from station.auth import station_cookie_value

    with client.application.test_request_context():  # the station cookie as set-up signs it
        client.set_cookie("station", station_cookie_value("Line 1 PC"))
    form = client.get(f"/printers/lot-form?lot={lot}", headers=HX).text
    buttons = re.findall(r'<button class="button ([^"]*)"\s+type="submit" name="printer" value="([^"]+)"', form)
    assert [(c.split()[0], v) for c, v in buttons] == [("button--primary", "line-zebra"),
                                                       ("button--ghost", "dock-zebra")]
    request_id = re.search(r'name="request_id" value="(\w+)"', form).group(1)
    data = {"lot": lot, "copies": "2", "printer": "line-zebra", "request_id": request_id}
    answer = client.post("/printers/lot-print", data=data, headers=HX)
    assert answer.status_code == 200 and "Waiting" in text_of(answer.text) and "line-zebra" in answer.text
    assert f'hx-get="/printers/jobs/{jobs(db)[0].id}/status?again=1"' in answer.text
    assert "Print more labels" in answer.text and f'hx-get="/printers/lot-form?lot={lot}"' in answer.text
    client.post("/printers/lot-print", data=data, headers=HX)  # a double tap: the same job
    (job,) = jobs(db)
    assert (job.copies, job.printer_id, job.station_id) == (2, line.id, _station_id(db))
    refused = client.post("/printers/lot-print", data={"lot": lot, "copies": "0", "printer": "line-zebra"},
                          headers=HX)
    assert "Copies must be a whole number from 1 to 1000" in text_of(refused.text) and len(jobs(db)) == 1


def _station_id(db) -> int:
    with db.read() as s:
        return s.scalar(select(StationDevice.id))


# --- in a browser ---------------------------------------------------------------------------------


def test_printers_page_in_chromium_live_with_a_worker_and_gloves(sqlite_app, live_server, browser_page, tmp_path,
                                                                 signed_in_page):
    db = sqlite_app.extensions["station.db"]
    names = {"dock-zebra": "browser-dock", "line-zebra": "browser-line"}
    make_site(db, {name: f"sim://{sim_name}" for name, sim_name in names.items()})
    sim.set_state(names["line-zebra"], PrinterState.PAPER_OUT)
    worker = PrintWorker(db, threads=2, poll_s=0.05, backoff_first=0.5, backoff_max=2, status_every=0.5,
                         spool_root=tmp_path / "spool")
    page = browser_page
    signed_in_page(page, live_server.url, sqlite_app, "receiver")  # reprint and cancel need a printing role
    try:
        worker.start()
        page.goto(f"{live_server.url}/printers")
        dock = page.locator('[data-printer="dock-zebra"]')
        line = page.locator('[data-printer="line-zebra"]')
        line.locator(".printer__words").filter(has_text="Paper out").wait_for(timeout=10_000)
        dock.locator(".printer__words").filter(has_text="Ready").wait_for(timeout=10_000)

        dock.get_by_role("button", name="Test print").click()
        page.locator("#printers-message").filter(has_text="Test label queued for dock-zebra").wait_for()
        dock.locator('.job[data-status="printed"]').first.wait_for(timeout=10_000)  # live, no reload
        dock.locator(".printer__preview img").wait_for()

        line.get_by_role("button", name="Test print").click()
        waiting = line.locator('.job[data-status="queued"]').filter(has_text="Waiting to retry")
        waiting.locator(".job__reason").filter(has_text="out of labels").wait_for(timeout=10_000)

        # Gloves: every button and link on the board is at least 48 px in both directions.
        # (Measured in one go: the board may be swapped between two calls.)
        boxes = page.eval_on_selector_all(
            "#printers-board button, #printers-board .job__what",
            "els => els.map(e => [e.innerText, e.getBoundingClientRect().width, e.getBoundingClientRect().height])")
        assert len(boxes) >= 4
        for text, width, height in boxes:
            assert width >= 48 and height >= 48, (text, width, height)
        size = page.eval_on_selector('[data-printer="line-zebra"] .printer__words',
                                     "e => parseFloat(getComputedStyle(e).fontSize)")
        assert size >= 40  # the state is readable at arm's length
        page.screenshot(path=str(tmp_path / "printers-tablet.png"), full_page=True)

        sim.set_state(names["line-zebra"])  # a roll loaded: the waiting label prints by itself
        line.locator('.job[data-status="printed"]').first.wait_for(timeout=15_000)
        line.locator(".printer__words").filter(has_text="Ready").wait_for(timeout=10_000)

        line.locator(".job").first.get_by_role("button", name="Reprint").click()
        page.locator("#printers-message").filter(has_text="again as job").wait_for()
        page.wait_for_function("() => document.querySelectorAll('[data-printer=\"line-zebra\"] "
                               ".job[data-status=\"printed\"]').length >= 2", timeout=15_000)
        page.set_viewport_size({"width": 360, "height": 740})
        page.screenshot(path=str(tmp_path / "printers-handheld.png"), full_page=True)
        print(f"screenshots: {tmp_path / 'printers-tablet.png'} {tmp_path / 'printers-handheld.png'}")
    finally:
        worker.stop()
        for sim_name in names.values():
            sim.set_state(sim_name)
    spooled = sorted((tmp_path / "spool").rglob("*.zpl"))
    assert len(spooled) == 3 and all(p.with_suffix(".png").exists() for p in spooled)
