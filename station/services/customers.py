"""Customers: adding one, changing its name, GLN, minimum shelf life or whether it still orders, and
finding them a page at a time."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..gs1 import normalise_gln
from ..models import Customer
from .catalog import _name, _party, one
from .errors import Conflict, Invalid, NotFound

MAX_SHELF_LIFE_DAYS = 36_500  # a hundred years: anything above is a typo, not a customer's demand
CHANGEABLE = frozenset({"name", "gln", "min_shelf_life_days", "active"})


def _shelf_life(days) -> int | None:
    if days is None:
        return None
    if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= MAX_SHELF_LIFE_DAYS:
        raise Invalid(f"The minimum shelf life is a whole number of days from 0 to {MAX_SHELF_LIFE_DAYS} "
                      f"(got {days!r}).", code="invalid_min_shelf_life")
    return days


def save_customer(session: Session, *, code: str, name: str, gln: str | None = None,
                  min_shelf_life_days: int | None = None) -> Customer:
    """Add a customer; Conflict if its code or GLN is taken already."""
    days = _shelf_life(min_shelf_life_days)  # checked first: a refusal adds nothing
    customer = _party(session, Customer, "customer", code, name, gln)
    customer.min_shelf_life_days = days
    session.flush()
    return customer


def change_customer(session: Session, customer: Customer, **fields) -> Customer:
    """Change `fields` (name, gln, min_shelf_life_days, active) of `customer`; the code never changes.

    Every field is checked before any is written, so a refusal changes nothing. A GLN of None or ""
    removes it; a minimum shelf life of None means the customer takes any lot.
    """
    unknown = set(fields) - CHANGEABLE
    if unknown:
        raise Invalid(f"A customer's {', '.join(sorted(unknown))} cannot be changed here.",
                      code="invalid_field")
    new = {}
    if "name" in fields:
        new["name"] = _name(fields["name"])
    if "gln" in fields:
        gln = (fields["gln"] or "").strip()
        gln = normalise_gln(gln) if gln else None
        if gln is not None:
            owner = session.scalar(select(Customer.code).where(Customer.gln == gln, Customer.id != customer.id))
            if owner:
                raise Conflict(f"GLN {gln} already belongs to customer {owner}.", code="gln_exists")
        new["gln"] = gln
    if "min_shelf_life_days" in fields:
        new["min_shelf_life_days"] = _shelf_life(fields["min_shelf_life_days"])
    if "active" in fields:
        if not isinstance(fields["active"], bool):
            raise Invalid("Active is yes or no.", code="invalid_active")
        new["active"] = fields["active"]
    for key, value in new.items():
        setattr(customer, key, value)
    session.flush()
    return customer


def customer_by_code(session: Session, code: str) -> Customer:
    return one(session, select(Customer).where(Customer.code == code),
               NotFound, f"No customer {code!r}.", "unknown_customer")


@dataclass(frozen=True)
class CustomerPage:
    rows: list[Customer]
    next_after: str | None  # the last code on this page, when there is another


def customers_page(session: Session, *, after: str | None = None, active: bool | None = None,
                   limit: int = 100) -> CustomerPage:
    """Customers by code, `limit` at a time after the code `after` (keyset), all or only (in)active."""
    query = select(Customer).order_by(Customer.code)
    if after:
        query = query.where(Customer.code > after)
    if active is not None:
        query = query.where(Customer.active.is_(active))
    rows = list(session.scalars(query.limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return CustomerPage(rows, rows[-1].code if more else None)
