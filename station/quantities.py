"""Quantities: exact decimals in Python, whole micro-units in the database.

Every quantity column (stock, lots, the ledger, orders, picks, runs, counts, recalls) is a BIGINT of
millionths of the item's unit, read and written through the `Quantity` column type. So:

- arithmetic is exact on both engines (SQLite has no exact decimal type; integers are exact everywhere),
  and the conditional UPDATEs and CHECK constraints that keep stock from going negative work unchanged;
- one scale for every item: sums across items, SQL arithmetic and reports need no per-item factor, and an
  item's precision can be raised later without rewriting a row;
- in Python a whole quantity is an `int` (as it always was) and any other a `Decimal`, never a float:
  `Quantity` refuses floats outright, so a binary fraction can never reach the ledger.

Each item is counted in a unit (`UNITS`) with a number of decimals (0-6, `items.qty_decimals`); input
with more decimals than the item allows is refused with a sentence by `for_item`, never rounded.
"""
from __future__ import annotations

import functools
import json
import re
from contextvars import ContextVar
from decimal import MAX_EMAX, MIN_EMIN, Context, Decimal, InvalidOperation

from sqlalchemy import BigInteger, Integer
from sqlalchemy.sql import operators
from sqlalchemy.types import TypeDecorator

SCALE_DIGITS = 6
SCALE = 10 ** SCALE_DIGITS
MAX_DECIMALS = SCALE_DIGITS
MAX_QTY = 100_000_000  # the largest quantity one request books, in the item's unit
# The largest quantity a column holds: a BIGINT of millionths. A figure beyond it is refused, never wrapped.
MAX_STORED = Decimal(2 ** 63 - 1).scaleb(-SCALE_DIGITS)

# The units an item may be counted in, with the words a page shows. Anything else is a typo.
UNITS = {
    "ea": "each", "pcs": "pieces", "case": "cases", "pack": "packs", "roll": "rolls", "bag": "bags",
    "kg": "kilograms", "g": "grams", "mg": "milligrams", "t": "tonnes", "lb": "pounds", "oz": "ounces",
    "L": "litres", "mL": "millilitres", "m3": "cubic metres",
    "m": "metres", "cm": "centimetres", "mm": "millimetres", "m2": "square metres", "ft": "feet",
    "pc": "pieces", "box": "boxes", "cup": "cups", "sack": "sacks", "bottle": "bottles", "can": "cans",
    "tray": "trays", "crate": "crates", "drum": "drums", "sheet": "sheets", "pallet": "pallets",
}
# Units a variable-measure item can be weighed in, and what one of them is in kilograms (GS1 AI 310n is kg,
# 320n is lb: 1 lb = 0.45359237 kg exactly).
WEIGHTS_KG = {"kg": Decimal(1), "g": Decimal("0.001"), "t": Decimal(1000), "lb": Decimal("0.45359237"),
              "oz": Decimal("0.028349523125")}
# A typed or JSON quantity: digits, at most one decimal point (or comma), no sign, no exponent.
_TEXT = re.compile(r"^\s*(\d{1,15})(?:[.,](\d{1,15}))?\s*$")
_TYPED_LIMIT = 10 ** 15

Qty = int | Decimal


class QuantityError(ValueError):
    """A quantity that is not one: the message is a sentence a worker can act on."""


def normal(value: Qty) -> Qty:
    """An exact quantity in its plainest form: an int when whole, else a Decimal without trailing zeros."""
    if isinstance(value, bool):
        raise TypeError("a quantity is not a truth value")
    if isinstance(value, int):
        return value
    if not isinstance(value, Decimal) or not value.is_finite():
        raise TypeError(f"a quantity is an int or a finite Decimal, not {value!r}")
    if value == value.to_integral_value():
        return int(value)
    return value.normalize(_exact(value))


def _exact(value: Decimal) -> Context:
    """A context with room for every digit of `value`. The default one keeps 28 digits, so normalize()
    and scaleb() would round a longer value (0.99999999999999999999999999999 to 1) instead of keeping it
    for the decimals check to refuse."""
    return Context(prec=max(len(value.as_tuple().digits), 1), Emax=MAX_EMAX, Emin=MIN_EMIN)


def to_micro(value: Qty) -> int:
    """The stored integer: millionths. More than six decimals cannot be stored exactly: refused."""
    number = (isinstance(value, int) and not isinstance(value, bool)) or (
        isinstance(value, Decimal) and value.is_finite())
    if number and abs(value) > MAX_STORED:  # checked before normal(), which makes a whole one an int
        raise QuantityError(f"A quantity of more than {MAX_STORED} cannot be stored.")
    value = normal(value)
    if isinstance(value, int):
        return value * SCALE
    scaled = value.scaleb(SCALE_DIGITS, _exact(value))
    if scaled != scaled.to_integral_value():
        raise QuantityError(f"{value} has more than {MAX_DECIMALS} decimals")
    return int(scaled)


def from_micro(stored: int) -> Qty:
    whole, rest = divmod(stored, SCALE)
    if not rest:
        return whole
    value = Decimal(stored)
    return value.scaleb(-SCALE_DIGITS, _exact(value)).normalize(_exact(value))


def _read(stored) -> Qty | None:
    # int(): PostgreSQL answers a SUM() of BIGINTs as a NUMERIC (a Decimal).
    return None if stored is None else from_micro(int(stored))


def decimals_of(value: Qty) -> int:
    """How many decimals a quantity has (0 for a whole one)."""
    value = normal(value)
    return 0 if isinstance(value, int) else max(0, -value.as_tuple().exponent)


def parse(text: str | int | Decimal, *, what: str = "The quantity") -> Qty:
    """A quantity from what a person typed or a JSON body carried ("12.35", "12,35", 12, Decimal).
    Floats are refused: a JSON body is read with decimals kept exact (see api.core)."""
    if isinstance(text, bool) or isinstance(text, float):
        raise QuantityError(f"{what} must be a number like 12 or 12.35.")
    if isinstance(text, (int, Decimal)):
        if isinstance(text, Decimal) and not text.is_finite():
            raise QuantityError(f"{what} must be a number like 12 or 12.35.")
        value = text
    else:
        match = _TEXT.match(str(text))
        if not match:
            raise QuantityError(f"{what} must be a number like 12 or 12.35, not {str(text)[:40]!r}.")
        whole, fraction = match.groups()
        try:
            value = Decimal(f"{whole}.{fraction or '0'}")
        except InvalidOperation:  # pragma: no cover - the pattern admits only digits
            raise QuantityError(f"{what} must be a number like 12 or 12.35.") from None
    if value < 0:
        raise QuantityError(f"{what} cannot be negative.")
    # As large as fifteen typed digits can be, whichever way it came: a caller's own limit (MAX_QTY) then
    # says what is too much in its words. Checked before normal(): 1E+999999 would take a minute to be an int.
    if value >= _TYPED_LIMIT:
        raise QuantityError(f"{what} is too large to be a quantity.")
    value = normal(value)
    if decimals_of(value) > MAX_DECIMALS:
        raise QuantityError(f"{what} has more than {MAX_DECIMALS} decimals.")
    return value


def check_unit(unit: str) -> str:
    """`unit` if it is one of UNITS, else a QuantityError that lists them."""
    if unit not in UNITS:
        raise QuantityError(f"{unit!r} is not a unit Station knows; use one of: {', '.join(UNITS)}.")
    return unit


def check_decimals(decimals: object) -> int:
    if isinstance(decimals, bool) or not isinstance(decimals, int) or not 0 <= decimals <= MAX_DECIMALS:
        raise QuantityError(f"An item is counted in 0 to {MAX_DECIMALS} decimals (got {decimals!r}).")
    return decimals


def for_item(value: Qty, decimals: int, unit: str, *, what: str = "The quantity") -> Qty:
    """`value` checked against an item counted in `unit` with `decimals` decimals: more is refused."""
    value = normal(value)
    if decimals_of(value) > decimals:
        allowed = "whole numbers" if decimals == 0 else f"at most {decimals} decimal{'s' if decimals > 1 else ''}"
        raise QuantityError(f"{what} {said(value, unit=unit)} has too many decimals: this item is counted in "
                            f"{allowed} of {unit}.")
    return value


def text(value: Qty | None, decimals: int | None = None, *, comma: bool = False) -> str:
    """A quantity as a decimal string: "12.35", "5"; with `decimals`, padded to the item's precision
    ("12.350" for 3); `comma` uses a decimal comma (the site's locale)."""
    if value is None:
        return ""
    value = normal(value)
    if decimals:
        out = f"{Decimal(value):.{decimals}f}" if decimals_of(value) <= decimals else format(value, "f")
    else:
        out = format(value, "f") if isinstance(value, Decimal) else str(value)
    return out.replace(".", ",") if comma else out


# With a decimal comma, thousands are grouped with a narrow no-break space (as ISO 80000 does): a grouping
# point would make 1.250 kg read as either a kilo and a quarter or 1250 kg.
GROUP = {False: ",", True: "\u202f"}

# The site's decimal separator in what people read (banners, sentences, labels). A request sets it from its
# app's setting (and puts it back after); elsewhere (the scanner service has no Flask) it is the process's
# STATION_DECIMAL_COMMA. Machine forms (API, events, CSV, print data) always use a point: text().
_SITE_COMMA: ContextVar[bool | None] = ContextVar("station_decimal_comma", default=None)
use_site_comma = _SITE_COMMA.set
restore_site_comma = _SITE_COMMA.reset


def site_comma() -> bool:
    """Whether people here read 12,35 (the site's STATION_DECIMAL_COMMA)."""
    chosen = _SITE_COMMA.get()
    return _environment_comma() if chosen is None else chosen


@functools.cache
def _environment_comma() -> bool:
    from .config import decimal_comma_setting  # the settings module reads the environment; it sits above this one

    return decimal_comma_setting()


def said(value: Qty, decimals: int | None = None, unit: str | None = None, *, comma: bool | None = None,
         sign: bool = False) -> str:
    """A quantity as people read it: thousands grouped, padded to the item's `decimals`, the site's
    separator (or `comma`), then the unit: "1,200 ea", "12.350 kg", "12,350 kg"; `sign`: "+1.5", "-2"."""
    if type(value) is int:  # most quantities are whole: no Decimal work (every lot a scan answers)
        out = f"{value:+,}" if sign and value > 0 else f"{value:,}"
        if decimals:
            out += "." + "0" * decimals
    else:
        value = normal(value)
        whole, _, fraction = text(abs(value), decimals).partition(".")
        plus = "+" if sign and value > 0 else ""
        out = f"{'-' if value < 0 else plus}{int(whole):,}" + (f".{fraction}" if fraction else "")
    if site_comma() if comma is None else comma:
        out = out.translate(_COMMA_WRITING)
    return f"{out} {unit}" if unit else out


_COMMA_WRITING = str.maketrans({",": GROUP[True], ".": ","})


def json_default(value):
    """json.dumps' `default` for the JSON columns: a Decimal quantity as its decimal string ("12.35")."""
    if isinstance(value, Decimal):
        return text(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def json_dumps(value) -> str:
    """The JSON columns' serializer (db.make_engine); the hash chains encode with the same one."""
    return json.dumps(value, default=json_default)


class Quantity(TypeDecorator):
    """A quantity column: Python int/Decimal in, stored as BIGINT millionths."""

    impl = BigInteger
    cache_ok = True

    class comparator_factory(TypeDecorator.Comparator):
        # A sum or difference of quantities is a quantity: read back and compared in the same millionths
        # (left as BigInteger, `(retrieved + :qty) <= :most` would bind :most unscaled).
        def _adapt_expression(self, op, other_comparator):
            if op in (operators.add, operators.sub):
                return op, self.type
            return super()._adapt_expression(op, other_comparator)

    def load_dialect_impl(self, dialect):
        # SQLite's INTEGER is 64 bits already (and its tables stay as the migrations made them).
        return dialect.type_descriptor(Integer() if dialect.name == "sqlite" else BigInteger())

    def process_bind_param(self, value, dialect):
        return None if value is None else to_micro(value)

    def process_literal_param(self, value, dialect):
        return "NULL" if value is None else str(to_micro(value))

    def result_processor(self, dialect, coltype):
        # _read itself rather than TypeDecorator's wrapper around a process_result_value: one call less per
        # quantity read, and the scan path reads one for every lot it answers.
        impl = self.impl_instance.result_processor(dialect, coltype)
        return _read if impl is None else (lambda value: _read(impl(value)))

    @property
    def python_type(self):
        return Decimal
