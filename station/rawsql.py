"""Small read-only SELECTs, built with SQLAlchemy, compiled once per dialect, run on the DBAPI cursor.

The scan path runs one or two indexed look-ups per request. Running them through SQLAlchemy cost
far more than the queries (an execution context, result metadata and row objects per call: about
0.07 ms against 0.01 ms for the query on SQLite, and the session's transaction as much again), so
scans were paying for the library rather than the database. The statements are still SQLAlchemy
expressions (portable, typed, bound parameters; no SQL text by hand); only the running is done
here: compile once, bind by name, convert result columns with the column types' own processors.

Use it for small, hot, read-only statements. Everything else goes through a Session.
"""
from __future__ import annotations

import threading
from collections import namedtuple
from collections.abc import Iterator
from typing import Any

from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import Select
from sqlalchemy.sql.selectable import CompoundSelect

Statement = Select | CompoundSelect


class _Compiled:
    """One statement's SQL for one dialect, how to bind its parameters and how to read its rows."""

    def __init__(self, statement: Statement, dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        self.statement = statement  # kept, so the id() it is cached under is never reused
        self.sql = compiled.string
        self.compiled = compiled
        self.positions = tuple(compiled.positiontup) if compiled.positional else None
        escaped = getattr(compiled, "escaped_bind_names", None) or {}
        # By the names construct_params() gives: an anonymous bind (the 0 of `qty > 0`) has its rendered name.
        binds = {compiled.bind_names[bind]: bind for bind in compiled.binds.values()}
        self.names = {name: escaped.get(name, name) for name in binds}
        self.bind_processors = {
            name: proc for name, bind in binds.items()
            if (proc := bind.type.dialect_impl(dialect).bind_processor(dialect)) is not None
        }
        columns = list(statement.selected_columns)
        self.row = namedtuple("Row", [c.key for c in columns], rename=True)
        self.processors = [c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns]
        self.plain = not any(self.processors)

    def parameters(self, values: dict[str, Any]) -> tuple | dict:
        bound = self.compiled.construct_params(values)
        for name, proc in self.bind_processors.items():
            bound[name] = proc(bound[name])
        if self.positions is not None:
            return tuple(bound[name] for name in self.positions)
        return {self.names[name]: value for name, value in bound.items()}

    def rows(self, raw: list[tuple]) -> list[tuple]:
        make = self.row._make
        if self.plain:
            return [make(r) for r in raw]
        procs = self.processors
        return [make([v if p is None or v is None else p(v) for p, v in zip(procs, r)]) for r in raw]


_cache: dict[tuple[int, str], _Compiled] = {}
_cache_lock = threading.Lock()


def _compiled(statement: Statement, dialect: Dialect) -> _Compiled:
    key = (id(statement), dialect.name)
    found = _cache.get(key)
    if found is None:
        with _cache_lock:
            found = _cache.setdefault(key, _Compiled(statement, dialect))
    return found


class Result:
    """The rows of one statement: iterate them, or take the first (or None)."""

    def __init__(self, rows: list[tuple]) -> None:
        self._rows = rows

    def first(self) -> tuple | None:
        return self._rows[0] if self._rows else None

    def __iter__(self) -> Iterator[tuple]:
        return iter(self._rows)


class RawReader:
    """Runs SELECTs on one DBAPI connection; rows have the statement's column keys as attributes.

    It has the `execute(statement, params)` shape of a SQLAlchemy Connection, for read-only use.
    """

    def __init__(self, dbapi_connection, dialect: Dialect) -> None:
        self.dbapi_connection = dbapi_connection
        self.dialect = dialect

    @classmethod
    def of_session(cls, session) -> RawReader:
        """A reader on the session's own connection, so it sees the session's transaction."""
        connection = session.connection()
        return cls(connection.connection.dbapi_connection, connection.dialect)

    def snapshot(self) -> None:
        """Read what follows as of one moment. The pooled SQLite connection runs each statement in a snapshot
        of its own: a deferred BEGIN makes them one (the pool rolls it back when the connection goes back).
        On PostgreSQL the driver has begun a transaction already, read committed as a Session's is."""
        if self.dialect.name == "sqlite" and not self.dbapi_connection.in_transaction:
            self.dbapi_connection.execute("BEGIN")

    def execute(self, statement: Statement, params: dict[str, Any] | None = None) -> Result:
        compiled = _compiled(statement, self.dialect)
        bound = compiled.parameters(params or {})
        cursor = self.dbapi_connection.cursor()
        try:
            cursor.execute(compiled.sql, bound)
            return Result(compiled.rows(cursor.fetchall()))
        except self.dialect.loaded_dbapi.Error as exc:
            # The same exception SQLAlchemy raises, so callers tell a database failure from a bad scan.
            raise DBAPIError.instance(compiled.sql, bound, exc, self.dialect.loaded_dbapi.Error) from exc
        finally:
            cursor.close()
