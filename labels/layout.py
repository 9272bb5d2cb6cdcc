"""Label layouts: elements placed in printer dots, independent of any renderer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

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


@dataclass(frozen=True)
class Text:
    """One line of text; height in dots."""

    x: int
    y: int
    text: str
    height: int


@dataclass(frozen=True)
class TextBlock:
    """Text wrapped into at most `lines` lines within `width` dots."""

    x: int
    y: int
    width: int
    lines: int
    text: str
    height: int


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


@dataclass(frozen=True)
class QRCode:
    """A QR code (error correction M); magnification is the module size in dots."""

    x: int
    y: int
    data: str
    magnification: int = 4


@dataclass(frozen=True)
class DataMatrix:
    """A GS1 DataMatrix of (AI, value) pairs; module is the module size in dots."""

    x: int
    y: int
    data: AIPairs
    module: int = 4


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
