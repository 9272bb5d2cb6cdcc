"""Helpers shared by the templates: checked values from plain data, and a sheet that places elements.

Templates are functions from a plain dict to a Label. They place elements in dots at 203 dpi and let
`Sheet.d` scale to the label's density; they never render. Every value that ends up in a barcode is
checked here, and a bad one raises ValueError saying which key is wrong and why.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from labels import gs1
from labels.codes import COMMAND_PREFIX, LOCATION_PREFIX, LOT_PREFIX, OPERATOR_PREFIX  # noqa: F401 (re-exported)
from labels.layout import Code128, Element, Label, TextBlock, text_width


def text(data: dict, key: str, *, required: bool = False, what: str = "label") -> str:
    """A value as stripped text; a missing required one is a ValueError naming the key."""
    value = data.get(key)
    value = "" if value is None else str(value).strip()
    if required and not value:
        raise ValueError(f"{what} needs {key!r}")
    return value


def date_value(data: dict, key: str) -> dt.date | None:
    """A date from a date, an ISO string or nothing."""
    value = data.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"{key!r} must be a date (YYYY-MM-DD), got {value!r}") from None


def yymmdd(day: dt.date, key: str) -> str:
    """A GS1 date field (YYMMDD); a scanner reads YY as within 49 years back to 50 ahead of this year."""
    this_year = dt.date.today().year
    if not this_year - 49 <= day.year <= this_year + 50:
        raise ValueError(f"{key!r} {day.isoformat()} is outside the GS1 date window (YYMMDD)")
    return day.strftime("%y%m%d")


def gtin14(value: Any, key: str = "gtin") -> str:
    """A GTIN-8/12/13/14 with a correct check digit, as 14 digits."""
    gtin = "" if value is None else str(value).strip()
    if not (gtin.isdigit() and len(gtin) in (8, 12, 13, 14)):
        raise ValueError(f"{key!r} must be a GTIN of 8, 12, 13 or 14 digits, got {gtin!r}")
    expected = gs1.check_digit(gtin[:-1])
    if gtin[-1] != expected:
        raise ValueError(f"{key!r} {gtin} has a bad check digit: {gtin[-1]}, expected {expected}")
    return gtin.zfill(14)


def sscc18(value: Any, key: str = "sscc") -> str:
    """An SSCC: exactly 18 digits with a correct check digit."""
    sscc = "" if value is None else str(value).strip()
    if not (sscc.isdigit() and len(sscc) == 18):
        raise ValueError(f"{key!r} must be 18 digits, got {sscc!r} ({len(sscc)} characters)")
    expected = gs1.check_digit(sscc[:-1])
    if sscc[-1] != expected:
        raise ValueError(f"{key!r} {sscc} has a bad check digit: {sscc[-1]}, expected {expected}")
    return sscc


def gs1_lot(value: str, key: str = "lot_number") -> str:
    """A batch/lot number that AI (10) can carry: up to 20 characters of GS1 character set 82."""
    if len(value) > 20 or not set(value) <= gs1.CSET82:
        raise ValueError(
            f"{key!r} {value!r} cannot be a GS1 batch/lot (10): at most 20 letters, digits or !\"%&'()*+,-./:;<=>?_"
        )
    return value


def station_code(value: str, key: str) -> str:
    """A value for a Code 128 barcode: printable ASCII."""
    if not value or any(not 0x20 <= ord(c) <= 0x7E for c in value):
        raise ValueError(f"{key!r} must be printable ASCII for a Code 128 barcode, got {value!r}")
    return value


def fit(value: str, width: int, height: int, lines: int = 1) -> str:
    """Shorten text with an ellipsis to what fits in `lines` lines of `width` dots at `height`."""
    if text_width(value, height) <= width * lines:
        return value
    out = value
    while out and text_width(out + "…", height) > width * lines:
        out = out[:-1]
    return out.rstrip() + "…"


def fit_height(value: str, width: int, largest: int, smallest: int) -> int | None:
    """The largest text height from `largest` down to `smallest` at which one line fits `width`, else None."""
    h = largest
    while h >= smallest:
        if text_width(value, h) <= width:
            return h
        h -= max(1, h // 20)
    return None


class Sheet:
    """A label being laid out: its size in dots, a scale from 203-dpi design units, and the elements so far."""

    def __init__(self, size: str, dpi: int) -> None:
        blank = Label.sized(size, dpi)
        self.size = size
        self.W, self.H, self.dpi = blank.width, blank.height, dpi
        self.u = dpi / 203
        self.els: list[Element] = []

    def d(self, v: float) -> int:
        """Design units (dots at 203 dpi) in dots at this label's density."""
        return round(v * self.u)

    def add(self, *els: Element) -> None:
        self.els.extend(els)

    def label(self) -> Label:
        return Label(self.W, self.H, self.dpi, tuple(self.els))

    def code128(self, data: str | tuple[tuple[str, str], ...], *, gs1: bool, y: int, height: int,
                modules: tuple[float, ...] = (4, 3, 2), x0: int = 0, x1: int | None = None) -> Code128 | None:
        """A Code 128 centred between x0 and x1 with its quiet zones, at the widest module that fits, else None.

        `modules` are module widths in design units (4 = 0.5 mm at 203 dpi), tried from the first.
        """
        x1 = self.W if x1 is None else x1
        for m in modules:
            module = max(1, self.d(m))
            probe = Code128(0, 0, data, height, gs1=gs1, module=module)
            quiet = max(10 * module, self.d(12))
            if probe.width + 2 * quiet <= x1 - x0:
                return Code128(x0 + (x1 - x0 - probe.width) // 2, y, data, height, gs1=gs1, module=module)
        return None

    def centred_text(self, value: str, y: int, height: int, margin: int = 0) -> TextBlock:
        """One line of text centred across the label between margins (the printer centres it: ^FB…,C)."""
        return TextBlock(margin, y, self.W - 2 * margin, 1, value, height, align="C")
