"""Reading an import file — CSV or XLSX, from bytes in memory — into rows of trimmed text cells.

Limits (said in the refusal): at most MAX_BYTES per file and MAX_ROWS data rows; a cell of at most
cells.MAX_CELL characters. CSV is UTF-8 (with or without the BOM Excel writes), comma, semicolon or tab
separated (whichever the header line uses). XLSX is read by openpyxl in read-only mode, first sheet only.
A formula cell is refused, never evaluated and its cached value not trusted: the row names the cell
("row 4, qty: is a formula (=B4*2); paste the values instead"). Nothing in a file is ever run.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from dataclasses import dataclass, field

from .cells import MAX_CELL, Problem, Row

MAX_BYTES = 32 * 1024 * 1024
MAX_ROWS = 250_000
MAX_COLUMNS = 64  # a workbook's columns read; no kind has more than a dozen
MAX_UNPACKED = 512 * 1024 * 1024  # what an .xlsx (a zip) may unpack to
FORMATS = (".csv", ".xlsx")


@dataclass
class Table:
    """The header (column names, lower case) and the rows that are not blank, with problems found reading."""

    columns: list[str] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


class FileRefused(Exception):
    """The file as a whole cannot be read (wrong type, too big, not UTF-8 …): a sentence for the admin."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def column_name(header: str) -> str:
    """"Shelf life days" / "SHELF_LIFE_DAYS" / " shelf-life days " -> "shelf_life_days"."""
    return "_".join(header.strip().lower().replace("-", " ").split())


def read(data: bytes, filename: str) -> Table:
    """The table in `data`; the type is told by the file name's extension (.csv or .xlsx)."""
    name = (filename or "").strip().lower()
    if len(data) > MAX_BYTES:
        raise FileRefused(f"The file is {len(data) / 1024 / 1024:.1f} MB; at most {MAX_BYTES // 1024 // 1024} MB "
                          f"can be imported at once — split it into smaller files.")
    if name.endswith(".csv"):
        return _table(_csv_rows(data))
    if name.endswith(".xlsx"):
        return _table(_xlsx_rows(data))
    raise FileRefused("Only .csv and .xlsx files can be imported: save the sheet as CSV (UTF-8) or as an "
                      "Excel workbook (.xlsx).")


def _table(lines) -> Table:
    table = Table()
    header = None
    for number, values in lines:
        if header is None:
            if not any(v.strip() for v in values if isinstance(v, str)):
                continue  # blank lines above the header
            header = [column_name(v) if isinstance(v, str) else "" for v in values]
            while header and not header[-1]:
                header.pop()  # empty trailing header cells (a sheet's formatted but empty columns)
            table.columns = header
            continue
        cells: dict[str, str] = {}
        for index, value in enumerate(values):
            if isinstance(value, _Formula):
                column = header[index] if index < len(header) and header[index] else f"column {index + 1}"
                table.problems.append(Problem(number, column, f"is a formula ({value.text[:40]}); "
                                                              "paste the values instead"))
                value = ""
            text = value.strip()
            if not text:
                continue
            if index >= len(header) or not header[index]:
                table.problems.append(Problem(number, f"column {index + 1}",
                                              "has a value but no column name in the header row"))
                continue
            if len(text) > MAX_CELL:
                table.problems.append(Problem(number, header[index],
                                              f"is {len(text):,} characters long; a cell has at most {MAX_CELL}"))
                text = ""
            cells[header[index]] = text
        if not cells and not any(isinstance(v, _Formula) for v in values):
            continue  # a blank row
        if len(table.rows) >= MAX_ROWS:
            raise FileRefused(f"The file has more than {MAX_ROWS:,} rows; split it into smaller files.")
        table.rows.append(Row(number, cells))
    if header is None:
        raise FileRefused("The file is empty: the first row names the columns (download the template).")
    return table


def _csv_rows(data: bytes):
    if b"\x00" in data[:65536]:
        raise FileRefused("This is not a CSV text file (it has NUL bytes). Save the sheet as CSV (UTF-8).")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FileRefused(f"The file is not UTF-8 text (byte {exc.start + 1}). In Excel choose "
                          "'CSV UTF-8 (comma delimited)' when you save it.") from None
    first = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    number = 0
    try:
        # Rows are numbered as a spreadsheet shows them: one per record, whatever line breaks a quoted cell holds.
        for number, values in enumerate(reader, start=1):
            yield number, values
    except csv.Error as exc:
        raise FileRefused(f"Row {number + 1} of the file (line {reader.line_num}) cannot be read as CSV: {exc}. "
                          "Check its quotes.") from None


class _Formula:
    """A formula cell of a workbook: refused with its text, never evaluated."""

    def __init__(self, text: str) -> None:
        self.text = text

    def strip(self) -> str:
        return ""


def _cell_text(cell) -> str | _Formula:
    value = cell.value
    if value is None:
        return ""
    if getattr(cell, "data_type", None) == "f" or (isinstance(value, str) and value.startswith("=")
                                                   and len(value) > 1):
        return _Formula(str(value))
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    return str(value)


def _xlsx_rows(data: bytes):
    import openpyxl  # only when an .xlsx comes: the CSV path and the demo do without it

    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise FileRefused("This is not an Excel workbook (.xlsx). Save it again as .xlsx, or as CSV (UTF-8).")
    unpacked = sum(part.file_size for part in zipfile.ZipFile(io.BytesIO(data)).infolist())
    if unpacked > MAX_UNPACKED:  # a small file that inflates to gigabytes (a zip bomb) is refused unread
        raise FileRefused(f"The workbook unpacks to {unpacked / 1024 / 1024:.0f} MB; at most "
                          f"{MAX_UNPACKED // 1024 // 1024} MB. Save the sheet as CSV (UTF-8) instead.")
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False, keep_links=False)
    except Exception as exc:  # noqa: BLE001 - any damage to the workbook is the file's problem, in words
        raise FileRefused(f"The workbook cannot be opened ({exc.__class__.__name__}). Save it again as .xlsx, "
                          "or as CSV (UTF-8).") from None
    try:
        sheet = book.worksheets[0] if book.worksheets else None
        if sheet is None:
            raise FileRefused("The workbook has no sheet to import.")
        for number, row in enumerate(sheet.iter_rows(max_col=MAX_COLUMNS), start=1):
            if number > MAX_ROWS + 1000:  # blank rows beyond count too: a sheet formatted to row 1,048,576
                raise FileRefused(f"The sheet has more than {MAX_ROWS:,} rows; split it into smaller files.")
            yield number, [_cell_text(cell) for cell in row]
    except FileRefused:
        raise
    except Exception as exc:  # noqa: BLE001 - a damaged sheet part: the file's problem, in words
        raise FileRefused(f"The workbook cannot be read ({exc.__class__.__name__}). Save it again as .xlsx, "
                          "or as CSV (UTF-8).") from None
    finally:
        book.close()
