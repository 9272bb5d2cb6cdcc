"""PIN checks and the wrong-PIN throttle, counted on the operator's row so every app process agrees."""
from __future__ import annotations

import datetime as dt
import secrets

from flask import current_app
from sqlalchemy import or_, select, update

from ..app import get_db
from ..models import Operator
from ..services import pins
from ..services.pins import check_pin, hash_pin  # noqa: F401 - part of this module's API
from . import sessions
from .sessions import FloorOperator, _at, _aware


def pin_roles() -> frozenset[str]:
    value = current_app.config.get("FLOOR_PIN_ROLES", ("supervisor", "admin"))
    if isinstance(value, str):
        value = value.replace(",", " ").split()
    return frozenset(str(getattr(v, "value", v)).strip().lower() for v in value)


def needs_pin(op: FloorOperator, pin_hash: str | None = None) -> bool:
    """A PIN is asked of the roles in FLOOR_PIN_ROLES, and of anyone who has a PIN set."""
    return op.role.value in pin_roles() or bool(pin_hash)


def pin_hash_of(op_id: int) -> str | None:
    with get_db().read() as s:
        return s.execute(select(Operator.pin_hash).where(Operator.id == op_id)).scalar_one_or_none()


# The PIN throttle lives on the operator's row (pin_failures, pin_failed_at, pin_locked_until,
# pin_lock_count), so every app process counts the same wrong PINs. A guess is taken in one write
# transaction that holds the row (SELECT … FOR UPDATE on PostgreSQL; SQLite's write lock) before the PIN
# is checked: counted as wrong until it proves right, refused while the badge is locked, so two
# processes (or twenty requests at once) cannot both be granted the last guess. Each lock in a row
# lasts twice the one before (FLOOR_PIN_LOCK_SECONDS, 2x, 4x, … capped at FLOOR_PIN_LOCK_MAX_SECONDS);
# the right PIN or an admin (unlock_pin) starts over. A badge nobody has goes through the same steps
# in memory (pins.MemoryThrottle), so the PIN step answers alike for both.

Guess = pins.Guess


def _unknown_badges() -> pins.MemoryThrottle:
    """This app's throttle for badges nobody has (one per process)."""
    return current_app.extensions.setdefault("station.unknown_badges", pins.MemoryThrottle())


def _epoch(ts: dt.datetime | None) -> float | None:
    return None if ts is None else _aware(ts).timestamp()


def take_guess(op_id: int, now: float, attempts: int, lock_seconds: float,
               max_lock_seconds: float | None = None) -> Guess:
    """Take one PIN guess for the operator: FLOOR_PIN_ATTEMPTS wrong ones, each within the lock time of
    the one before, lock the badge — for FLOOR_PIN_LOCK_SECONDS the first time, twice as long each
    lock after it in a row."""
    if max_lock_seconds is None:
        max_lock_seconds = _max_lock()
    with get_db().write() as s:
        row = s.execute(select(Operator.pin_failures, Operator.pin_failed_at, Operator.pin_locked_until,
                               Operator.pin_lock_count)
                        .where(Operator.id == op_id).with_for_update()).first()
        if row is None:  # the operator was removed meanwhile: as good as locked
            return Guess(False, 0, lock_seconds)
        state = pins.Throttle(row.pin_failures or 0, _epoch(row.pin_failed_at), _epoch(row.pin_locked_until),
                              row.pin_lock_count or 0)
        guess, changed = pins.take(state, now, attempts, lock_seconds, max_lock_seconds)
        if changed is not None:
            s.execute(update(Operator).where(Operator.id == op_id)
                      .values(pin_failures=changed.failures, pin_failed_at=_at(changed.failed_at),
                              pin_locked_until=None if changed.locked_until is None else _at(changed.locked_until),
                              pin_lock_count=changed.lock_count)
                      .execution_options(synchronize_session=False))
    return guess


def clear_guesses(op_id: int) -> None:
    """The right PIN: the count and the locks in a row start over."""
    with get_db().write() as s:
        s.execute(update(Operator).where(Operator.id == op_id)
                  .values(pin_failures=0, pin_failed_at=None, pin_locked_until=None, pin_lock_count=0)
                  .execution_options(synchronize_session=False))


def unlock_pin(db, op_id: int) -> bool:
    """An admin clears the badge's PIN lock and its count (locks in a row too); False when there was
    nothing to clear."""
    with db.write() as s:
        done = s.execute(update(Operator)
                         .where(Operator.id == op_id,
                                or_(Operator.pin_failures > 0, Operator.pin_lock_count > 0,
                                    Operator.pin_locked_until.is_not(None)))
                         .values(pin_failures=0, pin_failed_at=None, pin_locked_until=None, pin_lock_count=0)
                         .execution_options(synchronize_session=False))
    return done.rowcount > 0


def _max_lock() -> float:
    return float(current_app.config.get("FLOOR_PIN_LOCK_MAX_SECONDS", 24 * 3600))


_NO_PIN_HASH: list[str] = []


def _no_pin_hash() -> str:
    """A hash no PIN matches, checked when an operator has none, so that answer takes as long as a
    wrong PIN and the timing tells nothing about who has a PIN."""
    if not _NO_PIN_HASH:
        _NO_PIN_HASH.append(hash_pin(secrets.token_hex(16)))
    return _NO_PIN_HASH[0]


def _wait_words(seconds: float) -> str:
    seconds = max(1, int(seconds + 0.999))
    if seconds < 60:
        return f"{seconds} seconds"
    minutes = (seconds + 59) // 60
    if minutes < 120:
        return "1 minute" if minutes == 1 else f"{minutes} minutes"
    hours = (minutes + 59) // 60
    return f"{hours} hours"


def _guess_words(badge: str, guess: Guess, ok: bool, attempts: int) -> tuple[bool, str | None]:
    """The words for a guess, the same for a real badge and a guessed one."""
    if not guess.granted:
        return False, (f"Too many wrong PINs for badge {badge} — wait {_wait_words(guess.locked_for)}, "
                       f"then try again, or ask an admin.")
    if ok:
        return True, None
    left = attempts - guess.failures
    if left <= 0:
        return False, (f"Wrong PIN again — badge {badge} is locked for {_wait_words(guess.lock_length)}. "
                       f"Wait, then try again, or ask an admin.")
    return False, f"Wrong PIN — {left} {'try' if left == 1 else 'tries'} left."


def _pin_settings() -> tuple[int, float, float]:
    cfg = current_app.config
    return max(1, int(cfg.get("FLOOR_PIN_ATTEMPTS", 3))), float(cfg.get("FLOOR_PIN_LOCK_SECONDS", 60)), _max_lock()


def try_pin(op: FloorOperator, pin: str) -> tuple[bool, str | None]:
    """Check `op`'s PIN, counting wrong ones in the database. (True, None) signs in; (False, why) says
    why not."""
    attempts, lock, max_lock = _pin_settings()
    stored = pin_hash_of(op.id)
    if not stored:
        check_pin(_no_pin_hash(), pin or "0")
        return False, (f"{op.name} has no PIN yet, and a {op.role_name} needs one — an admin sets it with "
                       f"'station operator set-pin {op.badge}'.")
    guess = take_guess(op.id, sessions.now_seconds(), attempts, lock, max_lock)
    ok = guess.granted and check_pin(stored, pin)
    if ok:
        clear_guesses(op.id)
    return _guess_words(op.badge, guess, ok, attempts)


def try_pin_unknown(badge: str, pin: str) -> tuple[bool, str]:
    """A PIN for a badge nobody has (or no longer active): counted and answered like a wrong PIN for a
    real badge — the same words, the same locks, one slow hash check like a real one."""
    attempts, lock, max_lock = _pin_settings()
    with get_db().read() as s:  # the same look-up a real badge's PIN costs
        s.execute(select(Operator.pin_hash).where(Operator.badge == badge)).first()
    guess = _unknown_badges().take(badge, sessions.now_seconds(), attempts, lock, max_lock)
    if guess.granted:
        check_pin(_no_pin_hash(), pin or "0")
    ok, why = _guess_words(badge, guess, False, attempts)
    return ok, why or "Wrong PIN."




def set_first_pin(op: FloorOperator, pin: str, again: str) -> tuple[bool, str | None]:
    """An operator whose role needs a PIN and who has none chooses it at first sign-in, typed twice.
    Only while they have no PIN at all (set meanwhile: refused, they type that one), and each try is
    a guess of the wrong-PIN throttle: a locked badge waits, and mistyped tries lock it as wrong PINs do.
    (True, None) signs in; (False, why) says why not."""
    from ..services import operators
    from ..services.errors import DomainError

    attempts, lock, max_lock = _pin_settings()
    guess = take_guess(op.id, sessions.now_seconds(), attempts, lock, max_lock)
    if not guess.granted:
        return _guess_words(op.badge, guess, False, attempts)
    pin, again = (pin or "").strip(), (again or "").strip()
    try:
        operators.clean_pin(pin or None)
        if not pin:
            raise DomainError(f"Choose a PIN of {operators.PIN_MIN} to {operators.PIN_MAX} digits.")
        if pin != again:
            raise DomainError("The two PINs differ — type the same PIN twice.")
        with get_db().write() as s:
            chosen = operators.set_first_pin(s, op.id, pin)
    except DomainError as exc:
        left = attempts - guess.failures
        if left <= 0:
            return False, (f"{exc.message} Badge {op.badge} is locked for {_wait_words(guess.lock_length)}. "
                           f"Wait, then try again, or ask an admin.")
        return False, f"{exc.message} {left} {'try' if left == 1 else 'tries'} left."
    if not chosen:
        return False, "A PIN was set for this badge meanwhile — scan your badge again and type that PIN."
    clear_guesses(op.id)
    return True, None
