"""Holds, quarantine and release: status changes recorded with who, when and why.

Each change also tells the ERP, in the same transaction: ``lot.held`` (hold or quarantine) and
``lot.released`` (services/events.py), with the lot's facts, the status before and after and the reason.
"""
from __future__ import annotations

from sqlalchemy.orm import Session

from ..models import Lot, LotEvent, LotStatus
from . import events
from .actor import NOBODY, Actor
from .event_bodies import lot_facts, lot_key
from .errors import Conflict, Invalid
from .stock import require_reason

HOLDS = (LotStatus.HOLD, LotStatus.QUARANTINE)


def _lock(session: Session, lot: Lot) -> None:
    # Re-read the status under a row lock so two supervisors cannot both change it (PostgreSQL;
    # SQLite write transactions are already serialised).
    session.flush()  # keep this transaction's own changes to the lot
    session.refresh(lot, ["status", "on_hand"], with_for_update=True)


def _event(session: Session, lot: Lot, action: str, to: LotStatus, reason: str, by: Actor) -> LotEvent:
    event = LotEvent(lot_id=lot.id, action=action, from_status=lot.status, to_status=to, reason=reason,
                     operator_id=by.operator_id, station_id=by.station_id, token_id=by.token_id)
    session.add(event)
    before, lot.status = lot.status, to
    events.record(session, "lot.held" if to in HOLDS else "lot.released",
                  {"lot": lot_facts(lot), "status": to.value, "from_status": before.value, "reason": reason},
                  key=lot_key(lot), by=by)
    return event


def hold(session: Session, lot: Lot, reason: str, *, status: LotStatus = LotStatus.HOLD,
         by: Actor = NOBODY) -> LotEvent:
    """Stop a lot from being picked, used or shipped until it is released."""
    if status not in HOLDS:
        raise Invalid(f"A lot can be put on hold or in quarantine, not {status.value}.", code="invalid_status")
    reason = require_reason(reason)
    _lock(session, lot)
    if lot.status is status:
        raise Conflict(f"Lot {lot.lot_number} is already {_words(status)}.", code="already_held")
    if lot.status is LotStatus.RECALLED:
        raise Conflict(f"Lot {lot.lot_number} is recalled; the recall keeps it stopped.", code="recalled")
    return _event(session, lot, status.value, status, reason, by)


def release(session: Session, lot: Lot, reason: str, *, by: Actor = NOBODY) -> LotEvent:
    """Lift a hold or quarantine; the lot is available again (or consumed, if it has no stock)."""
    reason = require_reason(reason)
    _lock(session, lot)
    if lot.status not in HOLDS:
        raise Conflict(f"Lot {lot.lot_number} is {lot.status.value}, not on hold; nothing to release.",
                       code="not_held")
    to = LotStatus.AVAILABLE if lot.on_hand > 0 else LotStatus.CONSUMED
    return _event(session, lot, "release", to, reason, by)


def _words(status: LotStatus) -> str:
    return "on hold" if status is LotStatus.HOLD else "in quarantine"
