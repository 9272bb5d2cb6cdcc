"""Data Matrix ECC 200 for previews: the symbol size the ZPL asks for, drawn by zxing-cpp.

The printer draws Data Matrix itself (^BX) and is told the rows and columns: the smallest square symbol that
holds the data in ASCII encodation (a digit pair, a character or FNC1 per codeword), a size any encoder can
fill. zxing-cpp (zint inside) draws the preview at that size (its `version`); left to choose, it packs some
data into a smaller symbol than the printer is asked for (C40, Text), so it is never left to choose.
"""

from __future__ import annotations

from collections.abc import Sequence

import zxingcpp

from labels.gs1 import FNC1  # None: the marker for FNC1 in a stream

# Square ECC 200 symbols as (modules per side, data codewords), 10x10 to 48x48: zxing-cpp's versions 1 to 14.
SIZES: tuple[tuple[int, int], ...] = (
    (10, 3), (12, 5), (14, 8), (16, 12), (18, 18), (20, 22), (22, 30), (24, 36), (26, 44), (32, 62),
    (36, 86), (40, 114), (44, 144), (48, 174),
)


_DIGITS = frozenset("0123456789")


def codeword_count(items: Sequence[str | None]) -> int:
    """Codewords in ASCII encodation: two digits in a row make one, any other character or FNC1 one."""
    n = i = 0
    while i < len(items):
        item, after = items[i], items[i + 1] if i + 1 < len(items) else FNC1
        if item in _DIGITS and after in _DIGITS:
            i += 2
        elif item is FNC1 or (len(item) == 1 and ord(item) < 128):
            i += 1
        else:
            raise ValueError(f"Data Matrix preview encodes ASCII only, got {item!r}")
        n += 1
    return n


def symbol_size(items: Sequence[str | None]) -> int:
    """Modules per side of the smallest square symbol that holds the data."""
    n = codeword_count(items)
    for size, data in SIZES:
        if data >= n:
            return size
    raise ValueError(f"{n} Data Matrix codewords do not fit in a {SIZES[-1][0]}x{SIZES[-1][0]} symbol")


def matrix(data: str | Sequence[tuple[str, str]], size: int) -> list[list[bool]]:
    """The modules (True = dark) of a size x size symbol, finder and timing patterns included, no quiet zone.

    `data` is plain text, or (AI, value) pairs for a GS1 DataMatrix (FNC1 first and after variable-length AIs).
    """
    versions = [s for s, _ in SIZES]
    if size not in versions:
        raise ValueError(f"no square Data Matrix of {size}x{size} modules; sizes: {versions}")
    if isinstance(data, str):
        content, options = data, {}
    else:  # GS1 element strings in zint's bracket form; values (character set 82) hold no brackets
        content, options = "".join(f"[{ai}]{value}" for ai, value in data), {"gs1": True}
    symbol = zxingcpp.create_barcode(content, zxingcpp.BarcodeFormat.DataMatrix,
                                     version=versions.index(size) + 1, **options)
    image = symbol.to_image(add_quiet_zones=False)  # one pixel per module, 0 = dark
    height, width = image.shape
    if (height, width) != (size, size):
        raise ValueError(f"zxing-cpp drew a {width}x{height} Data Matrix, not the {size}x{size} asked for")
    pixels = bytes(memoryview(image))
    return [[pixels[r * width + c] < 128 for c in range(width)] for r in range(height)]
