"""Render a Label to a Pillow image at the label's density, from the same layout the ZPL renderer uses."""

from __future__ import annotations

import barcode
import qrcode
from PIL import Image, ImageDraw, ImageFont

from labels import gs1
from labels.layout import Box, Code128, DataMatrix, Element, Label, QRCode, Text, TextBlock

_FNC1 = "\xf1"  # python-barcode's FNC1 inside gs1_128 data


def _font(height: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Pillow's bundled font at a pixel size (no system font paths)."""
    return ImageFont.load_default(size=height)


def _wrap(text: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont, width: int, lines: int) -> list[str]:
    """Greedy word wrap into at most `lines` lines; the last line keeps the rest, as ^FB does."""
    out: list[str] = []
    words = text.split()
    current = ""
    while words and len(out) < lines - 1:
        candidate = f"{current} {words[0]}".strip()
        if current and font.getlength(candidate) > width:
            out.append(current)
            current = ""
        else:
            current = candidate
            words.pop(0)
    rest = " ".join([current, *words]).strip()
    if rest:
        out.append(rest)
    return out


def _code128_modules(el: Code128) -> str:
    """The symbol as a string of 1 (bar) and 0 (space) modules, via python-barcode."""
    if el.gs1:
        parts = []
        for text, separator in gs1.element_strings(el.data):
            parts.append(text + (_FNC1 if separator else ""))
        symbol = barcode.get_barcode_class("gs1_128")("".join(parts))
    else:
        if any(not 0x20 <= ord(c) <= 0x7E for c in el.data):
            raise ValueError(f"Code 128 data must be printable ASCII, got {el.data!r}")
        symbol = barcode.get_barcode_class("code128")(el.data)
    return symbol.build()[0]


def _draw(img: Image.Image, draw: ImageDraw.ImageDraw, el: Element) -> None:
    """Draw one element onto the image."""
    if isinstance(el, Text):
        draw.text((el.x, el.y), el.text, fill=0, font=_font(el.height))
    elif isinstance(el, TextBlock):
        font = _font(el.height)
        for n, line in enumerate(_wrap(el.text, font, el.width, el.lines)):
            draw.text((el.x, el.y + n * el.height), line, fill=0, font=font)
    elif isinstance(el, Box):
        if el.w <= el.thickness or el.h <= el.thickness:
            draw.rectangle((el.x, el.y, el.x + el.w - 1, el.y + el.h - 1), fill=0)
        else:
            draw.rectangle((el.x, el.y, el.x + el.w - 1, el.y + el.h - 1), outline=0, width=el.thickness)
    elif isinstance(el, Code128):
        for n, module in enumerate(_code128_modules(el)):
            if module == "1":
                x = el.x + n * el.module
                draw.rectangle((x, el.y, x + el.module - 1, el.y + el.height - 1), fill=0)
    elif isinstance(el, QRCode):
        qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=el.magnification, border=0)
        qr.add_data(el.data)
        qr.make(fit=True)
        img.paste(qr.make_image().get_image().convert("L"), (el.x, el.y))
    elif isinstance(el, DataMatrix):
        raise NotImplementedError("DataMatrix previews are not implemented yet")
    else:
        raise TypeError(f"no preview for {type(el).__name__}")


def render_png(label: Label) -> Image.Image:
    """The label as a grayscale image, one pixel per printer dot, tagged with the label's dpi."""
    img = Image.new("L", (label.width, label.height), 255)
    draw = ImageDraw.Draw(img)
    for el in label.elements:
        _draw(img, draw, el)
    img.info["dpi"] = (label.dpi, label.dpi)
    return img
