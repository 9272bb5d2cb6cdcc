"""What a kind of import is: its columns (with the template's example row), a check that turns rows into
records or problems, and a writer that writes the records through the domain services."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..services.actor import Actor
from .cells import Problem, Row


@dataclass(frozen=True)
class Column:
    name: str
    example: str
    required: bool = False
    note: str = ""  # shown on the page under the template link


@dataclass
class Checked:
    """A kind's check: the records to write (one per row, or per order …) and every problem found."""

    records: list[Any] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


@dataclass(frozen=True)
class Kind:
    name: str  # "items", as on the command line
    title: str  # "Items", as on the page
    columns: tuple[Column, ...]
    check: Callable[[Session, list[Row], dt.date], Checked]
    write: Callable[[Session, list[Any], Actor, dt.date], int]  # returns how many records it wrote
    preview: Callable[[Any], tuple[str, ...]]  # a record as the preview table shows it
    preview_header: tuple[str, ...]
    refused_columns: dict[str, str] = field(default_factory=dict)  # column -> why a file with it is refused
    unit: str = "rows"  # what a record is: "items", "lots", "orders" …

    @property
    def names(self) -> set[str]:
        return {c.name for c in self.columns}


class RowFailed(Exception):
    """A record the writer could not write (a service refused it): the row's problem; the import rolls back."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


def codes(session: Session, column) -> dict[str, int]:
    """code -> id of every row of `column`'s table (a lookup made once per import, not once per row)."""
    table = column.table
    return dict(session.execute(select(column, table.c.id)).all())


def lower_codes(session: Session, column) -> set[str]:
    return {value.lower() for value in session.scalars(select(column)) if value}


def twice(seen: dict, key, number: int, cells, column: str, shown: str) -> bool:
    """Whether `key` was on an earlier row (then the problem names both rows); remembers this row."""
    first = seen.get(key)
    if first is not None:
        cells.problem(column, f"{shown} is twice in the file (rows {first} and {number})")
        return True
    seen[key] = number
    return False
