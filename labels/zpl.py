"""Render a Label to ZPL II bytes: native printer fonts and barcodes, every data-derived character escaped.

Text and fonts. The format is UTF-8 (`^CI28`). A text field whose characters the printer's built-in scalable
font 0 can print (Western and Central European Latin: the characters of Windows code pages 1252 and 1250)
uses `^A0`, which every Zebra has. Any other field (CJK such as 日本, Cyrillic, Greek, Arabic, ...) is
drawn with a Unicode TrueType font called by name, `^A@N,h,w,<drive>:<file>`: font 0 has no CJK glyphs, and
it is not relied on beyond those two code pages. That font is the `unicode_font` option of `render`:

- default `E:ANMDJ.TTF`, Zebra's "Andale" Unicode TrueType font (the Japanese variant: kana, kanji and Latin),
  sold by Zebra as a font pack and found preinstalled on Asian-market printers; it lives on the E: drive;
- any other Unicode TrueType font stored on the printer, e.g. another Andale variant or a Noto CJK font
  downloaded as `E:NOTOCJK.TTF` (drive R:, E:, B:, A: or Z:; .TTF, .TTE or .FNT);
- `None`: every field uses font 0 (characters it lacks print as blanks).

A printer that does not have the named font falls back to the `^CF` font, which the format sets to font 0,
so a missing font never stops a label from printing: Latin fields look the same either way.

Escaping. All field data from text goes through `^FH` hex escaping (`^`, `~`, `_`, control bytes), so data
can never end the format or start another one. Code 128 data uses invocation codes for `^ > ~`; GS1 Data
Matrix data is GS1 character set 82 minus the ^BX escape character `_`, and plain Data Matrix data is ^FH-escaped.
"""

from __future__ import annotations

import re
from functools import lru_cache

from labels import code128
from labels.layout import Box, Code128, DataMatrix, Element, Label, QRCode, Text, TextBlock

DEFAULT_UNICODE_FONT = "E:ANMDJ.TTF"
_FONT_NAME = re.compile(r"[REBAZ]:[A-Z0-9_-]{1,16}\.(TTF|TTE|FNT)")


_NEEDS_ESCAPE = re.compile("[\\^~_\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def field_hex(text: str) -> str:
    """Escape text for a ^FH field: ^, ~, _ and control bytes as _XX; other UTF-8 passes through."""
    if not _NEEDS_ESCAPE.search(text):
        return text
    out = []
    for ch in text:
        code = ord(ch)
        if ch in "^~_" or code < 0x20 or code == 0x7F:
            out.append(f"_{code:02X}")
        elif 0x80 <= code <= 0x9F:  # C1 controls: hex-escape their UTF-8 bytes
            out.append("".join(f"_{b:02X}" for b in ch.encode("utf-8")))
        elif 0xD800 <= code <= 0xDFFF:  # a lone surrogate is no character: print the replacement character
            out.append("\ufffd")
        else:
            out.append(ch)
    return "".join(out)


def code128_field(items: list[str | None]) -> str:
    """ZPL ^BC mode-N field data for characters and FNC1 markers (None), using subset C for digit runs."""
    return code128.zpl_field(items)


@lru_cache(maxsize=4096)
def font0_prints(ch: str) -> bool:
    """True when the built-in font 0 has a glyph for the character (Windows-1252 or -1250 repertoire)."""
    for codepage in ("cp1252", "cp1250"):
        try:
            ch.encode(codepage)
            return True
        except UnicodeEncodeError:
            pass
    return False


def _font(text: str, height: int, unicode_font: str | None) -> str:
    """^A0 when font 0 can print the whole text, else the Unicode TrueType font by name."""
    if unicode_font is None or text.isascii() or all(font0_prints(ch) for ch in text):
        return f"^A0N,{height},{height}"
    return f"^A@N,{height},{height},{unicode_font}"


def _datamatrix_field(el: DataMatrix) -> str:
    """GS1 DataMatrix field data with `_` as the ^BX escape character (`_1` = FNC1)."""
    parts = []
    for item in el.stream:
        if item == "_":
            raise ValueError("'_' in GS1 DataMatrix data is not supported (it is the ^BX escape character)")
        parts.append("_1" if item is None else item)
    return "".join(parts)


def _element(el: Element, unicode_font: str | None) -> str:
    """The ZPL for one element."""
    if isinstance(el, Text):
        return f"^FO{el.x},{el.y}{_font(el.text, el.height, unicode_font)}^FH^FD{field_hex(el.text)}^FS"
    if isinstance(el, TextBlock):
        return (
            f"^FO{el.x},{el.y}{_font(el.text, el.height, unicode_font)}^FB{el.width},{el.lines},0,{el.align},0"
            f"^FH^FD{field_hex(el.text.replace(chr(92), chr(92) * 2))}^FS"  # ^FB reads backslash-ampersand as a line break
        )
    if isinstance(el, Box):
        return f"^FO{el.x},{el.y}^GB{el.w},{el.h},{el.thickness}^FS"
    if isinstance(el, Code128):
        return f"^FO{el.x},{el.y}^BY{el.module}^BCN,{el.height},N,N,N,N^FD{code128_field(el.stream)}^FS"
    if isinstance(el, QRCode):
        return f"^FO{el.x},{el.y}^BQN,2,{el.magnification}^FH^FDMA,{field_hex(el.data)}^FS"
    if isinstance(el, DataMatrix):
        # Columns and rows are given so the printer draws the symbol size the layout (and preview) planned.
        n = el.modules
        if not el.gs1:  # plain data: no ^BX escape character, so ^FH can hex-escape like any text field
            return f"^FO{el.x},{el.y}^BXN,{el.module},200,{n},{n}^FH^FD{field_hex(el.data)}^FS"
        return f"^FO{el.x},{el.y}^BXN,{el.module},200,{n},{n},,_^FD{_datamatrix_field(el)}^FS"
    raise TypeError(f"no ZPL for {type(el).__name__}")


def render(label: Label, copies: int = 1, *, unicode_font: str | None = DEFAULT_UNICODE_FONT) -> bytes:
    """The label as one ZPL format (^XA…^XZ), UTF-8 under ^CI28, printed `copies` times (^PQ).

    `unicode_font` names the printer's TrueType font for text that font 0 cannot print (see the module
    docstring); None keeps every field on font 0.
    """
    if isinstance(copies, bool) or not isinstance(copies, int) or not 1 <= copies <= 99_999_999:
        raise ValueError(f"copies must be an integer from 1 to 99999999, got {copies!r}")
    if unicode_font is not None and not _FONT_NAME.fullmatch(unicode_font):
        raise ValueError(f"unicode_font must be a printer font path like E:ANMDJ.TTF, got {unicode_font!r}")
    body = "".join(_element(el, unicode_font) for el in label.elements)
    return f"^XA^CI28^CF0^PW{label.width}^LL{label.height}^LH0,0{body}^PQ{copies}^XZ".encode("utf-8")
