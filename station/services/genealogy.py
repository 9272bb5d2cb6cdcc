"""Which lots were made from which: the lot_links graph walked down (descendants) or up (ancestors).

Both walks are one recursive query. The CTE carries lot ids only and joins with UNION (not UNION
ALL), so a lot already reached is not walked again: a cycle in the links (which production never
makes, but bad imported data can) ends the walk instead of looping.
"""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
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
    start, reach = ((LotLink.component_lot_id, LotLink.output_lot_id) if down
                    else (LotLink.output_lot_id, LotLink.component_lot_id))
    tree = select(Lot.id.label("lot_id")).where(Lot.id.in_(roots)).cte("tree", recursive=True)
    step = select(reach.label("lot_id")).join(tree, start == tree.c.lot_id)
    tree = tree.union(step)
    return set(session.scalars(select(tree.c.lot_id)))
