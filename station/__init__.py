"""Station: a lot-tracking scanner and label-printing station.

The web shell (create_app, get_db) lives in station/app.py. Importing `station` loads nothing else, so a
program for a station PC (the scanner agent, station/agent.py) imports without Flask or SQLAlchemy;
`from station import create_app, get_db` and `flask --app station` still work: the two names are
looked up when first used (PEP 562).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .app import create_app, get_db

__all__ = ["create_app", "get_db"]


def __getattr__(name: str):
    if name in __all__:
        from . import app

        value = getattr(app, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
