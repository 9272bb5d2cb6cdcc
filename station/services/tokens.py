"""API tokens: random secrets of which only the SHA-256 is stored.

A token has a role. The operator roles (receiver, picker, line operator, supervisor, admin) may call
the API routes of their workflows (station/api/core.py). The role "agent" is a station PC's scanner
agent: it is bound to one station (`api_tokens.station_id`) and may only post that station's scans
(POST /api/v1/scans), nothing else.
"""
from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import ApiToken, Role, StationDevice, TokenRole


class TokenError(ValueError):
    """A token that cannot be made as asked (an agent without a station, an unknown station, ...)."""


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_role(role: Role | TokenRole | str) -> TokenRole:
    """The TokenRole of an operator Role, a TokenRole or its value ("picker", "agent")."""
    try:
        return TokenRole(role.value if isinstance(role, (Role, TokenRole)) else role)
    except ValueError:
        raise TokenError(f"There is no token role {str(role)[:40]!r}; one of "
                         f"{', '.join(r.value for r in TokenRole)}.") from None


def create_token(session: Session, name: str, role: Role | TokenRole | str, *,
                 station: str | int | None = None) -> str:
    """Store a new token for `name` with `role` and return the secret (shown once).

    An agent token needs its `station` (the station's name, or its id) and is bound to it; any other
    role is not bound to a station and refuses one. TokenError says why in words; nothing is stored then."""
    role = token_role(role)
    station_id = None
    if role is TokenRole.AGENT:
        if station is None or station == "":
            raise TokenError("An agent token is bound to one station: name it with --station "
                             "(the station's name, as in Station set-up).")
        station_id = _station_id(session, station)
    elif station is not None:
        raise TokenError(f"Only an agent token is bound to a station; a {role.value} token may not be "
                         f"(leave out --station, or use --role agent).")
    token = "stn_" + secrets.token_urlsafe(32)
    session.add(ApiToken(name=name, role=role, token_hash=hash_token(token), station_id=station_id))
    session.flush()
    return token


def _station_id(session: Session, station: str | int) -> int:
    column = StationDevice.id if isinstance(station, int) else StationDevice.name
    found = session.scalar(select(StationDevice.id).where(column == station))
    if found is None:
        names = sorted(session.scalars(select(StationDevice.name)))
        known = f"the stations are: {', '.join(names)}" if names else "there are no stations yet (Station set-up)"
        raise TokenError(f"There is no station {station!r}; {known}.")
    return found


def find_token(session: Session, token: str) -> ApiToken | None:
    """The live token record for a presented secret, or None."""
    record = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    if record is None or record.revoked_at is not None:
        return None
    return record
