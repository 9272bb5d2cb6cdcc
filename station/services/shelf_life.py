"""Whether a lot lasts for an order: not expiring before the order's due date, and with the
customer's minimum remaining shelf life (Customer.min_shelf_life_days) left on the day it ships.

Suggestions skip the lots that do not (services.picking.line_suggestion passes earliest_expiry to
suggest), and a scan or API pick of one is refused in words (ensure_fits_order).
"""
from __future__ import annotations

import datetime as dt

from .. import clock
from ..models import Lot, Order
from .errors import Conflict


def ship_day(order: Order, today: dt.date) -> dt.date:
    """The day `order` is expected to leave: its due date, or today when that has passed or is unset."""
    return max(order.due_on, today) if order.due_on else today


def earliest_expiry(order: Order, on: dt.date | None = None) -> dt.date:
    """The first expiry a lot picked for `order` may have: on its ship day, with the customer's
    minimum remaining shelf life (Customer.min_shelf_life_days) still left."""
    days = order.customer.min_shelf_life_days or 0
    return ship_day(order, on or clock.today()) + dt.timedelta(days=days)


MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def day_words(day: dt.date, today: dt.date) -> str:
    """12 Dec, or 12 Dec 2027 when not this year (not strftime: the server's locale is no matter)."""
    return f"{day.day} {MONTHS[day.month - 1]}" + (f" {day.year}" if day.year != today.year else "")


def ensure_fits_order(lot: Lot, order: Order, on: dt.date | None = None) -> None:
    """Refuse a lot that would not last for `order`: it expires before the order's due date, or
    before the customer's minimum shelf life from the ship day. No override: it is the
    customer's contract (or the order's own date), not a picker's judgement."""
    if lot.expiry is None:
        return
    today = on or clock.today()
    until = earliest_expiry(order, today)
    if lot.expiry >= until:
        return
    customer, days = order.customer, order.customer.min_shelf_life_days or 0
    if days:
        raise Conflict(
            f"Lot {lot.lot_number} expires {day_words(lot.expiry, today)}: {customer.name} needs {days} "
            f"{'day' if days == 1 else 'days'} of shelf life left when it ships (until "
            f"{day_words(until, today)}). Take a lot that lasts longer.",
            code="shelf_life_too_short", lot_expiry=lot.expiry.isoformat(), needed_until=until.isoformat())
    raise Conflict(
        f"Lot {lot.lot_number} expires {day_words(lot.expiry, today)}, before order {order.number} is due "
        f"({day_words(order.due_on, today)}). Take a lot that lasts until then.",
        code="expires_before_due", lot_expiry=lot.expiry.isoformat(), needed_until=until.isoformat())
