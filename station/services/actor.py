"""Who and where an action comes from, recorded on every ledger row and lot event."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, literal

API_WHO = "API: "  # how a row written with an API token names its author where no operator did it


@dataclass(frozen=True)
class Actor:
    operator_id: int | None = None
    station_id: int | None = None
    raw_scan: str | None = None
    token_id: int | None = None  # the API token a write came with (api_tokens.id)


NOBODY = Actor()


def who(operator_name: str | None, token_name: str | None) -> str | None:
    """The operator's name, else "API: <token name>" for a row an API token wrote, else None."""
    return operator_name or (f"{API_WHO}{token_name}" if token_name else None)


def who_column(operator_name, token_name):
    """`who` as a SQL expression over an operator's and a token's name columns (both outer-joined)."""
    return func.coalesce(operator_name, literal(API_WHO) + token_name)
