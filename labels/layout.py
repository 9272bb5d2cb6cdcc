"""Label layouts: elements placed in printer dots, independent of any renderer."""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass, field
from functools import cached_property
from typing import Union

import qrcode

from labels import code128, datamatrix, gs1

DPIS: tuple[int, ...] = (203, 300, 600)

# Label sizes as (width, height) in inches; capabilities are data, not branches.
LABEL_SIZES: dict[str, tuple[float, float]] = {
    "4x6": (4.0, 6.0),
    "4x3": (4.0, 3.0),
    "4x2": (4.0, 2.0),
    "2x1": (2.0, 1.0),
}

AIPairs = tuple[tuple[str, str], ...]


def dots(inches: float, dpi: int) -> int:
    """Convert inches to printer dots at a density."""
    return round(inches * dpi)


def is_wide(ch: str) -> bool:
    """True for East Asian wide and full-width characters, which print about as wide as they are tall."""
    return unicodedata.east_asian_width(ch) in ("W", "F")


def text_width(text: str, height: int) -> int:
    """A generous estimate, in dots, of the width of one line of text at a height (font 0 or the preview font).

    Templates use it to fit text; it errs wide so that fitted text stays inside the label in print and preview.
    """
    total = 0.0
    for ch in text:
        if is_wide(ch) or ord(ch) >= 0x250:  # CJK; other scripts (Cyrillic, Greek) run wide in bold
            total += 1.0
        elif ch in "MWmw@%":
            total += 0.92
        elif ch in " .,:;'|!iljI":
            total += 0.38
        elif ch.isdigit():
            total += 0.62
        elif ch.islower():
            total += 0.6
        else:  # Latin capitals and symbols
            total += 0.72
    return math.ceil(total * height)


@dataclass(frozen=True)
class Text:
    """One line of text; height in dots."""

    x: int
    y: int
    text: str
    height: int


@dataclass(frozen=True)
class TextBlock:
    """Text wrapped into at most `lines` lines within `width` dots, aligned L(eft), C(entre) or R(ight)."""

    x: int
    y: int
    width: int
    lines: int
    text: str
    height: int
    align: str = "L"

    def __post_init__(self) -> None:
        if self.align not in ("L", "C", "R"):
            raise ValueError(f"TextBlock align must be L, C or R, got {self.align!r}")


@dataclass(frozen=True)
class Box:
    """A rectangle outline (or a line, when w or h equals the thickness)."""

    x: int
    y: int
    w: int
    h: int
    thickness: int = 2


@dataclass(frozen=True)
class Code128:
    """Code 128, or GS1-128 when gs1 is set and data is a tuple of (AI, value) pairs."""

    x: int
    y: int
    data: Union[str, AIPairs]
    height: int
    gs1: bool = False
    module: int = 2

    def __post_init__(self) -> None:
        if self.gs1 == isinstance(self.data, str):
            raise ValueError("Code128: gs1 data is (AI, value) pairs, plain data is a str")

    @cached_property
    def stream(self) -> list[str | None]:
        """The symbol stream: characters, and FNC1 (None) first and after variable-length AIs for GS1."""
        if self.gs1:
            return gs1.fnc1_stream(gs1.element_strings(self.data))
        return list(self.data)

    @property
    def width(self) -> int:
        """The symbol's width in dots, without its quiet zones (10 modules each side)."""
        return code128.width(self.stream) * self.module


@dataclass(frozen=True)
class QRCode:
    """A QR code (error correction M); magnification is the module size in dots."""

    x: int
    y: int
    data: str
    magnification: int = 4

    @cached_property
    def modules(self) -> int:
        """Modules per side of the smallest QR version that holds the data at error correction M."""
        qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=0)
        qr.add_data(self.data)
        qr.make(fit=True)
        return qr.modules_count

    @property
    def side(self) -> int:
        """The symbol's side in dots, without its quiet zone (4 modules)."""
        return self.modules * self.magnification


@dataclass(frozen=True)
class DataMatrix:
    """A Data Matrix: GS1 DataMatrix of (AI, value) pairs, or (gs1=False) plain ASCII text; module in dots."""

    x: int
    y: int
    data: Union[str, AIPairs]
    module: int = 4
    gs1: bool = True

    def __post_init__(self) -> None:
        if self.gs1 == isinstance(self.data, str):
            raise ValueError("DataMatrix: gs1 data is (AI, value) pairs, plain data is a str")

    @cached_property
    def stream(self) -> list[str | None]:
        """GS1: FNC1 (None) first, then the element strings, FNC1 after variable-length AIs that are not last."""
        if not self.gs1:
            return list(self.data)
        return gs1.fnc1_stream(gs1.element_strings(self.data))

    @cached_property
    def modules(self) -> int:
        """Modules per side of the smallest square symbol that holds the data."""
        return datamatrix.symbol_size(self.stream)

    @property
    def side(self) -> int:
        """The symbol's side in dots, without its quiet zone (1 module)."""
        return self.modules * self.module


Element = Union[Text, TextBlock, Box, Code128, QRCode, DataMatrix]


@dataclass(frozen=True)
class Label:
    """A label of a size in dots at a density, made of elements."""

    width: int
    height: int
    dpi: int
    elements: tuple[Element, ...] = field(default=())

    @classmethod
    def sized(cls, size: str, dpi: int, elements: tuple[Element, ...] = ()) -> Label:
        """A label for a named size (see LABEL_SIZES) and density (see DPIS)."""
        if size not in LABEL_SIZES:
            raise ValueError(f"unknown label size {size!r}; expected one of {', '.join(LABEL_SIZES)}")
        if dpi not in DPIS:
            raise ValueError(f"unsupported dpi {dpi}; expected one of {', '.join(map(str, DPIS))}")
        w, h = LABEL_SIZES[size]
        return cls(dots(w, dpi), dots(h, dpi), dpi, tuple(elements))
