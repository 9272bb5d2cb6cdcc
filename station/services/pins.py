"""Operator PINs: stored only as a salted, slow hash (werkzeug.security: scrypt), never as digits."""
from __future__ import annotations

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
