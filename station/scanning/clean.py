"""A raw scan made safe to classify: bytes decoded, length capped, control characters refused,
and a copy fit to show on a screen or in a log.

Scanners end a scan with CR, LF or Tab and may send FNC1 as GS (0x1D); surrounding whitespace
is dropped, GS (and the configured stand-ins for it) is kept, and any other control or
invisible format character inside the scan is refused: it means a mis-set scanner or line
noise, and guessing what it stood for could match the wrong record.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass

GS = "\x1d"
MAX_SCAN = 512  # characters; a GS1 DataMatrix label on the floor carries well under 200
DISPLAY_LIMIT = 120
BOM = "\ufeff"

_C0_NAMES = ("NUL SOH STX ETX EOT ENQ ACK BEL BS TAB LF VT FF CR SO SI DLE DC1 DC2 DC3 DC4 NAK SYN "
             "ETB CAN EM SUB ESC FS GS RS US").split()
_REFUSED = {"Cc", "Cf", "Cs", "Zl", "Zp"}  # control, format (invisible), lone surrogate, line breaks


@dataclass(frozen=True)
class Cleaned:
    """The scan as text ready to classify (`text`), or why it cannot be (`error`, `message`)."""

    display: str
    text: str | None = None
    error: str | None = None
    message: str | None = None


def char_name(c: str) -> str:
    """How to name a character to a worker: <NUL>, <ESC>, <DEL>, <U+200B>."""
    if ord(c) < 32:
        return f"<{_C0_NAMES[ord(c)]}>"
    if c == "\x7f":
        return "<DEL>"
    return f"<U+{ord(c):04X}>"


def display(text: str, limit: int = DISPLAY_LIMIT) -> str:
    """`text` safe to show: GS as ␝, other control and invisible characters named, cut at `limit`."""
    out = []
    for c in text[:limit]:
        if c == GS:
            out.append("␝")
        elif ord(c) < 32:
            out.append(chr(0x2400 + ord(c)))  # the Unicode control pictures ␀ … ␟
        elif c == "\x7f":
            out.append("␡")
        elif unicodedata.category(c) in _REFUSED:
            out.append(char_name(c))
        else:
            out.append(c)
    if len(text) > limit:
        out.append(f"… ({len(text):,} characters)")
    return "".join(out)


def clean(raw: object, allowed: tuple[str, ...] = (GS,)) -> Cleaned:
    """Decode and check one scan; characters in `allowed` (GS, its stand-ins) pass through."""
    if isinstance(raw, (bytes, bytearray, memoryview)):
        data = bytes(raw)
        if len(data) > MAX_SCAN:
            return _too_long(len(data), display(data[:DISPLAY_LIMIT].decode("utf-8", "backslashreplace")))
        try:
            raw = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            shown = display(data.decode("utf-8", "backslashreplace"))
            return Cleaned(shown, error="not_text", message=(
                f"The scanner sent bytes that are not text (0x{data[exc.start]:02X} at position "
                f"{exc.start + 1}) — set the scanner to send UTF-8 or plain ASCII and scan again."))
    if not isinstance(raw, str):
        return Cleaned("", error="not_text", message="The scan is not text — scan again.")
    if len(raw) > MAX_SCAN:
        return _too_long(len(raw), display(raw))
    text = raw.strip().removeprefix(BOM).strip()
    if not text:
        return Cleaned("", error="empty", message="Nothing was scanned — scan the barcode again.")
    shown = display(text)
    for position, c in enumerate(text, 1):
        if c in allowed or unicodedata.category(c) not in _REFUSED:
            continue
        if unicodedata.category(c) == "Cs":
            return Cleaned(shown, error="not_text", message=(
                f"The scan holds a broken character ({char_name(c)} at position {position}) — "
                f"scan again."))
        return Cleaned(shown, error="control_character", message=(
            f"The scan contains a control character ({char_name(c)} at position {position}) that "
            f"no barcode here carries — check the scanner's settings and scan again."))
    return Cleaned(shown, text=text)


def _too_long(length: int, shown: str) -> Cleaned:
    return Cleaned(shown, error="too_long", message=(
        f"The scan is too long ({length:,} characters; a barcode here has at most {MAX_SCAN}) — "
        f"scan one barcode at a time."))
