"""The pallet label: a GS1 logistics label for one handling unit, identified by its SSCC.

Data keys:
    sscc         required: 18 digits, GS1 check digit last (AI 00)
    gtin         content GTIN-8/12/13/14 (AI 02, printed as 14 digits); required with any of the below
    count        how much is on the pallet in `unit`, up to 99999999; required with gtin. In a count unit
                 (ea, case, sack, box...) it is the whole number of trade items, AI 37; in a unit of measure
                 (kg, g, l, ml, m..., see labels.templates.measures) it may have decimals ("12.350") and is
                 no count: no AI 37 is printed, but the net weight, volume or length AI (310n, 315n, 311n...)
                 when six digits hold it exactly, and the caption says what it is
    lot_number   batch/lot, at most 20 characters of GS1 character set 82 (AI 10)
    best_before  date or ISO string (AI 15)
    expiry       date or ISO string (AI 17)
    unit, item_name, sku, ship_from   human-readable only (unit follows the quantity; it also decides
                 whether the quantity is a count, above)
    decimal_comma  true: a quantity with decimals is printed "12,350", as the site writes it

Barcodes, bottom up as GS1 logistics labels have them: the SSCC alone in its own GS1-128 at the bottom,
the content (02)(37) and the dates and lot (15)(17)(10) in GS1-128s above it, and the whole message in a
GS1 DataMatrix beside the human-readable lines. Smaller labels drop what does not fit: 4x2 keeps the SSCC
barcode, the lines and the DataMatrix (which still carries the content); 2x1 carries the SSCC barcode only.
"""

from __future__ import annotations

from labels import gs1
from labels.layout import Box, DataMatrix, Label, Text, TextBlock, text_width
from labels.templates.common import Sheet, date_value, fit, fit_height, gs1_lot, gtin14, sscc18, text, yymmdd
from labels.templates.measures import amount, in_words, measure_of, net_measure, written

Pairs = tuple[tuple[str, str], ...]

# Per size, in 203-dpi design units: margin, HRI line, SSCC and content bar heights (None: no such barcodes;
# "fill": what is left), text row height and pitch (None: no text lines), title lines, DataMatrix modules.
LAYOUT: dict[str, dict] = {
    "4x6": dict(m=30, hri=30, sscc_h=240, content_h=130, row=40, pitch=54, title=2, dm=(8, 7, 6, 5, 4)),
    "4x3": dict(m=24, hri=22, sscc_h=110, content_h=64, row=24, pitch=30, title=0, dm=(5, 4, 3)),
    "4x2": dict(m=20, hri=22, sscc_h=110, content_h=None, row=24, pitch=30, title=0, dm=(5, 4, 3)),
    "2x1": dict(m=12, hri=20, sscc_h="fill", content_h=None, row=None, pitch=None, title=0, dm=()),
}


def _count(data: dict) -> str | None:
    """The count as printed: a whole number of trade items (AI 37), or in a unit of measure any amount above 0
    written with the decimals it came with ("12.350")."""
    value = data.get("count")
    if value is None or value == "":
        return None
    try:
        number, decimals = amount(value, "count")
    except ValueError:
        number, decimals = None, 0
    if measure_of(text(data, "unit")) is not None:
        if number is None or not 0 < number <= 99_999_999:
            raise ValueError(f"'count' must be a number above 0 (at most 99999999) of {text(data, 'unit')}, "
                             f"got {value!r}")
        return written(number, decimals)
    if number is None or number.denominator != 1 or not 1 <= number <= 99_999_999:
        raise ValueError(f"'count' (AI 37) must be a whole number from 1 to 99999999, got {value!r}")
    return str(int(number))


def gs1_content(data: dict) -> dict[str, Pairs]:
    """The checked GS1 data: {"sscc": (00), "content": (02)(37), "batch": (15)(17)(10), "all": everything}."""
    sscc = sscc18(data.get("sscc"))
    gtin_text = text(data, "gtin")
    count = _count(data)
    lot = text(data, "lot_number")
    best_before, expiry = date_value(data, "best_before"), date_value(data, "expiry")
    gtin = gtin14(gtin_text) if gtin_text else None
    if gtin is None:
        for key, value, ai in (("count", count, "37"), ("lot_number", lot, "10"),
                               ("best_before", best_before, "15"), ("expiry", expiry, "17")):
            if value:
                raise ValueError(f"{key!r} (AI {ai}) on a pallet label needs the content 'gtin' (AI 02)")
    elif count is None:
        raise ValueError("'count' (AI 37) is required with the content 'gtin' (AI 02)")
    measure = measure_of(text(data, "unit"))
    if not gtin:
        content: Pairs = ()
    elif measure is None:
        content = (("02", gtin), ("37", count))
    else:
        net = net_measure(text(data, "unit"), amount(count, "count")[0])
        content = (("02", gtin),) + ((net,) if net else ())
    batch: list[tuple[str, str]] = []
    if best_before:
        batch.append(("15", yymmdd(best_before, "best_before")))
    if expiry:
        batch.append(("17", yymmdd(expiry, "expiry")))
    if lot:
        batch.append(("10", gs1_lot(lot)))
    # Fixed-length AIs first and the variable-length ones (37, 10) last keeps FNC1 separators to one.
    fixed = tuple(p for p in content + tuple(batch) if p[0] != "37" and p[0] != "10")
    variable = tuple(p for p in content + tuple(batch) if p[0] in ("37", "10"))
    everything = (("00", sscc), *fixed, *variable)
    return {"sscc": (("00", sscc),), "content": content, "batch": tuple(batch), "all": everything}


def _lines(data: dict, gs: dict[str, Pairs]) -> list[tuple[int, str]]:
    """(priority, text) for each human-readable line, in print order; lower priority numbers are kept first."""
    values = dict(gs["all"])
    lines = []
    item = " ".join(v for v in (text(data, "sku"), text(data, "item_name")) if v)
    if item:
        lines.append((6, item))
    lines.append((0, f"SSCC  {values['00']}"))
    for priority, ai, caption in ((1, "02", "CONTENT"), (2, "37", "COUNT"), (3, "10", "LOT"),
                                  (4, "15", "BEST BEFORE"), (5, "17", "EXPIRY")):
        if ai in values:
            value = values[ai]
            if ai in ("15", "17"):
                value = date_value(data, "best_before" if ai == "15" else "expiry").isoformat()
            if ai == "37" and text(data, "unit"):
                value = f"{value} {text(data, 'unit')}"
            lines.append((priority, f"{caption}  {value}"))
    measure = measure_of(text(data, "unit"))
    if measure is not None and "02" in values:  # a weight, volume or length: said as such, never a COUNT
        lines.append((2, f"{measure[2]}  {in_words(_count(data), data)} {text(data, 'unit')}"))
    return lines


def pallet_label(data: dict, size: str = "4x6", dpi: int = 203) -> Label:
    """A GS1 logistics label: SSCC barcode, content and batch GS1-128s, GS1 DataMatrix, readable lines."""
    gs = gs1_content(data)
    s = Sheet(size, dpi)
    cfg = LAYOUT[size]
    m, hri_h, gap = s.d(cfg["m"]), s.d(cfg["hri"]), s.d(6)
    bottom = s.H - m

    def barcode_with_hri(pairs: Pairs, height: int, bottom: int, modules: tuple[float, ...]) -> int | None:
        """A GS1-128 and its HRI line ending at `bottom`; returns the top, or None when it does not fit."""
        hri = gs1.hri(pairs)
        h = fit_height(hri, s.W - 2 * m, hri_h, s.d(14)) or s.d(14)
        y_text = bottom - h
        code = s.code128(pairs, gs1=True, y=y_text - gap - height, height=height, modules=modules)
        if code is None:
            return None
        s.add(code, s.centred_text(fit(hri, s.W - 2 * m, h), y_text, h, m))
        return code.y

    sscc_h = cfg["sscc_h"]
    if sscc_h == "fill":
        sscc_h = bottom - m - hri_h - gap
    else:
        sscc_h = s.d(sscc_h)
    top_of_codes = barcode_with_hri(gs["sscc"], sscc_h, bottom, (4, 3, 2))
    if top_of_codes is None:
        raise ValueError(f"the SSCC barcode does not fit on a {size} label")
    if cfg["content_h"] is not None:
        for key in ("batch", "content"):
            if gs[key]:
                top = barcode_with_hri(gs[key], s.d(cfg["content_h"]), top_of_codes - s.d(18), (4, 3, 2))
                if top is None:
                    raise ValueError(f"the GS1-128 {gs1.hri(gs[key])} does not fit on a {size} label")
                top_of_codes = top

    if cfg["row"] is None:
        return s.label()

    y = m
    ship_from = text(data, "ship_from")
    lines = _lines(data, gs)
    if cfg["title"]:
        if ship_from:
            s.add(Text(m, y, fit(f"FROM  {ship_from}", s.W - 2 * m, s.d(24)), s.d(24)))
            y += s.d(34)
        item = next((t for p, t in lines if p == 6), "")
        if item:
            h = s.d(40)
            s.add(TextBlock(m, y, s.W - 2 * m, cfg["title"], fit(item, s.W - 2 * m, h, cfg["title"]), h))
            y += h * cfg["title"] + s.d(10)
            lines = [(p, t) for p, t in lines if p != 6]
        s.add(Box(m, y, s.W - 2 * m, s.d(3), s.d(3)))
        y += s.d(16)
    region_bottom = top_of_codes - s.d(18)

    # The DataMatrix at the right of the lines: as large as the region allows while the lines fit beside it
    # (the smallest module when none does).
    row, pitch = s.d(cfg["row"]), s.d(cfg["pitch"])
    text_right = s.W - m
    needed = max(text_width(line, row) for _, line in lines)
    for n, module in enumerate(cfg["dm"]):
        dm = DataMatrix(0, 0, gs["all"], max(1, s.d(module)))
        right = s.W - m - dm.side - s.d(20)
        last = n == len(cfg["dm"]) - 1
        if dm.side <= region_bottom - y and dm.side <= (s.W - 2 * m) * 0.4 and (right - m >= needed or last):
            s.add(DataMatrix(s.W - m - dm.side, y, gs["all"], dm.module))
            text_right = right
            break

    room = max(0, (region_bottom - y - row) // pitch + 1)
    keep = sorted(p for p, _ in lines)[:room]
    for priority, line in lines:
        if priority in keep:
            s.add(Text(m, y, fit(line, text_right - m, row), row))
            y += pitch
    return s.label()
