"""The station scan page: scan anything, see what it is (the lookup workflow, station/workflows/lookup.py).

    GET  /scan?station=NAME            the page (the station is remembered in a cookie)
    POST /scan                         code, client_id, station[, source] (form or JSON) -> result partial,
                                       the whole page without JavaScript, or JSON when asked
    GET  /scan/feed?station=N&after=ID new scans at that station as result partials, or 204
    GET  /scan/station-feed            views/station_feed.py (the workflow pages' feed)
    GET  /scans?station=NAME           the scan log: views/scan_log.py

Keyboard-wedge scans are captured by station.js wherever focus is and POSTed one at a time with
a client id; the scan intake (station/workflows/intake.py) cleans, size-checks, logs and resolves
them. Scans from a serial or simulated scanner bound to the station are written to the scan log
by the scanner service (another thread or process); the page picks them up from /scan/feed. The
scan page opens no workflow: it shows every scan at its station, whatever page applied it.

Why polling and not server-sent events: waitress serves each request on one of a fixed number of
threads (8 by default), and an SSE stream holds its thread for as long as the page is open, so a
handful of tablets would starve the server. With several app processes an SSE stream would also
have to poll the database (nothing tells process A that process B's scanner reader wrote a row)
— so the stream would be the same query with a held thread on top. A poll is one indexed
query ((station_id, id) > cursor, usually empty: 204) that any process can answer, it passes
proxies and survives restarts, and every 150 ms it keeps a serial scan on screen well inside 300 ms.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, current_app, jsonify, make_response, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import auth, get_db
from ..ids import BadNumber, parse_id
from ..models import Scan, StationDevice
from ..services import scans
from ..workflows import intake
from ..workflows.lookup import NAME
from .common import wants_fragment
from .scan_result import result

bp = Blueprint("scan", __name__)

STATION_COOKIE = "station"
COOKIE_MAX_AGE = 365 * 24 * 3600
SOURCES = ("wedge", "manual", "api")  # what a browser or client may call itself; devices are URLs
FEED_LIMIT = 20
POLL_MS = 150
RECENT_ON_PAGE = 8
# The scan page's own words for a refusal of the intake, where they say more than the intake's.
REFUSALS = {"empty": "Nothing scanned — scan a barcode, or type a code and press Enter."}


# --- the page ----------------------------------------------------------------------------------


@bp.get("/scan")
def page():
    """The scan page for the station named in ?station= (then remembered), else the station picker."""
    chosen = request.args.get("station")  # "" chooses no station
    name = chosen if chosen is not None else auth.station_cookie_name()
    with get_db().read() as session:
        stations = _stations(session)
        station = _station(session, name)
        if "choose" in request.args or (chosen and station is None):
            return _picker(stations, unknown=chosen if chosen and station is None else None)
        if station is None and stations and chosen != "":
            return _picker(stations)  # first visit, or the remembered station is gone
        sid = station.id if station else None
        recent = scans.recent(session, station_id=sid, limit=RECENT_ON_PAGE) if station else []
        results = [result(session, row, past=True, detailed=False) for row in recent]
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
        auth.bind_station(response, station)  # signed (station/auth/)
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
    """Take one scan (form or JSON) through the intake and answer with its result partial (or JSON)."""
    data = request.get_json(silent=True) if request.is_json else request.form
    if not isinstance(data, dict) and not hasattr(data, "get"):
        return _refuse(400, "bad_request", "Send a JSON object or a form with a code.")
    source = data.get("source") or ("api" if request.is_json else "wedge")
    if source not in SOURCES:
        return _refuse(400, "bad_source", f"Unknown source {str(source)[:40]!r}; use one of {', '.join(SOURCES)}.")
    client_id = data.get("client_id") or None
    name = data.get("station")
    if name is None:
        name = auth.station_cookie_name()
    if not isinstance(client_id, (str, type(None))) or not isinstance(name, (str, type(None))):
        return _refuse(400, "bad_request", "client_id and station must be text.")

    db = get_db()
    with db.read() as session:
        station = _station(session, name) if name else None
    if name and station is None:
        return _refuse(400, "unknown_station", f"No station called '{str(name)[:60]}' — choose the station again.")
    operator = auth.current_operator()
    scan = intake.ScanIn(code=data.get("code"), source=source, station_id=station.id if station else None,
                         operator_id=operator.id if operator else None, client_id=client_id)
    try:
        taken = intake.take(db, scan, NAME, bounce_ms=current_app.config["SCAN_BOUNCE_MS"])
    except intake.Refused as exc:
        return _refuse(400, exc.code, REFUSALS.get(exc.code, exc.message))
    except scans.InvalidClientId as exc:
        return _refuse(400, "bad_client_id", str(exc))

    outcome = taken.outcome
    if _wants_json():
        return jsonify(outcome.to_dict())
    with db.read() as session:
        row = session.get(Scan, outcome.scan_id)
        shown = result(session, row, past=False, detailed=True, retried=outcome.retried)
        if wants_fragment():
            response = make_response(render_template("partials/scan_result.html", r=shown))
        else:  # the form without JavaScript: the whole page with the answer on it
            response = make_response(render_template(
                "scan.html", station=station, results=[shown], config=None,
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
            results = [result(session, row, past=row is not rows[-1], detailed=row is rows[-1])
                       for row in rows]
            response = make_response(render_template("partials/scan_results.html", results=results))
            response.headers["X-Scan-Last"] = str(rows[-1].id)
    response.headers["Cache-Control"] = "no-store"
    return response


# --- helpers -------------------------------------------------------------------------------------


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
