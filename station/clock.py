"""The site's notion of "today": expiry is judged by the local calendar date of the site."""
from __future__ import annotations

import datetime as dt
import os
from zoneinfo import ZoneInfo


def site_zone() -> ZoneInfo:
    return ZoneInfo(os.environ.get("STATION_TIMEZONE", "UTC"))


def today() -> dt.date:
    return dt.datetime.now(site_zone()).date()
