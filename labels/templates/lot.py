"""The lot label: item, SKU, lot, dates, quantity, supplier lot; GS1-128 (01)(17)(10) or LOT:, Digital Link QR.

Data keys: lot_number (required), item_name, sku, gtin (GTIN-8/12/13/14; without it the barcode is
Station's LOT:<lot> code, as it is for a lot number that AI 10 cannot carry), expiry, produced_on (dates or
ISO strings), quantity, unit, supplier_lot.
"""

from __future__ import annotations

from urllib.parse import quote

from labels import gs1
from labels.layout import Box, Code128, Element, Label, QRCode, Text, TextBlock
from labels.templates.common import LOT_PREFIX, date_value, fit, gtin14, text, yymmdd


def _gs1_pairs(data: dict) -> tuple[tuple[str, str], ...] | None:
    """(01)(17)(10) for a lot with a GTIN, or None when the lot cannot be a GS1 element string."""
    gtin = text(data, "gtin")
    lot = text(data, "lot_number", required=True, what="a lot label")
    if not gtin:
        return None
    gtin = gtin14(gtin)
    if len(lot) > 20 or not set(lot) <= gs1.CSET82:
        return None  # AI 10 allows at most 20 characters of set 82: fall back to Station's own code
    pairs = [("01", gtin)]
    expiry = date_value(data, "expiry")
    if expiry:
        pairs.append(("17", yymmdd(expiry, "expiry")))
    pairs.append(("10", lot))  # variable length last: no FNC1 separator needed
    return tuple(pairs)


def digital_link(pairs: tuple[tuple[str, str], ...]) -> str:
    """The GS1 Digital Link URI for (01)(17)(10) pairs."""
    values = dict(pairs)
    uri = f"https://id.gs1.org/01/{values['01']}/10/{quote(values['10'], safe='')}"
    if "17" in values:
        uri += f"?17={values['17']}"
    return uri


def _facts(data: dict) -> dict[str, str]:
    """The human-readable lines of a lot label, in print order."""
    expiry, produced = date_value(data, "expiry"), date_value(data, "produced_on")
    quantity = data.get("quantity")
    facts = {
        "EXP": expiry.isoformat() if expiry else "",
        "PROD": produced.isoformat() if produced else "",
        "QTY": f"{quantity} {data.get('unit') or ''}".strip() if quantity is not None else "",
        "SUPPLIER LOT": str(data.get("supplier_lot") or ""),
    }
    return {k: v for k, v in facts.items() if v}


def lot_label(data: dict, size: str = "4x6", dpi: int = 203) -> Label:
    """A lot label: item, SKU, lot, dates, quantity, supplier lot, a GS1-128 or LOT: code, and a Digital Link QR."""
    blank = Label.sized(size, dpi)
    W, H = blank.width, blank.height
    u = dpi / 203  # layouts are drawn at 203 dpi and scaled

    def d(v: float) -> int:
        return round(v * u)

    pairs = _gs1_pairs(data)
    lot = text(data, "lot_number", required=True, what="a lot label")
    if pairs:
        code = Code128(0, 0, pairs, 0, gs1=True)
        hri = gs1.hri(pairs)
    else:
        code = Code128(0, 0, LOT_PREFIX + lot, 0)
        hri = LOT_PREFIX + lot
    title = str(data.get("item_name") or "")
    sku = str(data.get("sku") or "")
    facts = _facts(data)
    m = d(30)  # margin, also the barcode's quiet zone (>= 10 modules)
    els: list[Element] = []

    if H >= 3 * W // 2:  # tall: 4x6
        els.append(TextBlock(m, m, W - 2 * m, 2, fit(title, W - 2 * m, d(48), 2), d(48)))
        els.append(Text(m, d(135), f"SKU {sku}", d(30)))
        els.append(Box(m, d(180), W - 2 * m, d(3), d(3)))
        els.append(Text(m, d(200), "LOT", d(26)))
        els.append(Text(m, d(230), lot, d(64)))
        y = d(320)
        for key, value in facts.items():
            els.append(Text(m, y, f"{key}  {value}", d(36)))
            y += d(48)
        els.append(Box(m, d(520), W - 2 * m, d(3), d(3)))
        els.append(Code128(m, d(560), code.data, d(170), gs1=code.gs1, module=d(2)))
        els.append(Text(m, d(745), hri, d(26)))
        if pairs:
            els.append(QRCode(m, d(820), digital_link(pairs), d(5)))
    else:  # short labels: the essentials above the barcode, the QR at the right when there is room
        small = H < d(300)
        line = d(22) if small else d(30)
        qr = pairs and not small
        text_w = W - 2 * m - (d(190) if qr else 0)
        els.append(Text(m, d(12), fit(f"{sku}  {title}".strip(), text_w, line), line))
        els.append(Text(m, d(12) + line + d(6), f"LOT {lot}", round(line * 1.4)))
        y = d(12) + round(line * 2.6) + d(12)
        keys = ("EXP", "QTY") if small else tuple(facts)
        summary = "  |  ".join(f"{k} {facts[k]}" for k in keys if k in facts)
        if summary:
            rows = 1 if small else 2
            els.append(TextBlock(m, y, text_w, rows, fit(summary, text_w, round(line * 0.8), rows), round(line * 0.8)))
            y += round(line * 0.8) * (1 if small else 2) + d(10)
        if qr:
            els.append(QRCode(W - m - d(175), max(d(12), 4 * d(3)), digital_link(pairs), d(3)))
        bar_h = min(H - y - d(40) - m // 2, d(200))
        els.append(Code128(m, y, code.data, bar_h, gs1=code.gs1, module=d(1) if W < d(500) else d(2)))
        els.append(Text(m, y + bar_h + d(6), hri, d(14) if small else d(20)))
    return Label(W, H, dpi, tuple(els))

