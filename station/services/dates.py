"""The dates Station believes: one window per kind of date, each refusal a sentence.

A label's date that is far off is a misread, a typo or a test value (1900-01-01, 9999-12-31, year 1),
never a real pallet. Dates outside these windows are refused, whoever sends them (the receiving page,
the API, the scanner agent), with the same words:

- expiry / best before: from 2000-01-01 to 50 years after the site's today (the longest shelf lives,
  canned goods and ammunition, are under 30 years);
- production date: from 2000-01-01 to the site's today (a pallet is not made tomorrow);
- a scan's own time (scanned_at, from a scanner agent's buffer): from a year before now to 5 minutes
  after now (a clock a little fast is forgiven; an agent offline for more than a year is not believed).

GS1 AI 11/15/17 dates on a label (YYMMDD) are read by biip, which already refuses a month 00 or 13 and a
day beyond the month (000000, 991332); a day 00 means the month's last day, as GS1 says. What biip
accepts is then held to these windows.
"""
from __future__ import annotations

import datetime as dt

from .errors import Invalid

EARLIEST = dt.date(2000, 1, 1)
EXPIRY_YEARS_AHEAD = 50
SCAN_FUTURE = dt.timedelta(minutes=5)
SCAN_PAST = dt.timedelta(days=366)


def _years_after(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def expiry_window(today: dt.date) -> tuple[dt.date, dt.date]:
    """The first and last expiry (or best-before) date believed on `today`."""
    return EARLIEST, _years_after(today, EXPIRY_YEARS_AHEAD)


def produced_window(today: dt.date) -> tuple[dt.date, dt.date]:
    """The first and last production date believed on `today`."""
    return EARLIEST, today


def check_expiry(day: dt.date | None, today: dt.date, *, what: str = "expiry date",
                 field: str = "expiry") -> None:
    """Invalid (invalid_date) when `day` is outside the expiry window; nothing when None."""
    if day is None:
        return
    first, last = expiry_window(today)
    if day < first:
        raise Invalid(f"The {what} {day.isoformat()} is before {first.year}: that is not a real {what} — "
                      f"check the label or type the date.", code="invalid_date", field=field)
    if day > last:
        raise Invalid(f"The {what} {day.isoformat()} is more than {EXPIRY_YEARS_AHEAD} years ahead: that is "
                      f"not a real {what} — check the label or type the date.", code="invalid_date", field=field)


def check_produced(day: dt.date | None, today: dt.date, *, field: str = "produced") -> None:
    """Invalid (invalid_date) when `day` is outside the production-date window; nothing when None."""
    if day is None:
        return
    first, last = produced_window(today)
    if day > last:
        raise Invalid(f"The production date {day.isoformat()} is in the future.", code="invalid_date",
                      field=field)
    if day < first:
        raise Invalid(f"The production date {day.isoformat()} is before {first.year}: that is not a real "
                      f"production date — check the label or type the date.", code="invalid_date", field=field)


def check_scanned_at(at: dt.datetime, now: dt.datetime, *, field: str = "scanned_at") -> None:
    """Invalid when a scan's own time is too far ahead of `now` (clock_skew) or too old (too_old)."""
    if at > now + SCAN_FUTURE:
        raise Invalid(f"{field} {at.isoformat()} is in the future: check the sender's clock.",
                      code="clock_skew", field=field)
    if at < now - SCAN_PAST:
        raise Invalid(f"{field} {at.isoformat()} is more than a year ago: check the sender's clock; a scan "
                      f"that old is not acted on.", code="too_old", field=field)


def check_report_day(day: dt.date | None, today: dt.date, *, what: str) -> None:
    """A report's from/to date: within the expiry window (nothing Station holds is dated outside it)."""
    if day is None:
        return
    first, last = expiry_window(today)
    if not first <= day <= last:
        raise Invalid(f"The '{what}' date {day.isoformat()} is outside the dates Station keeps — choose one "
                      f"from {first.isoformat()} to {last.isoformat()}.", code="invalid_date", field=what)
