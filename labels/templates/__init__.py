"""Label templates: functions from plain data (a dict) to a Label layout, no rendering and no I/O.

Each template is `function(data: dict, size: str = ..., dpi: int = ...) -> Label`, registered by name in
TEMPLATES; renderers and the station look templates up there only. To add one, write a module here with
such a function (use `common.Sheet` to place elements and the `common` checks for values that go into
barcodes) and add it to TEMPLATES.

    lot       lot_label       labels.templates.lot
    pallet    pallet_label    labels.templates.pallet
    location  location_label  labels.templates.location
    badge     badge_label     labels.templates.badge
    commands  commands_label  labels.templates.commands
    test      printer_check_label  labels.templates.printer_check  (the printers page's test print)
"""

from __future__ import annotations

from collections.abc import Callable

from labels.layout import Label
from labels.templates.badge import badge_label
from labels.templates.commands import commands_label
from labels.templates.location import location_label
from labels.templates.lot import digital_link, lot_label
from labels.templates.pallet import pallet_label
from labels.templates.printer_check import printer_check_label

# Template name -> function(data, size, dpi) -> Label.
TEMPLATES: dict[str, Callable[..., Label]] = {
    "lot": lot_label,
    "pallet": pallet_label,
    "location": location_label,
    "badge": badge_label,
    "commands": commands_label,
    "test": printer_check_label,
}

__all__ = [
    "TEMPLATES", "badge_label", "commands_label", "digital_link", "location_label", "lot_label", "pallet_label",
    "printer_check_label",
]
