"""Operator PINs: stored only as a salted, slow hash (werkzeug.security: scrypt), never as digits."""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from werkzeug.security import check_password_hash, generate_password_hash


def hash_pin(pin: str) -> str:
    return generate_password_hash(pin)


def check_pin(pin_hash: str | None, pin: str) -> bool:
    """True when `pin` matches; False for no PIN, no hash or a hash this code cannot read."""
    if not pin_hash or not pin:
        return False
    try:
        return check_password_hash(pin_hash, pin)
    except ValueError:
        return False


# --- the wrong-PIN throttle, as plain arithmetic (station/auth/ keeps the state on the operator's row) --


@dataclass(frozen=True)
class Throttle:
    """A badge's wrong-PIN state: times are epoch seconds (None: never)."""
    failures: int = 0              # wrong PINs in the current run, each within the lock time of the one before
    failed_at: float | None = None
    locked_until: float | None = None
    lock_count: int = 0            # locks in a row; the next lock lasts base * 2 ** lock_count


@dataclass(frozen=True)
class Guess:
    granted: bool
    failures: int = 0           # wrong PINs counted so far, this guess included (when granted)
    locked_for: float = 0.0     # seconds until the badge may try again (when not granted)
    lock_length: float = 0.0    # when this guess, if wrong, locks the badge: for how long


def lock_length(lock_seconds: float, lock_count: int, max_lock_seconds: float) -> float:
    """How long the next lock lasts: the base time doubled for each lock before it in a row, capped."""
    return min(float(max_lock_seconds), float(lock_seconds) * 2 ** min(lock_count, 40))


def take(state: Throttle, now: float, attempts: int, lock_seconds: float,
         max_lock_seconds: float) -> tuple[Guess, Throttle | None]:
    """Take one guess: (the answer, the new state — None when nothing changes). A guess is counted as
    wrong until it proves right; the attempts-th wrong one in a row locks the badge."""
    if state.locked_until is not None and state.locked_until > now:
        return Guess(False, state.failures, max(1.0, state.locked_until - now)), None
    stale = state.failed_at is None or state.failed_at <= now - lock_seconds
    failures = 1 if stale else state.failures + 1
    if failures >= attempts:
        length = lock_length(lock_seconds, state.lock_count, max_lock_seconds)
        return (Guess(True, failures, lock_length=length),
                Throttle(failures, now, now + length, state.lock_count + 1))
    return Guess(True, failures), Throttle(failures, now, None, state.lock_count)


class MemoryThrottle:
    """The same throttle for badges nobody has, kept in this process (bounded): a guessed badge gets
    the answers a real one gets — tries left, locked, growing locks — so the PIN step does not say
    which badges exist."""

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self.states: OrderedDict[str, Throttle] = OrderedDict()
        self.lock = threading.Lock()

    def take(self, key: str, now: float, attempts: int, lock_seconds: float, max_lock_seconds: float) -> Guess:
        with self.lock:
            guess, state = take(self.states.get(key, Throttle()), now, attempts, lock_seconds, max_lock_seconds)
            if state is not None:
                self.states[key] = state
                self.states.move_to_end(key)
                while len(self.states) > self.size:
                    self.states.popitem(last=False)
            return guess

    def clear(self) -> None:
        with self.lock:
            self.states.clear()
