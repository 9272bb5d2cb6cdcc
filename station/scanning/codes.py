"""Station's own barcodes (LOT:, LOC:, OPR:, CMD:): defined once in labels/codes.py, re-exported here
for the scanning code and the rest of station/."""
from __future__ import annotations

from labels.codes import (
    AIM_PATTERN,
    COMMAND_PREFIX,
    COMMANDS,
    LOCATION_PREFIX,
    LOT_PREFIX,
    OPERATOR_PREFIX,
    PREFIXES,
    Command,
    badge_code,
    browser_codes,
    command_code,
    command_of,
    handled_by_the_page,
    location_code,
    lot_code,
    split_station_code,
    without_aim,
)

__all__ = [
    "AIM_PATTERN", "COMMAND_PREFIX", "COMMANDS", "LOCATION_PREFIX", "LOT_PREFIX", "OPERATOR_PREFIX", "PREFIXES",
    "Command", "badge_code", "browser_codes", "command_code", "command_of", "location_code", "lot_code",
    "handled_by_the_page", "split_station_code", "without_aim",
]
