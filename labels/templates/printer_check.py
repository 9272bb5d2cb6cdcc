"""The printers page's test label (template "test"): a frame to the label's edges (a label set up for the wrong size shows
it at once), the printer's name and settings, and a Code 128 to try a scanner on.

Data keys:
    printer   the printer's name
    at        when it was asked for, as text (e.g. "2026-12-07 08:10 UTC")

Not called test_print.py / test_print_label: pytest would collect a module or function named so as a test.
"""

from __future__ import annotations

from labels.layout import Box, Code128, Label, Text


def printer_check_label(data: dict, size: str = "4x6", dpi: int = 203) -> Label:
    """The test label for a printer of this size and density; the frame, the words and the barcode scale
    with the density, and a short label (2x1) leaves the time and the barcode out."""
    blank = Label.sized(size, dpi)
    w, h, u = blank.width, blank.height, dpi / 203
    m, t = round(12 * u), max(2, round(4 * u))
    big = max(round(min(h / 6, 64 * u)), round(18 * u))
    small = max(round(big * 0.45), round(14 * u))
    els = [Box(m, m, w - 2 * m, h - 2 * m, t),
           Text(3 * m, 3 * m, "TEST PRINT", big),
           Text(3 * m, 3 * m + big + m, f"{data.get('printer', '')}  {size} in  {dpi} dpi", small)]
    y = 3 * m + big + small + 2 * m
    if h - y - 2 * m > small * 3:
        els.append(Text(3 * m, y, str(data.get("at", "")), small))
        y += small + m
        bar = min(round(120 * u), h - y - 3 * m)
        els.append(Code128(3 * m, y, f"TEST:{data.get('printer', '')}"[:40], bar,
                           module=max(1, round(2 * u)) if w > 500 * u else 1))
    return Label(w, h, dpi, tuple(els))
