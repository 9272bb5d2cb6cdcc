"""Benchmark of trace (services.trace) on the suggest benchmark's site: a lot with 1,000 descendants.

Not a test: it prints figures. Target (issue 6): forward and backward trace of that lot in under
200 ms (median and p95) on SQLite and PostgreSQL, at 1,000,000 lots / 5,000,000 movements.

    .venv/bin/python bench/trace_bench.py                   # 1M lots, SQLite + PostgreSQL
    .venv/bin/python bench/trace_bench.py --lots 10000      # a small site, to see it work
    .venv/bin/python bench/trace_bench.py --no-pg --runs 100

The site is the one bench/suggest_bench.py loads (reused from bench/data/ and the PostgreSQL schema
lots_<n>; loaded first when missing). The genealogy is added inside one transaction that is rolled
back at the end, so the suggest data is never changed and needs no copy:

    50 existing site lots (receipts) --> 10 of them were made from 5 more each (depth 2 backward)
        \\-> X, the traced lot, made from those 50
             X -> 10 lots -> 90 lots -> 900 lots  (1,000 descendants, 3 levels; production links,
                                                   a tenth of level 2 also made from a second level-1
                                                   lot, a tenth of level 3 split off rather than made)
             each level-3 lot shipped to one or two of 50 customers (about 1,350 shipments),
             a third of the new lots still in stock at a line.
    plus --links other production links among the rest of the site's lots (default one per five
    lots: 200,000 at 1M), so the recursive walk runs over a lot_links table of a site's size.

Timed per call: look the lot up by number and trace it (a fresh session state each time, as a
request has), forward from X (1,001 lots), backward from X (101 lots) and backward from a leaf (the
whole chain up to the receipts). Also timed once per backend: the picture layout and the CSV of
the forward trace.
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import suggest_bench as sb  # noqa: E402

from sqlalchemy import event, func, insert, select, text  # noqa: E402

from station.db import Database  # noqa: E402
from station.models import Customer, Lot, LotLink, Movement, Stock  # noqa: E402
from station.schema import upgrade  # noqa: E402
from station.services import catalog  # noqa: E402
from station.services.trace import trace  # noqa: E402
from station import clock  # noqa: E402
from station.views.trace_csv import to_csv  # noqa: E402
from station.views.trace_pdf import to_pdf  # noqa: E402
from station.views.trace_graph import picture  # noqa: E402

TARGET_MS = 200.0
FANOUT = (10, 9, 10)  # children per lot at each level below X: 10 + 90 + 900 = 1,000 descendants
N_CUSTOMERS = 50


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def add_genealogy(session, seed: int = 6) -> dict:
    """Insert the genealogy (see the module docstring) in `session`'s transaction; returns lot numbers."""
    rng = random.Random(seed)
    t = Lot.__table__
    next_id = (session.scalar(select(func.max(t.c.id))) or 0) + 1
    next_move = (session.scalar(select(func.max(Movement.__table__.c.id))) or 0) + 1
    next_stock = (session.scalar(select(func.max(Stock.__table__.c.id))) or 0) + 1
    next_customer = (session.scalar(select(func.max(Customer.__table__.c.id))) or 0) + 1
    sources = list(session.scalars(select(t.c.id).where(t.c.origin == "receipt").order_by(t.c.id).limit(100)))
    if len(sources) < 100:
        raise SystemExit("the site has fewer than 100 received lots; load a bigger one (--lots)")
    item_id = session.scalar(select(t.c.item_id).where(t.c.origin == "production").limit(1)) or 1
    customers = [{"id": next_customer + i, "code": f"TRC-{i:03d}", "name": f"Trace customer {i}"}
                 for i in range(N_CUSTOMERS)]
    session.execute(insert(Customer.__table__), customers)
    lots, links, moves, stock = [], [], [], []
    day = sb.AS_OF

    def new_lot(tag: str) -> int:
        nonlocal next_id
        lot_id, next_id = next_id, next_id + 1
        on_hand = rng.choice([0, 0, 5])
        lots.append({"id": lot_id, "lot_number": f"TR-{tag}", "item_id": item_id, "produced_on": day,
                     "fifo_date": day, "status": "available" if on_hand else "consumed", "on_hand": on_hand,
                     "origin": "production"})
        line = rng.choice(list(sb.LINES))
        moves.append({"kind": "produce", "lot_id": lot_id, "qty": 20, "to_location_id": line,
                      "reference": f"production of TR-{tag}"})
        if on_hand:
            stock.append({"lot_id": lot_id, "location_id": line, "qty": on_hand})
        return lot_id

    def link(component: int, output: int, kind: str = "production") -> None:
        links.append({"output_lot_id": output, "component_lot_id": component, "qty": rng.randint(1, 20),
                      "kind": kind})

    x = new_lot("X")
    for component in sources[:50]:
        link(component, x)
    for k, made in enumerate(sources[:10]):  # ten of X's components were made from five more each
        for component in sources[50 + 5 * k: 55 + 5 * k]:
            link(component, made)
    levels = [[x]]
    for depth, fan in enumerate(FANOUT, 1):
        level = []
        for p, parent in enumerate(levels[-1]):
            for c in range(fan):
                child = new_lot(f"{depth}-{p:03d}-{c}")
                split = depth == 3 and c == 0
                link(parent, child, "split" if split else "production")
                if depth == 2 and c == 0 and len(levels[-1]) > 1:  # made from two level-1 lots
                    link(levels[-1][(p + 1) % len(levels[-1])], child)
                level.append(child)
        levels.append(level)
    leaves = levels[-1]
    for n, lot_id in enumerate(leaves):
        for _ in range(1 + (n % 3 == 0) + (n % 5 == 0)):
            customer = customers[rng.randrange(N_CUSTOMERS)]["id"]
            moves.append({"kind": "ship", "lot_id": lot_id, "qty": rng.randint(1, 5),
                          "from_location_id": rng.choice(list(sb.SHIPPING)), "customer_id": customer,
                          "reference": f"SO-T{rng.randrange(10**5):05d}"})
    for i, m in enumerate(moves):  # one shape for every row (one executemany)
        m["id"] = next_move + i
        for key in ("from_location_id", "to_location_id", "customer_id"):
            m.setdefault(key, None)
    for i, s in enumerate(stock):
        s["id"] = next_stock + i
    session.execute(insert(Lot.__table__), lots)
    session.execute(insert(LotLink.__table__), links)
    session.execute(insert(Movement.__table__), moves)
    session.execute(insert(Stock.__table__), stock)
    session.flush()
    numbers = dict(session.execute(select(t.c.id, t.c.lot_number).where(t.c.id.in_([x, leaves[-1]]))).all())
    return {"X": numbers[x], "leaf": numbers[leaves[-1]], "lots": len(lots), "links": len(links),
            "shipments": sum(1 for m in moves if m["kind"] == "ship")}


def add_background_links(session, count: int, seed: int = 9) -> int:
    """`count` production links among the site's other lots (none touching the lots the genealogy uses),
    so the walk runs over a lot_links table of a site's size rather than an almost empty one; then the
    table's statistics are refreshed inside the transaction, as autovacuum would have done."""
    t = Lot.__table__
    lowest = (session.scalar(select(func.max(t.c.id)).where(
        t.c.id.in_(select(t.c.id).where(t.c.origin == "receipt").order_by(t.c.id).limit(100)))) or 0) + 1
    highest = session.scalar(select(func.max(t.c.id)).where(~t.c.lot_number.like("TR-%"))) or 0
    if count <= 0 or highest - lowest < 100:
        return 0
    rng = random.Random(seed)
    pairs: set[tuple[int, int]] = set()
    while len(pairs) < count:
        component = rng.randint(lowest, highest - 1)
        pairs.add((min(highest, component + rng.randint(1, 50)), component))
    rows = [{"output_lot_id": o, "component_lot_id": c, "qty": 1, "kind": "production"} for o, c in pairs]
    for i in range(0, len(rows), 10_000):
        session.execute(insert(LotLink.__table__), rows[i:i + 10_000])
    session.flush()
    session.execute(text("ANALYZE lot_links"))
    return len(rows)


def time_traces(db: Database, label: str, runs: int, warmup: int, background: int) -> list[tuple]:
    """Time the traces inside one transaction that adds the genealogy and is rolled back."""
    results = []
    statements = [0]

    def count(*_args):
        statements[0] += 1

    with db.engine.connect() as conn:
        outer = conn.begin()
        from sqlalchemy.orm import Session

        session = Session(bind=conn, join_transaction_mode="create_savepoint")
        try:
            started = time.perf_counter()
            g = add_genealogy(session)
            extra = add_background_links(session, background)
            print(f"{label}: genealogy added in {time.perf_counter() - started:.1f} s "
                  f"({g['lots']:,} lots, {g['links']:,} links, {g['shipments']:,} shipments; "
                  f"{extra:,} other links among the site's lots)", flush=True)
            cases = [("forward from X", g["X"], "forward"), ("backward from X", g["X"], "backward"),
                     ("backward from a leaf", g["leaf"], "backward")]
            event.listen(db.engine, "before_cursor_execute", count)
            for name, number, direction in cases:
                times, shape = [], None
                for i in range(warmup + runs):
                    session.expunge_all()  # no identity-map help between calls, as for a request
                    before = statements[0]
                    t0 = time.perf_counter()
                    tr = trace(session, catalog.lot_by_number(session, number), direction)
                    elapsed = (time.perf_counter() - t0) * 1000
                    if i >= warmup:
                        times.append(elapsed)
                    shape = (len(tr.nodes), len(tr.edges), len(tr.shipments) + len(tr.receipts), tr.max_depth,
                             statements[0] - before)
                results.append((label, name, shape, statistics.median(times), percentile(times, 95), max(times)))
            event.remove(db.engine, "before_cursor_execute", count)
            session.expunge_all()
            tr = trace(session, catalog.lot_by_number(session, g["X"]), "forward")
            t0 = time.perf_counter()
            pic = picture(tr)
            layout_ms = (time.perf_counter() - t0) * 1000
            t0 = time.perf_counter()
            text = to_csv(tr)
            csv_ms = (time.perf_counter() - t0) * 1000
            t0 = time.perf_counter()
            pdf = to_pdf(tr, pic, title=f"Trace forward of lot {tr.lot_number}", generated=clock.now())
            pdf_ms = (time.perf_counter() - t0) * 1000
            print(f"{label}: picture of the forward trace {layout_ms:.1f} ms ({len(pic.boxes)} boxes, "
                  f"summarised={pic.summarised}); CSV {csv_ms:.1f} ms ({text.count(chr(10)):,} lines); "
                  f"PDF {pdf_ms:.0f} ms ({len(pdf) / 1024:,.0f} KiB)", flush=True)
        finally:
            session.close()
            outer.rollback()  # the suggest data stays as it was
    return results


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lots", type=int, default=1_000_000, help="the site's size (suggest_bench's data)")
    ap.add_argument("--runs", type=int, default=50, help="timed calls per case and backend")
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--links", type=int, default=None,
                    help="other production links among the site's lots (default: one per five lots)")
    ap.add_argument("--pg", metavar="URL", help="PostgreSQL server (default 127.0.0.1:5432, or STATION_BENCH_PG_URL)")
    ap.add_argument("--no-pg", action="store_true")
    args = ap.parse_args(argv)

    gen = sb.Generator(args.lots, 1, 1000, 0.5)
    results = []
    path = sb.load_sqlite(gen, rebuild=False)
    db = Database(f"sqlite:///{path}")
    upgrade(db)  # tables added since the suggest data was loaded (lot_links' kind, ...)
    background = args.links if args.links is not None else args.lots // 5
    results += time_traces(db, "sqlite", args.runs, args.warmup, background)
    db.dispose()

    if not args.no_pg:
        admin = args.pg or os.environ.get("STATION_BENCH_PG_URL") or "postgresql://postgres@127.0.0.1:5432/postgres"
        if sb.pg_reachable(admin):
            url = sb.load_pg(gen, admin, rebuild=False)
            db = Database(url)
            upgrade(db)
            results += time_traces(db, "postgresql", args.runs, args.warmup, background)
            db.dispose()
        else:
            print(f"postgresql: {admin} does not answer; skipped", flush=True)

    load = os.getloadavg()[0]
    print(f"\ntrace at {args.lots:,} lots, {args.runs} timed calls each (load average {load:.1f})")
    print(f"{'backend':<11} {'case':<22} {'lots':>5} {'links':>5} {'ship/rcpt':>9} {'depth':>5} {'stmts':>5} "
          f"{'median ms':>10} {'p95 ms':>8} {'max ms':>8}  target < {TARGET_MS:.0f} ms")
    ok = True
    for backend, name, (nodes, edges, moves, depth, stmts), median, p95, worst in results:
        hit = median < TARGET_MS and p95 < TARGET_MS
        ok &= hit
        print(f"{backend:<11} {name:<22} {nodes:>5} {edges:>5} {moves:>9} {depth:>5} {stmts:>5} "
              f"{median:>10.1f} {p95:>8.1f} {worst:>8.1f}  {'yes' if hit else 'NO'}")
    if load > 2:
        print(f"(the machine was busy: load average {load:.1f} on {os.cpu_count()} CPUs; rerun on a quiet machine)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
