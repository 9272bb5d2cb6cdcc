"""CSV cells a spreadsheet opens safely: every export (audit, trace, recall, reports) writes through here.

A text cell that starts with = + - @ (or a tab or CR) is a formula to Excel and LibreOffice, and a
lot number or a supplier lot comes from a label anyone can print: such a cell gets a leading
apostrophe so it shows as the text it is. Numbers stay numbers; dates are ISO.
"""
from __future__ import annotations

import csv
import datetime as dt
import io

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value) -> str | int | float:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def csv_line(values) -> str:
    """One CSV line (with its line end), every cell made safe."""
    buffer = io.StringIO()
    csv.writer(buffer).writerow([safe_cell(v) for v in values])
    return buffer.getvalue()
