"""The scan log (blueprint "scan"): raw bytes, source, result and bounces of the latest scans, and the
state of the stations' scanners, for diagnostics.

    GET /scans?station=NAME[&limit=N]   the log (the table refreshes itself)
"""
from __future__ import annotations

from flask import abort, request, url_for
from markupsafe import Markup, escape
from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import get_db
from ..models import ScannerReading, StationDevice
from ..services import scans
from .common import page_or_fragment
from .scan import _station, _stations, bp
from .scan_result import WithheldScan, is_device_chatter, not_a_scanner, sees_device_chatter, when_ms


@bp.get("/scans")
def log():
    """The latest scans, newest first, optionally at one station; the table refreshes itself."""
    name = request.args.get("station") or None
    limit = min(max(request.args.get("limit", 200, type=int), 1), 1000)
    with get_db().read() as session:
        stations = _stations(session)
        station = _station(session, name) if name else None
        if name and station is None:
            abort(404, description=f"No station called {name!r}")
        rows = scans.recent(session, station_id=station.id if station else None, limit=limit)
        admin = sees_device_chatter()
        if not admin:
            rows = [WithheldScan(row) if is_device_chatter(row) else row for row in rows]
        refresh = url_for(".log", **({"station": station.name} if station else {}))
        return page_or_fragment("scans.html", "partials/scan_rows.html", rows=rows, stations=stations,
                                station=station, refresh=refresh, limit=limit,
                                scanners=scanner_readings(session, admin=admin), hexdump=hexdump, when_ms=when_ms)


def scanner_readings(session: Session, *, admin: bool = False) -> list[dict]:
    """The stations' scanners as the process reading them last reported them (any process may serve
    this page; the scanner service runs in one). What went wrong is a device's or a connection's own
    words, for admins only: the others read that the scanner is not answering like a scanner."""
    rows = session.execute(
        select(StationDevice.name, ScannerReading)
        .join(ScannerReading, ScannerReading.station_id == StationDevice.id)
        .where(StationDevice.scanner_url == ScannerReading.url)  # not a scanner the station no longer has
        .order_by(StationDevice.name)).all()
    return [{"station": name, "url": r.url, "state": r.state,
             "error": r.error if admin or not r.error else not_a_scanner(name), "scans": r.scans,
             "failures": r.failures, "last_scan_at": r.last_scan_at} for name, r in rows]


def hexdump(raw: bytes, limit: int = 64) -> str:
    """'4c 4f 54 3a …' — the first `limit` bytes in hex."""
    shown = raw[:limit].hex(" ")
    return shown + (f" … ({len(raw)} bytes)" if len(raw) > limit else "")


_ASCII_CONTROLS = ("NUL SOH STX ETX EOT ENQ ACK BEL BS TAB LF VT FF CR SO SI DLE DC1 DC2 DC3 DC4 NAK SYN "
                   "ETB CAN EM SUB ESC FS GS RS US").split()


@bp.app_template_filter("controls")
def controls(text: str | None) -> Markup:
    """Escape `text` and show the control pictures the scan log stores (␝ for GS, ␍ for CR, …) as
    labelled chips — the fonts on the floor's tablets have no glyph for U+2400…U+2421."""
    out = []
    for ch in text or "":
        code = ord(ch)
        if 0x2400 <= code <= 0x241F or code == 0x2421:
            byte = code - 0x2400 if code != 0x2421 else 0x7F
            name = _ASCII_CONTROLS[byte] if byte < 0x20 else "DEL"
            out.append(Markup('<abbr class="ctl" title="control character {} (0x{:02X})">{}</abbr>')
                       .format(name, byte, name))
        else:
            out.append(escape(ch))
    return Markup("").join(out)
