"""A trace as PDF: the picture (views/trace_graph.py) and the table, drawn with fpdf2 in DejaVu Sans
(fonts-dejavu-core, which scripts/setup.sh installs; Droid Sans Fallback covers CJK), so any lot number
prints as the text it is."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

from ..services.trace import Trace
from ..spreadsheet import qty_words
from .trace_csv import made_from, utc
from .trace_graph import plural
from .trace_layout import TONES, Picture

FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/truetype/droid"))
PAGE_W, PAGE_H, MARGIN = 297.0, 210.0, 10.0  # A4 landscape, mm
PX_MM = 0.3  # the picture's pixel at most this many mm (1:1 would be 0.26)


def _hex(color: str) -> tuple[int, int, int]:
    color = color.lstrip("#")
    return int(color[0:2], 16), int(color[2:4], 16), int(color[4:6], 16)


def _fonts(pdf) -> str:
    regular = FONT_DIRS[0] / "DejaVuSans.ttf"
    bold = FONT_DIRS[0] / "DejaVuSans-Bold.ttf"
    if not regular.exists():  # a site without fonts-dejavu-core: Latin-1 text still prints
        return "helvetica"
    pdf.add_font("dejavu", "", str(regular))
    pdf.add_font("dejavu", "B", str(bold if bold.exists() else regular))
    fallback = FONT_DIRS[1] / "DroidSansFallbackFull.ttf"
    if fallback.exists():
        pdf.add_font("droid", "", str(fallback))
        pdf.add_font("droid", "B", str(fallback))
        pdf.set_fallback_fonts(["droid"], exact_match=False)
    return "dejavu"


def _latin1(text: str, font: str) -> str:
    return text if font != "helvetica" else text.encode("latin-1", "replace").decode("latin-1")


def to_pdf(t: Trace, pic: Picture, *, title: str, generated: dt.datetime) -> bytes:
    from fpdf import FPDF

    pdf = FPDF(orientation="L", unit="mm", format="A4")
    pdf.set_margins(MARGIN, MARGIN, MARGIN)
    pdf.set_auto_page_break(True, MARGIN)
    font = _fonts(pdf)
    txt = lambda s: _latin1(str(s if s is not None else ""), font)  # noqa: E731
    pdf.set_title(txt(title))
    pdf.set_creator("Station")
    pdf.add_page()
    pdf.set_font(font, "B", 16)
    pdf.multi_cell(0, 8, txt(title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(font, "", 10)
    facts = (f"{plural(len(t.nodes), 'lot')}, {plural(t.max_depth, 'level')} deep. "
             + (f"{plural(len(t.shipments), 'shipment')} ({_shipped(t)}) to "
                f"{plural(len({s.customer_code for s in t.shipments}), 'customer')}." if t.direction == "forward" else
                f"{plural(len(t.receipts), 'receipt')} from "
                f"{plural(len({r.supplier_code for r in t.receipts}), 'supplier')}.")
             + f" Made {generated:%Y-%m-%d %H:%M} UTC.")
    pdf.multi_cell(0, 6, txt(facts), new_x="LMARGIN", new_y="NEXT")
    if pic.note:
        pdf.multi_cell(0, 6, txt(pic.note), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    _draw(pdf, pic, font, txt)
    _tables(pdf, t, font, txt)
    return bytes(pdf.output())


def _shipped(t: Trace) -> str:
    """What the shipments took, per unit ("18 ea, 2.5 kg"): kilograms and pieces never add up."""
    lots = {n.lot_number: n for n in t.nodes}
    by_unit: dict[str, list] = {}
    for s in t.shipments:
        n = lots[s.lot_number]
        total = by_unit.setdefault(n.unit, [0, 0])
        total[0] += s.qty
        total[1] = max(total[1], n.decimals)
    return ", ".join(qty_words(q, d, unit) for unit, (q, d) in sorted(by_unit.items())) or "nothing"


def _draw(pdf, pic: Picture, font: str, txt) -> None:
    room_w, room_h = PAGE_W - 2 * MARGIN, PAGE_H - 2 * MARGIN - 20
    scale = min(PX_MM, room_w / pic.width, room_h / pic.height)
    if pic.height * scale > PAGE_H - MARGIN - pdf.get_y():
        pdf.add_page()
    ox, oy = MARGIN, pdf.get_y()
    at = lambda x, y: (ox + x * scale, oy + y * scale)  # noqa: E731
    pdf.set_line_width(0.4)
    for a in pic.arrows:
        pdf.set_draw_color(74, 80, 89)
        bend = max(40.0, abs(a.x2 - a.x1) / 2)
        pts = [at(a.x1, a.y1), at(a.x1 + bend, a.y1), at(a.x2 - bend, a.y2), at(a.x2, a.y2)]
        if a.kind == "split":
            pdf.set_dash_pattern(dash=1.5, gap=1)
        pdf.bezier(pts)
        pdf.set_dash_pattern()
        tip = at(a.x2, a.y2)
        pdf.set_fill_color(74, 80, 89)
        pdf.polygon([tip, (tip[0] - 2.2, tip[1] - 1.2), (tip[0] - 2.2, tip[1] + 1.2)], style="F")
    for b in pic.boxes:
        x, y = at(b.x, b.y)
        pdf.set_fill_color(*_hex(TONES[b.tone][0]))
        pdf.set_draw_color(*_hex("#111418" if b.start else TONES[b.tone][1]))
        pdf.set_line_width(1.0 if b.start else 0.5)
        pdf.rect(x, y, pic.box_w * scale, pic.box_h * scale, style="DF", round_corners=True,
                 corner_radius=2)
        pdf.set_text_color(17, 20, 24)
        pdf.set_font(font, "B", max(5.0, 18 * scale / 0.3528 * 0.85))
        pdf.text(x + 12 * scale, y + 26 * scale, txt(b.title))
        pdf.set_font(font, "", max(4.5, 14.5 * scale / 0.3528 * 0.85))
        for i, line in enumerate(b.lines):
            pdf.text(x + 12 * scale, y + (48 + i * 19) * scale, txt(line))
    pdf.set_font(font, "B", max(5.0, 14 * scale / 0.3528))
    for a in pic.arrows:
        mx, my = a.lx, a.ly
        w = pdf.get_string_width(txt(a.label)) + 2
        x, y = at(mx, my)
        pdf.set_fill_color(255, 255, 255)
        pdf.set_draw_color(185, 191, 200)
        pdf.rect(x - w / 2, y - 2.2, w, 4.4, style="DF")
        pdf.text(x - w / 2 + 1, y + 1.2, txt(a.label))
    pdf.set_line_width(0.2)
    pdf.set_draw_color(0, 0, 0)
    pdf.set_y(oy + pic.height * scale + 4)


class _Grid:
    """A plain table: one measure per cell, and fpdf2's line breaking only for the cells that do not fit
    on one line. (fpdf2's own table breaks every cell twice: a trace of 1,001 lots and 1,380 shipments
    took 10.8 s to print; this grid takes about 3 s on the same busy machine.)"""

    LINE = 4.2  # mm per text line at 8 pt

    def __init__(self, pdf, font: str, widths: tuple[float, ...], header: list[str]) -> None:
        self.pdf, self.font, self.widths, self.header = pdf, font, widths, header
        self.odd = False
        self.row(header, head=True)

    def _lines(self, width: float, text: str) -> list[str]:
        if self.pdf.get_string_width(text) <= width - 2:
            return [text]
        return self.pdf.multi_cell(width - 2, self.LINE, text, dry_run=True, output="LINES") or [text]

    def row(self, cells: list[str], head: bool = False) -> None:
        pdf = self.pdf
        pdf.set_font(self.font, "B" if head else "", 8)
        lines = [self._lines(w, c) for w, c in zip(self.widths, cells)]
        height = max(len(ls) for ls in lines) * self.LINE + 1.4
        if not head and pdf.get_y() + height > pdf.page_break_trigger:
            pdf.add_page()
            self.row(self.header, head=True)
            pdf.set_font(self.font, "", 8)
        x, y = pdf.l_margin, pdf.get_y()
        shade = (233, 236, 240) if head else (245, 247, 249) if self.odd else (255, 255, 255)
        pdf.set_fill_color(*shade)
        pdf.set_draw_color(150, 156, 165)
        pdf.set_line_width(0.15)
        for width, cell_lines in zip(self.widths, lines):
            pdf.rect(x, y, width, height, style="DF")
            for i, line in enumerate(cell_lines):
                pdf.text(x + 1, y + 0.7 + self.LINE * (i + 0.78), line)
            x += width
        pdf.set_xy(pdf.l_margin, y + height)
        if not head:
            self.odd = not self.odd


def _tables(pdf, t: Trace, font: str, txt) -> None:
    sources = made_from(t)
    pdf.set_text_color(17, 20, 24)
    pdf.set_font(font, "B", 12)
    pdf.cell(0, 8, "Every lot in the trace", new_x="LMARGIN", new_y="NEXT")
    grid = _Grid(pdf, font, (11, 30, 40, 18, 20, 36, 44, 38, 40),
                 ["Level", "Lot", "Item", "Status", "On hand", "Where now", "Made from", "Supplier / supplier lot",
                  "Dates"])
    for n in t.nodes:
        dates = "; ".join(f"{k} {v.isoformat()}" for k, v in (("received", n.received_on),
                                                               ("made", n.produced_on),
                                                               ("expiry", n.expiry)) if v)
        supplier = " / ".join(x for x in (n.supplier_name, n.supplier_lot) if x)
        grid.row([txt(v) for v in (n.depth, n.lot_number, f"{n.sku} {n.item_name}", n.status,
                                   qty_words(n.on_hand, n.decimals, n.unit),
                                   ", ".join(f"{p.location} {qty_words(p.qty, n.decimals, None)}"
                                             for p in n.places) or "-",
                                   sources.get(n.lot_number, "-"), supplier or "-", dates or "-")])
    pdf.ln(4)
    pdf.set_font(font, "B", 12)
    if t.direction == "forward":
        pdf.cell(0, 8, "Shipments", new_x="LMARGIN", new_y="NEXT")
        if not t.shipments:
            pdf.set_font(font, "", 9)
            pdf.cell(0, 6, "None of these lots has been shipped.", new_x="LMARGIN", new_y="NEXT")
            return
        grid = _Grid(pdf, font, (34, 60, 40, 40, 30, 26), ["Date (UTC)", "Customer", "Order", "Lot", "Item", "Qty"])
        lots = {n.lot_number: n for n in t.nodes}
        for s in t.shipments:
            n = lots[s.lot_number]
            grid.row([txt(v) for v in (f"{utc(s.ts):%Y-%m-%d %H:%M}",
                                       f"{s.customer_name or ''} ({s.customer_code or '?'})",
                                       s.order_number or "-", s.lot_number, n.sku,
                                       qty_words(s.qty, n.decimals, n.unit))])
    else:
        pdf.cell(0, 8, "Receipts of the lots it came from", new_x="LMARGIN", new_y="NEXT")
        if not t.receipts:
            pdf.set_font(font, "", 9)
            pdf.cell(0, 6, "No receipt is recorded for these lots.", new_x="LMARGIN", new_y="NEXT")
            return
        grid = _Grid(pdf, font, (30, 44, 34, 34, 22, 42, 34, 24),
                     ["Date (UTC)", "Supplier", "Supplier lot", "Lot", "Qty", "Pallet SSCC", "Received by", "Put at"])
        lots = {n.lot_number: n for n in t.nodes}
        for r in t.receipts:
            n = lots[r.lot_number]
            grid.row([txt(v) for v in (f"{utc(r.ts):%Y-%m-%d %H:%M}", f"{r.supplier_name or 'No supplier recorded'}",
                                       r.supplier_lot or "-", r.lot_number, qty_words(r.qty, n.decimals, n.unit),
                                       r.sscc or "-",
                                       r.received_by or "-", r.location or "-")])
