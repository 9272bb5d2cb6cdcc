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

import datetime as dt
import enum
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Mapping

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Integer,
    LargeBinary,
    Table,
    Text,
    cast,
    event,
    func,
    select,
    type_coerce,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, object_session
from sqlalchemy.sql.dml import Insert
from sqlalchemy.sql.elements import ClauseElement
from sqlalchemy.types import NullType

from ..models import ChainHead, LotEvent, Movement, RecallEvent, Scan

GENESIS = "0" * 64  # the "previous hash" of a chain's first row
VERSION = "station-chain/1"
# The order heads are locked in when one flush writes several chains (the scan log comes first).
CHAINS = ("scans", "movements", "lot_events", "recall_events")
RANK = {name: i for i, name in enumerate(CHAINS)}
MODELS = {"scans": Scan, "movements": Movement, "lot_events": LotEvent, "recall_events": RecallEvent}
_CHAINED_CLASSES = frozenset(MODELS.values())
HEADS: Table = ChainHead.__table__
SKIPPED = ("id", "chain_hash")
_STATE = "station.chain"


class ChainError(RuntimeError):
    """A write to a chained table that the chain cannot cover (it would leave an unchained row)."""


# --- the canonical encoding ------------------------------------------------------------------------


def column_kinds(table: Table) -> tuple[tuple[str, str], ...]:
    """(column name, kind) for every hashed column of `table`; kind picks the encoding."""
    kinds = []
    for column in table.columns:
        if column.name in SKIPPED:
            continue
        t = column.type
        if isinstance(t, JSON):
            kind = "json"
        elif isinstance(t, LargeBinary):
            kind = "bytes"
        elif isinstance(t, DateTime):
            kind = "datetime"
        elif isinstance(t, Date):
            kind = "date"
        elif isinstance(t, Boolean):
            kind = "bool"
        elif isinstance(t, Integer):
            kind = "int"
        else:
            kind = "str"  # String, Text, Enum (by value)
        kinds.append((column.name, kind))
    return tuple(kinds)


KINDS = {name: column_kinds(model.__table__) for name, model in MODELS.items()}


def _odd(value: Any) -> dict:
    """A value of the wrong type for its column (only a hand-edited row has one): never equal to a
    normal encoding, so such a row fails its content check instead of crashing the walk."""
    return {"?": type(value).__name__, "r": repr(value)}


def _datetime(value: dt.datetime, naive_wall: bool) -> str:
    if value.tzinfo is not None:
        # SQLite keeps the wall time it is given (SQLAlchemy drops the offset); PostgreSQL the instant.
        value = value.replace(tzinfo=None) if naive_wall else value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value.isoformat(timespec="microseconds")


def _encode(kind: str, value: Any, naive_wall: bool, stored: bool) -> Any:
    """One column's canonical value. `stored`: `value` is as read from the database with no type
    processing (SQLite: text for datetimes, 0/1 for booleans; JSON columns as their text)."""
    if kind == "str":
        if isinstance(value, enum.Enum):
            value = value.value
        return value if isinstance(value, str) else _odd(value)
    if kind == "int":
        return value if isinstance(value, int) and not isinstance(value, bool) else _odd(value)
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        return _odd(value)
    if kind == "datetime":
        if isinstance(value, str):
            try:
                value = dt.datetime.fromisoformat(value)
            except ValueError:
                return _odd(value)
        return _datetime(value, naive_wall) if isinstance(value, dt.datetime) else _odd(value)
    if kind == "date":
        if isinstance(value, str):
            try:
                value = dt.date.fromisoformat(value)
            except ValueError:
                return _odd(value)
        if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
            return _odd(value)
        return value.isoformat()
    if kind == "bytes":
        return bytes(value).hex() if isinstance(value, (bytes, bytearray, memoryview)) else _odd(value)
    if kind == "json":
        try:
            # Before the INSERT: the value goes through json.dumps (SQLAlchemy's serializer) and is
            # read back through json.loads; stored: the column's text.
            text = value if stored else json.dumps(value)
            return ["j", json.loads(text)] if isinstance(text, str) else ["?", repr(text)]
        except (TypeError, ValueError):
            return ["?", repr(value)]
    return _odd(value)


def canonical(table: str, values: Mapping[str, Any], naive_wall: bool, stored: bool = False,
              kinds: Iterable[tuple[str, str]] | None = None) -> bytes:
    """The canonical document of a row's content (NULLs left out). `kinds`: the hashed columns (default:
    the model's; a migration passes the columns of its own revision)."""
    doc = {}
    for name, kind in (KINDS[table] if kinds is None else kinds):
        value = values.get(name)
        if value is None:
            continue
        encoded = _encode(kind, value, naive_wall, stored)
        if encoded == ["j", None]:  # a JSON null (SQLAlchemy stores None as 'null'): like a NULL
            continue
        doc[name] = encoded
    text = json.dumps({"v": VERSION, "t": table, "c": doc}, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=True, allow_nan=True)
    return text.encode("ascii")


def content_digest(table: str, values: Mapping[str, Any], naive_wall: bool, stored: bool = False,
                   kinds: Iterable[tuple[str, str]] | None = None) -> str:
    return hashlib.sha256(canonical(table, values, naive_wall, stored, kinds)).hexdigest()


def link_digest(previous: str, content: str) -> str:
    return hashlib.sha256((previous + content).encode("ascii")).hexdigest()[:32]


def make_hash(previous: str, content: str) -> str:
    """A row's chain_hash from the previous row's and the row's content digest."""
    return link_digest(previous, content) + content[:32]


def _is_hash(value: Any) -> bool:
    return isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)


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


def _naive_wall(connection: Connection) -> bool:
    return connection.dialect.name == "sqlite"


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


# --- verifying -------------------------------------------------------------------------------------


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
        if not _is_hash(stored):
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
                if following is not None and _is_hash(following["chain_hash"]) and \
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
