"""The hash chains' definitions: which tables are chained, and what a row's hash is (the canonical
encoding of its content, and the link to the row before it). services/chain.py says why and how.
A migration may use these (0011 hashes the rows that existed before the chains, with its own columns).
"""
from __future__ import annotations

import datetime as dt
import enum
import hashlib
import json
from typing import Any, Iterable, Mapping

from sqlalchemy import JSON, Boolean, Date, DateTime, Integer, LargeBinary, Table
from sqlalchemy.engine import Connection

from ..models import ChainHead, LotEvent, Movement, RecallEvent, Scan
from ..quantities import Quantity, from_micro, json_dumps, normal


GENESIS = "0" * 64  # the "previous hash" of a chain's first row
VERSION = "station-chain/1"
# The order heads are locked in when one flush writes several chains (the scan log comes first).
CHAINS = ("scans", "movements", "lot_events", "recall_events")
RANK = {name: i for i, name in enumerate(CHAINS)}
MODELS = {"scans": Scan, "movements": Movement, "lot_events": LotEvent, "recall_events": RecallEvent}
HEADS: Table = ChainHead.__table__
SKIPPED = ("id", "chain_hash")


def column_kinds(table: Table) -> tuple[tuple[str, str], ...]:
    """(column name, kind) for every hashed column of `table`; kind picks the encoding."""
    kinds = []
    for column in table.columns:
        if column.name in SKIPPED:
            continue
        t = column.type
        if isinstance(t, JSON):
            kind = "json"
        elif isinstance(t, LargeBinary):
            kind = "bytes"
        elif isinstance(t, DateTime):
            kind = "datetime"
        elif isinstance(t, Date):
            kind = "date"
        elif isinstance(t, Boolean):
            kind = "bool"
        elif isinstance(t, Quantity):
            kind = "qty"
        elif isinstance(t, Integer):
            kind = "int"
        else:
            kind = "str"  # String, Text, Enum (by value)
        kinds.append((column.name, kind))
    return tuple(kinds)


KINDS = {name: column_kinds(model.__table__) for name, model in MODELS.items()}


def _odd(value: Any) -> dict:
    """A value of the wrong type for its column (only a hand-edited row has one): never equal to a
    normal encoding, so such a row fails its content check instead of crashing the walk."""
    return {"?": type(value).__name__, "r": repr(value)}


def _datetime(value: dt.datetime, naive_wall: bool) -> str:
    if value.tzinfo is not None:
        # SQLite keeps the wall time it is given (SQLAlchemy drops the offset); PostgreSQL the instant.
        value = value.replace(tzinfo=None) if naive_wall else value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value.isoformat(timespec="microseconds")


def _encode(kind: str, value: Any, naive_wall: bool, stored: bool) -> Any:
    """One column's canonical value. `stored`: `value` is as read from the database with no type
    processing (SQLite: text for datetimes, 0/1 for booleans; JSON columns as their text)."""
    if kind == "str":
        if isinstance(value, enum.Enum):
            value = value.value
        return value if isinstance(value, str) else _odd(value)
    if kind == "int":
        return value if isinstance(value, int) and not isinstance(value, bool) else _odd(value)
    if kind == "qty":
        # Hashed by its value, as the whole number it was before quantities had decimals: 5, or "12.35".
        if stored and isinstance(value, int) and not isinstance(value, bool):
            value = from_micro(value)
        try:
            value = normal(value)
        except TypeError:
            return _odd(value)
        return value if isinstance(value, int) else str(value)
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        return _odd(value)
    if kind == "datetime":
        if isinstance(value, str):
            try:
                value = dt.datetime.fromisoformat(value)
            except ValueError:
                return _odd(value)
        return _datetime(value, naive_wall) if isinstance(value, dt.datetime) else _odd(value)
    if kind == "date":
        if isinstance(value, str):
            try:
                value = dt.date.fromisoformat(value)
            except ValueError:
                return _odd(value)
        if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
            return _odd(value)
        return value.isoformat()
    if kind == "bytes":
        return bytes(value).hex() if isinstance(value, (bytes, bytearray, memoryview)) else _odd(value)
    if kind == "json":
        try:
            # Before the INSERT: the value goes through json.dumps (SQLAlchemy's serializer) and is
            # read back through json.loads; stored: the column's text.
            text = value if stored else json_dumps(value)
            return ["j", json.loads(text)] if isinstance(text, str) else ["?", repr(text)]
        except (TypeError, ValueError):
            return ["?", repr(value)]
    return _odd(value)


def canonical(table: str, values: Mapping[str, Any], naive_wall: bool, stored: bool = False,
              kinds: Iterable[tuple[str, str]] | None = None) -> bytes:
    """The canonical document of a row's content (NULLs left out). `kinds`: the hashed columns (default:
    the model's; a migration passes the columns of its own revision)."""
    doc = {}
    for name, kind in (KINDS[table] if kinds is None else kinds):
        value = values.get(name)
        if value is None:
            continue
        encoded = _encode(kind, value, naive_wall, stored)
        if encoded == ["j", None]:  # a JSON null (SQLAlchemy stores None as 'null'): like a NULL
            continue
        doc[name] = encoded
    text = json.dumps({"v": VERSION, "t": table, "c": doc}, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=True, allow_nan=True)
    return text.encode("ascii")


def content_digest(table: str, values: Mapping[str, Any], naive_wall: bool, stored: bool = False,
                   kinds: Iterable[tuple[str, str]] | None = None) -> str:
    return hashlib.sha256(canonical(table, values, naive_wall, stored, kinds)).hexdigest()


def link_digest(previous: str, content: str) -> str:
    return hashlib.sha256((previous + content).encode("ascii")).hexdigest()[:32]


def make_hash(previous: str, content: str) -> str:
    """A row's chain_hash from the previous row's and the row's content digest."""
    return link_digest(previous, content) + content[:32]


def is_hash(value: Any) -> bool:
    return isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)



def naive_wall(connection: Connection) -> bool:
    """Whether datetimes are hashed as the wall time stored (SQLite) rather than as UTC instants."""
    return connection.dialect.name == "sqlite"
