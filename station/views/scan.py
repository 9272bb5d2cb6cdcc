"""The station scan page: scan anything, see what it is; and the scan log for diagnostics.

    GET  /scan?station=NAME            the page (the station is remembered in a cookie)
    POST /scan                         code, client_id, station[, source] (form or JSON) -> result partial
    GET  /scan/feed?station=N&after=ID new scans at that station as result partials, or 204
    GET  /scan/station-feed?station=N&after=ID   new scans of the station's own scanner, as JSON for
                                       station.js on the workflow pages (each is then sent to the
                                       page's scan URL with the client id logged:<id>), or 204
    GET  /scans?station=NAME           the scan log: raw bytes, source, result, bounces

Keyboard-wedge scans are captured by station.js wherever focus is and POSTed one at a time with
a client id. Scans from a serial or simulated scanner bound to the station are written to the
scan log by the scanner service (another thread or process); the page picks them up from
/scan/feed.

Why polling and not server-sent events: waitress serves each request on one of a fixed number of
threads (8 by default), and an SSE stream holds its thread for as long as the page is open, so a
handful of tablets would starve the server. With several app processes an SSE stream would also
have to poll the database (nothing tells process A that process B's scanner reader wrote a row)
— so the stream would be the same query with a held thread on top. A poll is one indexed
query ((station_id, id) > cursor, usually empty: 204) that any process can answer, it passes
proxies and survives restarts, and every 150 ms it keeps a serial scan on screen well inside 300 ms.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from flask import Blueprint, abort, current_app, jsonify, make_response, render_template, request, url_for
from markupsafe import Markup, escape
from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import clock, get_db
from ..ids import BadNumber, parse_id
from ..models import Role, Scan, ScanApplication, ScannerReading, StationDevice
from ..scanning import ScanContext
from ..scanning.codes import OPERATOR_PREFIX, split_station_code
from ..services import scans
from ..services.errors import NotFound
from ..services.lots import lot_details
from . import floor
from .common import page_or_fragment, wants_fragment
from .lots import card_context

bp = Blueprint("scan", __name__)

STATION_COOKIE = "station"
COOKIE_MAX_AGE = 365 * 24 * 3600
SOURCES = ("wedge", "manual", "api")  # what a browser or client may call itself; devices are URLs
MAX_CODE = 16_384  # characters; longer is not a barcode (the log keeps 4 KB of what it gets)
FEED_LIMIT = 20
POLL_MS = 150
RECENT_ON_PAGE = 8

FIELD_LABELS = {
    "gtin": "GTIN", "content_gtin": "Content GTIN", "sscc": "SSCC", "lot": "Lot", "serial": "Serial",
    "expiry": "Expiry", "best_before": "Best before", "produced": "Produced", "packed": "Packed",
    "qty": "Quantity", "count": "Count", "order": "Order", "gln": "GLN", "ai": "GS1 fields",
    "command": "Command", "badge": "Badge", "location": "Location", "uri": "Digital Link",
    "form": "Barcode", "hri": "As printed",
}
RECORD_LABELS = {"item": "Item", "lot": "Lot", "lots": "Lots", "location": "Location",
                 "operator": "Operator", "unit": "Pallet", "supplier": "Supplier"}


# --- the page ----------------------------------------------------------------------------------


@bp.get("/scan")
def page():
    """The scan page for the station named in ?station= (then remembered), else the station picker."""
    chosen = request.args.get("station")  # "" chooses no station
    name = chosen if chosen is not None else floor.station_cookie_name()
    with get_db().read() as session:
        stations = _stations(session)
        station = _station(session, name)
        if "choose" in request.args or (chosen and station is None):
            return _picker(stations, unknown=chosen if chosen and station is None else None)
        if station is None and stations and chosen != "":
            return _picker(stations)  # first visit, or the remembered station is gone
        sid = station.id if station else None
        recent = scans.recent(session, station_id=sid, limit=RECENT_ON_PAGE) if station else []
        results = [_result(session, row, past=True, detailed=False) for row in recent]
        config = {
            "scan-url": url_for(".submit"),
            "feed-url": url_for(".feed", station=station.name) if station else "",
            "station": station.name if station else "",
            "cursor": scans.last_id(session, sid) if station else 0,
            "poll-ms": POLL_MS,
        }
        response = make_response(render_template("scan.html", station=station, results=results,
                                                 config=config, scanner_url=station and station.scanner_url))
    response.headers["Cache-Control"] = "no-store"  # the cursor in it must be fresh
    if station is not None and chosen:
        floor.bind_station(response, station)  # signed (views/floor.py)
    elif chosen == "":
        response.delete_cookie(STATION_COOKIE)
    return response


def _picker(stations: list[StationRef], unknown: str | None = None):
    response = make_response(render_template("scan_pick.html", stations=stations, unknown=unknown),
                             404 if unknown else 200)
    if unknown:
        response.delete_cookie(STATION_COOKIE)
    return response


@bp.post("/scan")
def submit():
    """Ingest one scan (form or JSON) and answer with its result partial (or JSON, if asked)."""
    data = request.get_json(silent=True) if request.is_json else request.form
    if not isinstance(data, dict) and not hasattr(data, "get"):
        return _refuse(400, "bad_request", "Send a JSON object or a form with a code.")
    code = data.get("code")
    if not isinstance(code, str) or not code.strip("\r\n\t "):
        return _refuse(400, "empty", "Nothing scanned — scan a barcode, or type a code and press Enter.")
    if len(code) > MAX_CODE:
        return _refuse(400, "too_long", "That is far too long to be a barcode — nothing was logged.")
    source = data.get("source") or ("api" if request.is_json else "wedge")
    if source not in SOURCES:
        return _refuse(400, "bad_source", f"Unknown source {str(source)[:40]!r}; use one of {', '.join(SOURCES)}.")
    client_id = data.get("client_id") or None
    name = data.get("station")
    if name is None:
        name = floor.station_cookie_name()
    if not isinstance(client_id, (str, type(None))) or not isinstance(name, (str, type(None))):
        return _refuse(400, "bad_request", "client_id and station must be text.")

    db = get_db()
    with db.read() as session:
        station = _station(session, name) if name else None
    if name and station is None:
        return _refuse(400, "unknown_station", f"No station called '{str(name)[:60]}' — choose the station again.")
    try:
        outcome = scans.ingest(db, code, source=source, station_id=station.id if station else None,
                               client_id=client_id, context=ScanContext(workflow="lookup"),
                               bounce_ms=current_app.config["SCAN_BOUNCE_MS"])
    except scans.InvalidClientId as exc:
        return _refuse(400, "bad_client_id", str(exc))

    if _wants_json():
        return jsonify(outcome.to_dict())
    with db.read() as session:
        row = session.get(Scan, outcome.scan_id)
        result = _result(session, row, past=False, detailed=True, retried=outcome.retried)
        if wants_fragment():
            response = make_response(render_template("partials/scan_result.html", r=result))
        else:  # the form without JavaScript: the whole page with the answer on it
            response = make_response(render_template(
                "scan.html", station=station, results=[result], config=None,
                scanner_url=station and station.scanner_url))
    response.headers["X-Scan-Id"] = str(outcome.scan_id)
    response.vary.add("HX-Request")
    return response


def _after() -> int | None:
    """The feed's after= (a scan id, 0 for the start); None when missing or not an id in range."""
    try:
        return parse_id(request.args.get("after"), what="after", low=0)
    except BadNumber:
        return None


@bp.get("/scan/feed")
def feed():
    """Scans logged at a station after id `after`, oldest first, as result partials; 204 when none."""
    after = _after()
    if after is None:
        return _refuse(400, "bad_cursor", "after must be a scan id (0 for the start).")
    with get_db().read() as session:
        station = _station(session, request.args.get("station", ""))
        if station is None:
            return _refuse(404, "unknown_station", "No such station — choose the station again.")
        rows = scans.recent(session, station_id=station.id, after=after, limit=FEED_LIMIT,
                            newest_first=False)
        if not rows:
            response = make_response("", 204)
        else:
            # Only the newest gets its details (a lot card); the others are history at once.
            results = [_result(session, row, past=row is not rows[-1], detailed=row is rows[-1])
                       for row in rows]
            response = make_response(render_template("partials/scan_results.html", results=results))
            response.headers["X-Scan-Last"] = str(rows[-1].id)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/scan/station-feed")
def station_feed():
    """Scans of the station's own scanner after id `after` that no page has applied yet, oldest first.

    JSON {"last": id, "scans": [{"id", "code"}]}: `last` is the newest scan looked at (wedge scans
    and bounces included), so the next poll starts after it; 204 when there is nothing newer. A
    workflow page polls this every POLL_MS while it is open: one indexed query, usually empty.

    Open to a signed-out page (the sign-in page of a station with its own scanner reads the badge
    scanned on it from here), but then it gives badge scans only: what else was scanned at a
    station is for signed-in operators."""
    after = _after()
    if after is None:
        return _refuse(400, "bad_cursor", "after must be a scan id (0 for the start).")
    with get_db().read() as session:
        station = _station(session, request.args.get("station", ""))
        if station is None:
            return _refuse(404, "unknown_station", "No such station — choose the station again.")
        bound = floor.current_station()
        if bound is None or bound.id != station.id:  # only a device set up as that station reads it
            return _refuse(403, "not_this_station", "This device is not set up as that station — an admin or "
                           "supervisor binds it on the set-up page.")
        rows = session.execute(
            select(Scan.id, Scan.raw, Scan.source, ScanApplication.scan_id.label("applied"), Scan.ignored)
            .outerjoin(ScanApplication, ScanApplication.scan_id == Scan.id)
            .where(Scan.station_id == station.id, Scan.id > after).order_by(Scan.id).limit(FEED_LIMIT)).all()
    if not rows:
        response = make_response("", 204)
    else:
        # Wedge scans the pages logged themselves, bounces and scans already applied are skipped.
        signed_in = floor.current_operator() is not None
        fresh = [{"id": r.id, "code": r.raw.decode("utf-8", "replace")} for r in rows
                 if r.source not in scans.BROWSER_SOURCES and r.applied is None and not r.ignored]
        if not signed_in:
            fresh = [s for s in fresh if _is_badge(s["code"])]
        response = jsonify({"last": rows[-1].id, "scans": fresh})
    response.headers["Cache-Control"] = "no-store"
    return response


def _is_badge(code: str) -> bool:
    """An operator badge (OPR:…), with or without an AIM symbology prefix such as ]C0."""
    if code.startswith("]") and len(code) >= 3:
        code = code[3:]
    parsed = split_station_code(code.strip())
    return parsed is not None and parsed[0] == OPERATOR_PREFIX


@bp.app_template_global()
def station_feed_start(station_id: int) -> int:
    """Where a workflow page's station feed starts: the station's newest scan when the page is made
    (a scan made while no page was open is not applied later, by surprise)."""
    with get_db().read() as session:
        return scans.last_id(session, station_id)


# --- the scan log --------------------------------------------------------------------------------


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


# --- what a device says that is not a scan -------------------------------------------------------
# A scanner address may point at something that is no scanner (a serial+socket:// scanner at some
# service): its banner or garbage is logged like any scan. Only admins see those bytes; the floor
# roles read a neutral sentence in the scan log, on the scan page and in the scanner's state.

# Refusals of a code that is a barcode Station knows the form of: shown to everyone.
_SCAN_REFUSALS = frozenset({"unknown_lot", "unknown_location", "unknown_command", "unknown_operator",
                            "unknown_gtin"})


def sees_device_chatter() -> bool:
    """Admins see what a device sent that is not a scan; floor roles and supervisors do not."""
    op = floor.current_operator()
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


def hexdump(raw: bytes, limit: int = 64) -> str:
    """'4c 4f 54 3a …' — the first `limit` bytes in hex."""
    shown = raw[:limit].hex(" ")
    return shown + (f" … ({len(raw)} bytes)" if len(raw) > limit else "")


def when_ms(ts: dt.datetime) -> str:
    """Site-local time to the millisecond, for telling bounces apart."""
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=dt.timezone.utc)
    local = ts.astimezone(clock.site_zone())
    return local.strftime("%Y-%m-%d %H:%M:%S.") + f"{local.microsecond // 1000:03d}"


# --- helpers -------------------------------------------------------------------------------------

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



@dataclass(frozen=True)
class StationRef:
    """A station as the pages need it; plain values, usable after the session has ended."""

    id: int
    name: str
    scanner_url: str | None


def _station(session: Session, name: str | None) -> StationRef | None:
    if not name:
        return None
    row = session.execute(select(StationDevice.id, StationDevice.name, StationDevice.scanner_url)
                          .where(StationDevice.name == name)).first()
    return StationRef(*row) if row else None


def _stations(session: Session) -> list[StationRef]:
    return [StationRef(*row) for row in session.execute(
        select(StationDevice.id, StationDevice.name, StationDevice.scanner_url).order_by(StationDevice.name))]


def _wants_json() -> bool:
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and not wants_fragment()


def _refuse(status: int, error: str, message: str):
    """A refusal that is not a scan result: red banner for the page, JSON for JSON clients."""
    if _wants_json():
        return jsonify({"error": error, "message": message}), status
    return make_response(render_template("partials/scan_refusal.html", message=message, error=error),
                         status)


def _result(session: Session, row: Scan, *, past: bool, detailed: bool, retried: bool = False) -> dict:
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

