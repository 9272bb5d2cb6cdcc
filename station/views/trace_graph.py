"""The picture of a trace: a small layered layout, drawn as SVG (templates/partials/trace_graph.html)
and as vector strokes in the PDF (views/trace_pdf.py) from the same boxes and arrows.

Columns are steps in the genealogy, always read left to right in the direction goods went:
backward, the suppliers on the left, then the oldest lots, the traced lot on the right; forward, the
traced lot on the left, the lots made from it, the customers on the right. Within a column, boxes
are ordered by where their neighbours are (the barycentre heuristic, two sweeps, in
views/trace_layout.py with the boxes and arrows themselves), which keeps most arrows short and
uncrossed for genealogies of the size a site makes. This module decides what goes in the boxes.

Above MAX_BOXES lots the picture is summarised: one box per level and item ("37 lots of PIE"),
arrows summed between them. The page says so, and the table beside it always lists every lot.

Text is plain strings here; escaping happens where it is written (Jinja autoescape for SVG, fpdf2
for PDF), so a supplier's lot number never becomes markup.
"""
from __future__ import annotations

from collections import defaultdict

from ..services.trace import Trace
from .filters import qty as shown
from .trace_layout import TONES, Arrow, Box, Picture, place

MAX_BOXES = 60          # lots drawn one box each; above this the picture is summarised
MAX_PARTIES = 24        # suppliers or customers drawn one box each; above, one "N customers" box
CHARS = 26              # characters that fit a box line at the picture's font size
TITLE_CHARS = 19        # characters of a lot number that fit a box's bold title

# Worst first: a group of lots shows the tone of its worst lot.
SEVERITY = ["recalled", "expired", "hold", "quarantine", "available", "consumed"]


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
    pic = place(boxes, arrows)
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
        where = ", ".join(f"{p.location} {shown(p.qty, n, unit=False)}" for p in n.places) or "no stock"
        boxes.append(Box(
            key=f"lot:{n.lot_number}", col=_column(t, n.depth), title=cut(n.lot_number, TITLE_CHARS),
            lines=[cut(f"{n.sku} {n.item_name}"),
                   cut(f"{TONES.get(n.status, TONES['consumed'])[2]} · {shown(n.on_hand, n)}"), cut(where)],
            tone=n.status if n.status in TONES else "consumed", start=n.lot_number == t.lot_number,
            href=href(n.lot_number) if href else None))
    arrows = [Arrow(f"lot:{e.component}", f"lot:{e.output}",
                    shown(e.qty) + (" split" if e.kind == "split" else ""), e.kind) for e in t.edges]
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
                                cut(f"{shown(sum(m.on_hand for m in members), members[0])} in stock")],
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
    arrows = [Arrow(a, b, shown(q), "production") for (a, b), (q, _n) in summed.items()]
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
    arrows = [Arrow(a, b, shown(q), kind) for (a, b), q in sorted(summed.items())]
    return parties, arrows
