"""One exception family for every device: printers and scanners raise subclasses of DeviceError."""
from __future__ import annotations


class DeviceError(Exception):
    """Base of every error a device raises."""


class DeviceURLError(DeviceError, ValueError):
    """A device URL that cannot be used; the message names the expected URL form."""
