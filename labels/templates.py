"""Label templates: functions from plain data to a Label layout, no rendering and no I/O."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from labels import gs1
from labels.layout import Box, Code128, Element, Label, QRCode, Text, TextBlock


def _date(value: Any) -> dt.date | None:
    """A date from a date, an ISO string or None."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


def _gs1_pairs(data: dict) -> tuple[tuple[str, str], ...] | None:
    """(01)(17)(10) for a lot with a GTIN, or None when the lot cannot be a GS1 element string."""
    gtin = str(data.get("gtin") or "")
    lot = str(data["lot_number"])
    if not gtin:
        return None
    if not (gtin.isdigit() and len(gtin) in (8, 12, 13, 14)):
        raise ValueError(f"not a GTIN: {gtin!r}")
    if len(lot) > 20 or not set(lot) <= gs1.CSET82:
        return None  # AI 10 allows at most 20 characters of set 82: fall back to Station's own code
    pairs = [("01", gtin.zfill(14))]
    expiry = _date(data.get("expiry"))
    if expiry:
        pairs.append(("17", expiry.strftime("%y%m%d")))
    pairs.append(("10", lot))  # variable length last: no FNC1 separator needed
    return tuple(pairs)


def digital_link(pairs: tuple[tuple[str, str], ...]) -> str:
    """The GS1 Digital Link URI for (01)(17)(10) pairs."""
    values = dict(pairs)
    uri = f"https://id.gs1.org/01/{values['01']}/10/{quote(values['10'], safe='')}"
    if "17" in values:
        uri += f"?17={values['17']}"
    return uri


def _fit(text: str, width: int, height: int, lines: int = 1) -> str:
    """Shorten text to what fits in `lines` lines of `width` dots (^A0 averages about 0.55 × height per glyph)."""
    limit = max(1, int(width / (0.55 * height)) * lines)
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _facts(data: dict) -> dict[str, str]:
    """The human-readable lines of a lot label, in print order."""
    expiry, produced = _date(data.get("expiry")), _date(data.get("produced_on"))
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
    lot = str(data["lot_number"])
    if pairs:
        code = Code128(0, 0, pairs, 0, gs1=True)
        hri = gs1.hri(pairs)
    else:
        code = Code128(0, 0, f"LOT:{lot}", 0)
        hri = f"LOT:{lot}"
    title = str(data.get("item_name") or "")
    sku = str(data.get("sku") or "")
    facts = _facts(data)
    m = d(30)  # margin, also the barcode's quiet zone (>= 10 modules)
    els: list[Element] = []

    if H >= 3 * W // 2:  # tall: 4x6
        els.append(TextBlock(m, m, W - 2 * m, 2, _fit(title, W - 2 * m, d(48), 2), d(48)))
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
        els.append(Text(m, d(12), _fit(f"{sku}  {title}".strip(), text_w, line), line))
        els.append(Text(m, d(12) + line + d(6), f"LOT {lot}", round(line * 1.4)))
        y = d(12) + round(line * 2.6) + d(12)
        keys = ("EXP", "QTY") if small else tuple(facts)
        summary = "  |  ".join(f"{k} {facts[k]}" for k in keys if k in facts)
        if summary:
            rows = 1 if small else 2
            els.append(TextBlock(m, y, text_w, rows, _fit(summary, text_w, round(line * 0.8), rows), round(line * 0.8)))
            y += round(line * 0.8) * (1 if small else 2) + d(10)
        if qr:
            els.append(QRCode(W - m - d(175), d(12), digital_link(pairs), d(3)))
        bar_h = min(H - y - d(40) - m // 2, d(200))
        els.append(Code128(m, y, code.data, bar_h, gs1=code.gs1, module=d(1) if W < d(500) else d(2)))
        els.append(Text(m, y + bar_h + d(6), hri, d(14) if small else d(20)))
    return Label(W, H, dpi, tuple(els))


# Template name -> function(data, size, dpi) -> Label. Renderers and the station look templates up here only.
TEMPLATES: dict[str, Callable[..., Label]] = {
    "lot": lot_label,
}
