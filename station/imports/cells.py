"""One row of an import file, read cell by cell: each cell parsed, or a problem in words for its row and column.

A cell that cannot be read adds a `Problem` ("row 7, expiry: 30 February 2027 is not a date") and gives
None, so a kind's check reads every cell of a row and reports all that is wrong with it at once.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from labels.gs1 import check_digit

from .. import quantities
from ..services import dates

CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")  # as services/catalog.py's codes
ISO_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
DOTTED_DATE = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$")  # 31.12.2027, as much of Europe writes it
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")
MAX_CELL = 1000  # characters in one cell; a longer one is a pasted mistake
SEPARATORS = re.compile(r"[\s;]+")  # between the GTINs (or SSCCs) of one cell


@dataclass(frozen=True)
class Problem:
    """What is wrong, where: `row` is the spreadsheet's row number (the header is row 1), None for the file."""

    row: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        where = ", ".join(part for part in (f"row {self.row}" if self.row else None, self.column) if part)
        return f"{where}: {self.message}" if where else self.message


@dataclass(frozen=True)
class Row:
    number: int  # as the spreadsheet shows it: the header is row 1, the first data row 2
    cells: dict[str, str]  # column name -> trimmed text ("" when empty)


class Cells:
    """Reads one row's cells; every unreadable cell is added to `problems` and read as None."""

    def __init__(self, row: Row, problems: list[Problem]) -> None:
        self.row = row
        self.problems = problems
        self.found = 0  # problems this row added

    @property
    def ok(self) -> bool:
        return self.found == 0

    def problem(self, column: str | None, message: str) -> None:
        self.problems.append(Problem(self.row.number, column, message))
        self.found += 1

    def raw(self, column: str) -> str:
        return self.row.cells.get(column, "")

    def text(self, column: str, *, max_len: int, required: bool = False, what: str | None = None) -> str | None:
        """Plain text: spaces inside squeezed to one; no control characters."""
        value = " ".join(self.raw(column).split())
        if not value:
            if required:
                self.problem(column, f"the {what or column.replace('_', ' ')} is missing")
            return None
        if any(ord(c) < 32 or ord(c) == 127 for c in value):
            self.problem(column, "has control characters (tab, line break …); type it again as plain text")
            return None
        if len(value) > max_len:
            self.problem(column, f"is {len(value)} characters long; at most {max_len}")
            return None
        return value

    def code(self, column: str, *, max_len: int, required: bool = False) -> str | None:
        """A code (SKU, location, supplier …): letters, digits and . _ / - , starting with a letter or digit."""
        value = self.raw(column)
        if not value:
            if required:
                self.problem(column, f"the {column.replace('_', ' ')} is missing")
            return None
        if len(value) > max_len or not CODE.match(value):
            shown = value if len(value) <= 60 else value[:57] + "…"
            self.problem(column, f"{shown!r} is not a code: 1–{max_len} letters, digits or . _ / - "
                                 f"(starting with a letter or digit)")
            return None
        return value

    def whole(self, column: str, *, low: int, high: int, required: bool = False,
              what: str = "a whole number") -> int | None:
        """A whole number from `low` to `high` ("12", "12.0" from a spreadsheet; never "12.5" or "1e3")."""
        value = self.raw(column)
        if not value:
            if required:
                self.problem(column, f"the {column.replace('_', ' ')} is missing")
            return None
        text = value[:-2] if value.endswith(".0") else value
        if not re.fullmatch(r"[+-]?\d{1,12}", text):
            shown = value if len(value) <= 30 else value[:27] + "…"
            self.problem(column, f"{shown!r} is not {what}")
            return None
        number = int(text)
        if number < low:
            self.problem(column, "must be more than 0" if low == 1 else f"must be {low} or more (got {number})")
            return None
        if number > high:
            self.problem(column, f"must be at most {high:,} (got {number:,})")
            return None
        return number

    def qty(self, column: str = "qty", high: int = 1_000_000_000, item=None) -> quantities.Qty | None:
        """A quantity greater than 0 and at most `high` ("12.35" or "12,35"; a spreadsheet's "12.0" is 12),
        with no more decimals than `item` (when given) is counted in: never rounded."""
        value = self.raw(column)
        if not value:
            self.problem(column, f"the {column.replace('_', ' ')} is missing")
            return None
        try:
            number = quantities.parse(value.removeprefix("-"))
        except quantities.QuantityError:
            shown = value if len(value) <= 30 else value[:27] + "…"
            self.problem(column, f"{shown!r} is not a quantity: write it like 12 or 12.35")
            return None
        if item is not None and number:
            try:
                quantities.for_item(number, item.qty_decimals, item.unit, what="the quantity")
            except quantities.QuantityError as exc:
                self.problem(column, str(exc).rstrip("."))
                return None
        if number <= 0 or value.startswith("-"):
            self.problem(column, "must be more than 0")
            return None
        if number > high:
            self.problem(column, f"must be at most {high:,}")
            return None
        return number

    def date(self, column: str, *, required: bool = False) -> dt.date | None:
        """A date as 2027-03-31 (or 31.03.2027); a day the calendar has not, in words."""
        value = self.raw(column)
        if not value:
            if required:
                self.problem(column, f"the {column.replace('_', ' ')} is missing")
            return None
        iso, dotted = ISO_DATE.match(value), DOTTED_DATE.match(value)
        if not iso and not dotted:
            shown = value if len(value) <= 30 else value[:27] + "…"
            self.problem(column, f"{shown!r} is not a date: write it as YYYY-MM-DD, e.g. 2027-03-31")
            return None
        year, month, day = (int(g) for g in iso.groups()) if iso else reversed([int(g) for g in dotted.groups()])
        if not 1 <= month <= 12:
            self.problem(column, f"{value!r} is not a date: there is no month {month}")
            return None
        try:
            return dt.date(year, month, day)
        except ValueError:
            self.problem(column, f"{day} {MONTHS[month - 1]} {year} is not a date")
            return None

    def expiry(self, column: str, today: dt.date) -> dt.date | None:
        day = self.date(column)
        first, last = dates.expiry_window(today)
        if day is not None and not first <= day <= last:
            self.problem(column, f"{day.isoformat()} is not a believable expiry date "
                                 f"(from {first.isoformat()} to {last.isoformat()})")
            return None
        return day

    def produced(self, column: str, today: dt.date) -> dt.date | None:
        day = self.date(column)
        first, last = dates.produced_window(today)
        if day is not None and day > last:
            self.problem(column, f"{day.isoformat()} is in the future: goods are not made tomorrow")
            return None
        if day is not None and day < first:
            self.problem(column, f"{day.isoformat()} is before {first.year}: not a real production date")
            return None
        return day

    def choice(self, column: str, options: dict[str, object], *, default=None):
        """One of `options` (by its key, in any case); `default` when empty."""
        value = self.raw(column)
        if not value:
            return default
        for key, option in options.items():
            if key.lower() == value.lower():
                return option
        shown = value if len(value) <= 30 else value[:27] + "…"
        self.problem(column, f"{shown!r} is not one of: {', '.join(options)}")
        return None

    def via(self, column: str, clean, *, required: bool = False):
        """The cell through a service's own check (`clean(text)`), its refusal in the service's words."""
        from ..services.errors import DomainError

        value = self.raw(column)
        if not value:
            if required:
                self.problem(column, f"the {column.replace('_', ' ')} is missing")
            return None
        try:
            return clean(value)
        except DomainError as exc:
            self.problem(column, exc.message)
            return None

    def gs1_numbers(self, column: str, what: str, lengths: tuple[int, ...]) -> list[str] | None:
        """GTINs, SSCCs or GLNs (several separated by spaces or ;), each with its check digit checked."""
        numbers = [n for n in SEPARATORS.split(self.raw(column)) if n]
        for number in numbers:
            problem = gs1_problem(number, what, lengths)
            if problem:
                self.problem(column, problem)
                return None
        return list(dict.fromkeys(numbers))


def gs1_problem(number: str, what: str, lengths: tuple[int, ...]) -> str | None:
    """What is wrong with a GTIN, SSCC or GLN in words ("check digit should be 7"), or None."""
    shown = number if len(number) <= 30 else number[:27] + "…"
    if not number.isascii() or not number.isdigit():
        return f"{what} {shown!r} has characters that are not digits"
    if len(number) not in lengths:
        return f"{what} {shown} has {len(number)} digits; a {what} has {' or '.join(map(str, lengths))}"
    expected = check_digit(number[:-1])
    if number[-1] != expected:
        return f"{what} {number}: check digit should be {expected}"
    return None


def gtin14(number: str) -> str:
    """A checked GTIN-8/12/13/14 as the 14 digits Station stores."""
    return number.zfill(14)
