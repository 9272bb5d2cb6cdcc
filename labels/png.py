"""Render a Label to a Pillow image at the label's density, from the same layout the ZPL renderer uses.

Barcodes are drawn module by module from the same symbol streams the ZPL asks the printer for (Code 128
symbols, Data Matrix size), so the preview shows what will print and decodes to the same data.

Text uses TrueType fonts from Debian packages, found by path (`scripts/setup.sh` installs them):
DejaVu Sans Bold (`fonts-dejavu-core`) for Latin, Greek and Cyrillic, narrowed to the width of the printer's
font 0, and Droid Sans Fallback (`fonts-droid-fallback`, 1.8 MB) for CJK, character by character: each
character is drawn with the first font that has a glyph for it. Without those files the preview falls back
to Pillow's bundled font (Latin only; other characters show as boxes); `preview_fonts()` tells which
files are in use.
"""

from __future__ import annotations

import math
import os
from functools import lru_cache

import qrcode
from PIL import Image, ImageDraw, ImageFont

from labels import code128, datamatrix
from labels.layout import Box, Code128, DataMatrix, Element, Label, QRCode, Text, TextBlock

LATIN_FONTS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
)
CJK_FONTS = (
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
)
LATIN_SCALE = 0.82  # DejaVu Sans Bold narrowed to about the width of Zebra's font 0
BASELINE = 0.78  # the baseline sits this far down a line of `height` dots, as with font 0

FontT = ImageFont.FreeTypeFont | ImageFont.ImageFont


def _first_existing(paths: tuple[str, ...]) -> str | None:
    return next((p for p in paths if os.path.isfile(p)), None)


def preview_fonts() -> dict[str, str | None]:
    """The font files the preview uses: {"latin": path or None, "cjk": path or None}."""
    return {"latin": _first_existing(LATIN_FONTS), "cjk": _first_existing(CJK_FONTS)}


@lru_cache(maxsize=256)
def _font(path: str | None, size: int) -> FontT:
    """A font file at a pixel size; Pillow's bundled font when there is no file."""
    if path is None:
        return ImageFont.load_default(size=size)
    return ImageFont.truetype(path, size)


@lru_cache(maxsize=8192)
def _has_glyph(path: str, ch: str) -> bool:
    """True when the font draws the character as something other than its 'missing glyph' box."""
    font = _font(path, 24)

    def ink(text: str) -> bytes:
        img = Image.new("L", (64, 40), 0)
        ImageDraw.Draw(img).text((8, 4), text, fill=255, font=font)
        return img.tobytes()

    return ink(ch) != ink("\U0010fffd")


def _runs(text: str) -> list[tuple[str | None, float, str]]:
    """Split text into (font path, horizontal scale, run) by the first font that has each character."""
    fonts = preview_fonts()
    latin, cjk = fonts["latin"], fonts["cjk"]
    runs: list[tuple[str | None, float, str]] = []
    for ch in text:
        if latin is None or _has_glyph(latin, ch) or cjk is None or not _has_glyph(cjk, ch):
            key = (latin, LATIN_SCALE if latin else 1.0)
        else:
            key = (cjk, 1.0)
        if runs and runs[-1][:2] == key:
            runs[-1] = (*key, runs[-1][2] + ch)
        else:
            runs.append((*key, ch))
    return runs


def line_width(text: str, height: int) -> float:
    """The preview's advance width of one line of text at a height, in dots."""
    return sum(_font(path, height).getlength(run) * scale for path, scale, run in _runs(text))


def _text_mask(text: str, height: int) -> tuple[Image.Image, int, int]:
    """The line as an ink mask and its offset from the element's (x, y): the glyphs as the preview draws them."""
    pad = height
    width = math.ceil(line_width(text, height)) + 2 * pad
    mask = Image.new("L", (max(width, 1), 2 * height + 2 * pad), 0)
    baseline = pad + round(BASELINE * height)
    x = float(pad)
    for path, scale, run in _runs(text):
        font = _font(path, height)
        advance = font.getlength(run)
        if scale == 1.0:
            ImageDraw.Draw(mask).text((x, baseline), run, fill=255, font=font, anchor="ls")
        else:
            wide = Image.new("L", (math.ceil(advance) + 2 * pad, mask.height), 0)
            ImageDraw.Draw(wide).text((pad, baseline), run, fill=255, font=font, anchor="ls")
            narrow = wide.resize((max(1, round(wide.width * scale)), wide.height), Image.Resampling.BILINEAR)
            left = round(x - pad * scale)
            mask.paste(narrow, (left, 0), narrow)
        x += advance * scale
    return mask, -pad, -pad


def _wrap(text: str, height: int, width: int, lines: int) -> list[str]:
    """Greedy word wrap into at most `lines` lines; the last line keeps the rest, as ^FB does."""
    out: list[str] = []
    words = text.split()
    current = ""
    while words and len(out) < lines - 1:
        candidate = f"{current} {words[0]}".strip()
        if current and line_width(candidate, height) > width:
            out.append(current)
            current = ""
        else:
            current = candidate
            words.pop(0)
    rest = " ".join([current, *words]).strip()
    if rest:
        out.append(rest)
    return out


def _text_lines(el: Text | TextBlock) -> list[tuple[int, int, str]]:
    """(x, y, line) for each line of a text element."""
    if isinstance(el, Text):
        return [(el.x, el.y, el.text)]
    out = []
    for n, line in enumerate(_wrap(el.text, el.height, el.width, el.lines)):
        slack = el.width - line_width(line, el.height)
        dx = 0 if el.align == "L" else round(slack / 2 if el.align == "C" else slack)
        out.append((el.x + dx, el.y + n * el.height, line))
    return out


def _qr_matrix(el: QRCode) -> list[list[bool]]:
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=0)
    qr.add_data(el.data)
    qr.make(fit=True)
    return qr.get_matrix()


def _draw_matrix(draw: ImageDraw.ImageDraw, x: int, y: int, rows: list[list[bool]], module: int) -> None:
    for r, row in enumerate(rows):
        for c, dark in enumerate(row):
            if dark:
                draw.rectangle((x + c * module, y + r * module, x + (c + 1) * module - 1, y + (r + 1) * module - 1), fill=0)


def _draw(img: Image.Image, draw: ImageDraw.ImageDraw, el: Element) -> None:
    """Draw one element onto the image."""
    if isinstance(el, (Text, TextBlock)):
        for x, y, line in _text_lines(el):
            mask, dx, dy = _text_mask(line, el.height)
            img.paste(0, (x + dx, y + dy), mask)
    elif isinstance(el, Box):
        if el.w <= el.thickness or el.h <= el.thickness:
            draw.rectangle((el.x, el.y, el.x + el.w - 1, el.y + el.h - 1), fill=0)
        else:
            draw.rectangle((el.x, el.y, el.x + el.w - 1, el.y + el.h - 1), outline=0, width=el.thickness)
    elif isinstance(el, Code128):
        for n, module in enumerate(code128.modules(el.stream)):
            if module == "1":
                x = el.x + n * el.module
                draw.rectangle((x, el.y, x + el.module - 1, el.y + el.height - 1), fill=0)
    elif isinstance(el, QRCode):
        _draw_matrix(draw, el.x, el.y, _qr_matrix(el), el.magnification)
    elif isinstance(el, DataMatrix):
        _draw_matrix(draw, el.x, el.y, datamatrix.matrix(el.data, el.modules), el.module)
    else:
        raise TypeError(f"no preview for {type(el).__name__}")


def element_box(el: Element) -> tuple[int, int, int, int]:
    """The area (x0, y0, x1, y1), end exclusive, that the element covers in the preview; text by its ink."""
    if isinstance(el, (Text, TextBlock)):
        boxes = []
        for x, y, line in _text_lines(el):
            mask, dx, dy = _text_mask(line, el.height)
            ink = mask.getbbox()
            if ink:
                boxes.append((x + dx + ink[0], y + dy + ink[1], x + dx + ink[2], y + dy + ink[3]))
        if not boxes:
            return (el.x, el.y, el.x, el.y)
        return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))
    if isinstance(el, Box):
        return (el.x, el.y, el.x + el.w, el.y + el.h)
    if isinstance(el, Code128):
        return (el.x, el.y, el.x + el.width, el.y + el.height)
    if isinstance(el, (QRCode, DataMatrix)):
        return (el.x, el.y, el.x + el.side, el.y + el.side)
    raise TypeError(f"no preview for {type(el).__name__}")


def render_png(label: Label) -> Image.Image:
    """The label as a grayscale image, one pixel per printer dot, tagged with the label's dpi."""
    img = Image.new("L", (label.width, label.height), 255)
    draw = ImageDraw.Draw(img)
    for el in label.elements:
        _draw(img, draw, el)
    img.info["dpi"] = (label.dpi, label.dpi)
    return img
