"""pyserial settings from a device URL's options: one reading for serial scanners and serial printers."""
from __future__ import annotations

import serial

_BOOL = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}
FLAGS = ("rtscts", "xonxoff", "dsrdtr", "exclusive")

# The URL options pyserial_settings reads, with their help text (a backend adds its own).
SERIAL_OPTIONS = {
    "baudrate": "bits per second, default 9600",
    "bytesize": "5-8, default 8",
    "parity": "N, E, O, M or S, default N",
    "stopbits": "1, 1.5 or 2, default 1",
    "rtscts": "0 or 1 (hardware flow control)",
    "xonxoff": "0 or 1 (software flow control)",
    "dsrdtr": "0 or 1",
    "exclusive": "1 (default) locks the port against other programs, 0 does not",
}


def pyserial_settings(options: dict[str, str]) -> dict[str, object]:
    """Keyword arguments for serial.Serial from URL options (baudrate, bytesize, parity, stopbits and
    the FLAGS as 0/1); ValueError saying what is wrong for a value pyserial would not take."""
    settings: dict[str, object] = {}
    try:
        settings["baudrate"] = int(options.get("baudrate", "9600"))
        settings["bytesize"] = int(options.get("bytesize", "8"))
        stopbits = float(options.get("stopbits", "1"))
    except ValueError:
        raise ValueError("baudrate, bytesize and stopbits are numbers") from None
    settings["parity"] = options.get("parity", "N").upper()
    settings["stopbits"] = int(stopbits) if stopbits.is_integer() else stopbits
    for key in FLAGS:
        if key in options:
            if options[key].lower() not in _BOOL:
                raise ValueError(f"{key} is 0 or 1")
            settings[key] = _BOOL[options[key].lower()]
    if (settings["baudrate"] <= 0 or settings["bytesize"] not in serial.Serial.BYTESIZES  # type: ignore[operator]
            or settings["parity"] not in serial.Serial.PARITIES
            or settings["stopbits"] not in serial.Serial.STOPBITS):
        raise ValueError("unsupported baudrate, bytesize, parity or stopbits")
    return settings
