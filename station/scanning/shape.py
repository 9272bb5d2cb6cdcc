"""What a scan resolves to (Resolution), where it was scanned (ScanContext), and what it may ask a workflow
to do (ACTIONS). Their shape is fixed: pages, the API, the scan log and the scanners depend on it;
scanning/resolution.py decides the values."""
from __future__ import annotations

from dataclasses import dataclass, field, fields

# What a scan asks the current workflow to do (Resolution.action); None: nothing to do.
ACTIONS = {
    "receive": "receiving: book these goods in (a known item, or a pallet not received yet)",
    "show_lot": "lookup: show this lot's card",
    "show_item": "lookup: show the item (and its lots, when the label's lot is not ours)",
    "show_pallet": "lookup: show this pallet, its lot and where it is",
    "show_location": "lookup: show this location",
    "select": "any other workflow (putaway, picking, line, ...): the scanned lot, pallet, item or "
              "location is the one the current step takes; the workflow checks it is the right one",
    "sign_in": "an operator badge: sign this operator in",
    "confirm": "command barcode CMD:CONFIRM",
    "cancel": "command barcode CMD:CANCEL",
    "undo": "command barcode CMD:UNDO",
    "next": "command barcode CMD:NEXT",
    "reprint": "command barcode CMD:REPRINT",
}


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
        # fields and records hold JSON-ready values already; asdict's deep copy was a sixth of a scan request.
        return {name: getattr(self, name) for name in _RESOLUTION_FIELDS}


_RESOLUTION_FIELDS = tuple(f.name for f in fields(Resolution))
