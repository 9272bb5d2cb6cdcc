"""URL option parsing shared by the printer backends: every refusal names the options and an example URL."""
from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from devices.printers.base import PrinterURLError

_BOOL = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False}


def parse_options(url: str, allowed: dict[str, str], example: str) -> dict[str, str]:
    """Return the URL's query options, refusing unknown or repeated ones with the expected URL form."""
    options: dict[str, str] = {}
    for key, value in parse_qsl(urlsplit(url).query, keep_blank_values=True):
        if key not in allowed:
            raise PrinterURLError(f"unknown option {key!r} in {url!r}; {describe(allowed)}; e.g. {example}")
        if key in options:
            raise PrinterURLError(f"option {key!r} given twice in {url!r}; e.g. {example}")
        options[key] = value
    return options


def describe(allowed: dict[str, str]) -> str:
    """The known options in words, for error messages."""
    if not allowed:
        return "this printer takes no options"
    return "known options: " + ", ".join(f"{k} ({v})" for k, v in allowed.items())


def seconds(url: str, options: dict[str, str], key: str, default: float, example: str) -> float:
    """A positive number of seconds from options[key], or default."""
    raw = options.get(key)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value <= 3600:
        raise PrinterURLError(f"option {key}={raw!r} in {url!r} is not a number of seconds "
                              f"between 0 and 3600; e.g. {example}")
    return value


def flag(url: str, options: dict[str, str], key: str, default: bool, example: str) -> bool:
    """A yes/no option (1/0, true/false, yes/no, on/off), or default."""
    raw = options.get(key)
    if raw is None:
        return default
    try:
        return _BOOL[raw.lower()]
    except KeyError:
        raise PrinterURLError(f"option {key}={raw!r} in {url!r} must be 1 or 0; e.g. {example}") from None
