"""Which lots were made from which: the lot_links graph walked down (descendants) or up (ancestors).

Both walks are one recursive query. The CTE carries lot ids only and joins with UNION (not UNION
ALL), so a lot already reached is not walked again: a cycle in the links (which production never
makes, but bad imported data can) ends the walk instead of looping.
"""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from ..models import Lot, LotLink


def descendants(session: Session, lot_ids: Iterable[int]) -> set[int]:
    """The given lots and every lot made or split from them, at any depth."""
    return _walk(session, lot_ids, down=True)


def ancestors(session: Session, lot_ids: Iterable[int]) -> set[int]:
    """The given lots and every lot they were made or split from, at any depth."""
    return _walk(session, lot_ids, down=False)


def _walk(session: Session, lot_ids: Iterable[int], *, down: bool) -> set[int]:
    roots = sorted(set(lot_ids))
    if not roots:
        return set()
    return set(session.scalars(reach(roots, down=down)))


def reach(lot_ids: Iterable[int], *, down: bool) -> Select:
    """The recursive query itself: a SELECT of the lot ids `descendants` (down) or `ancestors` (up)
    returns, for use inside other queries (``Lot.id.in_(reach(...))``), so a caller that needs rows
    of every lot reached does not send the ids back as a long parameter list."""
    start, step_to = ((LotLink.component_lot_id, LotLink.output_lot_id) if down
                      else (LotLink.output_lot_id, LotLink.component_lot_id))
    tree = select(Lot.id.label("lot_id")).where(Lot.id.in_(sorted(set(lot_ids)))).cte("tree", recursive=True)
    step = select(step_to.label("lot_id")).join(tree, start == tree.c.lot_id)
    tree = tree.union(step)
    return select(tree.c.lot_id)


def links(session: Session, within: Iterable[int] | Select, *, down: bool) -> list[tuple[int, int, int, str]]:
    """The lot_links rows leaving a set of lots: (component id, output id, qty, kind), one query.

    Walking down, the links whose component is in the set; up, those whose output is. Given the set
    `descendants` (or `ancestors`) returns — or the `reach` query itself — that is every link of the
    genealogy and none outside it.
    """
    side = LotLink.component_lot_id if down else LotLink.output_lot_id
    members = within if isinstance(within, Select) else sorted(set(within))
    return sorted((c, o, q, getattr(k, "value", k)) for c, o, q, k in session.execute(
        select(LotLink.component_lot_id, LotLink.output_lot_id, LotLink.qty, LotLink.kind)
        .where(side.in_(members))))


def depths(start: Iterable[int], edges: Iterable[tuple[int, int]]) -> dict[int, int]:
    """Fewest links from the start lots to each lot reached over `edges` (from -> to pairs).

    A breadth-first walk in memory over edges already fetched: a lot is numbered once, so a cycle
    in the links ends here as it does in the recursive query."""
    following: dict[int, list[int]] = {}
    for a, b in edges:
        following.setdefault(a, []).append(b)
    depth = {lot: 0 for lot in start}
    level = list(depth)
    while level:
        nxt = []
        for lot in level:
            for other in following.get(lot, ()):
                if other not in depth:
                    depth[other] = depth[lot] + 1
                    nxt.append(other)
        level = nxt
    return depth
