"""Jinja filters that turn domain values into what a worker reads at arm's length."""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from flask import current_app, g, has_app_context

from .. import clock, quantities

def decimal_comma() -> bool:
    """Whether the site writes 12,35 (STATION_DECIMAL_COMMA)."""
    return bool(has_app_context() and current_app.config.get("DECIMAL_COMMA"))


def _measure(of) -> tuple[str | None, int | None]:
    """(unit, decimals) of what a quantity is of: an item, anything with an .item (a lot, an order
    line), a row or dict with unit and decimals, or just a unit's name. Unknown decimals: None."""
    if of is None:
        return None, None
    if isinstance(of, str):
        return of, None
    if isinstance(of, Mapping):
        return of.get("unit"), of.get("decimals", of.get("qty_decimals"))
    if hasattr(of, "qty_decimals"):
        return of.unit, of.qty_decimals
    item = getattr(of, "item", None)
    if item is not None and hasattr(item, "qty_decimals"):
        return item.unit, item.qty_decimals
    return getattr(of, "unit", None), getattr(of, "decimals", None)


def qty(value, of=None, unit: bool = True, sign: bool = False) -> str:
    """A quantity as a worker reads it: 1200 -> "1,200"; with what it is of (an item, a lot, an order
    line, or a row with unit and decimals), in that item's unit and decimals: "12.350 kg", "40 ea".
    The site's decimal comma (STATION_DECIMAL_COMMA) makes it "12,350 kg". `unit=False`: the number
    alone, for pages that set the unit in its own type; `sign=True`: a difference, "+1.5" or "-2"."""
    if value is None or value == "":
        return "—"
    if isinstance(value, str):  # a quantity kept in a JSON column comes back as its decimal string
        sign, digits = ("-", value[1:]) if value.startswith("-") else ("", value)
        try:
            value = quantities.parse(digits)
        except quantities.QuantityError:
            return value
        value = -value if sign else value
    name, decimals = _measure(of)
    return quantities.said(value, decimals, name if unit else None, comma=decimal_comma(), sign=sign)


def qty_field(value, of=None) -> str:
    """A quantity for an input's value: no grouping, no unit, the site's separator ("" for none)."""
    if value is None or value == "" or isinstance(value, bool):
        return ""
    try:
        value = quantities.parse(value)
    except quantities.QuantityError:
        return str(value)
    return quantities.text(value, _measure(of)[1], comma=decimal_comma())


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
    for f in (qty, qty_field, when, day, expiry_phrase):
        app.add_template_filter(f)
    app.add_template_global(decimal_comma)

    # Banners and sentences are written below Flask (workflows, services): they read the site's separator
    # from quantities, set here for the request and put back after it.
    @app.before_request
    def _site_separator():
        g.site_comma = quantities.use_site_comma(decimal_comma())

    @app.teardown_request
    def _site_separator_back(_exc):
        token = g.pop("site_comma", None)
        if token is not None:
            quantities.restore_site_comma(token)
