"""The operator badge: the operator's name large, the role, and a Code 128 of Station's badge code (OPR:<badge>).

Data keys:
    badge     required: the badge number or code (printable ASCII), e.g. "0042"
    name      required: the operator's name (any script: Ana Müller, 山田 太郎)
    role      optional: e.g. "Picker", "Line lead"
    barcode   optional: the whole barcode text when the operator's badge code is not OPR:<badge>

A badge never carries the PIN: the template reads only the keys above.
"""

from __future__ import annotations

from labels.layout import Label, Text, TextBlock
from labels.codes import badge_code
from labels.templates.common import Sheet, fit, station_code, text

# Per size, in 203-dpi design units: margin, name height and lines, role and badge-number lines, bar height.
LAYOUT: dict[str, dict] = {
    "4x6": dict(m=30, name=80, name_lines=2, role=44, number=36, bar=300),
    "4x3": dict(m=24, name=60, name_lines=1, role=34, number=28, bar=200),
    "4x2": dict(m=18, name=48, name_lines=1, role=28, number=0, bar=150),
    "2x1": dict(m=10, name=32, name_lines=1, role=0, number=0, bar=110),
}


def badge_label(data: dict, size: str = "4x2", dpi: int = 203) -> Label:
    """An operator badge: name, role, badge number and the OPR: barcode that signs the operator in."""
    badge = station_code(text(data, "badge", required=True, what="an operator badge"), "badge")
    name = text(data, "name", required=True, what="an operator badge")
    role = text(data, "role")
    barcode = station_code(text(data, "barcode") or badge_code(badge), "barcode")
    s = Sheet(size, dpi)
    cfg = LAYOUT[size]
    m = s.d(cfg["m"])
    width = s.W - 2 * m

    y = m
    h, lines = s.d(cfg["name"]), cfg["name_lines"]
    if lines > 1:
        s.add(TextBlock(m, y, width, lines, fit(name, width, h, lines), h))
    else:
        s.add(Text(m, y, fit(name, width, h), h))
    y += h * lines + s.d(8)
    if role and cfg["role"]:
        h = s.d(cfg["role"])
        s.add(Text(m, y, fit(role, width, h), h))
        y += h + s.d(8)
    if cfg["number"]:
        h = s.d(cfg["number"])
        s.add(Text(m, y, fit(f"# {badge}", width, h), h))
        y += h + s.d(8)

    bar_h = min(s.d(cfg["bar"]), s.H - m - y - s.d(10))
    bar = s.code128(barcode, gs1=False, y=s.H - m - bar_h, height=bar_h, modules=(4, 3, 2))
    if bar is None or bar_h < s.d(50):
        raise ValueError(f"badge barcode {barcode!r} is too long for a scannable barcode on a {size} label")
    s.add(bar)
    return s.label()
