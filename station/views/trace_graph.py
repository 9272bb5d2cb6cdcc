"""The picture of a trace: a small layered layout, drawn as SVG (templates/partials/trace_graph.html)
and as vector strokes in the PDF (views/trace_export.py) from the same boxes and arrows.

Columns are steps in the genealogy, always read left to right in the direction goods went:
backward, the suppliers on the left, then the oldest lots, the traced lot on the right; forward, the
traced lot on the left, the lots made from it, the customers on the right. Within a column, boxes
are ordered by where their neighbours are (the barycentre heuristic, two sweeps), which keeps most
arrows short and uncrossed for genealogies of the size a site makes.

Above MAX_BOXES lots the picture is summarised: one box per level and item ("37 lots of PIE"),
arrows summed between them. The page says so, and the table beside it always lists every lot.

Text is plain strings here; escaping happens where it is written (Jinja autoescape for SVG, fpdf2
for PDF), so a supplier's lot number never becomes markup.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from ..services.trace import Trace

MAX_BOXES = 60          # lots drawn one box each; above this the picture is summarised
MAX_PARTIES = 24        # suppliers or customers drawn one box each; above, one "N customers" box
BOX_W, BOX_H = 240, 96
COL_GAP, ROW_GAP = 90, 18
PAD = 16
CHARS = 26              # characters that fit a box line at the picture's font size
TITLE_CHARS = 19        # characters of a lot number that fit a box's bold title

# Status -> (fill, stroke, words); dark text on light fills, all above 7:1.
TONES = {
    "available": ("#dcf2e3", "#0b6b2c", "Available"),
    "hold": ("#fff2c7", "#8a6100", "On hold"),
    "quarantine": ("#fff2c7", "#8a6100", "Quarantine"),
    "recalled": ("#fbe1e4", "#b0001a", "Recalled"),
    "expired": ("#fbe1e4", "#b0001a", "Expired"),
    "consumed": ("#eceef1", "#5b626c", "Consumed"),
    "supplier": ("#e3ecfb", "#0b57c2", "Supplier"),
    "customer": ("#efe6fb", "#5a2ca0", "Customer"),
}
# Worst first: a group of lots shows the tone of its worst lot.
SEVERITY = ["recalled", "expired", "hold", "quarantine", "available", "consumed"]


@dataclass
class Box:
    key: str
    col: int
    title: str
    lines: list[str]
    tone: str
    start: bool = False
    href: str | None = None  # a lot's own trace, for the SVG on the page
    x: float = 0
    y: float = 0

    @property
    def fill(self) -> str:
        return TONES[self.tone][0]

    @property
    def stroke(self) -> str:
        return TONES[self.tone][1]


@dataclass
class Arrow:
    source: str
    target: str
    label: str
    kind: str  # production | split | receive | ship
    x1: float = 0
    y1: float = 0
    x2: float = 0
    y2: float = 0
    lx: float = 0  # where its quantity is written
    ly: float = 0

    @property
    def path(self) -> str:
        bend = max(40.0, abs(self.x2 - self.x1) / 2)
        return (f"M{self.x1:.1f},{self.y1:.1f} C{self.x1 + bend:.1f},{self.y1:.1f} "
                f"{self.x2 - bend:.1f},{self.y2:.1f} {self.x2:.1f},{self.y2:.1f}")

    @property
    def mid(self) -> tuple[float, float]:
        return (self.x1 + self.x2) / 2, (self.y1 + self.y2) / 2

    @property
    def label_w(self) -> float:
        return 8.0 * len(self.label) + 12


@dataclass
class Picture:
    width: float
    height: float
    boxes: list[Box] = field(default_factory=list)
    arrows: list[Arrow] = field(default_factory=list)
    summarised: bool = False
    note: str | None = None

    @property
    def box_w(self) -> int:
        return BOX_W

    @property
    def box_h(self) -> int:
        return BOX_H


def cut(text: str | None, n: int = CHARS) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= n else text[: n - 1] + "…"


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def picture(t: Trace, href=None, max_boxes: int = MAX_BOXES) -> Picture:
    """Lay out `t`; `href(lot_number)` gives a lot box its link (None: no links)."""
    summarised = len(t.nodes) > max_boxes
    boxes, arrows = (_grouped if summarised else _detailed)(t, href)
    parties, party_arrows = _parties(t, boxes)
    boxes += parties
    arrows += party_arrows
    pic = _place(boxes, arrows)
    if summarised:
        pic.summarised = True
        pic.note = (f"The picture is summarised: {len(t.nodes)} lots are drawn as "
                    f"{sum(1 for b in boxes if b.key.startswith('group:'))} groups, one per level and item. "
                    f"The table lists every lot.")
    return pic


def _column(t: Trace, depth: int) -> int:
    # Backward, goods flow from the deepest lots to the traced one; column 0 is the suppliers'.
    return depth if t.direction == "forward" else t.max_depth - depth + 1


def _detailed(t: Trace, href):
    boxes = []
    for n in t.nodes:
        where = ", ".join(f"{p.location} {p.qty}" for p in n.places) or "no stock"
        boxes.append(Box(
            key=f"lot:{n.lot_number}", col=_column(t, n.depth), title=cut(n.lot_number, TITLE_CHARS),
            lines=[cut(f"{n.sku} {n.item_name}"),
                   cut(f"{TONES.get(n.status, TONES['consumed'])[2]} · {n.on_hand} {n.unit}"), cut(where)],
            tone=n.status if n.status in TONES else "consumed", start=n.lot_number == t.lot_number,
            href=href(n.lot_number) if href else None))
    arrows = [Arrow(f"lot:{e.component}", f"lot:{e.output}",
                    f"{e.qty}" + (" split" if e.kind == "split" else ""), e.kind) for e in t.edges]
    return boxes, arrows


def _grouped(t: Trace, href):
    groups: dict[tuple[int, str], list] = defaultdict(list)
    for n in t.nodes:
        groups[(n.depth, n.sku)].append(n)
    key_of = {n.lot_number: f"group:{n.depth}:{n.sku}" for n in t.nodes}
    boxes = []
    for (depth, sku), members in sorted(groups.items()):
        statuses = {m.status for m in members}
        worst = next((s for s in SEVERITY if s in statuses), "consumed")
        start = any(m.lot_number == t.lot_number for m in members)
        title = cut(members[0].lot_number, TITLE_CHARS) if len(members) == 1 else f"{len(members)} lots"
        counts = ", ".join(f"{sum(1 for m in members if m.status == s)} {TONES[s][2].lower()}"
                           for s in SEVERITY if s in statuses)
        boxes.append(Box(key=f"group:{depth}:{sku}", col=_column(t, depth), title=title,
                         lines=[cut(f"{sku} {members[0].item_name}"), cut(counts),
                                cut(f"{sum(m.on_hand for m in members)} {members[0].unit} in stock")],
                         tone=worst, start=start,
                         href=href(members[0].lot_number) if href and len(members) == 1 else None))
    summed: dict[tuple[str, str], list[int]] = {}
    for e in t.edges:
        pair = (key_of[e.component], key_of[e.output])
        if pair[0] == pair[1]:
            continue
        qty_links = summed.setdefault(pair, [0, 0])
        qty_links[0] += e.qty
        qty_links[1] += 1
    # Only the quantity fits the gap between columns; the table has each link.
    arrows = [Arrow(a, b, str(q), "production") for (a, b), (q, _n) in summed.items()]
    return boxes, arrows


def _parties(t: Trace, boxes: list[Box]):
    """Suppliers as roots (backward) or customers as leaves (forward), with their quantities."""
    lot_key = {}
    for b in boxes:
        if b.key.startswith("lot:"):
            lot_key[b.key[4:]] = b.key
    node_key = lot_key or {}
    if not lot_key:  # summarised: a lot's arrow leaves its group
        node_key = {n.lot_number: f"group:{n.depth}:{n.sku}" for n in t.nodes}
    if t.direction == "forward":
        col = max((b.col for b in boxes), default=0) + 1
        rows = [(s.customer_code or "?", s.customer_name or "Unknown customer", s.lot_number, s.qty,
                 s.order_number) for s in t.shipments]
        tone, noun, kind = "customer", "customer", "ship"
    else:
        col = 0
        rows = [(r.supplier_code or "?", r.supplier_name or "No supplier recorded", r.lot_number, r.qty,
                 r.supplier_lot) for r in t.receipts]
        tone, noun, kind = "supplier", "supplier", "receive"
    if not rows:
        return [], []
    codes = sorted({r[0] for r in rows})
    many = len(codes) > MAX_PARTIES
    names: dict[str, str] = {}
    orders: dict[str, set] = defaultdict(set)
    for code, name, _lot, _q, ref in rows:
        names[code] = name
        if ref:
            orders[code].add(ref)
    parties = []
    if many:
        parties.append(Box(key=f"{noun}:*", col=col, title=f"{len(codes)} {noun}s",
                           lines=["listed in the table"], tone=tone))
    else:
        for code in codes:
            refs = sorted(orders[code])
            what = ("order " if kind == "ship" else "lot ") + ", ".join(refs[:3]) + (" …" if len(refs) > 3 else "")
            parties.append(Box(key=f"{noun}:{code}", col=col, title=cut(names[code], TITLE_CHARS),
                               lines=[cut(code), cut(what) if refs else ""], tone=tone))
    summed: dict[tuple[str, str], int] = defaultdict(int)
    for code, _name, lot, qty, _ref in rows:
        party = f"{noun}:*" if many else f"{noun}:{code}"
        pair = (node_key[lot], party) if kind == "ship" else (party, node_key[lot])
        summed[pair] += qty
    arrows = [Arrow(a, b, str(q), kind) for (a, b), q in sorted(summed.items())]
    return parties, arrows


def _place(boxes: list[Box], arrows: list[Arrow]) -> Picture:
    if not boxes:
        return Picture(2 * PAD, 2 * PAD)
    lowest = min(b.col for b in boxes)
    for b in boxes:
        b.col -= lowest
    by_col: dict[int, list[Box]] = defaultdict(list)
    for b in sorted(boxes, key=lambda b: b.key):
        by_col[b.col].append(b)
    cols = sorted(by_col)
    before: dict[str, list[str]] = defaultdict(list)
    after: dict[str, list[str]] = defaultdict(list)
    for a in arrows:
        after[a.source].append(a.target)
        before[a.target].append(a.source)
    rank = {b.key: i for c in cols for i, b in enumerate(by_col[c])}

    def sweep(order, neighbours):
        for c in order:
            column = by_col[c]
            mean = {}
            for b in column:
                near = [rank[k] for k in neighbours[b.key] if k in rank]
                mean[b.key] = sum(near) / len(near) if near else rank[b.key]
            column.sort(key=lambda b: (mean[b.key], b.key))
            for i, b in enumerate(column):
                rank[b.key] = i

    for _ in range(2):
        sweep(cols[1:], before)
        sweep(list(reversed(cols[:-1])), after)
    tallest = max(len(v) for v in by_col.values())
    height = 2 * PAD + tallest * BOX_H + (tallest - 1) * ROW_GAP
    for c in cols:
        column = by_col[c]
        used = len(column) * BOX_H + (len(column) - 1) * ROW_GAP
        top = PAD + (height - 2 * PAD - used) / 2
        for i, b in enumerate(column):
            b.x = PAD + c * (BOX_W + COL_GAP)
            b.y = top + i * (BOX_H + ROW_GAP)
    where = {b.key: b for b in boxes}
    kept = [a for a in arrows if a.source in where and a.target in where]
    # Each arrow gets its own port on the box side, in the order of the boxes at its other end, so
    # arrows into one box do not share an end point and their quantities do not sit on each other.
    leaving: dict[str, list[Arrow]] = defaultdict(list)
    entering: dict[str, list[Arrow]] = defaultdict(list)
    for a in kept:
        leaving[a.source].append(a)
        entering[a.target].append(a)
    for key, group in leaving.items():
        group.sort(key=lambda a: (where[a.target].y, a.target))
        for i, a in enumerate(group):
            a.x1, a.y1 = where[key].x + BOX_W, where[key].y + BOX_H * (i + 1) / (len(group) + 1)
    for key, group in entering.items():
        group.sort(key=lambda a: (where[a.source].y, a.source))
        for i, a in enumerate(group):
            a.x2, a.y2 = where[key].x, where[key].y + BOX_H * (i + 1) / (len(group) + 1)
    for a in kept:
        # Between neighbouring columns the quantity sits mid-way; an arrow that crosses columns passes
        # behind boxes, so its quantity sits in the gap just before the box it points at.
        span = round(abs(where[a.target].x - where[a.source].x) / (BOX_W + COL_GAP))
        a.lx, a.ly = a.mid if span == 1 else (a.x2 - COL_GAP / 2, a.y2)
    width = 2 * PAD + (max(cols) + 1) * BOX_W + max(cols) * COL_GAP
    ordered = [b for c in cols for b in by_col[c]]
    return Picture(width, height, ordered, kept)
