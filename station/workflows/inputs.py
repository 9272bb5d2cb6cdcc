"""What a worker types or scans into a workflow, made fit to use: a quantity from the keypad, a code
without the invisible characters a keyboard-wedge scanner adds. No Flask: steps and pages share it."""
from __future__ import annotations

import unicodedata

from ..services.errors import Invalid

MAX_QTY = 100_000_000


def clean_scan(raw: str | None) -> str:
    """A scanned or typed value without control or format characters and surrounding whitespace.

    Keyboard-wedge scanners can add CR/LF/Tab, a GS separator or invisible prefixes; none of
    them belongs in a lot number or location code. (Not for GS1 element strings: there GS
    separates fields, and the scan parser must see it.)
    """
    text = "".join(c for c in (raw or "") if unicodedata.category(c) not in ("Cc", "Cf"))
    return text.strip()


def parse_qty(text: str | None, what: str = "quantity") -> int | None:
    """A typed whole number > 0, or None for nothing typed; DomainError for anything else."""
    text = (text or "").strip()
    if not text:
        return None
    if not text.isdigit() or int(text) <= 0 or int(text) > MAX_QTY:
        raise Invalid(f"The {what} must be a whole number greater than 0 (got {text[:12]!r}).",
                      code="invalid_qty")
    return int(text)
