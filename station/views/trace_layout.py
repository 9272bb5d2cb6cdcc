"""Where a trace picture's boxes and arrows go: columns left to right, within a column the barycentre
heuristic (two sweeps, which keeps most arrows short and uncrossed), each arrow on its own port. The boxes,
the arrows and their colours are defined here; views/trace_graph.py decides what goes in them."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

BOX_W, BOX_H = 240, 96
COL_GAP, ROW_GAP = 90, 18
PAD = 16

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



def place(boxes: list[Box], arrows: list[Arrow]) -> Picture:
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
