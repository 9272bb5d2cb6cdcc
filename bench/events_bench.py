"""Benchmark: what the event outbox costs a receipt, and webhook deliveries per second (issue 16).

Not a test: it prints figures. Targets: the outbox adds under 10 % to a receipt; webhook deliveries per
second to a local receiver with 2 workers (reported, no target).

    .venv/bin/python bench/events_bench.py                      # SQLite, and PostgreSQL if 127.0.0.1:5432 answers
    .venv/bin/python bench/events_bench.py --no-pg --rounds 3 --receipts 100 --events 1000 --lots 50
    .venv/bin/python bench/events_bench.py --only outbox        # or --only deliveries

Each backend gets a fresh database (a temporary SQLite file; a new PostgreSQL database, dropped after).

1. The outbox's cost. A receipt is `services.receiving.receive` of a new supplier lot in its own write
   transaction (`db.write()`, as one API call or one confirm on the receiving page), as in
   bench/chain_bench.py, with the item (and its GTINs), supplier and dock looked up by code in that
   transaction as POST /api/v1/receipts does; with issue 16 it also writes its `receipt.booked` event,
   numbered at commit under the event head's lock. Three ways, alternating in blocks of 5 receipts within
   each round, so the machine's other work falls on all alike:
     events     the code as built;
     no-op      `station.services.events.record` replaced by a no-op in this process: the body is still
                built (lot, item, GTINs, supplier, location), no row is written and nothing is numbered;
     no events  `record` and the body builders (event_bodies.lot_facts, location_facts) no-ops: the
                receipt as it was before issue 16.
   Per round it prints receipts/s, the median ms per receipt (wall, and this thread's CPU) and the
   difference in %; then the median of the rounds, the time spent inside the outbox itself (see InOutbox:
   less disturbed by the machine's load than a difference of two receipts), the events written per
   second, and the check that every receipt of the events way wrote one event, numbered without gaps.

2. Deliveries. A local receiver (a threaded HTTP server on 127.0.0.1 in this process, answering 204 and
   checking each signature), one subscription to `receipt.booked` (through services/webhooks.py), K events
   written as receipts of L lots (the first receipt of a lot makes it, the rest are more pallets of it),
   25 receipts per transaction. Then 2 `station worker` processes (STATION_WEBHOOK_NETWORKS=127.0.0.1/32,
   2 webhook threads each, as `station worker` starts them) are started and timed until the receiver has
   every event (backlog: deliveries/s from the workers' start and from the first delivery to the last).
   With the workers still running, M more receipts are written at a steady pace (by default half the
   backlog's rate: any faster and the latency measured is the queue's growth), one per transaction, each
   commit stamped, and the receiver stamps each arrival (one clock, one process): p50/p99/max of
   commit-to-receipt. Finally: every event arrived (count, no unknown ids), duplicates, and per-lot order
   (each lot's events first arrived in position order).
"""
from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import event as sa_event  # noqa: E402
from sqlalchemy import func, select  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from station.db import Database  # noqa: E402
from station.models import Event, LocationKind  # noqa: E402
from station.schema import upgrade  # noqa: E402
from station import webhook_policy  # noqa: E402
from station.services import catalog, event_bodies, events, receiving, webhooks  # noqa: E402
from pgkit import throwaway_database  # noqa: E402

STATION = str(ROOT / ".venv" / "bin" / "station")
MODES = ("events", "no-op", "no events")
NETWORKS = "127.0.0.1/32"  # the receiver is on this machine: the allow-list must name it


# --- the site --------------------------------------------------------------------------------------------


class Site:
    """An item with a GTIN, a supplier and a dock. A receipt looks them up in its own transaction by SKU
    and code, as POST /api/v1/receipts does (catalog.item_by_sku loads the GTINs with the item), then
    books the goods with `services.receiving.receive`."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.n = 0
        with db.write() as s:
            catalog.create_item(s, sku="YOG-500", name="Greek yoghurt 500 g", unit="cup",
                                gtins=["4000000000020"], shelf_life_days=20)
            catalog.create_supplier(s, code="HOF", name="Hofmuehle")
            catalog.create_location(s, code="DOCK-1", kind=LocationKind.DOCK)

    def receive(self, s, supplier_lot: str) -> None:
        receiving.receive(s, item=catalog.item_by_sku(s, "YOG-500"), qty=48,
                          location=catalog.location_by_code(s, "DOCK-1"),
                          supplier=catalog.supplier_by_code(s, "HOF"), supplier_lot=supplier_lot)

    def receipt(self) -> tuple[float, float]:
        """(wall seconds, this thread's CPU seconds) of one receipt of a new lot."""
        self.n += 1
        started, cpu = time.perf_counter(), time.thread_time()
        with self.db.write() as s:
            self.receive(s, f"B-{self.n:06d}")
        return time.perf_counter() - started, time.thread_time() - cpu


# --- part 1: the outbox's cost -----------------------------------------------------------------------------


def _noop_record(session, type, body, *, key, by=None, at=None):  # noqa: A002 - record's own signature
    return None


def _noop_facts(*args, **kwargs):
    return None


class Switch:
    """Puts a replacement in every station module that holds the original function (a module that did
    `from .event_bodies import lot_facts` holds its own reference), and puts the original back."""

    def __init__(self, module, name: str, replacement) -> None:
        self.original = getattr(module, name)
        self.replacement = replacement
        self.places = [(m, attr) for m in list(sys.modules.values())
                       if m is not None and getattr(m, "__name__", "").startswith("station")
                       for attr, value in list(vars(m).items()) if value is self.original]

    def on(self) -> None:
        for m, attr in self.places:
            setattr(m, attr, self.replacement)

    def off(self) -> None:
        for m, attr in self.places:
            setattr(m, attr, self.original)


class InOutbox:
    """The time a receipt spends in the outbox itself, timed around each piece: `events.record` (the event
    queued in the transaction) and the commit hook (the head moved on and the event inserted with its
    position, straight to the driver). Far less disturbed by the machine's load than the difference of
    two whole-receipt figures; the building of the body is not in it."""

    def __init__(self) -> None:
        self.seconds = self.cpu = 0.0
        self.original_record = events.record
        self.record = self._timed(events.record)
        self.hook = self._timed(events._before_commit)

    def _timed(self, fn):
        def timed(*args, **kwargs):
            started, cpu = time.perf_counter(), time.thread_time()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - started
                self.cpu += time.thread_time() - cpu
        return timed

    def install(self, switch: Switch) -> None:
        switch.original = self.record  # the events way now records through the timer
        sa_event.remove(Session, "before_commit", events._before_commit)
        sa_event.listen(Session, "before_commit", self.hook)

    def uninstall(self, switch: Switch) -> None:
        switch.original = self.original_record
        switch.off()
        sa_event.remove(Session, "before_commit", self.hook)
        events.install()


def set_mode(mode: str, switches: dict[str, Switch]) -> None:
    switches["record"].on() if mode in ("no-op", "no events") else switches["record"].off()
    for name in ("lot_facts", "location_facts"):
        switches[name].on() if mode == "no events" else switches[name].off()


def outbox(url: str, label: str, rounds: int, per_round: int, block: int) -> dict:
    db = Database(url)
    upgrade(db)
    site = Site(db)
    switches = {"record": Switch(events, "record", _noop_record),
                "lot_facts": Switch(event_bodies, "lot_facts", _noop_facts),
                "location_facts": Switch(event_bodies, "location_facts", _noop_facts)}
    results = []  # per round: {mode: ([wall], [cpu])}
    written = 0
    timed = InOutbox()
    try:
        for _ in range(50):  # first-use costs (imports, prepared plans) out of the figures
            site.receipt()
        written += 50
        timed.install(switches["record"])
        for r in range(rounds):
            times = {m: ([], []) for m in MODES}
            for b in range(0, per_round, block):
                order = MODES[(b // block + r) % 3:] + MODES[:(b // block + r) % 3]
                for mode in order:
                    set_mode(mode, switches)
                    for _ in range(min(block, per_round - b)):
                        wall, cpu = site.receipt()
                        times[mode][0].append(wall)
                        times[mode][1].append(cpu)
                        written += mode == "events"
            results.append(times)
    finally:
        timed.uninstall(switches["record"])
        set_mode("events", switches)
    with db.read() as s:
        count = s.scalar(select(func.count()).select_from(Event))
        top = s.scalar(select(func.max(Event.position))) or 0
        unnumbered = s.scalar(select(func.count()).select_from(Event).where(Event.position.is_(None)))
    db.dispose()
    return {"label": label, "rounds": results, "expected": written, "count": count, "top": top,
            "unnumbered": unnumbered, "in_outbox_ms": timed.seconds / (written - 50) * 1000,
            "in_outbox_cpu_ms": timed.cpu / (written - 50) * 1000}


def _ms(values: list[float]) -> float:
    return statistics.median(values) * 1000


def show_outbox(r: dict) -> None:
    rounds = r["rounds"]
    n = len(rounds[0]["events"][0])
    print(f"\n{r['label']}: {len(rounds)} rounds of {n} receipts each way, interleaved in blocks")
    print(f"   {'round':>5}  {'events r/s':>10} {'no-op r/s':>10} {'none r/s':>10}   "
          f"{'events ms':>9} {'no-op ms':>9} {'none ms':>9}   {'vs no-op':>8} {'vs none':>8}   "
          f"{'CPU vs no-op':>12} {'CPU vs none':>11}")
    per_round = []
    for i, times in enumerate(rounds, 1):
        rate = {m: len(times[m][0]) / sum(times[m][0]) for m in MODES}
        med = {m: _ms(times[m][0]) for m in MODES}
        cpu = {m: _ms(times[m][1]) for m in MODES}
        row = {"rate": rate, "med": med, "cpu": cpu,
               "vs_noop": 100 * (med["events"] / med["no-op"] - 1),
               "vs_none": 100 * (med["events"] / med["no events"] - 1),
               "cpu_noop": 100 * (cpu["events"] / cpu["no-op"] - 1),
               "cpu_none": 100 * (cpu["events"] / cpu["no events"] - 1)}
        per_round.append(row)
        print(f"   {i:>5}  {rate['events']:>10.0f} {rate['no-op']:>10.0f} {rate['no events']:>10.0f}   "
              f"{med['events']:>9.3f} {med['no-op']:>9.3f} {med['no events']:>9.3f}   "
              f"{row['vs_noop']:>+7.1f}% {row['vs_none']:>+7.1f}%   "
              f"{row['cpu_noop']:>+11.1f}% {row['cpu_none']:>+10.1f}%")

    def mid(key, mode=None):
        return statistics.median(row[key][mode] if mode else row[key] for row in per_round)

    print(f"   {'median':>5}  {mid('rate', 'events'):>10.0f} {mid('rate', 'no-op'):>10.0f} "
          f"{mid('rate', 'no events'):>10.0f}   {mid('med', 'events'):>9.3f} {mid('med', 'no-op'):>9.3f} "
          f"{mid('med', 'no events'):>9.3f}   {mid('vs_noop'):>+7.1f}% {mid('vs_none'):>+7.1f}%   "
          f"{mid('cpu_noop'):>+11.1f}% {mid('cpu_none'):>+10.1f}%")
    print(f"   inside the outbox per receipt (record; at commit the head's move and the event's INSERT): "
          f"wall {r['in_outbox_ms']:.3f} ms = {100 * r['in_outbox_ms'] / mid('med', 'no events'):.1f} % of the median "
          f"receipt without events; CPU {r['in_outbox_cpu_ms']:.3f} ms = "
          f"{100 * r['in_outbox_cpu_ms'] / mid('cpu', 'no events'):.1f} % of its CPU")
    print(f"   events written: {mid('rate', 'events'):,.0f}/s alongside their receipts (one receipt.booked each)")
    ok = r["count"] == r["expected"] and r["top"] == r["count"] and r["unnumbered"] == 0
    print(f"   check: {r['count']} events for {r['expected']} receipts written the events way, "
          f"positions 1..{r['top']}, "
          f"{r['unnumbered']} unnumbered -> {'ok' if ok else 'WRONG'}")
    verdict = {k: "OK" if mid(k) < 10 else "MISSED" for k in ("vs_noop", "vs_none", "cpu_noop", "cpu_none")}
    print(f"   target (under +10 %): wall {verdict['vs_noop']} against no-op record, {verdict['vs_none']} against "
          f"no events; CPU {verdict['cpu_noop']} / {verdict['cpu_none']}")


# --- part 2: deliveries ---------------------------------------------------------------------------------------


@dataclass
class Arrival:
    at: float  # time.time() when the request had been read
    uid: str
    position: int
    key: str
    signed: bool


@dataclass
class Receiver:
    """A webhook receiver on 127.0.0.1: answers 204 to every POST and keeps what arrived."""

    secret: str
    arrivals: list[Arrival] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                at = time.time()
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()
                receiver.add(at, self.headers, body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/station"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def add(self, at: float, headers, body: bytes) -> None:
        event = json.loads(body)
        with self.lock:
            self.arrivals.append(Arrival(at, headers.get("Station-Event-Id") or event.get("id"),
                                         event.get("position"), event.get("key"), verify(self.secret, headers, body)))

    def count(self) -> int:
        with self.lock:
            return len({a.uid for a in self.arrivals})

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def verify(secret: str, headers, body: bytes) -> bool:
    """The signature as the README tells an integrator to check it (HMAC-SHA256 over timestamp + body)."""
    stamp, given = headers.get("Station-Timestamp", ""), headers.get("Station-Signature", "")
    expected = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected, part.split("=", 1)[-1].strip()) for part in given.split(","))


def subscribe(db: Database, url: str, secret: str) -> None:
    """One subscription to receipt.booked, made as the admin's page and API make it (the URL checked
    against the allow-list the workers get)."""
    with db.write() as s:
        webhooks.create(s, name="ERP (bench)", url=url, types=["receipt.booked"], secret=secret,
                        networks=webhook_policy.parse_networks(NETWORKS))


def write_backlog(site: Site, n_events: int, lots: int, per_transaction: int = 25) -> None:
    """n_events receipt.booked events on `lots` lots: a lot's first receipt makes it, the rest join it."""
    done = 0
    while done < n_events:
        with site.db.write() as s:
            for i in range(done, min(n_events, done + per_transaction)):
                site.receive(s, f"L-{i % lots:05d}")
        done = min(n_events, done + per_transaction)


def start_workers(env: dict, n: int, threads: int, poll: float, log_dir: Path) -> list[subprocess.Popen]:
    workers = []
    for i in range(n):
        log = open(log_dir / f"worker-{i}.log", "wb")  # noqa: SIM115 - lives with the process
        workers.append(subprocess.Popen([STATION, "worker", "--poll", str(poll), "--webhook-threads", str(threads)],
                                        env=env, stdout=log, stderr=subprocess.STDOUT))
    return workers


def stop_workers(workers: list[subprocess.Popen]) -> None:
    for w in workers:
        if w.poll() is None:
            w.send_signal(signal.SIGTERM)
    for w in workers:
        try:
            w.wait(timeout=30)
        except subprocess.TimeoutExpired:
            w.kill()
            w.wait()


def wait_until(condition, ceiling: float, what: str, workers: list[subprocess.Popen]) -> None:
    deadline = time.monotonic() + ceiling
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"gave up after {ceiling:.0f} s waiting for {what}")
        if any(w.poll() is not None for w in workers):
            raise RuntimeError(f"a worker exited ({[w.returncode for w in workers]}) while waiting for {what}")
        time.sleep(0.01)


def live(site: Site, n: int, lots: int, rate: float) -> dict[str, float]:
    """n receipts of the backlog's lots at `rate` per second, one per transaction: uid -> commit time."""
    committed = {}
    started = time.monotonic()
    for i in range(n):
        due = started + i / rate
        pause = due - time.monotonic()
        if pause > 0:
            time.sleep(pause)  # the pace of the writes, not a wait for a result
        with site.db.write() as s:
            site.receive(s, f"L-{i % lots:05d}")
        at = time.time()
        with site.db.read() as s:  # this process is the only writer of events now: the newest is this one
            uid = s.scalar(select(Event.uid).order_by(Event.position.desc()).limit(1))
        committed[uid] = at
    return committed


def deliveries(url: str, label: str, n_events: int, lots: int, n_live: int, live_rate: float,
               n_workers: int, threads: int, poll: float, ceiling: float) -> dict:
    db = Database(url)
    upgrade(db)
    site = Site(db)
    receiver = Receiver(secret="bench-secret-" + os.urandom(8).hex()).start()
    with tempfile.TemporaryDirectory(prefix="events-bench-instance-") as instance:
        env = {**os.environ, "STATION_DATABASE_URL": url, "STATION_INSTANCE": instance,
               "STATION_WEBHOOK_NETWORKS": NETWORKS, "PYTHONUNBUFFERED": "1"}
        subscribe(db, receiver.url, receiver.secret)
        started = time.perf_counter()
        write_backlog(site, n_events, lots)
        write_s = time.perf_counter() - started
        workers = start_workers(env, n_workers, threads, poll, Path(instance))
        try:
            started = time.time()
            wait_until(lambda: receiver.count() >= n_events, ceiling, f"{n_events} deliveries", workers)
            drained = time.time()
            with receiver.lock:
                first = min(a.at for a in receiver.arrivals)
                backlog_arrivals = len(receiver.arrivals)
            # Paced below what the workers just showed they can do: above it the backlog grows and the
            # latency measured is the queue's, not a delivery's.
            backlog_rate = n_events / max(drained - first, 1e-3)
            live_rate = live_rate or round(backlog_rate / 2, 1)
            committed = live(site, n_live, lots, live_rate)
            wait_until(lambda: receiver.count() >= n_events + n_live, ceiling, "the live deliveries", workers)
        finally:
            stop_workers(workers)
            receiver.stop()
            said = [line for i in range(n_workers)
                    for line in (Path(instance) / f"worker-{i}.log").read_text(errors="replace").splitlines()
                    if line.startswith("webhook worker stopped")]
    with db.read() as s:
        sent = {uid: (pos, key) for uid, pos, key in s.execute(select(Event.uid, Event.position, Event.key)
                                                                 .where(Event.type == "receipt.booked"))}
    db.dispose()
    return {"label": label, "events": n_events, "lots": lots, "workers": n_workers, "threads": threads,
            "poll": poll, "write_s": write_s,
            "live_rate": live_rate, "from_start_s": drained - started, "first_to_last_s": drained - first,
            "backlog_arrivals": backlog_arrivals, "arrivals": receiver.arrivals, "committed": committed,
            "sent": sent, "said": said}


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def show_deliveries(r: dict) -> None:
    arrivals, sent = r["arrivals"], r["sent"]
    print(f"\n{r['label']}: {r['events']:,} receipt.booked events on {r['lots']} lots "
          f"(written in {r['write_s']:.1f} s), {r['workers']} `station worker` processes "
          f"({r['threads']} webhook threads each, --poll {r['poll']:g})")
    print(f"   backlog: all {r['events']:,} delivered {r['from_start_s']:.2f} s after the workers were started "
          f"= {r['events'] / r['from_start_s']:,.0f} deliveries/s (process start included); first to last "
          f"{r['first_to_last_s']:.2f} s = {r['events'] / r['first_to_last_s']:,.0f} deliveries/s")
    first = {}
    for a in sorted(arrivals, key=lambda a: a.at):
        first.setdefault(a.uid, a)
    latency = [(first[uid].at - at) * 1000 for uid, at in r["committed"].items() if uid in first]
    if latency:
        print(f"   live: {len(latency)} events written at {r['live_rate']:g}/s, one per transaction; commit to "
              f"receipt: p50 {percentile(latency, 50):.0f} ms, p99 {percentile(latency, 99):.0f} ms, "
              f"max {max(latency):.0f} ms")
    unknown = set(first) - set(sent)
    missing = set(sent) - set(first)
    duplicates = len(arrivals) - len(first)
    out_of_order = 0
    last_position: dict[str, int] = {}
    for a in sorted(first.values(), key=lambda a: a.at):
        key, position = sent.get(a.uid, (None, None))[1], sent.get(a.uid, (None, None))[0]
        if key is None:
            continue
        if position < last_position.get(key, 0):
            out_of_order += 1
        last_position[key] = max(position, last_position.get(key, 0))
    for line in r["said"]:
        print(f"   {line}")
    unsigned = sum(1 for a in arrivals if not a.signed)
    ok = not unknown and not missing and not out_of_order and not unsigned
    print(f"   check: {len(first):,} of {len(sent):,} events arrived, {len(missing)} missing, {len(unknown)} unknown, "
          f"{duplicates} duplicate deliveries, {out_of_order} out of order within their lot, {unsigned} with a "
          f"signature that does not verify -> {'ok' if ok else 'WRONG'}")


# --- main ----------------------------------------------------------------------------------------------------


def backends(no_pg: bool, prefix: str, tmp: str):
    """(label, url, drop) for SQLite, then PostgreSQL if it answers."""
    yield "SQLite", f"sqlite:///{tmp}/{prefix}.db", None
    pg = None if no_pg else throwaway_database(f"station_{prefix}")
    if pg is not None:
        yield "PostgreSQL", pg[0], pg[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("outbox", "deliveries"), help="one part only")
    parser.add_argument("--rounds", type=int, default=5, help="outbox: rounds (default 5)")
    parser.add_argument("--receipts", type=int, default=300, help="outbox: receipts per way per round (default 200)")
    parser.add_argument("--block", type=int, default=5, help="outbox: receipts per block (default 5)")
    parser.add_argument("--events", type=int, default=5000, help="deliveries: backlog events (default 5000)")
    parser.add_argument("--lots", type=int, default=200, help="deliveries: lots they are on (default 200)")
    parser.add_argument("--live", type=int, default=200, help="deliveries: events written while the workers "
                        "run, for the latency (default 200)")
    parser.add_argument("--live-rate", type=float, default=0, help="deliveries: their pace per second (default: half "
                        "the backlog's deliveries/s)")
    parser.add_argument("--workers", type=int, default=2, help="deliveries: `station worker` processes (default 2)")
    parser.add_argument("--webhook-threads", type=int, default=2, help="deliveries: webhook threads per worker "
                        "(default 2, as `station worker`)")
    parser.add_argument("--poll", type=float, default=0.5, help="deliveries: the workers' --poll, seconds an idle "
                        "thread waits before looking again (default 0.5, as `station worker`)")
    parser.add_argument("--ceiling", type=float, default=600, help="deliveries: seconds to wait at most (default 600)")
    parser.add_argument("--no-pg", action="store_true", help="SQLite only")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs", flush=True)
    with tempfile.TemporaryDirectory(prefix="events-bench-") as tmp:
        if args.only != "deliveries":
            for label, url, drop in backends(args.no_pg, "outbox_bench", tmp):
                try:
                    show_outbox(outbox(url, label, args.rounds, args.receipts, args.block))
                finally:
                    if drop:
                        drop()
                print(f"   load average {os.getloadavg()[0]:.2f}", flush=True)
        if args.only != "outbox":
            for label, url, drop in backends(args.no_pg, "delivery_bench", tmp):
                try:
                    show_deliveries(deliveries(url, label, args.events, args.lots, args.live, args.live_rate,
                                               args.workers, args.webhook_threads, args.poll, args.ceiling))
                finally:
                    if drop:
                        drop()
                print(f"   load average {os.getloadavg()[0]:.2f}", flush=True)


if __name__ == "__main__":
    main()
