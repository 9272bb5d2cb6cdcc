"""Data Matrix ECC 200 (ISO/IEC 16022) for previews: ASCII encodation, Reed-Solomon, module placement.

The printer draws Data Matrix itself (^BX); this encoder gives the preview the same symbol size the ZPL
asks for, so the operator sees what will print and a decoder can check it. Square symbols with one
interleaved block (10x10 to 48x48, up to 174 data codewords) are plenty for GS1 logistics data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from labels.gs1 import FNC1  # None: the marker for FNC1 in a stream (codeword 232)


@dataclass(frozen=True)
class SymbolSize:
    size: int  # modules per side, finder pattern included
    data: int  # data codewords
    ecc: int  # error correction codewords
    regions: int  # data regions per side

    @property
    def region(self) -> int:
        """Modules per side of one data region (without its finder and timing pattern)."""
        return self.size // self.regions - 2


SIZES: tuple[SymbolSize, ...] = (
    SymbolSize(10, 3, 5, 1), SymbolSize(12, 5, 7, 1), SymbolSize(14, 8, 10, 1), SymbolSize(16, 12, 12, 1),
    SymbolSize(18, 18, 14, 1), SymbolSize(20, 22, 18, 1), SymbolSize(22, 30, 20, 1), SymbolSize(24, 36, 24, 1),
    SymbolSize(26, 44, 28, 1), SymbolSize(32, 62, 36, 2), SymbolSize(36, 86, 42, 2), SymbolSize(40, 114, 48, 2),
    SymbolSize(44, 144, 56, 2), SymbolSize(48, 174, 68, 2),
)


def codewords(items: Sequence[str | None]) -> list[int]:
    """ASCII encodation: digit pairs as 130+n, characters as value+1, FNC1 as 232."""
    out: list[int] = []
    i = 0
    while i < len(items):
        item = items[i]
        if item is FNC1:
            out.append(232)
            i += 1
        elif item.isdigit() and i + 1 < len(items) and items[i + 1] is not None and items[i + 1].isdigit():
            out.append(130 + int(item + items[i + 1]))
            i += 2
        elif len(item) == 1 and ord(item) < 128:
            out.append(ord(item) + 1)
            i += 1
        else:
            raise ValueError(f"Data Matrix preview encodes ASCII only, got {item!r}")
    return out


def symbol_size(items: Sequence[str | None]) -> SymbolSize:
    """The smallest square symbol that holds the data."""
    n = len(codewords(items))
    for s in SIZES:
        if s.data >= n:
            return s
    raise ValueError(f"{n} Data Matrix codewords do not fit in a {SIZES[-1].size}x{SIZES[-1].size} symbol")


def _gf_tables() -> tuple[list[int], list[int]]:
    """Exp and log tables of GF(256) with the Data Matrix polynomial x^8+x^5+x^3+x^2+1."""
    exp, log = [0] * 512, [0] * 256
    x = 1
    for i in range(255):
        exp[i] = x
        log[x] = i
        x <<= 1
        if x & 0x100:
            x ^= 0x12D
    for i in range(255, 512):
        exp[i] = exp[i - 255]
    return exp, log


_EXP, _LOG = _gf_tables()


def _mul(a: int, b: int) -> int:
    return 0 if a == 0 or b == 0 else _EXP[_LOG[a] + _LOG[b]]


def reed_solomon(data: Sequence[int], n: int) -> list[int]:
    """n error correction codewords for data, generator polynomial (x - 2^1)...(x - 2^n)."""
    gen = [1]
    for i in range(1, n + 1):
        nxt = [0] * (len(gen) + 1)
        for k, g in enumerate(gen):
            nxt[k] ^= g
            nxt[k + 1] ^= _mul(g, _EXP[i])
        gen = nxt
    rem = [0] * n
    for d in data:
        factor = d ^ rem[0]
        rem = rem[1:] + [0]
        for k in range(n):
            rem[k] ^= _mul(gen[k + 1], factor)
    return rem


def _pad(data: list[int], capacity: int) -> list[int]:
    """Fill to capacity: 129 first, then 129 scrambled by position (253-state randomising)."""
    out = list(data)
    if len(out) < capacity:
        out.append(129)
    while len(out) < capacity:
        value = 129 + (149 * (len(out) + 1)) % 253 + 1
        out.append(value - 254 if value > 254 else value)
    return out


def _placement(nrow: int, ncol: int) -> list[list[tuple[int, int] | bool]]:
    """Which (codeword, bit) each module of the mapping matrix carries; True/False for the fixed corner."""
    grid: list[list[tuple[int, int] | bool | None]] = [[None] * ncol for _ in range(nrow)]

    def module(r: int, c: int, cw: int, bit: int) -> None:
        if r < 0:
            r += nrow
            c += 4 - ((nrow + 4) % 8)
        if c < 0:
            c += ncol
            r += 4 - ((ncol + 4) % 8)
        grid[r][c] = (cw, bit)

    def utah(r: int, c: int, cw: int) -> None:
        for bit, (dr, dc) in enumerate(((-2, -2), (-2, -1), (-1, -2), (-1, -1), (-1, 0), (0, -2), (0, -1), (0, 0))):
            module(r + dr, c + dc, cw, bit)

    def corner(cells: tuple[tuple[int, int], ...], cw: int) -> None:
        for bit, (r, c) in enumerate(cells):
            module(r, c, cw, bit)

    n1, c1 = nrow - 1, ncol - 1
    corners = {
        1: ((n1, 0), (n1, 1), (n1, 2), (0, c1 - 1), (0, c1), (1, c1), (2, c1), (3, c1)),
        2: ((n1 - 2, 0), (n1 - 1, 0), (n1, 0), (0, c1 - 3), (0, c1 - 2), (0, c1 - 1), (0, c1), (1, c1)),
        3: ((n1 - 2, 0), (n1 - 1, 0), (n1, 0), (0, c1 - 1), (0, c1), (1, c1), (2, c1), (3, c1)),
        4: ((n1, 0), (n1, c1), (0, c1 - 2), (0, c1 - 1), (0, c1), (1, c1 - 2), (1, c1 - 1), (1, c1)),
    }
    cw, row, col = 0, 4, 0
    while True:
        if row == nrow and col == 0:
            corner(corners[1], cw)
            cw += 1
        if row == nrow - 2 and col == 0 and ncol % 4:
            corner(corners[2], cw)
            cw += 1
        if row == nrow - 2 and col == 0 and ncol % 8 == 4:
            corner(corners[3], cw)
            cw += 1
        if row == nrow + 4 and col == 2 and not ncol % 8:
            corner(corners[4], cw)
            cw += 1
        while True:  # sweep up and to the right
            if row < nrow and col >= 0 and grid[row][col] is None:
                utah(row, col, cw)
                cw += 1
            row -= 2
            col += 2
            if not (row >= 0 and col < ncol):
                break
        row += 1
        col += 3
        while True:  # sweep down and to the left
            if row >= 0 and col < ncol and grid[row][col] is None:
                utah(row, col, cw)
                cw += 1
            row += 2
            col -= 2
            if not (row < nrow and col >= 0):
                break
        row += 3
        col += 1
        if not (row < nrow or col < ncol):
            break
    if grid[n1][c1] is None:  # the fixed pattern in the bottom-right corner of some sizes
        grid[n1][c1] = grid[n1 - 1][c1 - 1] = True
        grid[n1][c1 - 1] = grid[n1 - 1][c1] = False
    return grid  # type: ignore[return-value]


def matrix(items: Sequence[str | None]) -> list[list[bool]]:
    """The symbol's modules (True = dark), finder and timing patterns included, no quiet zone."""
    size = symbol_size(items)
    data = _pad(codewords(items), size.data)
    stream = data + reed_solomon(data, size.ecc)
    n = size.region * size.regions
    placement = _placement(n, n)
    out = [[False] * size.size for _ in range(size.size)]
    step = size.region + 2
    for y in range(size.size):
        for x in range(size.size):
            ly, lx = y % step, x % step
            if lx == 0 or ly == step - 1:
                out[y][x] = True  # solid L: left and bottom edge of each region
            elif ly == 0:
                out[y][x] = lx % 2 == 0  # timing pattern along the top
            elif lx == step - 1:
                out[y][x] = ly % 2 == 1  # timing pattern along the right
            else:
                cell = placement[y // step * size.region + ly - 1][x // step * size.region + lx - 1]
                if isinstance(cell, bool):
                    out[y][x] = cell
                else:
                    cw, bit = cell
                    out[y][x] = bool(stream[cw] & (0x80 >> bit))
    return out
