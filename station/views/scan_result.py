"""What the scan page shows for one logged scan: its banner, the fields and records it resolved to, a
lot's card — and what floor roles see instead of the bytes of a device that is not a scanner."""
from __future__ import annotations

import datetime as dt

from flask import render_template
from markupsafe import Markup
from sqlalchemy.orm import Session

from .. import auth, clock
from ..models import Role, Scan
from ..services import scans
from ..services.errors import NotFound
from ..services.lots import lot_details
from ..workflows.lookup import card_context

FIELD_LABELS = {
    "gtin": "GTIN", "content_gtin": "Content GTIN", "sscc": "SSCC", "lot": "Lot", "serial": "Serial",
    "expiry": "Expiry", "best_before": "Best before", "produced": "Produced", "packed": "Packed",
    "qty": "Quantity", "count": "Count", "order": "Order", "gln": "GLN", "ai": "GS1 fields",
    "command": "Command", "badge": "Badge", "location": "Location", "uri": "Digital Link",
    "form": "Barcode", "hri": "As printed",
}
RECORD_LABELS = {"item": "Item", "lot": "Lot", "lots": "Lots", "location": "Location",
                 "operator": "Operator", "unit": "Pallet", "supplier": "Supplier"}


# --- what a device says that is not a scan -------------------------------------------------------
# A scanner address may point at something that is no scanner (a serial+socket:// scanner at some
# service): its banner or garbage is logged like any scan. Only admins see those bytes; the floor
# roles read a neutral sentence in the scan log, on the scan page and in the scanner's state.

# Refusals of a code that is a barcode Station knows the form of: shown to everyone.
_SCAN_REFUSALS = frozenset({"unknown_lot", "unknown_location", "unknown_command", "unknown_operator",
                            "unknown_gtin"})


def sees_device_chatter() -> bool:
    """Admins see what a device sent that is not a scan; floor roles and supervisors do not."""
    op = auth.current_operator()
    return op is not None and op.role is Role.ADMIN


def is_device_chatter(row: Scan) -> bool:
    """A device's scan that is not a barcode Station could read: unrecognised, not text, control
    characters, too long. Scans typed or wedged in a browser are the operator's own."""
    if row.source in scans.BROWSER_SOURCES or row.ok:
        return False
    return row.kind == "unknown" or (row.kind == "rejected" and row.error not in _SCAN_REFUSALS)


def not_a_scanner(station: str | None) -> str:
    where = f" at {station}" if station else ""
    return f"The scanner{where} is not answering like a scanner — an admin can see what it sent on the scan log."


class WithheldScan:
    """A scan log row as floor roles see device chatter: everything but what the device sent."""

    def __init__(self, row: Scan) -> None:
        self._row = row
        self.text, self.raw, self.kind, self.error = "", b"", "not a scan", None
        self.message = not_a_scanner(row.station.name if row.station else None)

    def __getattr__(self, name: str):
        return getattr(self._row, name)


def when_ms(ts: dt.datetime) -> str:
    """Site-local time to the millisecond, for telling bounces apart."""
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=dt.timezone.utc)
    local = ts.astimezone(clock.site_zone())
    return local.strftime("%Y-%m-%d %H:%M:%S.") + f"{local.microsecond // 1000:03d}"


def result(session: Session, row: Scan, *, past: bool, detailed: bool, retried: bool = False) -> dict:
    """What partials/scan_result.html shows for one logged scan."""
    outcome = scans.outcome_of(row)
    res = outcome.resolution
    if is_device_chatter(row) and not sees_device_chatter():
        return {"id": row.id, "ok": False, "ignored": row.ignored, "retried": retried,
                "message": not_a_scanner(row.station.name if row.station else None), "resolution": None,
                "code": "", "kind": "not a scan", "error": None, "ts": when_ms(row.ts), "source": row.source,
                "past": past, "detailed": detailed, "lot_card": None, "fields": [], "records": [],
                "action": None, "blocked": None}
    lot_card = None
    if detailed and res.ok and not row.ignored:
        number = _lot_number(res)
        if number:
            try:
                details = lot_details(session, number, history_limit=20)
            except NotFound:
                details = None
            if details is not None:
                lot_card = Markup(render_template("partials/lot_card.html", details=details,
                                                  **card_context(details)))
    return {
        "id": row.id, "ok": res.ok and not row.ignored, "ignored": row.ignored, "retried": retried,
        "message": row.message if row.ignored else res.message, "resolution": res,
        "code": res.code or row.text, "kind": res.kind, "error": res.error, "ts": when_ms(row.ts),
        "source": row.source, "past": past, "detailed": detailed, "lot_card": lot_card,
        "fields": _fields(res.fields) if detailed and (lot_card is None or res.kind == "gs1") else [],
        "records": _records(res.records) if detailed and lot_card is None else [],
        "action": res.action, "blocked": _blocked(res) if res.ok and not row.ignored else None,
    }


# A lot found by a lookup is a good answer, but one that must not be used: the banner says so in
# amber, so nobody reads a green banner as "this lot is fine".
_BLOCKED = {"hold", "quarantine", "recalled", "expired"}


def _blocked(res) -> str | None:
    lot = res.records.get("lot") if isinstance(res.records, dict) else None
    status = lot.get("status") if isinstance(lot, dict) else None
    return status if status in _BLOCKED else None


def _lot_number(res) -> str | None:
    lot = res.records.get("lot") if isinstance(res.records, dict) else None
    if isinstance(lot, dict) and lot.get("lot_number"):
        return str(lot["lot_number"])
    lots = res.records.get("lots") if isinstance(res.records, dict) else None
    if isinstance(lots, list) and len(lots) == 1 and isinstance(lots[0], dict):
        return lots[0].get("lot_number")
    if res.kind == "lot" and isinstance(res.fields, dict) and res.fields.get("lot"):
        return str(res.fields["lot"])
    return None


def _label(key: str, labels: dict) -> str:
    return labels.get(key) or str(key).replace("_", " ").capitalize()


def _flat(value) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_flat(v)}" for k, v in value.items() if v not in (None, "", [], {}))
    if isinstance(value, (list, tuple)):
        return ", ".join(_flat(v) for v in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


FORMS = {"element_string": "GS1 element string", "digital_link": "GS1 Digital Link",
         "hri": "GS1 as printed, (01)…"}


def _fields(fields: dict) -> list[tuple[str, str]]:
    """(label, value) pairs, in the resolver's order; the GS1 AIs once (as printed, if given)."""
    out = []
    fields = fields or {}
    for key, value in fields.items():
        if value in (None, "", [], {}):
            continue
        if key == "ai" and isinstance(value, dict):
            if fields.get("hri"):
                continue  # the same data as the printed form, which workers know from the label
            value = " ".join(f"({ai}){_flat(v)}" for ai, v in value.items())
        elif key == "ai":
            out.append(("AI", _flat(value)))
            continue
        elif key == "form":
            value = FORMS.get(value, value)
        out.append((_label(key, FIELD_LABELS), _flat(value)))
    return out


def _records(records: dict) -> list[tuple[str, str]]:
    """(label, one line) per matched record: the name a worker recognises first."""
    out = []
    for key, value in (records or {}).items():
        if value in (None, "", [], {}):
            continue
        out.append((_label(key, RECORD_LABELS), _summary(value)))
    return out


def _summary(value) -> str:
    if isinstance(value, list):
        return "; ".join(_summary(v) for v in value[:10]) + (f" (+{len(value) - 10})" if len(value) > 10 else "")
    if not isinstance(value, dict):
        return _flat(value)
    parts = [str(value[k]) for k in ("lot_number", "sscc", "sku", "code", "badge") if value.get(k)]
    if value.get("name"):
        parts.append(str(value["name"]))
    for k in ("status", "qty", "on_hand", "expiry", "kind", "role"):
        if value.get(k) not in (None, ""):
            parts.append(f"{k.replace('_', ' ')} {value[k]}")
    return " · ".join(parts) or _flat(value)

