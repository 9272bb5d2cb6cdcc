"""Engine and session handling for SQLite (embedded) and PostgreSQL (site deployment)."""
from __future__ import annotations

import threading
from collections import deque
from contextlib import contextmanager
from typing import Iterator

from sqlalchemy import create_engine, event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from .quantities import json_dumps
from .rawsql import RawReader
from .services import chain, events

# Every new row of the append-only tables (ledger, lot events, recall events, scan log) is hash-chained
# in the transaction that writes it, whichever session writes it (services/chain.py).
chain.install()
# Events for the ERP are numbered in commit order as each transaction commits (services/events.py).
events.install()

SQLITE_BUSY_TIMEOUT_MS = 30_000


def make_engine(url: str, **kwargs) -> Engine:
    """Create an engine; on SQLite, WAL + foreign keys, and BEGIN IMMEDIATE for write sessions."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
                               json_serializer=json_dumps, **kwargs)
        _tune_sqlite(engine)
    else:
        engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20, json_serializer=json_dumps,
                               **kwargs)
    return engine


class WriterQueue:
    """The write transactions of one SQLite database in this process, let in one at a time in the order they
    asked. SQLite's own lock is what keeps writes apart; a writer waiting for it sleeps and retries with a
    growing back-off, so under load a late writer often gets in before one that has waited for a second.
    Queued here first, each writer is handed the turn by the one before it the moment that one ends.

    A writer that has waited `timeout` seconds goes on to SQLite's own wait (which then decides, as
    before); the thread that has the turn may begin again (a nested write session) without queueing."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._mutex = threading.Lock()
        self._waiting: deque[tuple[int, threading.Lock]] = deque()
        self._owner: int | None = None
        self._mine = threading.local()

    def enter(self) -> None:
        """Wait for this thread's turn (called as a write transaction begins)."""
        if getattr(self._mine, "turn", False):
            return
        me = threading.get_ident()
        with self._mutex:
            if self._owner is None:
                self._owner = me
                self._mine.turn = True
                return
            gate = threading.Lock()
            gate.acquire()
            self._waiting.append((me, gate))
        if not gate.acquire(timeout=self.timeout):
            with self._mutex:
                if (me, gate) in self._waiting:  # gave up: SQLite's busy wait decides from here
                    self._waiting.remove((me, gate))
                    return
            gate.acquire()  # handed over just as it gave up: it has the turn after all
        self._mine.turn = True

    def leave(self) -> None:
        """End this thread's turn, if it has one, and hand it to the next writer (after its commit)."""
        if not getattr(self._mine, "turn", False):
            return
        self._mine.turn = False
        with self._mutex:
            if self._waiting:
                self._owner, gate = self._waiting.popleft()
                gate.release()
            else:
                self._owner = None


def _tune_sqlite(engine: Engine) -> None:
    engine.station_writers = WriterQueue(SQLITE_BUSY_TIMEOUT_MS / 1000)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        # Let SQLAlchemy's "begin" event choose the BEGIN flavour instead of pysqlite.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        # A deferred transaction that later writes fails at once with "database is locked"
        # when another writer holds the lock; IMMEDIATE makes writers queue on the busy timeout.
        # Straight to the driver: through SQLAlchemy's execute path this BEGIN cost as much as a query.
        writing = conn.get_execution_options().get("station_write")
        if writing:
            engine.station_writers.enter()
        conn.connection.dbapi_connection.execute("BEGIN IMMEDIATE" if writing else "BEGIN")


class Database:
    """One engine, and sessions for reading and for writing in one transaction."""

    def __init__(self, url: str, **engine_kwargs) -> None:
        self.url = url
        self.engine = make_engine(url, **engine_kwargs)
        self._reader = sessionmaker(self.engine, expire_on_commit=False)
        self._writer = sessionmaker(
            self.engine.execution_options(station_write=True), expire_on_commit=False
        )

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A session whose work commits as one transaction, or rolls back on any error."""
        try:
            with self._writer() as session, session.begin():
                yield session
        finally:
            if self.is_sqlite:
                self.engine.station_writers.leave()  # after the commit or rollback: the next writer's turn

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for queries; nothing it does is committed."""
        with self._reader() as session:
            try:
                yield session
            finally:
                session.rollback()

    @contextmanager
    def reader(self) -> Iterator[RawReader]:
        """A pooled DBAPI connection for the hot read-only look-ups (see station.rawsql); no transaction
        is begun on SQLite (each statement reads a consistent snapshot of its own)."""
        dbapi = self.engine.dialect.loaded_dbapi
        try:
            connection = self.engine.raw_connection()
        except dbapi.Error as exc:
            # The pool hands over the driver's own error when it cannot connect; wrap it as the engine
            # would, so a database that is down is a 503 (station.unavailable), not a 500.
            raise DBAPIError.instance(None, None, exc, dbapi.Error, connection_invalidated=True) from exc
        try:
            yield RawReader(connection.dbapi_connection, self.engine.dialect)
        finally:
            connection.close()  # back to the pool, which rolls back whatever the driver began

    def dispose(self) -> None:
        self.engine.dispose()
