"""Customer returns: goods of one of our lots come back from a customer into quarantine at the dock.

    quarantine_place(session) -> Location                 where returned goods wait (a quarantine location)
    receivers(session, lot) -> list[Receiver]              the customers who received the lot, with how
                                                           much they got and have sent back
    book_return(session, lot=, qty=, customer=, reason=, by=, unit=None, confirm_unshipped=False,
                reference=None) -> Movement                the RETURN ledger row (outside -> quarantine)

Rules, explained to the user in the messages:

* The goods come back into their own lot (a return is the same goods, not a new lot), at the first
  location of kind quarantine (by code). A site without one is told so: an admin adds one.
* A customer may send back at most what they received of that lot (its SHIP rows to them), less what
  they already sent back (RETURN rows from them: returns and recall retrievals). A customer who never
  received the lot (it went through a distributor, say) needs the caller's explicit confirmation;
  then the limit is what left the site of the lot in all, less everything already back. A lot that
  never left the site cannot come back.
* The lot goes to quarantine, with a lot event naming the customer and the reason, unless it is
  already held, in quarantine, recalled or expired: the stricter status stays. Releasing it later
  (services.holds.release) makes the lot available; its goods still stand in the quarantine place
  until someone moves them out, like goods on the dock wait for put-away.
* A pallet (SSCC) that left the site whole comes back whole: the goods go back on it, and it stands
  in the quarantine place. Any other return is loose stock.
* The ERP is told in the same transaction: a ``return.booked`` event (services/events.py) with the
  customer, the lot, the quantity, the reason, the quarantine place and the lot's status before.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from ..models import (Customer, HandlingUnit, Location, LocationKind, Lot, LotEvent, LotStatus, Movement,
                      MovementKind, Stock)
from . import events
from .actor import NOBODY, Actor
from .event_bodies import customer_facts, location_facts, lot_facts, lot_key, qty_text
from .errors import Conflict, Invalid
from .stock import add_stock, record, require_positive, require_reason

# Statuses a return does not change: each stops the lot at least as firmly as quarantine does.
STRICTER = (LotStatus.HOLD, LotStatus.QUARANTINE, LotStatus.RECALLED, LotStatus.EXPIRED)


@dataclass(frozen=True)
class Receiver:
    """A customer who received a lot: how much was shipped to them and how much came back."""

    customer_id: int
    code: str
    name: str
    shipped: int
    returned: int

    @property
    def may_return(self) -> int:
        return max(0, self.shipped - self.returned)


def quarantine_place(session: Session) -> Location:
    """The location returned goods are booked into: the first of kind quarantine, by code."""
    place = session.scalar(select(Location).where(Location.kind == LocationKind.QUARANTINE)
                           .order_by(Location.code).limit(1))
    if place is None:
        raise Conflict("This site has no quarantine place for returned goods. An admin must add a location "
                       "of kind 'quarantine' (at the dock) first; nothing was booked.", code="no_quarantine_location")
    return place


def _sums(session: Session, lot: Lot):
    """Per customer: (customer_id, shipped, returned) of `lot`."""
    shipped = func.sum(case((Movement.kind == MovementKind.SHIP, Movement.qty), else_=0))
    returned = func.sum(case((Movement.kind == MovementKind.RETURN, Movement.qty), else_=0))
    return session.execute(
        select(Movement.customer_id, shipped, returned)
        .where(Movement.lot_id == lot.id, Movement.customer_id.is_not(None),
               Movement.kind.in_([MovementKind.SHIP, MovementKind.RETURN]))
        .group_by(Movement.customer_id)).all()


def receivers(session: Session, lot: Lot) -> list[Receiver]:
    """The customers who were shipped `lot` (most first), with what they may still send back."""
    rows = {cid: (s or 0, r or 0) for cid, s, r in _sums(session, lot)}
    shipped_to = [cid for cid, (s, _r) in rows.items() if s > 0]
    if not shipped_to:
        return []
    customers = session.scalars(select(Customer).where(Customer.id.in_(shipped_to))).all()
    found = [Receiver(c.id, c.code, c.name, *rows[c.id]) for c in customers]
    return sorted(found, key=lambda r: (-r.shipped, r.code))


def returned_by(session: Session, lot: Lot, customer: Customer) -> tuple[int, int]:
    """(shipped to, returned by) `customer` of `lot`."""
    for cid, shipped, returned in _sums(session, lot):
        if cid == customer.id:
            return shipped or 0, returned or 0
    return 0, 0


def _limit(session: Session, lot: Lot, customer: Customer, confirm_unshipped: bool) -> int:
    """How much `customer` may still send back of `lot`; refuses in words when nothing may come."""
    shipped, returned = returned_by(session, lot, customer)
    if shipped > 0:
        return shipped - returned
    sums = _sums(session, lot)
    out = sum(s or 0 for _c, s, _r in sums)
    back = sum(r or 0 for _c, _s, r in sums)
    if out == 0:
        raise Conflict(f"Lot {lot.lot_number} has never been shipped to anyone; nothing of it can come back "
                       f"as a return. Nothing was booked.", code="never_shipped")
    if not confirm_unshipped:
        raise Conflict(f"{customer.name} never received lot {lot.lot_number}. If the goods really came from "
                       f"them (through a distributor, say), confirm it; nothing was booked.",
                       code="customer_not_shipped", customer=customer.code)
    return out - back


def _on_site(session: Session, unit: HandlingUnit) -> bool:
    return session.scalar(select(Stock.id).where(Stock.handling_unit_id == unit.id, Stock.qty > 0).limit(1)) \
        is not None


def book_return(session: Session, *, lot: Lot, qty: int, customer: Customer, reason: str,
                by: Actor = NOBODY, unit: HandlingUnit | None = None, confirm_unshipped: bool = False,
                reference: str | None = None) -> Movement:
    """Book `qty` of `lot` back from `customer` into the quarantine place (see the module docstring)."""
    qty = require_positive(qty, of=lot)
    reason = require_reason(reason)
    if not isinstance(customer, Customer):
        raise Invalid("Say which customer sent the goods back.", code="customer_required", field="customer")
    if unit is not None and unit.lot_id != lot.id:
        raise Invalid(f"Pallet {unit.sscc} is not lot {lot.lot_number}.", code="wrong_pallet")
    place = quarantine_place(session)
    session.flush()
    session.refresh(lot, ["status", "on_hand"], with_for_update=True)  # one return at a time per lot
    most = _limit(session, lot, customer, confirm_unshipped)
    if qty > most:
        raise Conflict(f"{customer.name} can send back at most {most} of lot {lot.lot_number} (what they "
                       f"received, less what came back already) — not {qty}. Nothing was booked.",
                       code="over_returned", most=most)
    before = lot.status
    whole = unit if unit is not None and not _on_site(session, unit) else None  # a pallet that left whole
    add_stock(session, lot, place, qty, whole)
    if whole is not None:
        whole.location_id = place.id
    movement = record(session, MovementKind.RETURN, lot, qty, dest=place, by=by, customer_id=customer.id,
                      reason=reason, reference=(reference or f"return from {customer.code}")[:80],
                      handling_unit_id=unit.id if unit is not None else None)
    if before not in STRICTER:
        why = f"Returned by {customer.name}: {reason}"
        session.add(LotEvent(lot_id=lot.id, action="return", from_status=before, to_status=LotStatus.QUARANTINE,
                             reason=why[:200], operator_id=by.operator_id, station_id=by.station_id,
                             token_id=by.token_id))
        lot.status = LotStatus.QUARANTINE
    session.flush()
    events.record(session, "return.booked", {
        "lot": lot_facts(lot), "customer": customer_facts(customer), "qty": qty_text(qty), "reason": reason,
        "reference": movement.reference, "location": location_facts(place), "sscc": unit.sscc if unit else None,
        "status_before": before.value,
    }, key=lot_key(lot), by=by)
    return movement
