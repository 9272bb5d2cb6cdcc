"""The expiry job: services.expiry.expire_due once at start, then every hour and just after the
site's local midnight (when a day's worth of lots passes its date), in one background thread.

`station run` starts it in worker 0 and `station worker` starts it too; several of them against one
PostgreSQL database are harmless, since expire_due changes each lot once whoever runs it.
"""
from __future__ import annotations

import datetime as dt
import logging
import threading

from .. import clock, unavailable
from ..db import Database
from ..services.expiry import expire_due

log = logging.getLogger(__name__)

HOURLY = dt.timedelta(hours=1)
AFTER_MIDNIGHT = dt.timedelta(minutes=1)  # a minute's grace for clocks a little behind


def next_run(now: dt.datetime) -> dt.datetime:
    """The next time to run after `now` (an aware datetime): an hour later, or one minute after the
    site's next local midnight when that comes first."""
    local = now.astimezone(clock.site_zone())
    midnight = dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(0), tzinfo=local.tzinfo)
    return min(now + HOURLY, midnight + AFTER_MIDNIGHT)


OUTAGE_RETRY_S = 60  # the database could not be reached: try again this soon, not at the next hour
BATCH = 500  # lots per transaction: a backlog neither holds the write lock nor the memory for long


def run_once(db: Database) -> int:
    """Expire what is due now, in batches; returns how many lots changed."""
    total = 0
    while True:
        with db.write() as session:
            expired = expire_due(session, limit=BATCH)
        if expired:
            log.info("expired %d lot(s): %s", len(expired), ", ".join(e.lot_number for e in expired[:20]))
        total += len(expired)
        if len(expired) < BATCH:
            return total


class ExpiryJob:
    """A daemon thread running `run_once` at `next_run` times until stopped."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.runs = 0
        self.expired = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="station-expiry", daemon=True)

    def start(self) -> ExpiryJob:
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            wait = None
            try:
                self.expired += run_once(self.db)
            except Exception as exc:  # noqa: BLE001 - a database hiccup must not end the job; try again later
                problem = unavailable.describe(exc)
                if problem is None:
                    log.exception("the expiry job failed; it tries again at its next time")
                else:  # one line, not a traceback; and sooner than the next hour
                    log.warning("the expiry job: the database cannot be reached (%s); it tries again in %d s",
                                problem.code, OUTAGE_RETRY_S)
                    wait = OUTAGE_RETRY_S
            self.runs += 1
            now = clock.now()
            self._stop.wait(wait or max(1.0, (next_run(now) - now).total_seconds()))


def start_for(app) -> ExpiryJob:
    return ExpiryJob(app.extensions["station.db"]).start()
