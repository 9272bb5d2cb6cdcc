"""Row ids and other whole numbers that come from outside: URL paths, query strings, forms.

Every id column is an INTEGER (32 bits on PostgreSQL, see migrations/), and PostgreSQL refuses a bind
parameter beyond its column's range with an error (SQLite beyond 64 bits with an OverflowError): a URL
like ``/print-jobs/18446744073709551616`` or a cursor of thirty digits used to answer 500. Whatever comes from outside is checked here first, so a number
out of range is a refusal in words (a 404 "no such print job" for a path, a 400 for a query or form
value) and never reaches the database.

- ``IdConverter`` replaces Flask's ``int`` converter (station/app.py registers it before any
  route): every ``<int:…>`` rule matches 1 .. MAX_ID only, and a longer number is "no such …".
- ``parse_id`` reads a query or form value: None when absent, a ``BadNumber`` (an ``Invalid``) in
  words when it is not a whole number in range.
- ``Id`` is the pydantic type for ids and cursors in the API's query strings and bodies.
"""
from __future__ import annotations

from typing import Annotated

from pydantic import Field
from werkzeug.exceptions import NotFound
from werkzeug.routing import IntegerConverter, Rule

from .services.errors import Invalid

# The largest id a row can have: the id columns are INTEGER, 32 bits on PostgreSQL (SQLite's are 64, so
# this is the tighter of the two). Raise it with a migration to BIGINT, never alone.
MAX_ID = 2**31 - 1
MAX_DIGITS = len(str(MAX_ID))  # 10

Id = Annotated[int, Field(ge=1, le=MAX_ID)]

# What an id in a path names, by the rule's variable; anything else: its name without "_id".
_NAMES = {"job_id": "print job", "run_id": "production run", "movement_id": "pick", "printer_id": "printer",
          "component_id": "component", "line_no": "order line"}


def thing(variable: str) -> str:
    return _NAMES.get(variable) or variable.removesuffix("_id").removesuffix("_no").replace("_", " ")


class IdOutOfRange(NotFound):
    """A path id no row can have: 404, with the thing it would name."""

    def __init__(self, what: str, raw: str) -> None:
        shown = raw if len(raw) <= 40 else raw[:37] + "…"
        self.what, self.raw = what, raw
        super().__init__(f"There is no {what} {shown}: ids are whole numbers from 1 to {MAX_ID}.")


class IdConverter(IntegerConverter):
    """``<int:name>`` that matches only ids a row can have (1 .. MAX_ID); others are "no such …"."""

    def __init__(self, map, *args, variable: str = "id", **kwargs) -> None:  # noqa: A002 - werkzeug's name
        kwargs.setdefault("min", 1)
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)
        self.variable = variable

    def to_python(self, value: str) -> int:
        digits = value.lstrip("0")
        number = int(digits or "0") if len(digits) <= MAX_DIGITS else None  # never int() of a 5000-digit path
        if number is None or (self.min is not None and number < self.min) or (self.max is not None
                                                                              and number > self.max):
            # Not a ValidationError (which would try other rules and end in a bare 404): no other rule
            # takes a number in this place, so say what is missing.
            raise IdOutOfRange(thing(self.variable), value)
        return number


class IdRule(Rule):
    """A Rule whose id converters know their variable's name (for the "no such …" message)."""

    def get_converter(self, variable_name, converter_name, args, kwargs):
        cls = self.map.converters.get(converter_name)
        if isinstance(cls, type) and issubclass(cls, IdConverter):
            return cls(self.map, *args, variable=variable_name, **kwargs)
        return super().get_converter(variable_name, converter_name, args, kwargs)


class BadNumber(Invalid):
    """A query or form value that is not a whole number in range (400)."""

    status = 400


def parse_id(raw: str | None, *, what: str, field: str | None = None, low: int = 1, high: int = MAX_ID,
             code: str = "invalid_number", message: str | None = None) -> int | None:
    """`raw` (a query or form value) as a whole number in low..high; None when absent or blank.
    Anything else raises BadNumber naming `what`: "after must be a whole number from 0 to …"."""
    if raw is None:
        return None
    text = raw.strip()
    if not text:
        return None
    number = None
    if text.isascii() and text.isdigit() and len(text.lstrip("0")) <= MAX_DIGITS:
        number = int(text.lstrip("0") or "0")
    if number is None or not low <= number <= high:
        raise BadNumber(message or f"{what} must be a whole number from {low} to {high}, not {_shown(text)}.",
                        code=code, field=field or what)
    return number


def _shown(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:37] + "…")
