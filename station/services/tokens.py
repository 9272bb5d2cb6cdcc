"""API tokens: random secrets of which only the SHA-256 is stored."""
from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import ApiToken, Role


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, name: str, role: Role) -> str:
    """Store a new token for `name` with `role` and return the secret (shown once)."""
    token = "stn_" + secrets.token_urlsafe(32)
    session.add(ApiToken(name=name, role=role, token_hash=hash_token(token)))
    return token


def find_token(session: Session, token: str) -> ApiToken | None:
    """The live token record for a presented secret, or None."""
    record = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    if record is None or record.revoked_at is not None:
        return None
    return record
