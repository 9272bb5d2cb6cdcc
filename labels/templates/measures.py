"""Quantities on labels: exact amounts from label data, and the GS1 net measure (310n, 320n, 315n...) of one.

A quantity arrives as the station wrote it for the label: a decimal string padded to the item's precision
("12.350"), or an int or Decimal from code that calls a template directly. It is read exactly (a Fraction,
never a float), and how many decimals it is written with is kept: that is the precision the label shows,
and the number of decimals (n) its net measure AI is given when that fits GS1's six digits.
"""

from __future__ import annotations

import re
from decimal import Decimal
from fractions import Fraction

# Units of measure: (GS1 AI prefix of the net measure in its base unit, how many base units one is, caption).
# A GS1 net weight is in kg (310n) or lb (320n): grams and tonnes are said in kg, ounces in pounds (16 oz to
# the pound exactly; a kg figure of an ounce would not be exact). Any unit not here is a count unit, whose
# quantity a pallet label carries as AI 37; 40 kg of flour in 25 kg sacks is never "COUNT 40".
MEASURES: dict[str, tuple[str | None, Fraction, str]] = {
    "kg": ("310", Fraction(1), "NET WEIGHT"), "g": ("310", Fraction(1, 1000), "NET WEIGHT"),
    "t": ("310", Fraction(1000), "NET WEIGHT"), "mg": ("310", Fraction(1, 10**6), "NET WEIGHT"),
    "lb": ("320", Fraction(1), "NET WEIGHT"), "oz": ("320", Fraction(1, 16), "NET WEIGHT"),
    "l": ("315", Fraction(1), "NET VOLUME"), "ml": ("315", Fraction(1, 1000), "NET VOLUME"),
    "cl": ("315", Fraction(1, 100), "NET VOLUME"), "m3": ("316", Fraction(1), "NET VOLUME"),
    "m": ("311", Fraction(1), "LENGTH"), "cm": ("311", Fraction(1, 100), "LENGTH"),
    "mm": ("311", Fraction(1, 1000), "LENGTH"), "m2": ("314", Fraction(1), "AREA"),
}
WEIGHT_AIS = ("310", "320")
MAX_DECIMALS = 5  # a GS1 measure AI's last digit: 0 to 5 decimals in its six digits
_AMOUNT = re.compile(r"(\d{1,15})(?:\.(\d{1,6}))?")


def measure_of(unit: str | None) -> tuple[str | None, Fraction, str] | None:
    """The unit's measure (see MEASURES), or None for a count unit (ea, case, sack, cup, box...)."""
    key = (unit or "").strip().lower().replace("²", "2").replace("³", "3").rstrip(".")
    return MEASURES.get(key)


def amount(value: object, key: str = "quantity") -> tuple[Fraction, int]:
    """An exact quantity 0 or more and the number of decimals it is written with ("12.350" -> 3).

    A float is refused: its binary fraction is not the quantity the station booked."""
    if isinstance(value, Decimal) and value.is_finite():
        written = format(value, "f")
    elif isinstance(value, (int, str)) and not isinstance(value, bool):
        written = str(value).strip()
    else:
        written = None
    match = _AMOUNT.fullmatch(written or "")
    if match is None:
        raise ValueError(f"{key!r} must be a number like 40 or 12.350, got {value!r}")
    return Fraction(written), len(match.group(2) or "")


def in_words(amount_text: str, data: dict) -> str:
    """An amount as `written` put it, for people: with a decimal comma when the label data asks for one
    (`decimal_comma`: true, the site's locale). The barcodes always carry the digits alone."""
    return amount_text.replace(".", ",") if data.get("decimal_comma") is True else amount_text


def written(value: Fraction, decimals: int) -> str:
    """An exact amount with `decimals` decimals, as `amount` read it: written(Fraction(247, 20), 3) == "12.350"."""
    whole, rest = divmod(value * 10**decimals, 1)
    if rest:
        raise ValueError(f"{value} cannot be written with {decimals} decimals")
    digits = str(int(whole)).rjust(decimals + 1, "0")
    return f"{digits[:-decimals]}.{digits[-decimals:]}" if decimals else digits


def _decimals_needed(value: Fraction) -> int | None:
    """The fewest decimals that write `value` exactly, or None when more than MAX_DECIMALS would be needed."""
    for n in range(MAX_DECIMALS + 1):
        if (value * 10**n).denominator == 1:
            return n
    return None


def net_measure(unit: str | None, value: Fraction, decimals: int | None = None) -> tuple[str, str] | None:
    """The GS1 net measure of `value` `unit`s as (AI, six digits), e.g. ("3103", "012345") for 12.345 kg.

    With `decimals` (how many the quantity is written with in `unit`) the AI keeps that precision in its
    own unit (12.350 kg: 3103 012350; 1234 g: 3103 001234), and gives it up, down to what the value needs
    to stay exact, when six digits are too few. None when the unit has no measure AI or the value cannot
    be written exactly in six digits: a barcode never carries a rounded measure.
    """
    measure = measure_of(unit)
    if measure is None or measure[0] is None:
        return None
    prefix, factor, _ = measure
    value = value * factor
    exact = _decimals_needed(value)
    if exact is None:
        return None
    start = exact
    if decimals is not None:  # the item's precision in the AI's unit: 0 g is 3 decimals of kg, 0 oz 4 of lb
        step = _decimals_needed(factor / Fraction(10) ** decimals)
        start = max(exact, MAX_DECIMALS if step is None else step)
    for n in range(min(start, MAX_DECIMALS), exact - 1, -1):
        scaled = value * 10**n
        if scaled <= 999_999:
            return f"{prefix}{n}", f"{int(scaled):06d}"
    return None
