"""resolve(code, context): what a scanned code is, what it matches, what the workflow should do.

INTERFACE SKELETON — being implemented (see the issue on scanning). The shape is fixed:
callers (pages, API, the scan log, serial scanners) depend on it.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from sqlalchemy.orm import Session


@dataclass(frozen=True)
class ScanContext:
    """Where a scan happens: the workflow the worker is in, and how FNC1 arrives."""

    workflow: str | None = None  # "lookup", "receiving", "putaway", "picking", "line", ...
    gs_substitutes: tuple[str, ...] = ("|",)  # printable stand-ins for GS (0x1D) from keyboard wedges


@dataclass(frozen=True)
class Resolution:
    """The answer to one scan; the UI and the API render it directly (to_dict is its JSON)."""

    ok: bool
    kind: str  # gs1 | gtin | sscc | lot | location | operator | command | unknown | rejected
    message: str  # one sentence a worker understands
    code: str = ""  # the scanned text, cleaned for display (control characters made visible)
    symbology: str | None = None  # AIM identifier, e.g. "]C1"
    error: str | None = None  # stable error code when not ok
    fields: dict = field(default_factory=dict)  # parsed data: gtin, sscc, lot, expiry, qty, ai: {...}
    records: dict = field(default_factory=dict)  # matched records: item, lot, lots, location, operator, unit
    action: str | None = None  # what the workflow should do next, e.g. "receive", "show_lot", "confirm"

    def to_dict(self) -> dict:
        return asdict(self)


def resolve(session: Session, code: str | bytes, context: ScanContext | None = None) -> Resolution:
    """Classify and resolve one scan; never raises for any input, never changes state."""
    return Resolution(ok=False, kind="unknown", message="Scan resolution is not built yet.",
                      error="not_recognised")
