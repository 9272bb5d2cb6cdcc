"""The print outbox (services.printing): requests, idempotency, cancel, reprint, validation, and claims
that never hand one job to two workers — on SQLite and PostgreSQL."""
from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
from sqlalchemy import func, select, update

from devices.printers import Printer as Device
from devices.printers import PrinterStatus, SendOutcome
from station import clock
from station.db import Database
from station.models import LocationKind, Printer, PrintJob, PrintJobStatus, StationDevice
from station.processes.print_worker import PrintWorker
from station.services import catalog, print_queue, printing, receiving
from station.services.errors import Conflict, NotFound

from factories import gtin13

QUEUED, SENDING, SENT = PrintJobStatus.QUEUED, PrintJobStatus.SENDING, PrintJobStatus.SENT
FAILED, CANCELLED = PrintJobStatus.FAILED, PrintJobStatus.CANCELLED


def make_site(db, printers: dict[str, str] | None = None) -> str:
    """Printers (name -> URL), an item with a GTIN and a received lot; returns the lot number."""
    printers = printers or {"dock": "sim://dock"}
    with db.write() as s:
        for name, url in printers.items():
            s.add(Printer(name=name, url=url, label_size="4x6", dpi=203))
        item = catalog.create_item(s, sku="YOG-500", name="Greek yoghurt 500 g", unit="cup",
                                   gtins=[gtin13("400000000002")], shelf_life_days=20)
        dock = catalog.create_location(s, code="DOCK-1", kind=LocationKind.DOCK)
        return receiving.receive(s, item=item, qty=48, location=dock, supplier_lot="SL-77").lot_number


def jobs(db) -> list[PrintJob]:
    with db.read() as s:
        rows = list(s.scalars(select(PrintJob).order_by(PrintJob.id)))
        s.expunge_all()  # keep them loaded: the read session's rollback would expire them
        return rows


def job_count(db) -> int:
    with db.read() as s:
        return s.scalar(select(func.count()).select_from(PrintJob))


@pytest.fixture
def lot(db) -> str:
    return make_site(db)


# --- requests ------------------------------------------------------------------------------------


def test_a_request_stores_a_queued_job_rendered_once_for_the_printer(db, lot):
    with db.write() as s:
        job = printing.request_labels(s, lot, copies=2)
    (stored,) = jobs(db)
    assert stored.id == job.id and stored.status is QUEUED and stored.attempts == 0
    assert stored.template == "lot" and stored.copies == 2 and (stored.label_size, stored.dpi) == ("4x6", 203)
    assert stored.payload.startswith(b"^XA") and stored.payload.endswith(b"^PQ2^XZ")
    assert lot.encode() in stored.payload and b"^PW812" in stored.payload
    assert stored.data["lot_number"] == lot and stored.data["supplier_lot"] == "SL-77"
    with db.read() as s:
        assert stored.lot_id == catalog.lot_by_number(s, lot).id
        # The preview comes from the stored data, at the job's size and density.
        png = printing.job_preview_png(stored)
    assert png.startswith(b"\x89PNG")


def test_the_label_is_rendered_for_the_printers_size_and_density(db):
    lot = make_site(db, {"small": "sim://small"})
    with db.write() as s:
        s.execute(update(Printer).values(label_size="4x2", dpi=300))
    with db.write() as s:
        job = printing.request_labels(s, lot)
    assert (job.label_size, job.dpi) == ("4x2", 300) and b"^PW1200^LL600" in job.payload


def test_a_repeated_request_id_returns_the_first_job_and_stores_nothing_more(db, lot):
    with db.write() as s:
        first = printing.request_labels(s, lot, copies=3, request_id="till-7:req-0001")
    with db.write() as s:
        again = printing.request_labels(s, lot, copies=3, request_id="till-7:req-0001")
    assert again.id == first.id and job_count(db) == 1
    with pytest.raises(Conflict) as refused, db.write() as s:
        printing.request_labels(s, lot, copies=5, request_id="till-7:req-0001")
    assert refused.value.code == "request_id_reused" and job_count(db) == 1


def test_racing_requests_with_one_request_id_make_one_job(db, lot):
    barrier = threading.Barrier(6)
    ids: list[int] = []
    errors: list[BaseException] = []

    def request() -> None:
        barrier.wait()
        try:
            with db.write() as s:
                ids.append(printing.request_labels(s, lot, request_id="same-request").id)
        except BaseException as exc:  # noqa: BLE001 - shown in the assert
            errors.append(exc)

    threads = [threading.Thread(target=request) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(set(ids)) == 1 and len(ids) == 6 and job_count(db) == 1


@pytest.mark.parametrize("options, code", [
    ({"copies": 0}, "invalid_copies"),
    ({"copies": 1001}, "invalid_copies"),
    ({"copies": "2"}, "invalid_copies"),
    ({"copies": True}, "invalid_copies"),
    ({"printer": "nowhere"}, "unknown_printer"),
    ({"template": "poster"}, "unknown_template"),
    ({"template": "location"}, "unknown_template"),   # not a lot's label
    ({"request_id": "has spaces"}, "invalid_request_id"),
    ({"request_id": "x" * 65}, "invalid_request_id"),
    ({"station": "Nowhere tablet"}, "unknown_station"),
])
def test_bad_requests_are_refused_with_400_and_store_nothing(db, lot, options, code):
    with pytest.raises(printing.BadPrintRequest) as refused, db.write() as s:
        printing.request_labels(s, lot, **options)
    assert refused.value.code == code and refused.value.status == 400
    assert job_count(db) == 0


def test_an_unknown_lot_is_not_found_and_an_inactive_printer_is_refused(db, lot):
    with pytest.raises(NotFound), db.write() as s:
        printing.request_labels(s, "NO-SUCH-LOT")
    with db.write() as s:
        s.execute(update(Printer).values(active=False))
    with pytest.raises(printing.BadPrintRequest) as refused, db.write() as s:
        printing.request_labels(s, lot, printer="dock")
    assert refused.value.code == "printer_inactive" and job_count(db) == 0


def test_the_printer_is_the_one_named_else_the_stations_else_the_only_one(db):
    lot = make_site(db, {"dock": "sim://dock", "line": "sim://line"})
    with db.write() as s:
        line = printing.printer_by_name(s, "line")
        s.add(StationDevice(name="Line PC", printer_id=line.id))
    with pytest.raises(printing.BadPrintRequest) as refused, db.write() as s:
        printing.request_labels(s, lot)  # two printers, no station: which one?
    assert refused.value.code == "no_printer"
    with db.write() as s:
        assert printing.request_labels(s, lot, station="Line PC").printer_id == line.id
        assert printing.request_labels(s, lot, station="Line PC", printer="dock").printer_id != line.id
        s.execute(update(Printer).where(Printer.name == "dock").values(active=False))
    with db.write() as s:
        assert printing.request_labels(s, lot).printer_id == line.id  # the only active one


def test_a_pallet_label_draws_an_sscc_and_its_reprint_keeps_it(db, lot):
    with db.write() as s:
        job = printing.request_labels(s, lot, template="pallet")
    assert job.sscc and len(job.sscc) == 18 and job.sscc.encode() in job.payload
    with db.write() as s:
        s.execute(update(PrintJob).values(status=SENT))
    with db.write() as s:
        again = printing.reprint(s, job.id)
    assert again.sscc == job.sscc and again.payload == job.payload and again.reprint_of_id == job.id


def test_a_test_print_is_a_job_of_its_own_template_with_a_preview(db, lot):
    with db.write() as s:
        job = printing.test_print(s, "dock")
    assert job.template == "test" and job.lot_id is None and b"TEST PRINT" in job.payload
    assert printing.job_preview_png(job).startswith(b"\x89PNG")


# --- cancel and reprint ------------------------------------------------------------------------------


def test_only_queued_or_failed_jobs_can_be_cancelled(db, lot):
    with db.write() as s:
        ids = [printing.request_labels(s, lot).id for _ in range(5)]
    with db.write() as s:
        for job_id, status in zip(ids[1:], (SENDING, SENT, FAILED, CANCELLED)):
            s.execute(update(PrintJob).where(PrintJob.id == job_id).values(status=status))
    with db.write() as s:
        assert printing.cancel(s, ids[0]).status is CANCELLED
        assert printing.cancel(s, ids[3]).status is CANCELLED  # failed
    for job_id in (ids[1], ids[2], ids[4]):
        with pytest.raises(Conflict) as refused, db.write() as s:
            printing.cancel(s, job_id)
        assert refused.value.code == "not_cancellable"
    with pytest.raises(NotFound), db.write() as s:
        printing.cancel(s, 999)


def test_a_reprint_is_a_new_job_with_the_same_label(db):
    lot = make_site(db, {"dock": "sim://dock", "small": "sim://small"})
    with db.write() as s:
        s.execute(update(Printer).where(Printer.name == "small").values(label_size="4x3"))
    with db.write() as s:
        original = printing.request_labels(s, lot, printer="dock", copies=2)
    with pytest.raises(Conflict) as refused, db.write() as s:
        printing.reprint(s, original.id)  # not printed yet
    assert refused.value.code == "not_reprintable"
    with db.write() as s:
        s.execute(update(PrintJob).values(status=SENT, attempts=1))
    with db.write() as s:
        again = printing.reprint(s, original.id)
        elsewhere = printing.reprint(s, original.id, printer="small")
    assert again.id != original.id and again.status is QUEUED and again.attempts == 0
    assert (again.payload, again.data, again.copies, again.reprint_of_id) == (
        original.payload, original.data, 2, original.id)
    # Another label size: drawn again from the same data.
    assert elsewhere.label_size == "4x3" and elsewhere.payload != original.payload
    assert b"^PQ2^XZ" in elsewhere.payload and elsewhere.data == original.data


# --- claims --------------------------------------------------------------------------------------------


def test_claims_take_each_printers_oldest_job_and_one_printer_per_worker_at_a_time(db):
    lot = make_site(db, {"p1": "sim://p1", "p2": "sim://p2"})
    with db.write() as s:
        a = [printing.request_labels(s, lot, printer="p1").id for _ in range(3)]
        b = printing.request_labels(s, lot, printer="p2").id
    with db.write() as s:
        first = print_queue.claim_next(s, "w1")
    with db.write() as s:
        second = print_queue.claim_next(s, "w2", batch=10)
    with db.write() as s:
        third = print_queue.claim_next(s, "w3", batch=10)
    assert [j.id for j in first] == [a[0]]
    assert [j.id for j in second] == [b]      # p1's queue is busy with w1
    assert third == []
    with db.write() as s:
        assert print_queue.mark_sent(s, a[0], "w1")
    with db.write() as s:
        batch = print_queue.claim_next(s, "w3", batch=10)
    assert [j.id for j in batch] == a[1:] and {j.claimed_by for j in batch} == {"w3"}
    assert all(j.status is SENDING for j in batch)


def test_a_printer_in_backoff_holds_its_whole_queue_in_order(db):
    lot = make_site(db)
    with db.write() as s:
        ids = [printing.request_labels(s, lot).id for _ in range(3)]
    with db.write() as s:
        print_queue.claim_next(s, "w1", batch=3)
    with db.write() as s:
        print_queue.retry_later(s, ids[0], "w1", "Printer is out of labels — load a roll",
                             delay=dt.timedelta(seconds=30))
        assert print_queue.release(s, ids[1:], "w1") == 2
    with db.write() as s:
        assert print_queue.claim_next(s, "w2", batch=3) == []  # ids[1] must not overtake ids[0]
        later = clock.now() + dt.timedelta(seconds=31)
        claimed = print_queue.claim_next(s, "w2", batch=3, now=later)
    assert [j.id for j in claimed] == ids
    head = claimed[0]
    assert head.attempts == 1 and head.last_error == "Printer is out of labels — load a roll"


def test_a_claim_whose_worker_died_goes_back_to_the_queue_after_the_lease(db, lot):
    with db.write() as s:
        job_id = printing.request_labels(s, lot).id
    t0 = clock.now()
    with db.write() as s:
        assert [j.id for j in print_queue.claim_next(s, "dead", now=t0)] == [job_id]
    with db.write() as s:
        assert print_queue.claim_next(s, "w2", now=t0 + print_queue.LEASE - dt.timedelta(seconds=1)) == []
    with db.write() as s:
        taken = print_queue.claim_next(s, "w2", now=t0 + print_queue.LEASE + dt.timedelta(seconds=1))
    assert [j.id for j in taken] == [job_id] and taken[0].claimed_by == "w2"
    assert "may print twice" in taken[0].last_error
    with db.write() as s:
        assert not print_queue.mark_sent(s, job_id, "dead")   # its claim is gone: it records nothing
        assert print_queue.mark_sent(s, job_id, "w2")
    (job,) = jobs(db)
    assert job.status is SENT and job.claimed_by == "w2"


def test_renewing_a_lease_keeps_a_slow_workers_jobs(db, lot):
    with db.write() as s:
        job_id = printing.request_labels(s, lot).id
    t0 = clock.now()
    with db.write() as s:
        print_queue.claim_next(s, "slow", now=t0)
    with db.write() as s:
        assert print_queue.renew(s, "slow", now=t0 + print_queue.LEASE) == 1
    with db.write() as s:
        assert print_queue.claim_next(s, "w2", now=t0 + print_queue.LEASE + dt.timedelta(seconds=5)) == []
    with db.write() as s:
        assert print_queue.mark_sent(s, job_id, "slow")


def test_jobs_of_an_inactive_printer_wait(db, lot):
    with db.write() as s:
        printing.request_labels(s, lot)
        s.execute(update(Printer).values(active=False))
    with db.write() as s:
        assert print_queue.claim_next(s, "w1") == []
    assert jobs(db)[0].status is QUEUED


# --- several workers ---------------------------------------------------------------------------------


class RecordingPrinter(Device):
    """Takes every job into a shared list (printer name, payload), slowly enough to interleave."""

    def __init__(self, url: str, log: list, lock: threading.Lock) -> None:
        self.url, self.name, self.log, self.lock = url, url.split("://", 1)[1], log, lock

    def status(self) -> PrinterStatus:
        return PrinterStatus(self.url)

    def send(self, data: bytes, *, preview=None) -> SendOutcome:
        time.sleep(0.0005)
        with self.lock:
            self.log.append((self.name, data))
        return SendOutcome(len(data))


def test_two_workers_send_each_of_200_jobs_exactly_once_in_each_printers_order(db_url):
    """Two workers, each with its own connection pool and two threads (PostgreSQL: FOR UPDATE SKIP
    LOCKED; SQLite: BEGIN IMMEDIATE), against three printers."""
    setup = Database(db_url)
    names = ("p1", "p2", "p3")
    try:
        make_site(setup, {n: f"rec://{n}" for n in names})
        with setup.write() as s:
            for n in range(200):
                printing.enqueue(s, template="test", data={"printer": names[n % 3], "at": f"label {n}"},
                                 printer=names[n % 3])
            expected = {name: [j.payload for j in s.scalars(
                select(PrintJob).join(Printer).where(Printer.name == name).order_by(PrintJob.id))]
                for name in names}
    finally:
        setup.dispose()
    assert len({p for payloads in expected.values() for p in payloads}) == 200  # each label unique

    sent: list[tuple[str, bytes]] = []
    lock = threading.Lock()
    databases = [Database(db_url), Database(db_url)]
    workers = [PrintWorker(d, worker_id=f"worker-{i}", threads=2, batch=5, poll_s=0.01, status_every=0,
                           open_printer=lambda url: RecordingPrinter(url, sent, lock))
               for i, d in enumerate(databases)]
    try:
        for w in workers:
            w.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with databases[0].read() as s:
                if not s.scalar(select(func.count()).select_from(PrintJob).where(PrintJob.status != SENT)):
                    break
            time.sleep(0.05)
    finally:
        for w in workers:
            w.stop()
        stats = [(w.stats.sent, w.stats.retried, w.stats.failed) for w in workers]
        for d in databases:
            d.dispose()
    assert len(sent) == 200 and len(set(p for _, p in sent)) == 200
    for name in names:
        assert [p for n, p in sent if n == name] == expected[name]  # each printer's order kept
    assert sum(s[0] for s in stats) == 200 and all(s[1] == s[2] == 0 for s in stats)
    assert all(s[0] > 0 for s in stats), stats  # both workers did their share


# --- over the API --------------------------------------------------------------------------------


@pytest.fixture
def api(app):
    from station.models import Role
    from station.services.tokens import create_token

    database = app.extensions["station.db"]
    with database.write() as s:
        token = create_token(s, "printing test", Role.SUPERVISOR)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}

    def call(method: str, path: str, body=None):
        return client.open(f"/api/v1{path}", method=method, json=body, headers=headers)

    call.db = database
    return call


def test_api_print_request_is_accepted_with_the_jobs_location(api):
    lot = make_site(api.db)
    answer = api("POST", f"/lots/{lot}/labels", {"copies": 2, "request_id": "erp-123"})
    assert answer.status_code == 202
    job = answer.get_json()
    assert answer.headers["Location"] == f"/api/v1/print-jobs/{job['id']}"
    assert (job["status"], job["printer"], job["lot_number"], job["copies"], job["template"]) == (
        "queued", "dock", lot, 2, "lot")
    assert job["attempts"] == 0 and job["last_error"] is None and job["request_id"] == "erp-123"
    again = api("POST", f"/lots/{lot}/labels", {"copies": 2, "request_id": "erp-123"})
    assert again.status_code == 202 and again.get_json()["id"] == job["id"] and job_count(api.db) == 1
    fetched = api("GET", f"/print-jobs/{job['id']}")
    assert fetched.status_code == 200 and fetched.get_json() == job

    printers = api("GET", "/printers").get_json()["data"]
    assert [(p["name"], p["state"], p["queued"]) for p in printers] == [("dock", "unknown", 1)]
    assert printers[0]["state_text"] == "Printer status unknown"

    cancelled = api("POST", f"/print-jobs/{job['id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.get_json()["status"] == "cancelled"
    twice = api("POST", f"/print-jobs/{job['id']}/cancel")
    assert twice.status_code == 409 and twice.get_json()["error"]["code"] == "not_cancellable"
    reprinted = api("POST", f"/print-jobs/{job['id']}/reprint")
    assert reprinted.status_code == 202 and reprinted.get_json()["reprint_of"] == job["id"]
    assert reprinted.headers["Location"] == f"/api/v1/print-jobs/{reprinted.get_json()['id']}"
    assert api("GET", "/print-jobs/999").status_code == 404


@pytest.mark.parametrize("body, status, code", [
    ({"copies": 0}, 400, "invalid_copies"),
    ({"copies": 5000}, 400, "invalid_copies"),
    ({"copies": 1, "printer": "nowhere"}, 400, "unknown_printer"),
    ({"copies": 1, "template": "poster"}, 400, "unknown_template"),
    ({"copies": "2"}, 422, "invalid"),           # the wrong type: the shape of the body, as everywhere
    ({"copies": 1, "colour": "red"}, 422, "invalid"),
])
def test_api_bad_print_requests_store_nothing(api, body, status, code):
    lot = make_site(api.db)
    answer = api("POST", f"/lots/{lot}/labels", body)
    assert answer.status_code == status and answer.get_json()["error"]["code"] == code
    assert job_count(api.db) == 0


def test_api_print_request_for_an_unknown_lot_is_404(api):
    make_site(api.db)
    answer = api("POST", "/lots/NO-SUCH/labels", {"copies": 1})
    assert answer.status_code == 404 and answer.get_json()["error"]["code"] == "unknown_lot"
    assert job_count(api.db) == 0


def test_api_pallet_labels_draw_an_sscc_for_the_job(api):
    lot = make_site(api.db)
    job = api("POST", f"/lots/{lot}/labels", {"template": "pallet"}).get_json()
    assert job["template"] == "pallet" and len(job["sscc"]) == 18
    again = api("POST", f"/lots/{lot}/labels", {"template": "pallet", "sscc": job["sscc"]}).get_json()
    assert again["sscc"] == job["sscc"]  # a label of that pallet again: no new SSCC drawn
