"""The expiry dashboard (supervisors): what expires soon, what has expired but is still on site, and
a chart of stock by expiry week drawn on the server as SVG (no chart library, no script).

    GET /expiry?days=30     lots expiring within 7 / 14 / 30 / 60 days (any 1-365 typed in the URL)
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, make_response, render_template, request

from .. import get_db
from ..services import expiry
from ..auth import requires
from .filters import qty

bp = Blueprint("expiry", __name__)

CHOICES = (7, 14, 30, 60)
DEFAULT_DAYS = 30
MAX_DAYS = 365

# The chart's drawing, in SVG user units: the SVG scales to its box, so at 360 px wide a 22-unit
# label is about 16 px; on a tablet CSS caps the chart's width (560 px) so the text does not grow huge.
CHART_WIDTH = 440
ROW = 46
LABEL_W = 132
BAR_X = 140
BAR_MAX = 230


@dataclass(frozen=True)
class Bar:
    label: str
    lots: int
    qty_words: str
    y: int
    width: int
    tone: str  # bad (expired), warn (within two weeks), ok


def chart_bars(buckets: list[expiry.Bucket]) -> list[Bar]:
    most = max((b.lots for b in buckets), default=0)
    bars = []
    for n, b in enumerate(buckets):
        width = 0 if not b.lots else max(6, round(b.lots / most * BAR_MAX))
        tone = "bad" if b.start is None else ("warn" if n <= 2 else "ok")
        words = " · ".join(qty(q, unit) for unit, q in sorted(b.qty.items())) or "—"
        bars.append(Bar(b.label, b.lots, words, n * ROW, width, tone))
    return bars


def _days() -> tuple[int | None, str | None]:
    raw = request.args.get("days", "").strip()
    if not raw:
        return DEFAULT_DAYS, None
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_DAYS:
        return None, f"Days must be a whole number from 1 to {MAX_DAYS} (got {raw[:12]!r}) — tap one of the buttons."
    return int(raw), None


@bp.get("/expiry")
@requires("supervisor")
def index():
    days, error = _days()
    if error:
        return make_response(render_template("expiry.html", error=error, choices=CHOICES, days=None,
                                             board=None), 400)
    with get_db().read() as session:
        board = expiry.dashboard(session, days)
    bars = chart_bars(board.buckets)
    return render_template("expiry.html", board=board, days=days, choices=CHOICES, bars=bars, error=None,
                           chart={"width": CHART_WIDTH, "height": ROW * len(bars), "row": ROW,
                                  "label_w": LABEL_W, "bar_x": BAR_X},
                           places=expiry.places_words)
