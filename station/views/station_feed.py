"""The station feed: what a station's own scanner (serial, sim://, agent://) read, for the page open there.

    GET /scan/station-feed?station=N&after=ID   (endpoint scan.station_feed, on the scan blueprint)

A workflow page polls it every POLL_MS. Scans the server applied to the page's workflow
(station/workflows/intake.py) come back as {"id", "workflow", "answer_url"}: the page fetches the
answer and shows it like a wedge scan's. Commands and badges (the page presses its button or signs
in) come back as {"id", "code"}.
"""
from __future__ import annotations

from flask import jsonify, make_response, request, url_for
from sqlalchemy import select

from .. import auth, get_db
from ..models import Scan, ScanApplication
from ..scanning.codes import OPERATOR_PREFIX, split_station_code, without_aim
from ..services import scans
from .scan import FEED_LIMIT, _after, _refuse, _station, bp

PAGE_SOURCES = ("wedge", "manual")  # scans a page made and answered itself


@bp.get("/scan/station-feed")
def station_feed():
    """What the station's own scanner read after scan id `after`, for the page open at the station.

    JSON {"last": id, "applied": [{"id", "workflow", "answer_url"}], "scans": [{"id", "code"}]}:
    `applied` are scans the server applied to the station's open workflow (the page fetches each
    answer_url and shows it as it shows a wedge scan's answer); `scans` are the others: commands and
    badges, which the page handles itself (it presses its button, or signs in), and — with no workflow
    open at the station — anything else, which a page without a workflow (home, set-up) answers as it
    answers a wedge scan. `last` is the newest scan looked at
    (wedge scans and bounces included), so the next poll starts after it; 204 when there is nothing
    newer. One indexed query, usually empty.

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
        bound = auth.current_station()
        if bound is None or bound.id != station.id:  # only a device set up as that station reads it
            return _refuse(403, "not_this_station", "This device is not set up as that station — an admin or "
                           "supervisor binds it on the set-up page.")
        rows = session.execute(
            select(Scan.id, Scan.raw, Scan.source, Scan.ignored, ScanApplication.workflow)
            .outerjoin(ScanApplication, ScanApplication.scan_id == Scan.id)
            .where(Scan.station_id == station.id, Scan.id > after).order_by(Scan.id).limit(FEED_LIMIT)).all()
    if not rows:
        response = make_response("", 204)
    else:
        response = jsonify({"last": rows[-1].id, **_for_the_page(rows, auth.current_operator() is not None)})
    response.headers["Cache-Control"] = "no-store"
    return response


def _for_the_page(rows, signed_in: bool) -> dict:
    """The scans a page shows or acts on: those applied at the station that no page made itself (its
    own scanner's, and the API's that drive the station's workflow), and the device scans left to the
    page. Scans a page made (it has their answer) and bounces are left out; a signed-out page gets
    badges only."""
    applied, left = [], []
    for r in rows:
        if r.source in PAGE_SOURCES or r.ignored:
            continue
        code = r.raw.decode("utf-8", "replace")
        if r.workflow is not None:
            if signed_in:
                applied.append({"id": r.id, "workflow": r.workflow,
                                "answer_url": url_for("answers.applied", scan_id=r.id)})
        elif r.source not in scans.BROWSER_SOURCES and (signed_in or _is_badge(code)):
            left.append({"id": r.id, "code": code})
    return {"applied": applied, "scans": left}


def _is_badge(code: str) -> bool:
    """An operator badge (OPR:…), with or without an AIM symbology prefix such as ]C0."""
    parsed = split_station_code(without_aim(code).strip())
    return parsed is not None and parsed[0] == OPERATOR_PREFIX


@bp.app_template_global()
def station_feed_start(station_id: int) -> int:
    """Where a workflow page's station feed starts: the station's newest scan when the page is made
    (a scan made while no page was open is not applied later, by surprise)."""
    with get_db().read() as session:
        return scans.last_id(session, station_id)
