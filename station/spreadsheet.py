"""CSV cells a spreadsheet opens safely: every export (audit, trace, recall, reports) writes through here.

A text cell that starts with = + - @ (or a tab or CR) is a formula to Excel and LibreOffice, and a
lot number or a supplier lot comes from a label anyone can print: such a cell gets a leading
apostrophe so it shows as the text it is. Numbers stay numbers; dates are ISO.

A quantity is written with its item's decimals (`qty_cell`: 12.350 for flour counted in kg to 3) as a
plain decimal, never through a float: the file says what the ledger holds, to the last digit.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

from . import quantities

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value) -> str | int | float:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, Decimal):  # a number (no apostrophe before "-2"), without an exponent
        return format(value, "f")
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def csv_line(values) -> str:
    """One CSV line (with its line end), every cell made safe."""
    buffer = io.StringIO()
    csv.writer(buffer).writerow([safe_cell(v) for v in values])
    return buffer.getvalue()


def qty_cell(value, decimals: int | None = 0) -> Decimal | None:
    """A quantity for a number cell, to its item's `decimals` ("12.350"); the Decimal keeps the zeros."""
    return None if value is None else Decimal(quantities.text(value, decimals))


def qty_words(value, decimals: int | None, unit: str | None) -> str:
    """A quantity inside a text cell, with its unit: "12.350 kg"."""
    return " ".join(part for part in (quantities.text(value, decimals), unit) if part)
