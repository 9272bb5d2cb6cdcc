"""The location label: a big Code 128 of Station's location code (LOC:<code>) and the code in big letters.

Data keys:
    code      required: the location code, e.g. "A-01-02" (printable ASCII)
    name      optional: a longer name, e.g. "Aisle A, rack 1, level 2"
    kind      optional: dock, storage, line, shipping ...
    barcode   optional: the whole barcode text when the location's stored barcode is not LOC:<code>

Rack labels are scanned from a distance, so the barcode takes the widest module that fits (up to
0.5 mm) and most of the height; the code is printed as large as the width allows.
"""

from __future__ import annotations

from labels.layout import Label
from labels.codes import location_code
from labels.templates.common import Sheet, fit, fit_height, station_code, text

# Per size, in 203-dpi design units: margin, largest code height, name line, barcode height share, HRI line.
LAYOUT: dict[str, dict] = {
    "4x6": dict(m=30, code=240, name=40, bar=0.55, hri=30),
    "4x3": dict(m=24, code=120, name=30, bar=0.40, hri=24),
    "4x2": dict(m=18, code=84, name=24, bar=0.40, hri=20),
    "2x1": dict(m=10, code=46, name=0, bar=0.42, hri=0),
}


def location_label(data: dict, size: str = "4x6", dpi: int = 203) -> Label:
    """A location label: the code large, its LOC: barcode large, the name and kind small."""
    code = station_code(text(data, "code", required=True, what="a location label"), "code")
    barcode = station_code(text(data, "barcode") or location_code(code), "barcode")
    name = " · ".join(v for v in (text(data, "name"), text(data, "kind").upper()) if v)
    s = Sheet(size, dpi)
    cfg = LAYOUT[size]
    m = s.d(cfg["m"])
    width = s.W - 2 * m

    y = m
    code_h = fit_height(code, width, s.d(cfg["code"]), s.d(24))
    if code_h is None:
        raise ValueError(f"location code {code!r} is too long to print readably on a {size} label")
    s.add(s.centred_text(code, y, code_h, m))
    y += code_h + s.d(10)
    if name and cfg["name"]:
        h = s.d(cfg["name"])
        s.add(s.centred_text(fit(name, width, h), y, h, m))
        y += h + s.d(10)

    hri_h = s.d(cfg["hri"])
    bottom = s.H - m - (hri_h + s.d(6) if hri_h else 0)
    bar_h = max(s.d(60), min(round(s.H * cfg["bar"]), bottom - y - s.d(12)))
    bar = s.code128(barcode, gs1=False, y=bottom - bar_h, height=bar_h, modules=(4, 3, 2))
    if bar is None or bar.y < y:
        raise ValueError(f"location barcode {barcode!r} is too long for a scannable barcode on a {size} label")
    s.add(bar)
    if hri_h:
        s.add(s.centred_text(fit(barcode, width, hri_h), bottom + s.d(6), hri_h, m))
    return s.label()
