"""Verifying the hash chains: walk each chained table in id order and name the first row that does not
match (`station audit verify`). services/chain.py says what is hashed and why.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Mapping

from sqlalchemy import JSON, Table, Text, cast, select, type_coerce
from sqlalchemy.engine import Connection
from sqlalchemy.types import NullType

from .chain_encoding import CHAINS, GENESIS, HEADS, MODELS, is_hash, content_digest, link_digest, make_hash
from .chain_encoding import naive_wall as _naive_wall


@dataclass
class Break:
    row_id: int | None
    what: str  # "content", "unchained", "link", "inserted", "order", "head"
    detail: str


@dataclass
class Report:
    chain: str
    count: int = 0
    last_id: int = 0
    head_hash: str = GENESIS
    recorded: tuple[int, str] | None = None  # chain_heads' (last_id, last_hash), None: no head row
    first: Break | None = None
    breaks: int = 0

    @property
    def ok(self) -> bool:
        return self.first is None


WHAT = {
    "content": "content changed",
    "unchained": "row not chained",
    "link": "row missing or inserted",
    "inserted": "row inserted",
    "order": "rows reordered",
    "head": "head mismatch",
    "anchor": "recorded head not matched",
}


def raw_select(table: Table, dialect_name: str):
    """Every column as stored, with no type processing (so a hand-edited value cannot crash the walk);
    JSON columns as their text."""
    columns = []
    for column in table.columns:
        if isinstance(column.type, JSON):
            expr = cast(column, Text) if dialect_name == "postgresql" else type_coerce(column, NullType())
        else:
            expr = type_coerce(column, NullType())
        columns.append(expr.label(column.name))
    return select(*columns)


def rows_in_order(connection: Connection, table: Table, page: int = 2000) -> Iterator[Mapping[str, Any]]:
    """The table's rows in id order, a page at a time (keyset), as mappings of raw values."""
    base = raw_select(table, connection.dialect.name)
    after = None
    while True:
        query = base.order_by(table.c.id).limit(page)
        if after is not None:
            query = query.where(table.c.id > after)
        batch = connection.execute(query).mappings().all()
        yield from batch
        if len(batch) < page:
            return
        after = batch[-1]["id"]


def verify_chain(connection: Connection, chain: str, page: int = 2000,
                 anchors: Mapping[int, str] | None = None) -> Report:
    """Walk one chain in id order; the report names the first row that does not match. `anchors`: heads
    recorded earlier ({row id: its chain_hash then}), each of which the row must still carry — what a
    rewrite of that row and every row after it, and of the head, cannot hide."""
    anchors = dict(anchors or {})
    table = MODELS[chain].__table__
    naive_wall = _naive_wall(connection)
    report = Report(chain)
    head_row = connection.execute(select(HEADS.c.last_id, HEADS.c.last_hash).where(HEADS.c.chain == chain)).first()
    report.recorded = (head_row.last_id, head_row.last_hash) if head_row is not None else None

    def note(row_id, what, detail):
        report.breaks += 1
        if report.first is None:
            report.first = Break(row_id, what, detail)

    previous, before_previous = GENESIS, None  # hashes of the last two rows walked
    previous_id, before_previous_id = None, None
    rows = rows_in_order(connection, table, page)
    pending: list[Mapping[str, Any]] = []

    def next_row():
        if pending:
            return pending.pop()
        return next(rows, None)

    while True:
        row = next_row()
        if row is None:
            break
        report.count += 1
        report.last_id = row["id"]
        stored = row["chain_hash"]
        digest = content_digest(chain, row, naive_wall, stored=True)
        if not is_hash(stored):
            note(row["id"], "unchained", "it has no chain hash (written around Station, e.g. by raw SQL)"
                 if stored is None else f"its chain hash {stored!r} is not a SHA-256 hex digest")
            stored = make_hash(previous, digest)  # walk on from it as if it had been chained here
        elif stored[32:] != digest[:32]:
            note(row["id"], "content", "its content no longer matches the hash written with it")
        elif stored[:32] != link_digest(previous, digest):
            if before_previous is not None and stored[:32] == link_digest(before_previous, digest):
                before = f"row {before_previous_id}" if before_previous_id is not None else "the start of the chain"
                note(previous_id, "inserted", f"row {row['id']} was chained directly after {before}: "
                     f"row {previous_id} was put in between")
            else:
                following = next_row()
                if following is not None:
                    pending.append(following)
                if following is not None and is_hash(following["chain_hash"]) and \
                        stored[:32] == link_digest(following["chain_hash"], digest):
                    note(row["id"], "order", f"it was chained after row {following['id']}, which now "
                         "comes after it")
                else:
                    after = f"row {previous_id}" if previous_id is not None else "the start of the chain"
                    note(row["id"], "link", f"it was not chained to {after}: a row before it was deleted, "
                         "or it was inserted or moved")
        expected = anchors.pop(row["id"], None)
        if expected is not None and expected != stored:
            note(row["id"], "anchor", f"its chain hash is {stored}, not the {expected} recorded for it: the "
                 "chain was rewritten from this row or before it")
        before_previous, before_previous_id = previous, previous_id
        previous, previous_id = stored, row["id"]
    report.head_hash = previous
    for row_id in sorted(anchors):
        note(row_id, "anchor", f"a head was recorded at row {row_id}, which is no longer there")
    recorded = report.recorded
    if recorded is None:
        if report.count:
            note(None, "head", "chain_heads has no row for this chain")
    elif recorded != (report.last_id, previous):
        where = f"row {report.last_id} with hash {previous}" if report.count else "no rows at all"
        note(recorded[0] or None, "head", f"chain_heads says the chain ends at row {recorded[0]} with hash "
             f"{recorded[1]}, but it ends at {where}: rows at the end were deleted or added, or the "
             "head was rewritten")
    return report


def verify(db, chains: Iterable[str] | None = None,
           anchors: Mapping[str, Mapping[int, str]] | None = None) -> list[Report]:
    """Walk every chain (or those named) in one consistent snapshot of the database. `anchors`: heads
    recorded earlier, {chain: {row id: chain_hash}}."""
    chains = list(chains or CHAINS)
    unknown = [c for c in chains if c not in MODELS]
    if unknown:
        raise ValueError(f"no chain named {', '.join(unknown)} (chains: {', '.join(CHAINS)})")
    engine = db.engine
    options = {"isolation_level": "REPEATABLE READ"} if engine.dialect.name == "postgresql" else {}
    with engine.connect().execution_options(**options) as connection:
        with connection.begin():
            return [verify_chain(connection, chain, anchors=(anchors or {}).get(chain)) for chain in chains]
