"""Who and where an action comes from, recorded on every ledger row and lot event."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    operator_id: int | None = None
    station_id: int | None = None
    raw_scan: str | None = None


NOBODY = Actor()
