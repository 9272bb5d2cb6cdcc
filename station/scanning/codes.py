"""Station's own barcodes: one clear scheme for what we print ourselves.

    LOT:<lot number>     a lot label's internal code (items without a GTIN; GS1 labels carry (10))
    LOC:<location code>  a location label (locations.barcode holds the whole string)
    OPR:<badge>          an operator badge
    CMD:<COMMAND>        a command barcode: CONFIRM, CANCEL, UNDO, NEXT, REPRINT

Prefixes are three capital letters and a colon, which no GS1 element string, GTIN or SSCC
(digits, or "(" / "]" / a URI) can start with, so they never collide with supplier labels.
"""
from __future__ import annotations

import enum

LOT_PREFIX = "LOT:"
LOCATION_PREFIX = "LOC:"
OPERATOR_PREFIX = "OPR:"
COMMAND_PREFIX = "CMD:"


class Command(str, enum.Enum):
    CONFIRM = "CONFIRM"
    CANCEL = "CANCEL"
    UNDO = "UNDO"
    NEXT = "NEXT"
    REPRINT = "REPRINT"


def lot_code(lot_number: str) -> str:
    return LOT_PREFIX + lot_number


def location_code(code: str) -> str:
    return LOCATION_PREFIX + code


def badge_code(badge: str) -> str:
    return OPERATOR_PREFIX + badge


def command_code(command: Command) -> str:
    return COMMAND_PREFIX + command.value


PREFIXES = (LOT_PREFIX, LOCATION_PREFIX, OPERATOR_PREFIX, COMMAND_PREFIX)


def split_station_code(text: str) -> tuple[str, str] | None:
    """(prefix, value) when `text` is one of our codes, else None.

    The prefix is matched in any case ("lot:" from a wedge with Caps Lock on); the value is kept as
    scanned, without surrounding spaces.
    """
    head = text[:4].upper()
    if head in PREFIXES:
        return head, text[4:].strip()
    return None
