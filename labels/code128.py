"""Code 128 symbol streams: one encoding for the printer (ZPL ^BC field data) and the preview (bar modules).

A stream is a list of characters and FNC1 markers (None). `encode` picks subsets B and C and returns
(ZPL token, symbol value) pairs; the ZPL renderer writes the tokens, the preview draws the values, so the
preview shows the very symbols the printer will print and both have the same width.
"""

from __future__ import annotations

from collections.abc import Sequence

from barcode.charsets.code128 import CODES, STOP

from labels.gs1 import FNC1  # None: the marker for FNC1 in a stream

_START_B, _START_C, _CODE_B, _CODE_C, _FNC1_VALUE = 104, 105, 100, 99, 102
# Subset B characters that ZPL reads as commands or invocation codes, written as invocation codes instead.
_ZPL_B_SPECIAL = {"^": "><", ">": ">0", "~": ">="}

Stream = Sequence["str | None"]


def encode(items: Stream) -> list[tuple[str, int]]:
    """(ZPL ^BC mode-N token, Code 128 symbol value) for each symbol, start code included, check digit not."""
    out: list[tuple[str, int]] = []
    mode: str | None = None
    i, n = 0, len(items)

    def digit_run(start: int) -> int:
        end = start
        while end < n and items[end] is not None and items[end].isdigit():
            end += 1
        return end - start

    def switch(to: str) -> None:
        nonlocal mode
        if to == "C":
            out.append((">;", _START_C) if mode is None else (">5", _CODE_C))
        else:
            out.append((">:", _START_B) if mode is None else (">6", _CODE_B))
        mode = to

    while i < n:
        item = items[i]
        if item is FNC1:
            if mode is None:
                switch("C")
            out.append((">8", _FNC1_VALUE))
            i += 1
            continue
        run = digit_run(i)
        ends = i + run == n or items[i + run] is FNC1
        # Subset C pays off from 4 digits at the start or end, from 6 in the middle (switching costs a symbol).
        if run >= 2 and (mode == "C" or run >= 6 or (run >= 4 and (mode is None or ends))):
            if run % 2 and mode != "C":
                if mode != "B":
                    switch("B")
                out.append((items[i], ord(items[i]) - 32))
                i += 1
                run -= 1
            if mode != "C":
                switch("C")
            for k in range(i, i + run // 2 * 2, 2):
                pair = items[k] + items[k + 1]
                out.append((pair, int(pair)))
            i += run // 2 * 2
            continue
        if not isinstance(item, str) or len(item) != 1 or not 0x20 <= ord(item) <= 0x7E:
            raise ValueError(f"Code 128 data must be printable ASCII, got {item!r}")
        if mode != "B":
            switch("B")
        out.append((_ZPL_B_SPECIAL.get(item, item), ord(item) - 32))
        i += 1
    return out


def zpl_field(items: Stream) -> str:
    """ZPL ^BC mode-N field data (explicit start, subset switches and FNC1 as >; >: >5 >6 >8)."""
    return "".join(token for token, _ in encode(items))


def values(items: Stream) -> list[int]:
    """Symbol values: start, data, check digit (mod 103); the stop pattern is not a value."""
    vals = [v for _, v in encode(items)]
    if not vals:
        raise ValueError("Code 128 needs at least one character")
    return vals + [(vals[0] + sum(k * v for k, v in enumerate(vals[1:], start=1))) % 103]


def modules(items: Stream) -> str:
    """The whole symbol as bar (1) and space (0) modules, stop pattern and final bar included."""
    return "".join(CODES[v] for v in values(items)) + STOP + "11"


def width(items: Stream) -> int:
    """The symbol's width in modules (11 per symbol, 13 for the stop), without quiet zones."""
    return 11 * len(values(items)) + 13
