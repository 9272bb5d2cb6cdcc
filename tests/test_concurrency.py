"""Concurrent pickers on one lot: stock is never oversold and the ledger matches stock."""
from __future__ import annotations

import threading

from sqlalchemy import func, select

from station.models import Movement, MovementKind
from station.services import catalog, picking, receiving
from station.services.errors import InsufficientStock

from factories import TODAY, assert_books_balance, basic_site


def test_twenty_pickers_asking_seven_each_from_one_hundred(db):
    basic_site(db)
    with db.write() as s:
        number = receiving.receive(s, item=catalog.item_by_sku(s, "BOLT"), qty=100,
                                   location=catalog.location_by_code(s, "A-01"), on=TODAY).lot_number
    outcomes: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(20)

    def picker():
        start.wait()
        try:
            with db.write() as s:
                picking.pick(s, lot=catalog.lot_by_number(s, number),
                             location=catalog.location_by_code(s, "A-01"), qty=7, on=TODAY)
            outcome = "picked"
        except InsufficientStock:
            outcome = "refused"
        except Exception as exc:  # noqa: BLE001 - any other error is a failure, shown in the assert
            outcome = repr(exc)
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=picker) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["picked"] * 14 + ["refused"] * 6
    with db.read() as s:
        lot = catalog.lot_by_number(s, number)
        at_a01 = sum(st.qty for st in lot.stock if st.location.code == "A-01")
        picks = s.scalar(select(func.count()).select_from(Movement).where(Movement.kind == MovementKind.PICK))
        assert (at_a01, picks) == (2, 14)
        assert_books_balance(s)
