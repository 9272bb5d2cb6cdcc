"""The event outbox (services/events.py): an event exists exactly when its transaction commits, and
positions follow commit order without gaps on both databases."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from station.models import Event
from station.services import events
from station.services.errors import Invalid


def _record(db, n: int = 1, key: str = "lot:L-1", type: str = "lot.held") -> None:
    with db.write() as s:
        for i in range(n):
            events.record(s, type, {"lot": {"number": key[4:]}, "i": i}, key=key)


def test_events_are_numbered_at_commit_in_order_and_a_rollback_leaves_none(db):
    _record(db, 2)
    with pytest.raises(RuntimeError):
        with db.write() as s:
            events.record(s, "lot.held", {}, key="lot:L-2")
            raise RuntimeError("the change failed")
    with db.write() as s:
        with pytest.raises(RuntimeError):
            with s.begin_nested():  # a refused step inside a transaction that commits
                events.record(s, "lot.held", {}, key="lot:L-3")
                s.flush()
                raise RuntimeError("refused")
        events.record(s, "lot.released", {}, key="lot:L-1")
    with db.read() as s:
        page = events.feed(s)
    assert [(e["position"], e["type"], e["key"]) for e in page.events] == [
        (1, "lot.held", "lot:L-1"), (2, "lot.held", "lot:L-1"), (3, "lot.released", "lot:L-1")]
    assert page.next == 3 and page.events[0]["schema"] == 1 and page.events[0]["data"] == {"lot": {"number": "L-1"},
                                                                                          "i": 0}
    with db.read() as s:
        assert events.feed(s, after=3).events == [] and events.feed(s, after=3).next == 3
        assert [e["position"] for e in events.feed(s, after=1, limit=1).events] == [2]
        other = events.feed(s, types=["lot.recalled"])
        assert other.events == [] and other.next == 3  # nothing of that type up to 3: the cursor moves on


def test_a_garbage_cursor_or_type_is_refused_in_words():
    for bad in ["-1", "abc", "1e5", "１２", "9" * 19, "1 OR 1=1"]:
        with pytest.raises(Invalid, match="cursor"):
            events.parse_cursor(bad)
    assert events.parse_cursor("") == 0 and events.parse_cursor("42") == 42
    with pytest.raises(Invalid, match="Unknown event type 'lot.eaten'"):
        events.parse_types("lot.held,lot.eaten")
    assert events.parse_types("lot.held, lot.held,pick.confirmed") == ["lot.held", "pick.confirmed"]
    with pytest.raises(ValueError):
        events.record(None, "lot.eaten", {}, key="x")


def test_concurrent_writers_commit_positions_in_commit_order(db):
    ready = threading.Barrier(8)

    def writer(k: int) -> None:
        ready.wait()
        for _ in range(20):
            _record(db, 2, key=f"lot:W-{k}")

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with db.read() as s:
        positions = s.scalars(select(Event.position).order_by(Event.position)).all()
    assert positions == list(range(1, 321))
