"""Render a Label to ZPL II bytes: native printer fonts and barcodes, every data-derived character escaped."""

from __future__ import annotations

from labels import gs1
from labels.layout import Box, Code128, DataMatrix, Element, Label, QRCode, Text, TextBlock

_FNC1 = None  # marker for FNC1 in a Code 128 symbol stream
# Subset B characters that ZPL reads as commands or invocation codes, written as invocation codes instead.
_C128_B_SPECIAL = {"^": "><", ">": ">0", "~": ">="}


def field_hex(text: str) -> str:
    """Escape text for a ^FH field: ^, ~, _ and control bytes as _XX; other UTF-8 passes through."""
    out = []
    for ch in text:
        code = ord(ch)
        if ch in "^~_" or code < 0x20 or code == 0x7F:
            out.append(f"_{code:02X}")
        elif 0x80 <= code <= 0x9F:  # C1 controls: hex-escape their UTF-8 bytes
            out.append("".join(f"_{b:02X}" for b in ch.encode("utf-8")))
        else:
            out.append(ch)
    return "".join(out)


def code128_field(items: list[str | None]) -> str:
    """ZPL ^BC mode-N field data for characters and FNC1 markers, using subset C for digit runs."""
    out: list[str] = []
    mode: str | None = None
    i, n = 0, len(items)

    def digit_run(start: int) -> int:
        end = start
        while end < n and items[end] is not None and items[end].isdigit():
            end += 1
        return end - start

    while i < n:
        item = items[i]
        if item is _FNC1:
            if mode is None:
                out.append(">;")
                mode = "C"
            out.append(">8")
            i += 1
            continue
        run = digit_run(i)
        ends = i + run == n or items[i + run] is _FNC1
        # Subset C pays off from 4 digits at the start or end, from 6 in the middle (switching costs a symbol).
        if run >= 2 and (mode == "C" or run >= 6 or (run >= 4 and (mode is None or ends))):
            if run % 2 and mode != "C":
                out.append(">:" if mode is None else ">6")
                mode = "B"
                out.append(items[i])
                i += 1
                run -= 1
            if mode != "C":
                out.append(">;" if mode is None else ">5")
                mode = "C"
            pairs = run // 2 * 2
            out.extend(items[i : i + pairs])
            i += pairs
            continue
        if not 0x20 <= ord(item) <= 0x7E:
            raise ValueError(f"Code 128 data must be printable ASCII, got {item!r}")
        if mode != "B":
            out.append(">:" if mode is None else ">6")
            mode = "B"
        out.append(_C128_B_SPECIAL.get(item, item))
        i += 1
    return "".join(out)


def _code128_items(el: Code128) -> list[str | None]:
    """The symbol stream for a Code 128 element: GS1 starts with FNC1 and separates variable-length AIs."""
    if not el.gs1:
        return list(el.data)
    items: list[str | None] = [_FNC1]
    for text, separator in gs1.element_strings(el.data):
        items.extend(text)
        if separator:
            items.append(_FNC1)
    return items


def _datamatrix_field(el: DataMatrix) -> str:
    """GS1 DataMatrix field data with `_` as the ^BX escape character (`_1` = FNC1)."""
    parts = ["_1"]
    for text, separator in gs1.element_strings(el.data):
        if "_" in text:
            raise ValueError("'_' in GS1 DataMatrix data is not supported (it is the ^BX escape character)")
        parts.append(text + ("_1" if separator else ""))
    return "".join(parts)


def _element(el: Element) -> str:
    """The ZPL for one element."""
    if isinstance(el, Text):
        return f"^FO{el.x},{el.y}^A0N,{el.height},{el.height}^FH^FD{field_hex(el.text)}^FS"
    if isinstance(el, TextBlock):
        return (
            f"^FO{el.x},{el.y}^A0N,{el.height},{el.height}^FB{el.width},{el.lines},0,L,0"
            f"^FH^FD{field_hex(el.text.replace(chr(92), chr(92) * 2))}^FS"  # ^FB reads backslash-ampersand as a line break
        )
    if isinstance(el, Box):
        return f"^FO{el.x},{el.y}^GB{el.w},{el.h},{el.thickness}^FS"
    if isinstance(el, Code128):
        data = code128_field(_code128_items(el))
        return f"^FO{el.x},{el.y}^BY{el.module}^BCN,{el.height},N,N,N,N^FD{data}^FS"
    if isinstance(el, QRCode):
        return f"^FO{el.x},{el.y}^BQN,2,{el.magnification}^FH^FDMA,{field_hex(el.data)}^FS"
    if isinstance(el, DataMatrix):
        return f"^FO{el.x},{el.y}^BXN,{el.module},200,,,,_^FD{_datamatrix_field(el)}^FS"
    raise TypeError(f"no ZPL for {type(el).__name__}")


def render(label: Label, copies: int = 1) -> bytes:
    """The label as one ZPL format (^XA…^XZ), UTF-8 under ^CI28, printed `copies` times."""
    if not isinstance(copies, int) or not 1 <= copies <= 99_999_999:
        raise ValueError(f"copies must be an integer from 1 to 99999999, got {copies!r}")
    body = "".join(_element(el) for el in label.elements)
    return f"^XA^CI28^PW{label.width}^LL{label.height}^LH0,0{body}^PQ{copies}^XZ".encode("utf-8")
