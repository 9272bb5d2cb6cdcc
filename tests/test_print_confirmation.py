"""'Sent' is not 'printed' (issue 13, point 7): the print worker against the printer emulator over real TCP.

A job the printer takes while it is out of paper waits in its receive buffer: it is 'sent', shown as waiting
in the printer, and 'printed' only once the printer's own ~HS counters show it done. A printer switched off
and on with the job in its buffer loses it: the job goes back to the queue and prints once after the restart;
lost a second time, it fails in words. Printers that cannot report stay at 'sent' ("sent to the spooler")."""
from __future__ import annotations


import pytest
from sqlalchemy import select, update

from devices.printers.emulator import PrinterEmulator, remote_set_mode
from station import clock
from station.models import Printer, PrintJob, PrintJobStatus
from station.processes.print_worker import PrintWorker
from station.services import print_queue, printing
from station.services.errors import Conflict

from test_printing import jobs, make_site
from test_server import wait_for as wait_until

QUEUED, SENT, PRINTED, FAILED = (PrintJobStatus.QUEUED, PrintJobStatus.SENT, PrintJobStatus.PRINTED,
                                 PrintJobStatus.FAILED)


@pytest.fixture
def emulator(tmp_path):
    with PrinterEmulator("127.0.0.1", 0, tmp_path / "emulator", control_port=0, boot=0.6) as emu:
        yield emu


def worker(db, **options) -> PrintWorker:
    options = {"threads": 1, "poll_s": 0.02, "backoff_first": 0.05, "backoff_max": 0.2, "status_every": 0,
               "confirm_every": 0.05, "networks": "127.0.0.1/32", **options}
    return PrintWorker(db, **options)



def tcp_site(db, emulator) -> str:
    return make_site(db, {"zebra": f"tcp://127.0.0.1:{emulator.port}?timeout=1"})


def queue(db, lot: str, n: int = 1) -> list[int]:
    with db.write() as s:
        return [printing.request_labels(s, lot).id for _ in range(n)]


def job(db, job_id: int) -> PrintJob:
    return next(j for j in jobs(db) if j.id == job_id)


def printed_count(emulator, payload: bytes) -> int:
    return sum(1 for data in emulator.printed() if data == payload)


def test_a_job_taken_while_out_of_paper_waits_in_the_printer_then_prints_once(db, emulator, app, signed_in):
    lot = tcp_site(db, emulator)
    emulator.set_mode("paper_out")
    (job_id,) = queue(db, lot)
    # The worker trusts a recent "ready": the job goes out just after the roll ran out.
    w = trusting_worker(db, emulator)
    with w:
        waiting = wait_until(lambda: (j := job(db, job_id)).status is SENT and j, what="sent")
        assert emulator.held == 1 and emulator.jobs == []
        polls = w.stats.confirm_polls
        wait_until(lambda: w.stats.confirm_polls >= polls + 3, what="three more polls of the printer")
        assert job(db, job_id).status is SENT and job(db, job_id).printed_at is None   # still in the printer

        # The pages say where it is.
        client = app.test_client()
        signed_in(client, "picker")
        with db.read() as s:
            tone, words, sentence = printing.sent_words(waiting, s.get(Printer, waiting.printer_id))
        assert words == "Sent — waiting in the printer (paper out)" and "out of labels" in sentence
        page = client.get("/printers").get_data(as_text=True)
        assert "Sent — waiting in the printer (paper out)" in page
        line = client.get(f"/printers/jobs/{job_id}/status").get_data(as_text=True)
        assert "waiting in the printer (paper out)" in line and "hx-trigger" in line   # still polling
        api = client.get(f"/api/v1/print-jobs/{job_id}", headers=token_header(app))
        assert api.status_code == 200 and api.json["status"] == "sent"

        emulator.set_mode("ready")
        done = wait_until(lambda: (j := job(db, job_id)).status is PRINTED and j, what="printed")
    assert done.printed_at is not None and done.lost_count == 0
    assert printed_count(emulator, done.payload) == 1 and len(emulator.jobs) == 1
    line = client.get(f"/printers/jobs/{job_id}/status").get_data(as_text=True)
    assert "Printed" in line and "hx-trigger" not in line
    assert w.stats.printed == 1 and w.stats.lost == 0


def test_a_power_cycle_with_the_job_in_the_buffer_requeues_it_and_it_prints_once(db, emulator):
    lot = tcp_site(db, emulator)
    emulator.set_mode("paper_out")
    (job_id,) = queue(db, lot)
    w = trusting_worker(db, emulator)
    with w:
        wait_until(lambda: job(db, job_id).status is SENT, what="sent")
        assert emulator.held == 1
        # Switched off and on (through the control port, as `station printer-emulator --set-mode` does);
        # it restarts until the worker has found it unreachable, then comes back ready.
        remote_set_mode("127.0.0.1", emulator.control_port, "power_cycle", boot=30)
        assert emulator.lost == 1 and emulator.held == 0
        wait_until(lambda: printer_state(db) == "offline", what="the worker to see it unreachable")
        emulator.set_mode("ready")
        done = wait_until(lambda: (j := job(db, job_id)).status is PRINTED and j, timeout=20, what="printed")
    assert done.lost_count == 1 and "restarted" in done.last_error and "sent again" in done.last_error
    assert printed_count(emulator, done.payload) == 1 and len(emulator.jobs) == 1
    assert w.stats.lost == 1 and w.stats.printed == 1


def test_a_job_lost_twice_fails_in_words(db, emulator):
    lot = tcp_site(db, emulator)
    emulator.set_mode("paper_out")
    (job_id,) = queue(db, lot)
    w = trusting_worker(db, emulator)
    with w:
        wait_until(lambda: job(db, job_id).status is SENT, what="sent")
        emulator.set_mode("power_cycle", boot=30)
        wait_until(lambda: printer_state(db) == "offline", what="the worker to see it unreachable")
        emulator.set_mode("paper_out")   # back from the restart, still out of paper, its buffer empty
        wait_until(lambda: job(db, job_id).lost_count == 1, what="lost once")
        # Sent again into the printer (out of paper: the worker trusts a 'ready' read a moment before).
        wait_until(lambda: w.remember(printer_id(db), _ready(emulator)) or (
            (j := job(db, job_id)).status is SENT and emulator.held == 1 and j), what="sent again")
        emulator.set_mode("power_cycle", boot=30)
        wait_until(lambda: printer_state(db) == "offline", what="the worker to see it unreachable again")
        emulator.set_mode("ready")
        failed = wait_until(lambda: (j := job(db, job_id)).status is FAILED and j, what="failed")
    assert failed.lost_count == 2 and failed.last_error.startswith("Lost twice")
    assert "Not sent a third time" in failed.last_error and "reprint" in failed.last_error
    assert emulator.jobs == [] and emulator.lost == 2


def test_a_job_still_in_the_printer_when_the_worker_stops_stays_sent_and_says_so(db, emulator):
    lot = tcp_site(db, emulator)
    emulator.set_mode("paper_out")
    (job_id,) = queue(db, lot)
    with trusting_worker(db, emulator):
        wait_until(lambda: job(db, job_id).status is SENT, what="sent")
    left = job(db, job_id)
    assert left.status is SENT and printing.unconfirmed(left)
    assert left.last_error.startswith("Not confirmed: the print worker stopped while this label was still in "
                                      "printer zebra's buffer")


def test_a_restart_while_printing_is_not_taken_for_printed(db, emulator):
    """Jobs in the buffer of a printer that was printing, gone after it was unreachable: they may have
    printed or not. They stay 'sent', marked not confirmed in words, never 'printed'."""
    lot = tcp_site(db, emulator)
    emulator.set_mode("slow", delay=5)
    ids = queue(db, lot, 2)
    with worker(db) as w:
        wait_until(lambda: all(j.status is SENT for j in jobs(db)), what="sent")
        assert emulator.held == 2
        emulator.set_mode("power_cycle", boot=30)
        wait_until(lambda: printer_state(db) == "offline", what="the worker to see it unreachable")
        emulator.set_mode("ready")
        wait_until(lambda: all(printing.unconfirmed(j) for j in jobs(db)), what="not confirmed")
    for j in jobs(db):
        assert j.id in ids and j.status is SENT and j.printed_at is None and j.lost_count == 0
        assert "may have printed or been lost" in j.last_error
    assert emulator.jobs == [] and w.stats.unconfirmed == 2


def test_a_ready_printer_prints_many_each_once_and_each_is_marked_printed(db, emulator):
    lot = tcp_site(db, emulator)
    ids = queue(db, lot, 30)
    with worker(db, batch=10):
        wait_until(lambda: all(j.status is PRINTED for j in jobs(db)), what="all printed")
    done = {j.id: j for j in jobs(db)}
    emulator.wait_for_jobs(30)
    assert emulator.printed() == [done[i].payload for i in ids]
    assert all(done[i].printed_at >= done[i].sent_at for i in ids)


def test_printers_that_cannot_confirm_stay_sent_and_say_so(db, tmp_path):
    lot = make_site(db, {"dock": "sim://confirm-dock"})
    (job_id,) = queue(db, lot)
    with worker(db, spool_root=tmp_path / "spool"):
        done = wait_until(lambda: (j := job(db, job_id)).status is PRINTED and j, what="sim printed")
    assert done.printed_at is not None   # a sim:// printer has spooled it: as printed as it gets
    spooler = PrintJob(id=1, status=SENT, last_error=None)
    assert printing.sent_words(spooler, Printer(name="p", url="cups://Zebra_dock"))[1] == "Sent to the spooler"
    assert "cannot tell" in printing.sent_words(spooler, Printer(name="p", url="file:///dev/usb/lp0"))[2]
    assert not printing.confirms("tcp://10.0.0.5:9100?confirm=0") and printing.confirms("tcp://10.0.0.5:9100")


def test_pages_say_sent_to_the_spooler_and_stop_following_a_job_that_cannot_be_confirmed(app, signed_in):
    db = app.extensions["station.db"]
    lot = make_site(db, {"dock-cups": "cups://Zebra_dock", "zebra": "tcp://10.20.0.15:9100"})
    with db.write() as s:
        spooled = printing.request_labels(s, lot, printer="dock-cups").id
        waiting = printing.request_labels(s, lot, printer="zebra").id
        s.execute(update(PrintJob).values(status=SENT, sent_at=clock.now(), attempts=1))
        s.execute(update(Printer).where(Printer.name == "zebra").values(state="head_open",
                                                                        state_checked_at=clock.now()))
    client = app.test_client()
    signed_in(client, "picker")
    board = client.get("/printers").get_data(as_text=True)
    assert "Sent to the spooler" in board and "Sent — waiting in the printer (head open)" in board
    line = client.get(f"/printers/jobs/{spooled}/status").get_data(as_text=True)
    assert "Sent to the spooler" in line and "hx-trigger" not in line      # nothing more to learn
    line = client.get(f"/printers/jobs/{waiting}/status").get_data(as_text=True)
    assert "waiting in the printer (head open)" in line and "hx-trigger" in line   # it may still print
    with db.write() as s:
        print_queue.mark_unconfirmed(s, [waiting], "the printer restarted while printing")
    line = client.get(f"/printers/jobs/{waiting}/status").get_data(as_text=True)
    assert "Sent — not confirmed" in line and "Not confirmed: the printer restarted" in line
    assert "hx-trigger" not in line


def test_a_printed_job_cannot_be_cancelled_and_can_be_reprinted_a_sent_one_too(db):
    lot = make_site(db, {"zebra": "tcp://10.20.0.15:9100"})
    ids = queue(db, lot, 2)
    with db.write() as s:
        s.execute(update(PrintJob).where(PrintJob.id == ids[0]).values(status=PRINTED, printed_at=clock.now()))
        s.execute(update(PrintJob).where(PrintJob.id == ids[1]).values(status=SENT))
    with db.write() as s:
        with pytest.raises(Conflict, match="has already printed"):
            printing.cancel(s, ids[0])
        with pytest.raises(Conflict, match="already sent to the printer"):
            printing.cancel(s, ids[1])
        again = [printing.reprint(s, job_id).reprint_of_id for job_id in ids]
    assert again == ids


def test_a_lost_job_goes_back_to_the_queue_once_then_fails(db):
    lot = make_site(db, {"zebra": "tcp://10.20.0.15:9100"})
    (job_id,) = queue(db, lot)
    with db.write() as s:
        s.execute(update(PrintJob).values(status=SENT, sent_at=clock.now()))
        assert print_queue.mark_lost(s, job_id, "zebra").status is QUEUED
        assert print_queue.mark_lost(s, job_id, "zebra") is None     # only a sent job can be lost
    done = job(db, job_id)
    assert (done.lost_count, done.sent_at, done.claimed_by) == (1, None, None) and "sent again" in done.last_error
    with db.write() as s:
        s.execute(update(PrintJob).values(status=SENT))
        assert print_queue.mark_lost(s, job_id, "zebra").status is FAILED
    assert job(db, job_id).lost_count == 2 and job(db, job_id).last_error.startswith("Lost twice: printer zebra")


# --- helpers -------------------------------------------------------------------------------------------


def printer_id(db) -> int:
    with db.read() as s:
        return s.scalar(select(Printer.id).where(Printer.name == "zebra"))


def printer_state(db) -> str | None:
    with db.read() as s:
        return s.scalar(select(Printer.state).where(Printer.name == "zebra"))


def trusting_worker(db, emulator, **options) -> PrintWorker:
    """A worker that read 'ready' from the printer a moment before its roll ran out (and trusts it for a
    minute): the next job goes out without asking again, into a printer that is out of paper."""
    w = worker(db, status_fresh=60, **options)
    w.remember(printer_id(db), _ready(emulator))
    return w


def _ready(emulator):
    """A 'ready' status as the printer answered just before the roll ran out."""
    from devices.printers import PrinterStatus

    return PrinterStatus(f"tcp://127.0.0.1:{emulator.port}?timeout=1", (), detail="~HS: ready",
                         formats_in_buffer=0, labels_remaining=0)


def token_header(app) -> dict:
    from station.services import tokens

    with app.extensions["station.db"].write() as s:
        secret = tokens.create_token(s, "confirm-test", "supervisor")
    return {"Authorization": f"Bearer {secret}"}
