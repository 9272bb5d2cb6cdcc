"""Benchmark: 1,000 lot labels through the print outbox to the printer emulator over TCP.

Not a test: it prints figures. Target (issue 4): 1,000 labels to the emulator in under 2 s, with the
printer, not the app, the bottleneck.

    .venv/bin/python bench/print_bench.py                 # SQLite, and PostgreSQL if 127.0.0.1:5432 answers
    .venv/bin/python bench/print_bench.py --labels 5000 --no-pg
    .venv/bin/python bench/print_bench.py --printer-delay 0.002   # a printer taking 2 ms per label

Each run uses a fresh database (a temporary SQLite file; a new PostgreSQL database, dropped after) with
one printer, tcp://127.0.0.1:PORT of a `PrinterEmulator` in its own process (so the printer does not
share the app's interpreter), and 50 lots of an item with a GTIN. Three phases, each on new jobs:

1. request: N x `services.printing.request_labels` (each in its own write transaction, as N API calls
   would be), timed as label data (reading the lot), render (ZPL) and the rest (the insert and commit);
2. send: a `PrintWorker` (1 thread, batches of 50) sends the N queued jobs; its time is split into
   claims and outcome writes (the database), status reads (~HS) and sends (connect, write, ~HS confirm:
   the printer); timed to the last job handed over (sent or printed) and to the last job seen printed
   (the worker's confirm thread reads the emulator's ~HS counters: formats in buffer, labels remaining);
3. end to end: the worker running while N requests arrive one after another, from the first request
   to the last job handed over, and to the last job seen printed.

Then the emulator's own count proves each label was stored exactly once, and every job ends 'printed'.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from station.db import Database  # noqa: E402
from station.models import LocationKind, Printer, PrintJob, PrintJobStatus  # noqa: E402
from station.processes.print_worker import PrintWorker  # noqa: E402
from station.schema import upgrade  # noqa: E402
from station.services import catalog, printing, receiving  # noqa: E402
from pgkit import throwaway_database  # noqa: E402

# The emulator listens on loopback, which a network printer may only be on when named (station/netpolicy.py).
EMULATOR_NETWORK = "127.0.0.1/32"
LOTS = 50

EMULATOR = """
import sys, time
from devices.printers.emulator import PrinterEmulator
emu = PrinterEmulator("127.0.0.1", 0, sys.argv[1], control_port=0, delay=float(sys.argv[2]),
                      buffer_size=int(sys.argv[3]))
emu.start()
print(emu.port, emu.control_port, flush=True)
sys.stdin.read()
emu.stop()
"""


class Emulator:
    """The printer emulator in a child process; stdin closed = stop."""

    def __init__(self, spool: Path, delay: float) -> None:
        mode_delay = delay if delay > 0 else 0.5
        self.process = subprocess.Popen([sys.executable, "-c", EMULATOR, str(spool), str(mode_delay), "100"],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT,
                                        env={**os.environ, "PYTHONPATH": str(ROOT)})
        self.port, self.control = map(int, self.process.stdout.readline().split())
        if delay > 0:
            self.call("/mode", {"mode": "slow", "delay": delay})

    def call(self, path: str, body: dict | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"http://127.0.0.1:{self.control}{path}", data=data,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.load(answer)

    def printed(self) -> int:
        return self.call("/status")["printed"]

    def wait_printed(self, count: int, timeout: float = 120) -> float:
        started = time.perf_counter()
        while self.printed() < count:
            if time.perf_counter() - started > timeout:
                raise RuntimeError(f"the emulator printed {self.printed()} of {count}")
            time.sleep(0.01)
        return time.perf_counter() - started

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=10)
        self.process.stdout.close()


class Timed:
    """Wraps a function of services.labels, adding up the time spent in it."""

    def __init__(self, module, name: str) -> None:
        self.module, self.name, self.inner = module, name, getattr(module, name)
        self.seconds = 0.0
        setattr(module, name, self)

    def __call__(self, *args, **kwargs):
        started = time.perf_counter()
        try:
            return self.inner(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - started

    def reset(self) -> float:
        seconds, self.seconds = self.seconds, 0.0
        return seconds


def site(db: Database, port: int) -> list[str]:
    with db.write() as s:
        s.add(Printer(name="bench", url=f"tcp://127.0.0.1:{port}?timeout=5", label_size="4x6", dpi=203))
        item = catalog.create_item(s, sku="YOG-500", name="Greek yoghurt 500 g, natural", unit="cup",
                                   gtins=["4000000000020"], shelf_life_days=20)
        dock = catalog.create_location(s, code="DOCK-1", kind=LocationKind.DOCK)
        return [receiving.receive(s, item=item, qty=48 + n, location=dock, supplier_lot=f"SL-{n:04d}").lot_number
                for n in range(LOTS)]


def request(db: Database, lots: list[str], n: int, tag: str) -> float:
    started = time.perf_counter()
    for i in range(n):
        with db.write() as s:
            printing.request_labels(s, lots[i % len(lots)], printer="bench", request_id=f"{tag}-{i}")
    return time.perf_counter() - started


HANDED_OVER = (PrintJobStatus.SENT, PrintJobStatus.PRINTED)


def count_in(db: Database, states) -> int:
    with db.read() as s:
        return s.scalar(select(func.count()).select_from(PrintJob).where(PrintJob.status.in_(states)))


def wait_for(db: Database, count: int, states=HANDED_OVER, timeout: float = 120) -> None:
    """Until count jobs are in states (default: handed over to the printer, sent or already printed)."""
    deadline = time.perf_counter() + timeout
    while count_in(db, states) < count:
        if time.perf_counter() > deadline:
            raise RuntimeError(f"only {count_in(db, states)} of {count} {'/'.join(s.value for s in states)}")
        time.sleep(0.005)


def wait_printed(db: Database, count: int) -> None:
    wait_for(db, count, (PrintJobStatus.PRINTED,))


def run(url: str, label: str, n: int, delay: float, spool: Path) -> dict:
    db = Database(url)
    upgrade(db)
    emulator = Emulator(spool, delay)
    data_t = Timed(printing.label_service, "label_data")
    render_t = Timed(printing.label_service, "render_zpl")
    try:
        lots = site(db, emulator.port)
        request(db, lots, 20, "warm")  # first-use costs (imports, fonts, prepared plans) out of the figures
        with PrintWorker(db, threads=1, batch=50, poll_s=0.01, status_every=0, networks=EMULATOR_NETWORK) as worker:
            wait_printed(db, 20)
        emulator.wait_printed(20)
        data_t.reset(), render_t.reset()

        # 1. requests alone
        req_s = request(db, lots, n, "req")
        data_s, render_s = data_t.reset(), render_t.reset()

        # 2. the worker alone, on the n queued jobs
        worker = PrintWorker(db, threads=1, batch=50, poll_s=0.01, status_every=0, networks=EMULATOR_NETWORK)
        started = time.perf_counter()
        worker.start()
        wait_for(db, 20 + n)
        send_wall = time.perf_counter() - started
        wait_printed(db, 20 + n)
        confirm_wall = time.perf_counter() - started
        worker.stop()
        stats = worker.stats
        printed_after = emulator.wait_printed(20 + n)

        # 3. end to end: requests while the worker runs
        worker2 = PrintWorker(db, threads=1, batch=50, poll_s=0.01, status_every=0, networks=EMULATOR_NETWORK)
        worker2.start()
        started = time.perf_counter()
        request(db, lots, n, "e2e")
        wait_for(db, 20 + 2 * n)
        e2e_s = time.perf_counter() - started
        wait_printed(db, 20 + 2 * n)
        e2e_printed_s = time.perf_counter() - started
        worker2.stop()
        emulator.wait_printed(20 + 2 * n)
        printed = emulator.printed()
        with db.read() as s:
            statuses = dict(s.execute(select(PrintJob.status, func.count()).group_by(PrintJob.status)).all())
    finally:
        for t in (data_t, render_t):
            setattr(t.module, t.name, t.inner)
        emulator.close()
        db.dispose()
    return {"label": label, "n": n, "req_s": req_s, "data_s": data_s, "render_s": render_s,
            "send_wall": send_wall, "confirm_wall": confirm_wall, "e2e_printed_s": e2e_printed_s,
            "confirm_s": stats.confirm_s, "printed_stat": stats.printed, "claim_s": stats.claim_s, "record_s": stats.record_s,
            "status_s": stats.status_s, "send_s": stats.send_s, "printed_after": printed_after,
            "e2e_s": e2e_s, "printed": printed, "expected": 20 + 2 * n,
            "statuses": {k.value: v for k, v in statuses.items()}}


def report(r: dict) -> None:
    n = r["n"]

    def per(seconds: float) -> str:
        return f"{seconds * 1000 / n:7.3f} ms"

    print(f"\n== {r['label']}: {n} lot labels to the emulator over TCP ==")
    print(f"1. request (service, one transaction each): {r['req_s']:.2f} s = {n / r['req_s']:,.0f} labels/s")
    print(f"     label data {per(r['data_s'])}   render ZPL {per(r['render_s'])}   "
          f"insert+commit {per(r['req_s'] - r['data_s'] - r['render_s'])}   per label")
    app_db = r["claim_s"] + r["record_s"]
    printer = r["status_s"] + r["send_s"]
    print(f"2. send (worker, 1 thread, batches of 50):  {r['send_wall']:.2f} s = {n / r['send_wall']:,.0f} labels/s")
    print(f"     database {per(app_db)} (claims {per(r['claim_s'])}, outcomes {per(r['record_s'])})   "
          f"printer {per(printer)} (send+confirm {per(r['send_s'])}, status {per(r['status_s'])})   per label")
    print(f"     the emulator had printed the last one {r['printed_after'] * 1000:.0f} ms after the last was sent")
    print(f"   seen printed (the printer's ~HS counters): {r['confirm_wall']:.2f} s = "
          f"{n / r['confirm_wall']:,.0f} labels/s   (the confirm thread's own ~HS polls: "
          f"{r['confirm_s'] * 1000:.0f} ms in all, beside the sending)")
    print(f"3. end to end (requests while the worker sends): {r['e2e_s']:.2f} s = {n / r['e2e_s']:,.0f} labels/s"
          f"   target: {n} in < 2 s: {'yes' if r['e2e_s'] < 2 * n / 1000 else 'NO'}")
    print(f"   ... to the last seen printed: {r['e2e_printed_s']:.2f} s = {n / r['e2e_printed_s']:,.0f} labels/s")
    share = printer / (printer + app_db) * 100
    print(f"   worker time at the printer: {share:.0f}%  (the rest in the database)")
    ok = r["printed"] == r["expected"] and r["statuses"] == {"printed": r["expected"]}
    print(f"   exactly once: emulator stored {r['printed']} of {r['expected']} jobs; job states {r['statuses']}"
          f" -> {'OK' if ok else 'MISMATCH'}")



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=int, default=1000)
    parser.add_argument("--no-pg", action="store_true", help="SQLite only")
    parser.add_argument("--printer-delay", type=float, default=0.0,
                        help="seconds the emulator takes per label (default 0: as fast as it can store them)")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory(prefix="print-bench-") as tmp:
        results = [run(f"sqlite:///{tmp}/bench.db", "SQLite", args.labels, args.printer_delay, Path(tmp) / "s1")]
        pg = None if args.no_pg else throwaway_database("station_print_bench")
        if pg is not None:
            url, drop = pg
            try:
                results.append(run(url, "PostgreSQL", args.labels, args.printer_delay, Path(tmp) / "s2"))
            finally:
                drop()
    for r in results:
        report(r)


if __name__ == "__main__":
    threading.current_thread().name = "bench"
    main()
