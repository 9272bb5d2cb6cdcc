"""What a worker types or scans into a workflow, made fit to use: a quantity from the keypad, a code
without the invisible characters a keyboard-wedge scanner adds. No Flask: steps and pages share it."""
from __future__ import annotations

import unicodedata

from .. import quantities
from ..models import Item, Lot
from ..services.errors import Invalid
from ..services.stock import require_positive

MAX_QTY = quantities.MAX_QTY


def clean_scan(raw: str | None) -> str:
    """A scanned or typed value without control or format characters and surrounding whitespace.

    Keyboard-wedge scanners can add CR/LF/Tab, a GS separator or invisible prefixes; none of
    them belongs in a lot number or location code. (Not for GS1 element strings: there GS
    separates fields, and the scan parser must see it.)
    """
    text = "".join(c for c in (raw or "") if unicodedata.category(c) not in ("Cc", "Cf"))
    return text.strip()


def parse_qty(text: str | None, what: str = "quantity", *, of: Item | Lot | None = None,
              zero: bool = False) -> quantities.Qty | None:
    """A typed quantity ("12", "12.35" or "12,35": the keypad's separator is the site's) > 0, or 0 and
    more with `zero`; None for nothing typed. With `of` (the item, or a lot of it) more decimals than the
    item is counted in are refused here, by the services' own check, before anything is booked.
    Invalid in words for anything else."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        value = quantities.parse(text, what=f"The {what}")
    except quantities.QuantityError as exc:
        raise Invalid(str(exc), code="invalid_qty") from None
    if value > MAX_QTY or (value == 0 and not zero):
        low = "0 or more" if zero else "greater than 0"
        raise Invalid(f"The {what} must be a number {low}, at most {MAX_QTY:,} (got {text[:12]!r}).",
                      code="invalid_qty")
    return value if value == 0 else require_positive(value, what, of=of)


def parse_count(text: str | None, what: str) -> int | None:
    """A typed whole number > 0 (copies of a label): None for nothing typed, else Invalid in words."""
    text = (text or "").strip()
    if not text:
        return None
    if not (text.isascii() and text.isdigit()) or not 0 < int(text) <= MAX_QTY:
        raise Invalid(f"The {what} must be a whole number greater than 0 (got {text[:12]!r}).",
                      code="invalid_qty")
    return int(text)


def said(value: object, decimals: int | None, unit: str) -> str:
    """A quantity as a banner says it, in the item's decimals and unit, as the page beside it writes
    it: "12.350 kg", "40 ea"."""
    value = held(value)
    return f"? {unit}" if value is None else quantities.said(value, decimals, unit)


def held(value: object) -> quantities.Qty | None:
    """A quantity kept in a workflow's state: JSON keeps a Decimal as its decimal string ("12.35"), so
    it is read back exactly here; None when there is none (or it is not a quantity any more)."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        return quantities.parse(value)
    except quantities.QuantityError:
        return None
