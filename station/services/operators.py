"""The site's own people: add an operator, change their role, reset or set their PIN, disable, enable.

Operators are never deleted: their name stays on every ledger row, lot event and scan they made.
Disabling one refuses their badge at sign-in and ends every floor session of theirs at once.

Each change is written to the `station.operators` log (who did it, to whom, what) — there is no table
for operator changes; the ledger and lot events are about goods. Nothing here commits: the caller's
transaction (`db.write()`) does, so a refused change leaves nothing behind.
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy import event, func, select, update
from sqlalchemy.orm import Session

from labels import codes

from .. import clock
from ..models import FloorSession, Operator, Role
from .actor import NOBODY, Actor
from .errors import Conflict, Invalid, NotFound
from .pins import hash_pin

log = logging.getLogger("station.operators")

BADGE_MAX = 40
NAME_MAX = 120
PIN_MIN, PIN_MAX = 4, 12
# A badge must not read as another kind of code: the sign-in page strips OPR:, and CMD: is a command.
_RESERVED_PREFIXES = (codes.OPERATOR_PREFIX, codes.COMMAND_PREFIX)
ROLE_WORDS = {Role.RECEIVER: "receiver", Role.PICKER: "picker", Role.LINE_OPERATOR: "line operator",
              Role.SUPERVISOR: "supervisor", Role.ADMIN: "admin"}
SESSION_END_DISABLED = "disabled"  # floor_sessions.end_reason, as station/auth/sessions.py names it
SESSION_END_ROLE = "everywhere"  # a role change ends the sessions as "sign out everywhere" does


# --- checking what was typed -----------------------------------------------------------------------


def clean_badge(badge: str | None) -> str:
    """The badge trimmed; Invalid in words when it is empty, too long or holds what a scanner can't."""
    text = (badge or "").strip()
    if not text:
        raise Invalid("Type or scan the badge number.", code="invalid_badge", field="badge")
    if len(text) > BADGE_MAX:
        raise Invalid(f"A badge is at most {BADGE_MAX} characters (this one has {len(text)}).",
                      code="invalid_badge", field="badge")
    if not all(" " <= c <= "~" for c in text):  # what a Code 128 badge barcode can carry
        raise Invalid("A badge can hold the letters A-Z, digits and signs only — no accents, tabs, line "
                      "breaks or hidden characters.", code="invalid_badge", field="badge")
    if text.upper().startswith(_RESERVED_PREFIXES):
        raise Invalid(f"A badge cannot start with {text[:4]!r}: scanners read that as another kind of code.",
                      code="invalid_badge", field="badge")
    return text


def clean_name(name: str | None) -> str:
    text = " ".join((name or "").split())
    if not text:
        raise Invalid("Type the operator's name.", code="invalid_name", field="name")
    if len(text) > NAME_MAX:
        raise Invalid(f"A name is at most {NAME_MAX} characters (this one has {len(text)}).",
                      code="invalid_name", field="name")
    if not text.isprintable():
        raise Invalid("A name can hold letters, digits and signs only.", code="invalid_name", field="name")
    return text


def parse_role(role: Role | str | None) -> Role:
    """A Role from itself, its value ('line_operator') or its words ('line operator')."""
    if isinstance(role, Role):
        return role
    text = str(role or "").strip().lower().replace(" ", "_").replace("-", "_")
    try:
        return Role(text)
    except ValueError:
        raise Invalid(f"There is no role {str(role or '')[:40]!r}; choose one of "
                      f"{', '.join(ROLE_WORDS.values())}.", code="invalid_role", field="role") from None


def clean_pin(pin: str | None) -> str | None:
    """The PIN's digits (None for no PIN); Invalid unless 4 to 12 digits."""
    if pin is None:
        return None
    text = str(pin).strip()
    if not (text.isascii() and text.isdigit() and PIN_MIN <= len(text) <= PIN_MAX):
        raise Invalid(f"A PIN is {PIN_MIN} to {PIN_MAX} digits, nothing else.", code="invalid_pin", field="pin")
    return text


# --- finding ---------------------------------------------------------------------------------------


def operator_by_badge(session: Session, badge: str, *, for_update: bool = False) -> Operator:
    """The operator with this badge; NotFound in words."""
    stmt = select(Operator).where(Operator.badge == (badge or "").strip()[:BADGE_MAX])
    operator = session.scalar(stmt.with_for_update() if for_update else stmt)
    if operator is None:
        raise NotFound(f"No operator has badge {(badge or '').strip()[:BADGE_MAX]!r}.",
                       code="unknown_operator", field="badge")
    return operator


@dataclass(frozen=True)
class OperatorPage:
    rows: list[Operator]
    next_after: str | None  # the last badge of this page when there is another page


def operators_page(session: Session, *, after: str | None = None, active: bool | None = None,
                   limit: int = 100) -> OperatorPage:
    """Operators by badge, `limit` at a time after the badge `after` (keyset), all or only (in)active."""
    query = select(Operator).order_by(Operator.badge)
    if after:
        query = query.where(Operator.badge > after)
    if active is not None:
        query = query.where(Operator.active.is_(active))
    rows = list(session.scalars(query.limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return OperatorPage(rows, rows[-1].badge if more else None)


def _author(session: Session, by: Actor) -> str:
    """Who made a change, for the log: an operator's name and badge, an API token, or the shell."""
    if by.operator_id is not None:
        row = session.execute(select(Operator.name, Operator.badge).where(Operator.id == by.operator_id)).first()
        if row is not None:
            return f"{row.name} ({row.badge})"
    if by.token_id is not None:
        return f"API token {by.token_id}"
    return "the station command"


_TRACES = "station.operator_traces"


def _trace(session: Session, by: Actor, operator: Operator, what: str) -> None:
    """Note a change for the log; it is written when the transaction commits (a refused request,
    rolled back, leaves no trace of a change that did not happen)."""
    session.info.setdefault(_TRACES, []).append(
        (operator.badge, operator.name, what, _author(session, by), clock.now().strftime("%Y-%m-%d %H:%M:%S UTC")))


@event.listens_for(Session, "after_commit")
def _write_traces(session: Session) -> None:
    for badge, name, what, author, when in session.info.pop(_TRACES, ()):
        log.warning("operator %s (%s): %s, by %s at %s", badge, name, what, author, when)


@event.listens_for(Session, "after_rollback")
def _drop_traces(session: Session) -> None:
    session.info.pop(_TRACES, None)


# --- changing --------------------------------------------------------------------------------------


def add_operator(session: Session, *, badge: str, name: str, role: Role | str, pin: str | None = None,
                 by: Actor = NOBODY) -> Operator:
    """A new, active operator. Conflict when the badge is taken (by anyone, disabled included)."""
    badge, name, role, pin = clean_badge(badge), clean_name(name), parse_role(role), clean_pin(pin)
    taken = session.scalar(select(Operator).where(func.lower(Operator.badge) == badge.lower()))
    if taken is not None:
        state = "" if taken.active else " (disabled)"
        raise Conflict(f"Badge {badge!r} already belongs to {taken.name}{state}; give the new operator "
                       f"another badge.", code="badge_taken", field="badge")
    operator = Operator(badge=badge, name=name, role=role, active=True, pin_hash=hash_pin(pin) if pin else None)
    session.add(operator)
    session.flush()
    _trace(session, by, operator, f"added as {ROLE_WORDS[role]}" + (" with a PIN" if pin else ""))
    return operator


def rename(session: Session, operator: Operator, name: str, *, by: Actor = NOBODY) -> bool:
    """Change the name shown for the operator (history shows the new name too); False when unchanged."""
    name = clean_name(name)
    if name == operator.name:
        return False
    old = operator.name
    operator.name = name
    _trace(session, by, operator, f"renamed from {old!r}")
    return True


def set_role(session: Session, operator: Operator, role: Role | str, *, by: Actor = NOBODY) -> bool:
    """Give the operator another role; False when it is the one they have. Every floor session of
    theirs ends, so they sign in again under the new role — a role that needs a PIN asks for it then,
    instead of an open session gaining its powers without one."""
    role = parse_role(role)
    if role == operator.role:
        return False
    old = operator.role
    if old == Role.ADMIN and operator.active and _other_active_admins(session, operator.id) == 0:
        raise Conflict(f"{operator.name} is the last active admin; make someone else admin first.",
                       code="last_admin", field="role")
    operator.role = role
    ended = end_sessions(session, operator.id, SESSION_END_ROLE)
    _trace(session, by, operator, f"role changed from {ROLE_WORDS[Role(old)]} to {ROLE_WORDS[role]}"
           + (f" ({ended} floor session{'s' if ended != 1 else ''} ended)" if ended else ""))
    return True


def reset_pin(session: Session, operator: Operator, pin: str | None, *, by: Actor = NOBODY) -> None:
    """Set the operator's PIN, or clear it (None): one whose role needs a PIN then sets a new one at
    their next sign-in. Either way the wrong-PIN count and any lock start over."""
    pin = clean_pin(pin)
    operator.pin_hash = hash_pin(pin) if pin else None
    operator.pin_failures, operator.pin_failed_at = 0, None
    operator.pin_locked_until, operator.pin_lock_count = None, 0
    _trace(session, by, operator, "PIN set" if pin else "PIN cleared (to be set at the next sign-in)")


def set_first_pin(session: Session, operator_id: int, pin: str) -> bool:
    """An operator with no PIN at all chooses their own at first sign-in; False (nothing changed) when
    they have one meanwhile, or are disabled. One conditional UPDATE: of two devices racing, one wins."""
    pin = clean_pin(pin)
    if pin is None:
        raise Invalid(f"Choose a PIN of {PIN_MIN} to {PIN_MAX} digits.", code="invalid_pin", field="pin")
    done = session.execute(update(Operator)
                           .where(Operator.id == operator_id, Operator.pin_hash.is_(None), Operator.active.is_(True))
                           .values(pin_hash=hash_pin(pin))
                           .execution_options(synchronize_session=False))
    if done.rowcount != 1:
        return False
    operator = session.get(Operator, operator_id)
    _trace(session, Actor(operator_id=operator_id), operator, "PIN chosen at first sign-in")
    return True


def end_sessions(session: Session, operator_id: int, reason: str = SESSION_END_DISABLED) -> int:
    """End every open floor session of the operator, in this transaction; how many were open."""
    done = session.execute(update(FloorSession)
                           .where(FloorSession.operator_id == operator_id, FloorSession.ended_at.is_(None))
                           .values(ended_at=dt.datetime.now(dt.timezone.utc), end_reason=reason)
                           .execution_options(synchronize_session=False))
    return done.rowcount


def disable(session: Session, operator: Operator, *, by: Actor = NOBODY) -> int:
    """Disable the operator: their badge no longer signs in and every floor session of theirs ends now.
    Returns how many sessions ended (0 also when they were disabled already)."""
    if not operator.active:
        return 0
    if by.operator_id == operator.id:
        raise Conflict("You cannot disable your own badge — ask another admin.", code="disable_self")
    if operator.role == Role.ADMIN and _other_active_admins(session, operator.id) == 0:
        raise Conflict(f"{operator.name} is the last active admin; make someone else admin first.",
                       code="last_admin")
    operator.active = False
    ended = end_sessions(session, operator.id)
    _trace(session, by, operator, f"disabled ({ended} floor session{'s' if ended != 1 else ''} ended)")
    return ended


def enable(session: Session, operator: Operator, *, by: Actor = NOBODY) -> bool:
    """Let a disabled operator sign in again; False when they were active already."""
    if operator.active:
        return False
    operator.active = True
    _trace(session, by, operator, "enabled")
    return True


def _other_active_admins(session: Session, operator_id: int) -> int:
    return session.scalar(select(func.count()).select_from(Operator)
                          .where(Operator.role == Role.ADMIN, Operator.active.is_(True),
                                 Operator.id != operator_id)) or 0
