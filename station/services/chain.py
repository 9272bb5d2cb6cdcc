"""Tamper evidence: the ledger (movements), lot events, recall events and the scan log are hash chains.

Triggers refuse UPDATE and DELETE on these tables, but whoever holds the SQLite file or a PostgreSQL
superuser can drop a trigger. So every row also carries ``chain_hash``, written in the same
transaction as the row, and ``station audit verify`` (``verify()``) walks each table in id order and
names the first row that does not match.

What is hashed
    ``content`` = SHA-256 of a canonical JSON document: the table's name and every column of the row
    except ``id`` and ``chain_hash`` (NULLs left out, so a column added later does not change the old
    rows), with stable encodings — datetimes as naive UTC ISO strings with microseconds (SQLite: the
    wall time it stores), dates ISO, bytes hex, enums by value, JSON columns as their parsed value with
    sorted keys. The id is not hashed, so the hash is known before the INSERT draws it.
    ``link`` = SHA-256 of the previous row's ``chain_hash`` in that table followed by ``content``.
    ``chain_hash`` = the first 128 bits (32 hex digits) of ``link``, then the first 128 of ``content``.
    Keeping both halves tells apart a row whose content was changed (its content half no longer
    matches) from a row deleted before it, inserted or moved (its link half no longer matches).

Where it is written
    Centrally, by SQLAlchemy events, so no insert site has to remember: ``before_insert`` on the four
    mapped classes (every ORM unit-of-work flush, in the flush's insert order) and ``do_orm_execute``
    for ``session.execute(insert(Model or its table), [rows...])`` (the expiry job's bulk insert; an
    insert with ``.values()`` or from a SELECT is refused with ChainError). A statement run on a bare
    Connection, or raw SQL, is not covered: such a row has no hash and verify names it.

Locking
    ``chain_heads`` holds each chain's last (id, hash). Before the first row of a chain in a flush, the
    writer reads its head ``SELECT ... FOR UPDATE`` (PostgreSQL) and holds it to the end of its
    transaction, so concurrent writers chain one after the other and each draws its ids only after the
    one before it committed: id order is chain order. The heads of all chains one flush writes are
    locked at once, in ``CHAINS`` order. SQLite serialises writers already (``BEGIN IMMEDIATE``). The
    head is written once per flush, after its inserts. On PostgreSQL this makes the writers of one
    chain take turns from their first chained row to their commit (Station writes the ledger row at the
    end of a step, so that is short; the pick page logs its scan first, so a pick scan holds the scan
    log's head for its whole step). A transaction that writes two chains in the opposite order of
    another one across two flushes, or that takes a row lock after its first chained row which another
    transaction holds while it waits for that head, can deadlock; PostgreSQL breaks it by failing one.

What it cannot do
    Without an outside anchor a hash chain cannot stop someone who rewrites every row after the one
    they changed, and the head: record the heads ``station audit verify`` prints somewhere else (a
    ticket, a log shipped off the machine, a signed e-mail) and give them back to it
    (``--anchor CHAIN:ID:HASH``): the row must still carry that hash.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from sqlalchemy import event, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, object_session
from sqlalchemy.sql.dml import Insert
from sqlalchemy.sql.elements import ClauseElement

# What is hashed (chain_encoding) and the walk that checks it (chain_verify) are importable from here,
# where the CLI, the tests, the benchmark and migration 0011 have always found them.
from . import bulk
from .chain_encoding import (  # noqa: F401
    CHAINS,
    GENESIS,
    HEADS,
    KINDS,
    MODELS,
    RANK,
    SKIPPED,
    VERSION,
    canonical,
    column_kinds,
    content_digest,
    link_digest,
    make_hash,
)
from .chain_encoding import naive_wall as _naive_wall
from .chain_verify import WHAT, Break, Report, raw_select, rows_in_order, verify, verify_chain  # noqa: F401

_CHAINED_CLASSES = frozenset(MODELS.values())
_STATE = "station.chain"


class ChainError(RuntimeError):
    """A write to a chained table that the chain cannot cover (it would leave an unchained row)."""


# --- writing: heads, locks, and the session events --------------------------------------------------


@dataclass
class _Head:
    last_id: int
    last_hash: str
    dirty: bool = False


@dataclass
class _Heads:
    """The heads one flush (or one bulk insert) has read (PostgreSQL: locked)."""

    heads: dict[str, _Head] = field(default_factory=dict)
    wanted: frozenset[str] = frozenset()  # the chains this flush inserts into

    def get(self, connection: Connection, chain: str) -> _Head:
        head = self.heads.get(chain)
        if head is None:
            # Every chain this flush writes, at once and in CHAINS order (two flushes that both
            # write the scan log and the ledger never take the two heads in opposite orders).
            for name in sorted((self.wanted | {chain}) - set(self.heads), key=RANK.__getitem__):
                self.heads[name] = _lock(connection, name)
            head = self.heads[chain]
        return head

    def write(self, connection: Connection) -> None:
        sql = _SQL[connection.dialect.name]["write"]
        cursor = connection.connection.dbapi_connection.cursor()
        try:
            for chain, head in self.heads.items():
                if head.dirty:
                    cursor.execute(sql, (head.last_id, head.last_hash, chain))
                    head.dirty = False
        finally:
            cursor.close()


# Straight to the driver, on the connection of the flush (in its transaction): through SQLAlchemy's
# statement machinery these two small statements cost more than the receipt's hashing.
_SQL = {
    "sqlite": {
        "lock": "SELECT last_id, last_hash FROM chain_heads WHERE chain = ?",
        "write": "UPDATE chain_heads SET last_id = ?, last_hash = ? WHERE chain = ?",
    },
    "postgresql": {
        "lock": "SELECT last_id, last_hash FROM chain_heads WHERE chain = %s FOR UPDATE",
        "write": "UPDATE chain_heads SET last_id = %s, last_hash = %s WHERE chain = %s",
    },
}


def _lock(connection: Connection, chain: str) -> _Head:
    """Read (PostgreSQL: and lock until the transaction ends) the head of `chain`; a missing head is
    made from the table's last row first (a database whose tables were emptied by hand)."""
    sql = _SQL[connection.dialect.name]["lock"]
    cursor = connection.connection.dbapi_connection.cursor()
    try:
        cursor.execute(sql, (chain,))
        row = cursor.fetchone()
        if row is None:
            _seed(connection, chain)
            cursor.execute(sql, (chain,))
            row = cursor.fetchone()
    finally:
        cursor.close()
    return _Head(row[0], row[1])


def _seed(connection: Connection, chain: str) -> None:
    table = MODELS[chain].__table__
    last = connection.execute(select(table.c.id, table.c.chain_hash).order_by(table.c.id.desc()).limit(1)).first()
    last_id, last_hash = (last.id, last.chain_hash or GENESIS) if last is not None else (0, GENESIS)
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    connection.execute(dialect.insert(HEADS).values(chain=chain, last_id=last_id, last_hash=last_hash)
                       .on_conflict_do_nothing(index_elements=["chain"]))


def _flush_heads(session: Session) -> _Heads:
    heads = session.info.get(_STATE)
    if heads is None:
        heads = session.info[_STATE] = _Heads()
    return heads


def _before_flush(session: Session, _context, _instances) -> None:
    # Heads are read again for every flush: a rolled-back savepoint or transaction leaves nothing stale.
    wanted = frozenset(obj.__table__.name for obj in session.new if type(obj) in _CHAINED_CLASSES)
    session.info[_STATE] = _Heads(wanted=wanted)


def _plan(mapper) -> tuple[tuple[str, str, Any], ...]:
    """(column name, attribute key, column with a default or None) of each hashed column."""
    plan = _PLANS.get(mapper)
    if plan is None:
        plan = _PLANS[mapper] = tuple(
            (column.name, mapper.get_property_by_column(column).key, column if column.default is not None else None)
            for column in mapper.local_table.columns if column.name not in SKIPPED)
    return plan


_PLANS: dict[Any, tuple[tuple[str, str, Any], ...]] = {}


def _before_insert(mapper, connection: Connection, target) -> None:
    chain = mapper.local_table.name
    session = object_session(target)
    heads = _flush_heads(session) if session is not None else _Heads()
    head = heads.get(connection, chain)
    state = target.__dict__
    values = {}
    for name, key, with_default in _plan(mapper):
        value = state.get(key)
        if value is None:
            if with_default is not None:
                value = _default(with_default)
                setattr(target, key, value)  # what the INSERT would have filled in, now, so it is hashed
        elif isinstance(value, ClauseElement):
            raise ChainError(f"{chain}.{name} is set to a SQL expression: the chain needs its value")
        values[name] = value
    new = make_hash(head.last_hash, content_digest(chain, values, _naive_wall(connection)))
    target.chain_hash = new
    head.last_hash, head.dirty = new, True


def _after_insert(mapper, connection: Connection, target) -> None:
    session = object_session(target)
    if session is None:
        return
    head = _flush_heads(session).heads.get(mapper.local_table.name)
    if head is not None and target.id is not None and target.id > head.last_id:
        head.last_id = target.id


def _after_flush(session: Session, _context) -> None:
    heads = session.info.pop(_STATE, None)
    if heads is not None and any(h.dirty for h in heads.heads.values()):
        heads.write(session.connection())


def _default(column) -> Any:
    default = column.default
    if getattr(default, "is_scalar", False):
        return default.arg
    if getattr(default, "is_callable", False):
        return default.arg(None)
    raise ChainError(f"{column.table.name}.{column.name} has a default the chain cannot compute before the INSERT")


def _on_execute(execute_state) -> Any:
    """session.execute(insert(Model or its table), rows): hash the rows, in order, before they go."""
    if not execute_state.is_insert:
        return None
    statement = execute_state.statement
    table = getattr(statement, "table", None)
    chain = getattr(table, "name", None)
    if chain not in MODELS or not isinstance(statement, Insert):
        return None
    params = execute_state.parameters
    if statement._values or statement._multi_values or statement.select is not None or not params:
        raise ChainError(f"insert into {chain} with rows as parameters (or through the ORM), so the hash chain "
                         "covers them")
    rows = [params] if isinstance(params, Mapping) else list(params)
    model_table = MODELS[chain].__table__
    mapper = MODELS[chain].__mapper__
    orm = execute_state.is_orm_statement
    keys = {column.name: mapper.get_property_by_column(column).key if orm else column.name
            for column in model_table.columns}
    session = execute_state.session
    if orm and session.autoflush:
        # The ORM would flush pending rows just before this statement — after the head is read here,
        # chaining them onto the same head as these rows. So they go first.
        session.flush()
    connection = session.connection()
    heads = _Heads()
    head = heads.get(connection, chain)
    naive_wall = _naive_wall(connection)
    additions = []
    for row in rows:
        add = {}
        values = {}
        for column in model_table.columns:
            if column.name in SKIPPED:
                continue
            key = keys[column.name]
            value = row.get(key)
            # An ORM bulk insert fills a column's default for a None too; a Core one only for a missing key.
            if value is None and column.default is not None and (orm or key not in row):
                value = add[key] = _default(column)
            elif isinstance(value, ClauseElement):
                raise ChainError(f"{chain}.{column.name} is set to a SQL expression: the chain needs its value")
            values[column.name] = value
        new = make_hash(head.last_hash, content_digest(chain, values, naive_wall))
        add[keys["chain_hash"]] = new
        head.last_hash = new
        additions.append(add)
    result = execute_state.invoke_statement(params=additions[0] if isinstance(params, Mapping) else additions)
    head.last_id = connection.execute(select(func.max(model_table.c.id))).scalar() or head.last_id
    head.dirty = True
    heads.write(connection)
    return result


def copy_into(connection: Connection, chain: str, rows: list[dict[str, Any]]) -> list[int]:
    """PostgreSQL's bulk path (the opening-stock import): append `rows` (column name -> value, the same
    keys in each) to `chain` by COPY (services/bulk.py), which no session event sees: so the head is
    locked here first, the ids drawn after it (id order is chain order), each row hashed in order as
    _on_execute would, and the head moved on once. Returns the ids, in row order."""
    table = MODELS[chain].__table__
    heads = _Heads()
    head = heads.get(connection, chain)
    naive_wall = _naive_wall(connection)
    hashed = [column for column in table.columns if column.name not in SKIPPED]
    for row in rows:
        for column in hashed:
            if column.name not in row and column.default is not None:
                row[column.name] = _default(column)
        values = {column.name: row.get(column.name) for column in hashed}
        head.last_hash = row["chain_hash"] = make_hash(head.last_hash, content_digest(chain, values, naive_wall))
    ids = bulk.copy_rows(connection, table, rows)
    if ids:
        head.last_id, head.dirty = ids[-1], True
        heads.write(connection)
    return ids


_HANDLERS = (
    (Session, "before_flush", _before_flush),
    (Session, "after_flush", _after_flush),
    (Session, "do_orm_execute", _on_execute),
    *((model, "before_insert", _before_insert) for model in MODELS.values()),
    *((model, "after_insert", _after_insert) for model in MODELS.values()),
)


def install() -> None:
    """Hash every new row of the chained tables, in every session (idempotent)."""
    for target, name, fn in _HANDLERS:
        if not event.contains(target, name, fn):
            event.listen(target, name, fn)


def uninstall() -> None:
    """Stop hashing (the receipt benchmark measures the cost this way; nothing else should)."""
    for target, name, fn in _HANDLERS:
        if event.contains(target, name, fn):
            event.remove(target, name, fn)
