"""Jinja filters that turn domain values into what a worker reads at arm's length."""
from __future__ import annotations

import datetime as dt

from .. import clock


def qty(value: int | None) -> str:
    """1200 -> '1,200'."""
    return "—" if value is None else f"{value:,}"


def when(value: dt.datetime | None) -> str:
    """A UTC timestamp as the site's local time, to the minute."""
    if value is None:
        return "—"
    if value.tzinfo is None:  # SQLite hands back naive datetimes; we store UTC
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(clock.site_zone()).strftime("%Y-%m-%d %H:%M")


def day(value: dt.date | None) -> str:
    return "—" if value is None else value.isoformat()


def expiry_phrase(days: int | None) -> str:
    """Days until expiry in words: 'expires in 3 days', 'expires today', 'expired 2 days ago'."""
    if days is None:
        return "no expiry date"
    if days == 0:
        return "expires today"
    if days == 1:
        return "expires tomorrow"
    if days == -1:
        return "expired yesterday"
    if days > 0:
        return f"expires in {days} days"
    return f"expired {-days} days ago"


def init_app(app) -> None:
    for f in (qty, when, day, expiry_phrase):
        app.add_template_filter(f)
