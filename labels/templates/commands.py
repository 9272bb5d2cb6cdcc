"""The command sheet: one big Code 128 per command, each under its label, one command per row.

Data keys:
    commands  required: a list of {"code": "CMD:CONFIRM", "label": "Confirm"}; each code is printed as is
              (Station passes its own command codes), labels may be any text
    title     optional: a heading, e.g. "Line 3 commands" (4x6 only)

One column, rows as tall as the label allows, so a scanner aimed at one command cannot catch its
neighbour. `capacity(size, dpi)` tells how many commands fit a label; more raises ValueError.
"""

from __future__ import annotations

from labels.layout import Label, Text
from labels.templates.common import Sheet, fit, station_code, text

# Per size, in 203-dpi design units: margin, title line (0 = none), label line, smallest and largest bar height.
LAYOUT: dict[str, dict] = {
    "4x6": dict(m=30, title=40, label=34, bar_min=70, bar_max=170),
    "4x3": dict(m=20, title=0, label=26, bar_min=60, bar_max=150),
    "4x2": dict(m=16, title=0, label=24, bar_min=60, bar_max=130),
    "2x1": dict(m=10, title=0, label=24, bar_min=60, bar_max=130),
}
GAP = 6  # between a command's label and its barcode
SPACING = 20  # between commands


def _rows_room(s: Sheet, cfg: dict, titled: bool) -> tuple[int, int]:
    """(top y of the first row, height available for rows)."""
    top = s.d(cfg["m"])
    if titled and cfg["title"]:
        top += s.d(cfg["title"]) + s.d(16)
    return top, s.H - s.d(cfg["m"]) - top


def capacity(size: str, dpi: int = 203, titled: bool = False) -> int:
    """How many commands fit one label of this size, each with a barcode at least bar_min high."""
    s = Sheet(size, dpi)
    cfg = LAYOUT[size]
    _, room = _rows_room(s, cfg, titled)
    row = s.d(cfg["label"]) + s.d(GAP) + s.d(cfg["bar_min"])
    return max(0, (room + s.d(SPACING)) // (row + s.d(SPACING)))


def _commands(data: dict) -> list[tuple[str, str]]:
    items = data.get("commands")
    if not isinstance(items, (list, tuple)) or not items:
        raise ValueError("a command sheet needs 'commands': a list of {'code': ..., 'label': ...}")
    out = []
    for n, item in enumerate(items):
        if not isinstance(item, dict):
            raise ValueError(f"commands[{n}] must be a dict with 'code' and 'label', got {item!r}")
        code = station_code(text(item, "code", required=True, what=f"commands[{n}]"), f"commands[{n}].code")
        out.append((code, text(item, "label") or code))
    return out


def commands_label(data: dict, size: str = "4x6", dpi: int = 203) -> Label:
    """A sheet of command barcodes, one per row, each under its readable label."""
    commands = _commands(data)
    title = text(data, "title")
    s = Sheet(size, dpi)
    cfg = LAYOUT[size]
    titled = bool(title and cfg["title"])
    fits = capacity(size, dpi, titled)
    if len(commands) > fits:
        raise ValueError(f"{len(commands)} commands do not fit a {size} label (at most {fits}); "
                         "use a larger label or several sheets")
    m = s.d(cfg["m"])
    width = s.W - 2 * m
    y, room = _rows_room(s, cfg, titled)
    if titled:
        h = s.d(cfg["title"])
        s.add(Text(m, m, fit(title, width, h), h))
    label_h, gap, spacing = s.d(cfg["label"]), s.d(GAP), s.d(SPACING)
    pitch = (room + spacing) // len(commands)
    bar_h = min(s.d(cfg["bar_max"]), pitch - spacing - label_h - gap)
    for code, label in commands:
        s.add(s.centred_text(fit(label, width, label_h), y, label_h, m))
        bar = s.code128(code, gs1=False, y=y + label_h + gap, height=bar_h, modules=(4, 3, 2))
        if bar is None:
            raise ValueError(f"command code {code!r} is too long for a scannable barcode on a {size} label")
        s.add(bar)
        y += pitch
    return s.label()
