"""Writers on SQLite take their turn in the order they asked (station/db.py WriterQueue): SQLite's own busy
wait lets a late writer in before one that has waited long, so the slowest receipt under load waited
seconds. Threads here are real; every wait is on a condition, none on elapsed time."""
from __future__ import annotations

import threading

from sqlalchemy import func, select

from station.db import WriterQueue
from station.models import Movement
from station.services import catalog, receiving
from test_print_worker import wait_until


def queued(q: WriterQueue, n: int) -> bool:
    return len(q._waiting) == n


def test_writers_get_their_turn_in_the_order_they_asked():
    q = WriterQueue(timeout=60)
    q.enter()  # the writer in the database now
    order: list[int] = []

    def writer(k: int) -> None:
        q.enter()
        order.append(k)
        q.leave()

    threads = []
    for k in range(8):
        threads.append(threading.Thread(target=writer, args=(k,)))
        threads[-1].start()
        wait_until(lambda k=k: queued(q, k + 1), what=f"writer {k} queued")
    q.leave()
    for t in threads:
        t.join(timeout=30)
    assert order == list(range(8))
    assert q._owner is None and not q._waiting


def test_the_writer_with_the_turn_may_begin_again_and_one_that_gives_up_falls_back_to_sqlite():
    q = WriterQueue(timeout=60)
    q.enter()
    q.enter()  # a nested write session of the same thread: no queueing behind itself
    assert not q._waiting
    impatient = WriterQueue(timeout=0.01)
    impatient.enter()
    outcome = []
    late = threading.Thread(target=lambda: (impatient.enter(), outcome.append(impatient._owner)))
    late.start()
    late.join(timeout=30)
    assert outcome == [threading.get_ident()]  # it went on without the turn, which stays with its owner
    assert not impatient._waiting
    impatient.leave()
    assert impatient._owner is None  # and nobody waits for a writer that left the queue


def test_twenty_concurrent_receipts_all_book_and_the_turn_is_free_after(db, site):
    with db.write() as s:
        item, dock = catalog.item_by_sku(s, "BOLT"), catalog.location_by_code(s, "A-01")
        item_id, dock_id = item.id, dock.id
    with db.read() as s:
        before = s.scalar(select(func.count()).select_from(Movement))
    errors: list[BaseException] = []
    start = threading.Barrier(20)

    def receive(k: int) -> None:
        try:
            start.wait(timeout=30)
            with db.write() as s:
                receiving.receive(s, item=s.get(catalog.Item, item_id), qty=k + 1,
                                  location=s.get(catalog.Location, dock_id), supplier_lot=f"S-{k}")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=receive, args=(k,)) for k in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Movement)) == before + 20
    if db.is_sqlite:  # PostgreSQL has its own fair row locks: no queue in front of it
        writers = db.engine.station_writers
        assert writers._owner is None and not writers._waiting
