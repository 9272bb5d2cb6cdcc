"""Live updates across clients and processes.

The pick page: a page polls /pick/<order>/work?since=<version>; another picker's pick (another test
client: another browser), a hold on the suggested lot or stock taken from it answers with the new
list, and nothing changed answers 204. Print-job state: a label job queued through the lot card's
print button, or by receiving's confirmation, is sent by a separate `station worker` process; the job's
state line, the job page and the printers board read it from the database and say "printed" (a sim://
printer's job is printed once spooled; the state line stops polling). On PostgreSQL a job queued by another process wakes a worker through NOTIFY.
Both run on SQLite and PostgreSQL."""
from __future__ import annotations

import html
import re
import time
import uuid

import pytest
from sqlalchemy import select

from station import clock
from station.models import Lot, Order, OrderStatus, PrintJob, PrintJobStatus, Stock
from station.services import holds, stock

from actions import scanner
from test_print_worker import start_worker_process, stop_process, wait_until
from test_printing import make_site


# --- the pick page ---------------------------------------------------------------------------------


@pytest.fixture
def site(site):
    return _site(site)


def _site(site):
    """MILK (FEFO): `soon` (6 at A-01) is suggested first, then `later` (50 at A-02); order SO-1 for 10
    MILK and 4 BOLT (added to the small site; the browser test adds them to `live_site`)."""
    import datetime as dt

    today, days = clock.today(), dt.timedelta
    site.lot("soon", "MILK", 6, location="A-01", expiry=today + days(5))
    site.lot("later", "MILK", 50, location="A-02", expiry=today + days(20))
    site.lot("bolt", "BOLT", 10, location="A-01")
    site.order("SO-1", [("MILK", 10), ("BOLT", 4)])
    return site


def picker_client(app, signed_in, badge: str):
    client = app.test_client()
    signed_in(client, "picker", badge=badge)
    return client


def poll_url(page_html: str) -> str:
    """The URL the pick list polls (the hx-get of its .pick-live element)."""
    found = re.search(r'class="pick-live"[^>]*hx-get="([^"]+)"', page_html)
    assert found, page_html[:3000]
    return html.unescape(found.group(1))


def version(page_html: str) -> str:
    return re.search(r'data-version="([0-9a-f]+)"', page_html).group(1)


scan = scanner("/pick/SO-1/scan")  # scan(client, code) -> the response


def line_qty(page_html: str, no: int) -> str:
    found = re.search(rf'data-line="{no}".*?class="pick-line__qty"><b>(\d+)</b> / (\d+)', page_html, re.S)
    return f"{found.group(1)} / {found.group(2)}"


def test_another_pickers_pick_shows_on_the_polling_page(app, site, signed_in):
    alice = picker_client(app, signed_in, "OP-ALICE")
    bob = picker_client(app, signed_in, "OP-BOB")
    page = alice.get("/pick/SO-1").get_data(as_text=True)
    url = poll_url(page)
    assert f"since={version(page)}" in url
    assert line_qty(page, 1) == "0 / 10"

    # Nothing changed: 204, the page stays as it is; asking again stays 204.
    for _ in range(2):
        quiet = alice.get(url, headers={"HX-Request": "true"})
        assert quiet.status_code == 204 and quiet.get_data() == b""

    # Bob picks the suggested lot in his own browser.
    answer = scan(bob, f"LOT:{site['soon']}")
    assert "Picked 6" in answer.get_data(as_text=True)

    fresh = alice.get(url, headers={"HX-Request": "true"})
    assert fresh.status_code == 200
    body = fresh.get_data(as_text=True)
    assert line_qty(body, 1) == "6 / 10"
    assert "someone else picked on this order" in body
    assert site["later"] in body  # the rest is now suggested from the next lot
    assert version(body) != version(page)
    # The new list polls with its own version, which is current again.
    assert alice.get(poll_url(body), headers={"HX-Request": "true"}).status_code == 204
    # Bob's own list did not need the poll; his version matches Alice's view of the order except for
    # his own pick state (the last pick he may take back), so his poll is quiet too.
    bob_page = bob.get("/pick/SO-1").get_data(as_text=True)
    assert bob.get(poll_url(bob_page), headers={"HX-Request": "true"}).status_code == 204


def test_a_hold_or_stock_change_on_the_suggested_lot_shows_without_a_reload(app, site, signed_in):
    db = site["db"]
    alice = picker_client(app, signed_in, "OP-ALICE")
    page = alice.get("/pick/SO-1").get_data(as_text=True)
    assert re.search(r'class="pick-target__fact pick-target__fact--lot"><dt>Lot</dt><dd class="mono">'
                     + site["soon"], page)

    with db.write() as s:  # a supervisor, elsewhere, puts the suggested lot on hold
        holds.hold(s, s.scalar(select(Lot).where(Lot.lot_number == site["soon"])), "Seal check")
    held = alice.get(poll_url(page), headers={"HX-Request": "true"})
    assert held.status_code == 200
    body = held.get_data(as_text=True)
    assert re.search(r'pick-target__fact--lot"><dt>Lot</dt><dd class="mono">' + site["later"], body)

    # The stock of the lot now suggested shrinks (a count, another order): the list follows.
    quiet_url = poll_url(body)
    assert alice.get(quiet_url, headers={"HX-Request": "true"}).status_code == 204
    with db.write() as s:  # a stock count finds only 3 of the 50
        lot = s.scalar(select(Lot).where(Lot.lot_number == site["later"]))
        row = s.scalar(select(Stock).where(Stock.lot_id == lot.id))
        stock.adjust(s, lot, row.location, -47, "Count: only 3 found")
    changed = alice.get(quiet_url, headers={"HX-Request": "true"})
    assert changed.status_code == 200
    assert "Take</dt><dd>3 " in changed.get_data(as_text=True)


def test_a_poll_with_a_bad_version_or_lots_just_draws_the_list(app, site, signed_in):
    alice = picker_client(app, signed_in, "OP-ALICE")
    for query in ("since=x&lots=<script>", "since=&lots=1,,2,-3,99999999999999999", "since=abc&lots=" + "1," * 500):
        answer = alice.get(f"/pick/SO-1/work?{query}", headers={"HX-Request": "true"})
        assert answer.status_code == 200
        assert "<script>" not in answer.get_data(as_text=True)
        assert line_qty(answer.get_data(as_text=True), 1) == "0 / 10"


def test_the_shipped_order_stops_polling(app, site, signed_in):
    db = site["db"]
    alice = picker_client(app, signed_in, "OP-ALICE")
    page = alice.get("/pick/SO-1").get_data(as_text=True)
    with db.write() as s:  # shipped from another station
        order = s.scalar(select(Order).where(Order.number == "SO-1"))
        order.status = OrderStatus.SHIPPED
    body = alice.get(poll_url(page), headers={"HX-Request": "true"}).get_data(as_text=True)
    assert 'data-status="shipped"' in body
    assert 'class="pick-live"' not in body  # nothing more to watch


# --- print-job state, sent by another process --------------------------------------------------------


def started_worker_process(db_url: str, tmp_path):
    """`station worker` in its own process, once it says it is running: it installs its SIGTERM
    handler only after starting to send, so a stop sent earlier would kill it instead of stopping it."""
    process = start_worker_process(db_url, tmp_path)
    seen = []
    while not any("Sending print jobs" in line for line in seen):
        line = process.stdout.readline()
        if not line:
            raise AssertionError("station worker ended before it started:\n" + "".join(seen))
        seen.append(line)
    return process


def job_row(db, job_id: int) -> PrintJob:
    with db.read() as s:
        row = s.get(PrintJob, job_id)
        s.expunge(row)
        return row


def test_a_job_sent_by_a_station_worker_process_shows_as_printed_on_every_page(app, client, db_url, tmp_path,
                                                                          signed_in):
    db = app.extensions["station.db"]
    lot = make_site(db)
    signed_in(client, "picker")  # printing needs someone signed in (any floor role)
    # The lot card's print button (an htmx form post): the answer is the job's live state line.
    answer = client.post("/printers/lot-print", headers={"HX-Request": "true"},
                         data={"lot": lot, "copies": "2", "printer": "dock", "request_id": uuid.uuid4().hex})
    assert answer.status_code == 200
    text = answer.get_data(as_text=True)
    job_id = int(re.search(r'id="job-status-(\d+)"', text).group(1))
    assert 'data-status="queued"' in text
    status_url = html.unescape(re.search(r'hx-get="([^"]+)"', text).group(1))
    assert status_url.startswith(f"/printers/jobs/{job_id}/status")

    # Nothing in this process sends it: only the worker process does.
    time.sleep(0.3)
    assert job_row(db, job_id).status is PrintJobStatus.QUEUED
    assert 'data-status="queued"' in client.get(status_url).get_data(as_text=True)

    process = started_worker_process(db_url, tmp_path)
    try:
        wait_until(lambda: job_row(db, job_id).status is PrintJobStatus.PRINTED, timeout=30,
                   what="the worker process to print the job")
    finally:
        out = stop_process(process)
    assert process.returncode == 0, out

    state = client.get(status_url).get_data(as_text=True)
    assert 'data-status="printed"' in state
    assert "hx-get" not in state.split(">", 1)[0]  # finished: the state line stops polling
    page = client.get(f"/printers/jobs/{job_id}").get_data(as_text=True)
    assert 'data-status="printed"' in page
    board = client.get("/printers").get_data(as_text=True)
    assert re.search(rf'id="job-{job_id}"[^>]*data-status="printed"', board), board[:3000]


# --- PostgreSQL: a job queued by another process wakes the print worker at once ---------------------

ENQUEUE = """
import sys
from station.db import Database
from station.services import printing
db = Database(sys.argv[1])
with db.write() as s:
    print(printing.request_labels(s, sys.argv[2]).id)
db.dispose()
"""


def test_a_job_queued_by_another_process_wakes_the_worker_through_notify(db, db_url, tmp_path):
    import subprocess
    import sys

    from station.processes.print_worker import PrintWorker

    lot = make_site(db)
    # A worker that would otherwise look for jobs only every two minutes.
    worker = PrintWorker(db, threads=1, poll_s=120, status_every=0, spool_root=tmp_path / "spool")
    if db.is_sqlite:
        assert worker.listen is False  # SQLite has no LISTEN/NOTIFY: its workers poll
        return
    with worker:
        assert worker.listener is not None
        assert worker.listener.ready.wait(10), "the listener did not connect"
        time.sleep(1.0)  # the worker's first round (and the listener's catch-up round) are over
        out = subprocess.run([sys.executable, "-c", ENQUEUE, db_url, lot], capture_output=True, text=True,
                             timeout=60, check=True).stdout
        job_id = int(out.strip())
        # Far sooner than the two-minute poll: only the notification can have woken it.
        wait_until(lambda: job_row(db, job_id).status is PrintJobStatus.PRINTED, timeout=30,
                   what="the notified worker to send the job")


# --- the pick page in Chromium, following another picker --------------------------------------------


def test_the_pick_page_in_a_browser_follows_another_picker_without_a_reload(live_server, browser, sqlite_app,
                                                                             live_site, signed_in, signed_in_page):
    from browser_support import HANDHELD, screenshot
    from playwright.sync_api import expect

    sqlite_app.config["PICK_LIVE_SECONDS"] = 1
    lots = _site(live_site)
    context = browser.new_context(viewport=HANDHELD)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        signed_in_page(page, live_server.url, sqlite_app, "picker", badge="OP-ALICE")
        page.goto(f"{live_server.url}/pick/SO-1")
        qty = page.locator('.pick-line[data-line="1"] .pick-line__qty')
        expect(qty).to_contain_text("0 / 10")
        page.evaluate("window.__samePage = true")

        bob = sqlite_app.test_client()  # another picker, another browser
        signed_in(bob, "picker", badge="OP-BOB")
        assert "Picked 6" in scan(bob, f"LOT:{lots['soon']}").get_data(as_text=True)

        expect(qty).to_contain_text("6 / 10", timeout=15_000)
        expect(page.locator(".pick-live__note")).to_be_visible()
        expect(page.locator(".pick-target__fact--lot dd.mono")).to_have_text(lots["later"])
        # The opening banner follows too: it never names the lot someone else took.
        expect(page.locator("#scan-current .banner__message")).to_have_text(
            f"Line 1: scan lot {lots['later']} at A-02.")
        assert page.evaluate("window.__samePage") is True  # no reload
        assert page.evaluate("window.stationSoundLog") == []  # a refresh is not an answer: silent
        assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth + 1")
        screenshot(page, "pick-live-update-360")
        assert not errors, errors
    finally:
        context.close()


def test_the_receiving_confirmations_label_job_is_sent_by_a_worker_process_and_shows_as_printed(app, client, db_url,
                                                                                            tmp_path):
    """Receiving's confirmation shows the label job it queued (live); the worker is another process."""
    from factories import basic_site, printer
    from station.models import StationDevice
    from station.services import catalog
    from test_receiving_page import EXPIRY_ISO, confirm, pallet_label
    from test_receiving_page import scan as receive_scan
    from test_receiving_page import sign_in as receiver_signed_in

    db = app.extensions["station.db"]
    basic_site(db)
    with db.write() as s:
        zebra = printer(s, "dock-zebra")
        s.add(StationDevice(name="Dock 1", location_id=catalog.location_by_code(s, "DOCK").id, printer_id=zebra.id))
    receiver_signed_in(client)
    receive_scan(client, pallet_label())
    text = confirm(client, qty="40", expiry=EXPIRY_ISO, supplier_lot="S-77").get_data(as_text=True)
    job_id = int(re.search(r'id="job-status-(\d+)"', text).group(1))
    status_url = html.unescape(re.search(rf'id="job-status-{job_id}"[^>]*hx-get="([^"]+)"', text).group(1))
    assert 'data-status="queued"' in client.get(status_url).get_data(as_text=True)

    process = started_worker_process(db_url, tmp_path)
    try:
        wait_until(lambda: job_row(db, job_id).status is PrintJobStatus.PRINTED, timeout=30,
                   what="the worker process to send the receipt's labels")
    finally:
        out = stop_process(process)
    assert process.returncode == 0, out
    assert 'data-status="printed"' in client.get(status_url).get_data(as_text=True)
