"""The genealogy walks: every lot made from a lot (down) or that a lot was made from (up), any depth,
ending on a cycle instead of looping."""
from __future__ import annotations

from station.models import LinkKind, LotLink
from station.services.genealogy import ancestors, descendants

from factories import basic_site, received_lot


def _lots(session, n):
    return [received_lot(session, "BOLT", 10).id for _ in range(n)]


def _link(session, component, output, kind=LinkKind.PRODUCTION):
    session.add(LotLink(output_lot_id=output, component_lot_id=component, qty=1, kind=kind))


def test_walks_both_ways_through_production_and_splits(db):
    basic_site(db)
    with db.write() as s:
        a, b, c, d, e, unrelated = _lots(s, 6)
        _link(s, a, c)            # c made from a and b
        _link(s, b, c)
        _link(s, c, d, LinkKind.SPLIT)  # d split off c
        _link(s, a, e)            # a also went into e
        s.flush()
        assert descendants(s, [a]) == {a, c, d, e}
        assert descendants(s, [b]) == {b, c, d}
        assert descendants(s, [d]) == {d}
        assert ancestors(s, [d]) == {d, c, a, b}
        assert ancestors(s, [e, c]) == {e, c, a, b}
        assert descendants(s, []) == set()
        assert unrelated not in descendants(s, [a, b])


def test_a_cycle_ends_the_walk(db):
    basic_site(db)
    with db.write() as s:
        a, b, c = _lots(s, 3)
        _link(s, a, b)
        _link(s, b, c)
        _link(s, c, a)  # bad data: a made from c made from b made from a
        s.flush()
        assert descendants(s, [a]) == {a, b, c}
        assert ancestors(s, [b]) == {a, b, c}
