"""The site's notion of "now" and "today".

Expiry is judged by the local calendar date of the site. `at()` sets the time that ledger rows
and other records are stamped with, for replaying history (the demo site); nothing else uses it.
"""
from __future__ import annotations

import datetime as dt
import os
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterator
from zoneinfo import ZoneInfo

_fixed_now: ContextVar[dt.datetime | None] = ContextVar("station_fixed_now", default=None)


def site_zone() -> ZoneInfo:
    return ZoneInfo(os.environ.get("STATION_TIMEZONE", "UTC"))


def now() -> dt.datetime:
    """The current time in UTC (or the time set by `at`)."""
    return _fixed_now.get() or dt.datetime.now(dt.timezone.utc)


def today() -> dt.date:
    return dt.datetime.now(site_zone()).date()


@contextmanager
def at(moment: dt.datetime) -> Iterator[None]:
    """Stamp records made inside this block with `moment` (an aware datetime)."""
    if moment.tzinfo is None:
        raise ValueError("clock.at needs an aware datetime")
    token = _fixed_now.set(moment.astimezone(dt.timezone.utc))
    try:
        yield
    finally:
        _fixed_now.reset(token)
