"""Waking the print workers when a job is committed: in this process at once, in others by LISTEN/NOTIFY.

`print_jobs_committed(session)` is what the print services call when a transaction makes a job sendable
(queued, or queued again). At commit it sets the events this process's workers `subscribe`d (one per
thread), and on PostgreSQL it notifies the workers of other processes too. A rollback wakes nobody.

A job committed by one process (a page, the API) wakes the print worker of another process at once
instead of at its next poll. `announce(session)` runs pg_notify inside the enqueueing transaction, so
the notification is delivered only if, and when, the job is committed. `Listener` is a thread with its
own psycopg connection (autocommit, LISTEN) that calls a function for each notification; a lost
connection is opened again with a growing pause (up to 30 s) — the worker keeps polling meanwhile, so
nothing waits for the listener. On SQLite there is nothing to listen to: workers poll.
"""
from __future__ import annotations

import logging
import threading

from sqlalchemy import event, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

PRINT_JOBS = "station_print_jobs"  # the channel of the print outbox

_wake_lock = threading.Lock()
_wake_events: set[threading.Event] = set()


def subscribe(wake: threading.Event) -> None:
    """Have `wake` set whenever a print job is committed by this process (PrintWorker does this)."""
    with _wake_lock:
        _wake_events.add(wake)


def unsubscribe(wake: threading.Event) -> None:
    with _wake_lock:
        _wake_events.discard(wake)


def wake_print_workers(*_: object) -> None:
    """Tell this process's print workers that there is a job to look at (they also poll)."""
    with _wake_lock:
        events = list(_wake_events)
    for wake in events:
        wake.set()


def print_jobs_committed(session: Session) -> None:
    """Wake the print workers when this transaction commits (see the module docstring); once per
    transaction however many jobs it queues."""
    if session.info.get("station.print_wake"):
        return
    session.info["station.print_wake"] = True

    def fire(s: Session) -> None:
        s.info.pop("station.print_wake", None)
        wake_print_workers()

    event.listen(session, "after_commit", fire, once=True)
    announce(session)  # PostgreSQL: the workers of other processes too, at commit


def is_postgresql(url: str) -> bool:
    return make_url(url).get_backend_name() == "postgresql"


def announce(session: Session, channel: str = PRINT_JOBS) -> None:
    """Notify `channel` when this transaction commits (PostgreSQL; nothing on SQLite)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_notify(channel, "")))


def _libpq_dsn(url: str) -> str:
    """A SQLAlchemy URL (postgresql+psycopg://…) as the libpq connection string psycopg takes."""
    parsed = make_url(url).set(drivername="postgresql")
    return parsed.render_as_string(hide_password=False)


class Listener:
    """LISTEN on `channel` in a thread of its own; `on_notify()` is called for every notification."""

    def __init__(self, url: str, on_notify, channel: str = PRINT_JOBS, *, backoff_max: float = 30.0) -> None:
        self.dsn = _libpq_dsn(url)
        self.channel = channel
        self.on_notify = on_notify
        self.backoff_max = backoff_max
        self.ready = threading.Event()  # set while LISTEN is in place (tests wait for it)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._conn = None

    def start(self) -> Listener:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"listen {self.channel}")
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        import psycopg
        from psycopg import sql

        pause = 0.5
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.dsn, autocommit=True, connect_timeout=5) as conn:
                    conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
                    self.ready.set()
                    log.info("listening for %s", self.channel)
                    pause = 0.5
                    # One more wake-up after (re)connecting: a job committed while we were away.
                    self.on_notify()
                    while not self._stop.is_set():
                        # timeout: look at the stop flag now and then; the generator ends after it.
                        for _ in conn.notifies(timeout=1.0):
                            self.on_notify()
            except Exception as exc:  # noqa: BLE001 - the database went away: try again later
                self.ready.clear()
                if self._stop.is_set():
                    break
                log.warning("listening for %s failed (%s); trying again in %.1f s", self.channel,
                            exc.__class__.__name__, pause)
                self._stop.wait(pause)
                pause = min(pause * 2, self.backoff_max)
        self.ready.clear()
