"""Bulk import of master data, opening stock, orders and expected receipts (CSV or XLSX).

    station import KIND FILE [--dry-run]      (cli/imports.py)
    /import                                   (views/imports_admin.py, admins)
    the demo site                             (demo/site.py builds its master data through `run`)

Kinds: items, locations, suppliers, customers, operators, opening, orders, expected. Every import is a
check of the whole file first — the header (columns known, required ones there, a PIN column refused) and
then every row — giving a list of problems by row and column in plain words; nothing is written while
there is one. Then everything is written in ONE transaction through the domain services; a refusal of a
service at that point (something the check could not see) is the problem of its row and undoes it all.

No Flask here: the command, the page and the demo share this code.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from .. import clock
from ..services.actor import NOBODY, Actor
from ..services.errors import Invalid
from ..spreadsheet import csv_line
from .base import Kind, RowFailed
from .cells import Problem, Row
from .documents import EXPECTED, ORDERS
from .master import CUSTOMERS, ITEMS, LOCATIONS, OPERATORS, SUPPLIERS
from .opening_stock import OPENING
from .reading import MAX_BYTES, MAX_ROWS, FileRefused, Table, column_name, read  # noqa: F401 - the package's API

KINDS: dict[str, Kind] = {k.name: k for k in (ITEMS, LOCATIONS, SUPPLIERS, CUSTOMERS, OPERATORS, OPENING, ORDERS,
                                              EXPECTED)}
# What a new site imports first: each kind refers only to kinds above it.
ORDER = ("suppliers", "customers", "locations", "operators", "items", "opening", "orders", "expected")


@dataclass
class Result:
    """What an import found (problems) or would write / wrote (records, written)."""

    kind: Kind
    problems: list[Problem] = field(default_factory=list)
    records: list[Any] = field(default_factory=list)
    written: int = 0
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        if self.problems:
            n = len(self.problems)
            return f"{n} problem{'s' if n != 1 else ''} found — nothing was imported."
        if self.dry_run:
            return f"{self._count(len(self.records))} would be imported (dry run: nothing was written)."
        return f"{self._count(self.written)} imported."

    def _count(self, n: int) -> str:
        return f"{n:,} {self.kind.unit if n != 1 else self.kind.unit[:-1]}"


class ImportProblems(Invalid):
    """Raised by `run` when a file has problems (the caller's transaction then writes nothing)."""

    def __init__(self, result: Result) -> None:
        shown = "; ".join(str(p) for p in result.problems[:5])
        more = f" (and {len(result.problems) - 5} more)" if len(result.problems) > 5 else ""
        super().__init__(f"{result.kind.title}: {shown}{more}", code="import_problems")
        self.result = result


def kind_named(name: str) -> Kind:
    kind = KINDS.get((name or "").strip().lower())
    if kind is None:
        raise Invalid(f"There is no import of {name!r}; choose one of {', '.join(ORDER)}.", code="unknown_kind")
    return kind


def header_problems(kind: Kind, columns: list[str]) -> list[Problem]:
    """A PIN column, a column named twice, an unknown column or a required column missing (row 1)."""
    problems = []
    for name in columns:
        if name in kind.refused_columns:
            problems.append(Problem(1, name, kind.refused_columns[name]))
    named = [c for c in columns if c]
    for name in sorted({c for c in named if named.count(c) > 1}):
        problems.append(Problem(1, name, "this column is in the header twice"))
    for name in named:
        if name not in kind.names and name not in kind.refused_columns:
            problems.append(Problem(1, name, f"is not a column of {kind.title.lower()}; the columns are: "
                                             f"{', '.join(c.name for c in kind.columns)}"))
    for column in kind.columns:
        if column.required and column.name not in columns:
            problems.append(Problem(1, column.name, "this column is missing from the header row"))
    return problems


def check(session, kind: Kind, table: Table, today: dt.date | None = None) -> Result:
    """Every problem of the file, or the records it would write; writes nothing."""
    result = Result(kind, problems=header_problems(kind, table.columns) + list(table.problems))
    if any(p.row == 1 for p in result.problems):
        return result  # the rows cannot be read against a wrong header
    if not table.rows:
        result.problems.append(Problem(None, None, "The file has a header but no rows to import."))
        return result
    checked = kind.check(session, table.rows, today or clock.today())
    result.problems += checked.problems
    result.problems.sort(key=lambda p: p.row or 0)
    result.records = checked.records
    return result


def write(session, result: Result, by: Actor = NOBODY, today: dt.date | None = None) -> Result:
    """Write a clean check's records in the caller's transaction; ImportProblems (roll back!) when a
    service refuses one."""
    try:
        result.written = result.kind.write(session, result.records, by, today or clock.today())
    except RowFailed as failed:
        result.problems = [failed.problem]
        raise ImportProblems(result) from None
    return result


def run(session, kind_name: str, table: Table, *, by: Actor = NOBODY, today: dt.date | None = None) -> Result:
    """Check and write in the caller's transaction; ImportProblems when anything is wrong (the caller's
    transaction must then be rolled back: a writer may have written part before a service refused)."""
    result = check(session, kind_named(kind_name), table, today)
    if not result.ok:
        raise ImportProblems(result)
    return write(session, result, by, today)


def import_table(db, kind_name: str, table: Table, *, by: Actor = NOBODY, dry_run: bool = False,
                 today: dt.date | None = None) -> Result:
    """Check, then (unless a dry run) write everything in one transaction of its own; the Result says
    which. A problem anywhere leaves the database as it was."""
    kind = kind_named(kind_name)
    if dry_run:
        with db.read() as session:
            result = check(session, kind, table, today)
            result.dry_run = True
            return result
    try:
        with db.write() as session:
            result = check(session, kind, table, today)
            if not result.ok:
                raise ImportProblems(result)
            return write(session, result, by, today)
    except ImportProblems as refused:
        return refused.result


def table_of(rows: list[dict[str, Any]]) -> Table:
    """Rows made in Python (the demo's) as a file would give them: text cells, row numbers from 2."""
    columns = list(dict.fromkeys(key for row in rows for key in row))

    def text(value) -> str:
        if value is None:
            return ""
        if isinstance(value, dt.date):
            return value.isoformat()
        if isinstance(value, (list, tuple)):
            return ";".join(str(v) for v in value)
        return str(getattr(value, "value", value)).strip()

    return Table(columns=[column_name(c) for c in columns],
                 rows=[Row(n, {column_name(k): text(v) for k, v in row.items() if text(v)})
                       for n, row in enumerate(rows, start=2)])


def template_csv(kind: Kind) -> str:
    """The kind's template: the header and one example row."""
    return csv_line([c.name for c in kind.columns]) + csv_line([c.example for c in kind.columns])
