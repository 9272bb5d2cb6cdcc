"""Trace a lot, for supervisors: where it came from (backward) and where it went (forward).

    GET  /trace                          the page with a scan / type box (?lot= goes to the lot's trace)
    POST /trace/scan                     a wedge scan (station.js), taken by the scan intake for the
                                         trace workflow (station/workflows/trace.py): a lot, pallet or
                                         GS1 label -> that lot's trace (HX-Redirect), or a red banner
                                         saying why not; a scan of the station's own scanner likewise
    GET  /trace/<lot>?direction=         the trace: a picture (SVG, drawn here), every lot in a table,
                                         the receipts (backward) or shipments (forward)
    GET  /trace/<lot>.csv|.pdf|.svg      the same trace as a file (?direction= too)

The trace itself is services.trace.trace; the picture's layout is views.trace_graph and the files
views.trace_csv and views.trace_pdf. A bad direction or an unknown lot is a page (or file answer) in words, 400/404.
"""
from __future__ import annotations

from urllib.parse import quote

from flask import Blueprint, Response, make_response, redirect, render_template, request, url_for

from .. import auth, clock, get_db
from ..auth import requires
from ..services import catalog
from ..services.errors import DomainError, NotFound
from ..services.trace import Trace, check_direction, trace
from ..workflows import trace as flow
from ..workflows.intake import Taken
from . import intake
from .common import clean_scan
from .trace_csv import to_csv
from .trace_pdf import to_pdf
from .trace_graph import picture

bp = Blueprint("trace", __name__, url_prefix="/trace")

PAGE = "trace.html"
WORDS = {"backward": "Backward — where it came from", "forward": "Forward — where it went"}
STATUS = {  # status -> (badge tone, words), as on the lot card
    "available": ("ok", "Available"), "hold": ("warn", "On hold"), "quarantine": ("warn", "Quarantine"),
    "recalled": ("bad", "Recalled"), "expired": ("bad", "Expired"), "consumed": ("muted", "Consumed"),
}


@bp.get("")
@requires("supervisor")
def index():
    """The page; `?lot=` (typed, or the form without JavaScript) opens that lot's trace."""
    if request.args.get("lot") is not None:
        lot_number = clean_scan(request.args.get("lot"))
        if lot_number:
            return redirect(_trace_url(lot_number, request.args.get("direction")))
        return _page(400, error="Nothing typed — scan or type a lot number.")
    return _page()


@bp.post("/scan")
@requires("supervisor")
def scan():
    """A wedge scan: the lot it names opens its trace, in the direction the page shows."""
    taken, refused = intake.take(flow.NAME)
    if refused is not None:
        return auth.banner_response("error", refused.message, 400, refused.detail)
    return show_answer(taken, request.args.get("direction"))


@intake.renderer(flow.NAME)
def show_answer(taken: Taken, direction: str | None = None) -> Response:
    """A scan's answer on the trace page: open the lot's trace (HX-Redirect), or say why not. The
    direction is the page's own (its scan URL), else the one the station's open page showed."""
    if taken.outcome.ignored:
        return auth.banner_response("info", "The same label again — scanned once only.")
    answer = taken.answer or flow.answer_for(taken.resolution, "backward")  # a retry: said again
    if not answer.ok:
        return auth.banner_response(answer.kind, answer.message, 200, answer.detail)
    response = auth.banner_response("ok", answer.message)
    lot = answer.data["lot"]
    response.headers["HX-Redirect"] = _trace_url(lot, direction if direction in WORDS else answer.data["direction"])
    return response


@bp.get("/<path:lot_number>.csv")
@requires("supervisor")
def csv_file(lot_number: str):
    t = _load(lot_number)
    if isinstance(t, Response):
        return t
    return _file(to_csv(t).encode("utf-8-sig"), "text/csv; charset=utf-8", t, "csv")


@bp.get("/<path:lot_number>.pdf")
@requires("supervisor")
def pdf_file(lot_number: str):
    t = _load(lot_number)
    if isinstance(t, Response):
        return t
    body = to_pdf(t, picture(t), title=_title(t), generated=clock.now())
    return _file(body, "application/pdf", t, "pdf")


@bp.get("/<path:lot_number>.svg")
@requires("supervisor")
def svg_file(lot_number: str):
    t = _load(lot_number)
    if isinstance(t, Response):
        return t
    svg = render_template("partials/trace_graph.html", pic=picture(t), title=_title(t))
    response = Response('<?xml version="1.0" encoding="UTF-8"?>\n' + svg, mimetype="image/svg+xml")
    response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.get("/<path:lot_number>")
@requires("supervisor")
def show(lot_number: str):
    t = _load(lot_number)
    if isinstance(t, Response):
        return t
    return _page(trace=t, pic=picture(t, href=lambda n: _trace_url(n, t.direction)))


# --- helpers -----------------------------------------------------------------------------------


def _trace_url(lot_number: str, direction: str | None) -> str:
    args = {"direction": direction} if direction in WORDS else {}
    return url_for("trace.show", lot_number=lot_number, **args)


def _title(t: Trace) -> str:
    return f"Trace {t.direction} of lot {t.lot_number}"


def _load(lot_number: str) -> Trace | Response:
    """The lot's trace in the asked direction, or the page / file answer that says why there is none."""
    lot_number = clean_scan(lot_number)
    try:
        direction = check_direction(request.args.get("direction"))
    except DomainError as exc:
        return _refuse(400, exc.message, lot_number)
    with get_db().read() as session:
        try:
            lot = catalog.lot_by_number(session, lot_number)
        except NotFound:
            return _refuse(404, f"There is no lot {lot_number!r} — check the number and scan again.", lot_number)
        return trace(session, lot, direction)


def _refuse(status: int, message: str, lot_number: str):
    if request.path.endswith((".csv", ".pdf", ".svg")):
        return Response(message, status=status, mimetype="text/plain",
                        headers={"X-Content-Type-Options": "nosniff"})
    return _page(status, error=message, query=lot_number)


def _file(body: bytes, mimetype: str, t: Trace, ext: str) -> Response:
    # The lot number is supplier data: the plain file name keeps only safe characters, and the
    # RFC 5987 form carries the exact number percent-encoded.
    plain = "".join(c if c.isalnum() or c in "-_." else "_" for c in t.lot_number)[:60] or "lot"
    name = f"trace-{t.direction}-{plain}.{ext}"
    exact = quote(f"trace-{t.direction}-{t.lot_number}.{ext}", safe="")
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f"attachment; filename=\"{name}\"; filename*=UTF-8''{exact}"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _page(status: int = 200, **context):
    t: Trace | None = context.get("trace")
    direction = t.direction if t else flow.direction_of(request.args.get("direction"))
    _opened(direction)
    context.setdefault("query", t.lot_number if t else "")
    start = t.node(t.lot_number) if t else None
    response = make_response(render_template(
        PAGE, direction=direction, words=WORDS, status_words=STATUS, start=start,
        sources=_sources(t) if t else {}, title=_title(t) if t else "Trace a lot",
        node_of={n.lot_number: n for n in t.nodes} if t else {},
        other_url=_trace_url(t.lot_number, "forward" if direction == "backward" else "backward") if t else None,
        **context), status)
    response.headers["Cache-Control"] = "no-store"
    return response


def _opened(direction: str) -> None:
    """The trace page is open at this station, showing `direction`: its own scanner's scans open
    their trace that way too."""
    intake.open_page(flow.NAME)
    db = get_db()
    with db.read() as session:
        current = intake.load_state(session, flow.NAME)
    if flow.opened(current, direction) != current:
        with db.write() as session:
            intake.save_state(session, flow.NAME, flow.opened(current, direction))


def _sources(t: Trace) -> dict[str, list]:
    made: dict[str, list] = {}
    for e in t.edges:
        made.setdefault(e.output, []).append(e)
    return made
