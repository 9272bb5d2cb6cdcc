"""Station's own barcodes, defined once: one clear scheme for what we print ourselves.

    LOT:<lot number>     a lot label's internal code (items without a GTIN; GS1 labels carry (10))
    LOC:<location code>  a location label (locations.barcode holds the whole string)
    OPR:<badge>          an operator badge
    CMD:<COMMAND>        a command barcode: CONFIRM, CANCEL, UNDO, NEXT, REPRINT

Prefixes are three capital letters and a colon, which no GS1 element string, GTIN or SSCC
(digits, or "(" / "]" / a URI) can start with, so they never collide with supplier labels.

This module is the only place the scheme is written. labels/ (the templates) and station/ (the
resolver, the views, and through base.html's data attributes station.js) all take it from here;
it imports nothing from either, so both may import it.
"""
from __future__ import annotations

import enum
import re

LOT_PREFIX = "LOT:"
LOCATION_PREFIX = "LOC:"
OPERATOR_PREFIX = "OPR:"
COMMAND_PREFIX = "CMD:"

PREFIXES = (LOT_PREFIX, LOCATION_PREFIX, OPERATOR_PREFIX, COMMAND_PREFIX)

# A scanner's AIM symbology identifier in front of the data: "]C0", "]d2", "]Q1".
AIM_PATTERN = r"\][A-Za-z][0-9A-Za-z]"


class Command(str, enum.Enum):
    CONFIRM = "CONFIRM"
    CANCEL = "CANCEL"
    UNDO = "UNDO"
    NEXT = "NEXT"
    REPRINT = "REPRINT"


COMMANDS = tuple(c.value for c in Command)


def lot_code(lot_number: str) -> str:
    return LOT_PREFIX + lot_number


def location_code(code: str) -> str:
    return LOCATION_PREFIX + code


def badge_code(badge: str) -> str:
    return OPERATOR_PREFIX + badge


def command_code(command: Command | str) -> str:
    return COMMAND_PREFIX + Command(command).value


def split_station_code(text: str) -> tuple[str, str] | None:
    """(prefix, value) when `text` is one of our codes, else None.

    The prefix is matched in any case ("lot:" from a wedge with Caps Lock on); the value is kept as
    scanned, without surrounding spaces.
    """
    head = text[: len(LOT_PREFIX)].upper()
    if head in PREFIXES:
        return head, text[len(head):].strip()
    return None


# A command barcode, with or without an AIM prefix, in any case (station.js builds the same from
# base.html's data-code-* attributes).
COMMAND_SCAN = re.compile(
    rf"^(?:{AIM_PATTERN})?{re.escape(COMMAND_PREFIX)}({'|'.join(COMMANDS)})\s*$", re.IGNORECASE
)


def command_of(code: str | None) -> str | None:
    """"confirm", "cancel", … when `code` is a command barcode (CMD:CONFIRM, with or without an AIM
    prefix, any case), else None."""
    match = COMMAND_SCAN.match(code or "")
    return match.group(1).lower() if match else None


_AIM_AT_START = re.compile(AIM_PATTERN)


def without_aim(code: str) -> str:
    """`code` without a leading AIM symbology identifier (]C0, ]d2, ]Q3 …) a scanner may put before it."""
    match = _AIM_AT_START.match(code)
    return code[match.end():] if match else code


def handled_by_the_page(code: str) -> bool:
    """A command or an operator badge: the page acts on it (presses its button, signs in), wherever the
    scan came from — the workflow a scan is applied to never sees one."""
    parsed = split_station_code(without_aim(code).strip())
    return parsed is not None and parsed[0] in (COMMAND_PREFIX, OPERATOR_PREFIX)


def browser_codes() -> dict[str, str]:
    """What station.js needs to tell commands and badges from other scans, as <body> data attributes
    (data-code-command-prefix, data-code-commands, data-code-operator-prefix, data-code-aim)."""
    return {
        "data-code-command-prefix": COMMAND_PREFIX,
        "data-code-commands": " ".join(COMMANDS),
        "data-code-operator-prefix": OPERATOR_PREFIX,
        "data-code-aim": AIM_PATTERN,
    }
