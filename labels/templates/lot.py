"""The lot label: item, SKU, lot, dates, quantity, supplier lot; GS1-128 (01)(17)(10) or LOT:, Digital Link QR.

Data keys: lot_number (required, printable ASCII), item_name, sku, gtin (GTIN-8/12/13/14; without it the
barcode is Station's LOT:<lot> code, as it is for a lot number that AI 10 cannot carry), expiry, produced_on
(dates or ISO strings), quantity (a number as the item is counted: "12.350" prints as such, its decimals are
the item's precision), unit, supplier_lot, variable_measure (true: the quantity is the lot's net weight),
decimal_comma (true: the quantity is printed "12,350", as the site writes it).

A variable-measure lot with a GTIN also carries its net weight in every GS1 code: (310n) in kg, (320n) in lb
(grams and tonnes are said in kg, ounces in lb), n its decimals, e.g. (3103)012350 for 12.350 kg. A weight
that six digits cannot hold exactly is printed in words only: a barcode never carries a rounded weight.

The code is a Code 128 (GS1-128 with a GTIN) when it fits the label at a module of at least 0.19 mm, else
a Data Matrix with the same content (a 2x1 label, a very long lot number). 4x6, 4x3 and 4x2 labels of a
GS1 lot also carry the GS1 Digital Link as a QR code.
"""

from __future__ import annotations

from urllib.parse import quote

from labels import gs1
from labels.layout import Box, Code128, DataMatrix, Element, Label, QRCode, Text, TextBlock
from labels.templates.common import (
    LOT_PREFIX,
    Sheet,
    date_value,
    fit,
    fit_height,
    gtin14,
    station_code,
    text,
    yymmdd,
)
from labels.templates.measures import WEIGHT_AIS, amount, in_words, measure_of, net_measure, written


def _net_weight(data: dict) -> tuple[str, str] | None:
    """(310n) or (320n) for a variable-measure lot with something on hand, else None."""
    if not data.get("variable_measure") or data.get("quantity") is None:
        return None
    unit = text(data, "unit")
    measure = measure_of(unit)
    if measure is None or measure[0] not in WEIGHT_AIS:
        raise ValueError(f"a variable-measure lot is weighed, so its 'unit' is a weight (kg, g, t, lb, oz), "
                         f"not {unit!r}")
    value, decimals = amount(data["quantity"])
    return net_measure(unit, value, decimals) if value else None


def _gs1_pairs(data: dict) -> tuple[tuple[str, str], ...] | None:
    """(01)(310n)(17)(10) for a lot with a GTIN, or None when the lot cannot be a GS1 element string."""
    gtin = text(data, "gtin")
    lot = text(data, "lot_number", required=True, what="a lot label")
    net = _net_weight(data)  # checked even without a GTIN: the data is wrong either way
    if not gtin:
        return None
    gtin = gtin14(gtin)
    if len(lot) > 20 or not set(lot) <= gs1.CSET82:
        return None  # AI 10 allows at most 20 characters of set 82: fall back to Station's own code
    pairs = [("01", gtin)]
    if net:
        pairs.append(net)
    expiry = date_value(data, "expiry")
    if expiry:
        pairs.append(("17", yymmdd(expiry, "expiry")))
    pairs.append(("10", lot))  # variable length last: no FNC1 separator needed
    return tuple(pairs)


def digital_link(pairs: tuple[tuple[str, str], ...]) -> str:
    """The GS1 Digital Link URI for (01)(310n)(17)(10) pairs: the net weight and expiry as its query."""
    values = dict(pairs)
    uri = f"https://id.gs1.org/01/{values['01']}/10/{quote(values['10'], safe='')}"
    query = [f"{ai}={value}" for ai, value in pairs if ai not in ("01", "10")]
    return uri + ("?" + "&".join(query) if query else "")


def _facts(data: dict) -> dict[str, str]:
    """The human-readable lines of a lot label, in print order."""
    expiry, produced = date_value(data, "expiry"), date_value(data, "produced_on")
    quantity = data.get("quantity")
    facts = {
        "EXP": expiry.isoformat() if expiry else "",
        "PROD": produced.isoformat() if produced else "",
        "QTY": f"{in_words(written(*amount(quantity)), data)} {text(data, 'unit')}".strip() if quantity is not None else "",
        "SUPPLIER LOT": str(data.get("supplier_lot") or ""),
    }
    return {k: v for k, v in facts.items() if v}


def _symbol(s: Sheet, data: str | tuple[tuple[str, str], ...], gs1_data: bool, x0: int, x1: int, y: int,
            height: int, dm_module: int) -> Code128 | DataMatrix:
    """The lot's code as a Code 128 between x0 and x1 when it fits (module >= 0.19 mm), else as a Data Matrix."""
    code = s.code128(data, gs1=gs1_data, y=y, height=height, modules=(2, 1.5), x0=x0, x1=x1)
    if code is not None:
        return code
    module = max(1, s.d(dm_module))
    probe = DataMatrix(0, 0, data, module, gs1=gs1_data)
    while probe.side > height and module > max(1, s.d(2)):
        module -= 1
        probe = DataMatrix(0, 0, data, module, gs1=gs1_data)
    return DataMatrix(x0 + module, y, data, module, gs1=gs1_data)


def lot_label(data: dict, size: str = "4x6", dpi: int = 203) -> Label:
    """A lot label: item, SKU, lot, dates, quantity, supplier lot, a GS1-128 or LOT: code, and a Digital Link QR."""
    s = Sheet(size, dpi)
    W, H, d = s.W, s.H, s.d

    pairs = _gs1_pairs(data)
    lot = station_code(text(data, "lot_number", required=True, what="a lot label"), "lot_number")
    code_data: str | tuple[tuple[str, str], ...] = pairs if pairs else LOT_PREFIX + lot
    hri = gs1.hri(pairs) if pairs else LOT_PREFIX + lot
    title = text(data, "item_name")
    sku = text(data, "sku")
    facts = _facts(data)
    m = d(30)  # margin
    els: list[Element] = []

    if H >= 3 * W // 2:  # tall: 4x6
        els.append(TextBlock(m, m, W - 2 * m, 2, fit(title, W - 2 * m, d(48), 2), d(48)))
        els.append(Text(m, d(135), fit(f"SKU {sku}", W - 2 * m, d(30)), d(30)))
        els.append(Box(m, d(180), W - 2 * m, d(3), d(3)))
        els.append(Text(m, d(200), "LOT", d(26)))
        lot_h = fit_height(lot, W - 2 * m, d(64), d(30)) or d(30)
        els.append(Text(m, d(230), fit(lot, W - 2 * m, lot_h), lot_h))
        y = d(320)
        for key, value in facts.items():
            els.append(Text(m, y, fit(f"{key}  {value}", W - 2 * m, d(36)), d(36)))
            y += d(48)
        els.append(Box(m, d(520), W - 2 * m, d(3), d(3)))
        symbol = _symbol(s, code_data, bool(pairs), 0, W, d(560), d(170), 6)
        if isinstance(symbol, Code128):
            symbol = Code128(m, symbol.y, symbol.data, symbol.height, gs1=symbol.gs1, module=symbol.module)
        els.append(symbol)
        hri_y = symbol.y + (symbol.height if isinstance(symbol, Code128) else symbol.side) + d(15)
        hri_h = fit_height(hri, W - 2 * m, d(26), d(18)) or d(18)  # a net weight makes the line longer
        els.append(Text(m, hri_y, fit(hri, W - 2 * m, hri_h), hri_h))
        if pairs:
            els.append(QRCode(m, d(820), digital_link(pairs), d(5)))
    else:  # short labels: the essentials above the barcode, a 2D symbol at the right when there is room
        small = H < d(300)
        line = d(22) if small else d(30)
        y = d(12)
        bar_top = d(12) + round(line * 2.6) + d(12)
        code = s.code128(code_data, gs1=bool(pairs), y=0, height=1, modules=(2, 1.5))
        side = 0
        if code is None:  # a Data Matrix at the right instead of the Code 128 below
            symbol = _symbol(s, code_data, bool(pairs), 0, 0, 0, H - 2 * max(d(12), 4 * d(3)), 5)
            side = symbol.side
            els.append(DataMatrix(W - m - side, (H - side) // 2, code_data, symbol.module, gs1=bool(pairs)))
        elif pairs and not small:
            qr = QRCode(0, 0, digital_link(pairs), d(3))
            side = qr.side + 4 * qr.magnification  # and its quiet zone on the text side
            els.append(QRCode(W - m - qr.side, max(d(12), 4 * d(3)), qr.data, qr.magnification))
        text_w = W - 2 * m - (side + d(12) if side else 0)
        els.append(Text(m, y, fit(f"{sku}  {title}".strip(), text_w, line), line))
        lot_h = fit_height(f"LOT {lot}", text_w, round(line * 1.4), line) or line
        els.append(Text(m, y + line + d(6), fit(f"LOT {lot}", text_w, lot_h), lot_h))
        y = bar_top
        keys = ("EXP", "QTY") if small else tuple(facts)
        summary = "  |  ".join(f"{k} {facts[k]}" for k in keys if k in facts)
        rows = 1 if small and code is not None else 2
        if summary:
            h = round(line * 0.8)
            els.append(TextBlock(m, y, text_w, rows, fit(summary, text_w, h, rows), h))
            y += h * rows + d(10)
        if code is not None:
            hri_h = d(14) if small else d(20)
            bar_h = min(H - y - hri_h - d(6) - m // 2, d(200))
            els.append(Code128(m, y, code.data, bar_h, gs1=code.gs1, module=code.module))
            els.append(Text(m, y + bar_h + d(6), fit(hri, W - 2 * m, hri_h), hri_h))
        elif summary and (H - m // 2 - y) >= d(16):
            els.append(Text(m, y, fit(hri, text_w, d(16)), d(16)))
    return Label(W, H, dpi, tuple(els))
