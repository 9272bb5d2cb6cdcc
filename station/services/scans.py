"""Scan ingestion: resolve a scan, log it once, and answer retries and trigger bounces.

Every scan — typed by a keyboard wedge, posted to the API, read from a serial or simulated
scanner — comes through `ingest` (called by station/workflows/intake.py, the one way in), so they all
run the same code and land in the same log.

- A request retried with the same ``client_id`` gets the ORIGINAL outcome back and logs nothing
  new. The unique constraint on ``scans.client_id`` decides, so two racing retries (threads or
  processes) cannot both log: the loser's INSERT fails and it reads the winner's row.
- The same code from the same source at the same station within a short window (default
  500 ms) after that source's previous scan is a trigger bounce: it is logged with ``ignored``
  set, points at the scan it repeated, and the outcome says so. A different code in between
  ends the bounce: A, B, A is three scans.
- State lives in the database only, so several app processes and scanner readers can share it.
- Applying a scan to a workflow is station/workflows/intake.py's part (it calls `ingest` inside its
  own transaction); the scan log itself is never updated.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import re
import unicodedata
import zlib
from dataclasses import dataclass

from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from .. import clock
from ..db import Database
from ..models import Scan, ScanApplication
from ..scanning import Resolution, ScanContext, resolve

log = logging.getLogger(__name__)

DEFAULT_BOUNCE_MS = 500
RAW_LIMIT = 4096  # bytes of a scan kept in the log; the rest of a 10 KB garbage scan is dropped
TEXT_LIMIT = 200  # characters of the display text
CLIENT_ID = re.compile(r"^[A-Za-z0-9_.:-]{8,64}$")
BROWSER_SOURCES = ("wedge", "manual", "api")  # sources that log their own scans; the rest are devices

# pg_advisory_xact_lock(namespace, key): scans at one station (or from one station-less source)
# are written one at a time, so a station's scan ids are committed in id order — the page's
# "scans after id N" feed can never skip a row that commits late — and two identical scans
# racing each other cannot both miss the bounce check.
_LOCK_STATION, _LOCK_SOURCE = 0x5CA0, 0x5CA1


@dataclass(frozen=True)
class ScanOutcome:
    """What became of one scan: its resolution and its row in the scan log."""

    scan_id: int
    resolution: Resolution
    retried: bool = False  # a client-id retry: the original outcome, nothing new logged
    ignored: bool = False  # a trigger bounce: logged, but not acted on
    duplicate_of: int | None = None  # the scan a bounce repeated

    @property
    def ok(self) -> bool:
        return self.resolution.ok and not self.ignored

    def to_dict(self) -> dict:
        return {"scan_id": self.scan_id, "retried": self.retried, "ignored": self.ignored,
                "duplicate_of": self.duplicate_of, "resolution": self.resolution.to_dict()}


class InvalidClientId(ValueError):
    """A client id that is not 8–64 letters, digits or ``_.:-``."""


def as_bytes(raw: str | bytes) -> bytes:
    return raw if isinstance(raw, bytes) else raw.encode("utf-8", "surrogatepass")


def display_text(raw: str | bytes, limit: int = TEXT_LIMIT) -> str:
    """Safe to show anywhere: undecodable bytes become U+FFFD, control characters their pictures
    (GS is shown as ␝, CR as ␍), invisible format characters <U+XXXX>; cut at `limit` characters."""
    value = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    out = []
    for ch in value[: limit + 1]:
        code = ord(ch)
        if code < 0x20:
            out.append(chr(0x2400 + code))
        elif code == 0x7F:
            out.append("\u2421")
        elif unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
            out.append(f"<U+{code:04X}>")
        else:
            out.append(ch)
    shown = "".join(out)
    return shown if len(shown) <= limit else shown[:limit] + "…"


def ingest(db_or_session: Database | Session, raw: str | bytes, *, source: str,
           station_id: int | None = None, operator_id: int | None = None,
           client_id: str | None = None, context: ScanContext | None = None,
           now: dt.datetime | None = None, bounce_ms: int = DEFAULT_BOUNCE_MS,
           token_id: int | None = None) -> ScanOutcome:
    """Resolve one scan and log it; a known `client_id` returns the original outcome instead.
    `token_id`: the API token that posted it (logged with the scan).

    With a Database the scan commits in its own short transaction (resolution is read first,
    outside it). With a Session the row joins the caller's transaction inside a savepoint.
    """
    if client_id is not None and not CLIENT_ID.match(client_id):
        raise InvalidClientId(f"client_id must be 8-64 letters, digits or _.:- (got {client_id[:80]!r})")
    data = as_bytes(raw)
    now = now or clock.now()
    if now.tzinfo is None:
        raise ValueError("ingest needs an aware datetime for `now`")

    args = (raw, data, source, station_id, operator_id, client_id, context, now, bounce_ms, token_id)
    if isinstance(db_or_session, Session):
        return _ingest(db_or_session, *args, resolution=None)

    db = db_or_session
    with db.read() as session:
        if client_id is not None:
            earlier = by_client_id(session, client_id)
            if earlier is not None:
                return earlier
        # Resolve before the write transaction: on SQLite it holds the one write lock.
        resolution = _resolve(session, raw, context)
    with db.write() as session:
        return _ingest(session, *args, resolution=resolution)


def _ingest(session: Session, raw: str | bytes, data: bytes, source: str, station_id: int | None,
            operator_id: int | None, client_id: str | None, context: ScanContext | None,
            now: dt.datetime, bounce_ms: int, token_id: int | None, resolution: Resolution | None) -> ScanOutcome:
    """The work inside one transaction: lock, bounce check, insert (the constraint judges retries)."""
    _lock(session, station_id, source)
    if client_id is not None:
        earlier = by_client_id(session, client_id)
        if earlier is not None:
            return earlier
    kept = data[:RAW_LIMIT]

    at_station = Scan.station_id == station_id if station_id is not None else Scan.station_id.is_(None)
    previous = session.execute(
        select(Scan.id, Scan.ts, Scan.raw, Scan.duplicate_of_id)
        .where(Scan.source == source, at_station).order_by(Scan.id.desc()).limit(1)
    ).first()
    bounce_of = None
    if previous is not None and previous.raw == kept:
        gap = now - _aware(previous.ts)
        if dt.timedelta(0) <= gap < dt.timedelta(milliseconds=bounce_ms):
            bounce_of = previous.duplicate_of_id or previous.id

    if bounce_of is not None:
        original = session.get(Scan, bounce_of)
        resolution = _restore(original.result)
        row = Scan(ts=now, source=source, station_id=station_id, operator_id=operator_id,
                   raw=kept, text=display_text(data), client_id=client_id, kind=original.kind,
                   ok=False, error="bounce", result=original.result, ignored=True,
                   duplicate_of_id=bounce_of, token_id=token_id,
                   message=f"Ignored: the same code again within {bounce_ms} ms (trigger bounce)")
    else:
        if resolution is None:
            resolution = _resolve(session, raw, context)
        row = Scan(ts=now, source=source, station_id=station_id, operator_id=operator_id,
                   raw=kept, text=display_text(data), client_id=client_id, kind=resolution.kind[:20],
                   ok=resolution.ok, message=resolution.message,
                   error=resolution.error[:40] if resolution.error else None,
                   result=_jsonable(resolution.to_dict()), ignored=False, token_id=token_id)

    try:
        # A savepoint, so that losing the client-id race leaves the transaction usable.
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        earlier = by_client_id(session, client_id) if client_id is not None else None
        if earlier is None:
            raise
        # Another request with this client id committed first (our INSERT waited for it).
        return earlier
    return ScanOutcome(scan_id=row.id, resolution=resolution, ignored=row.ignored,
                       duplicate_of=row.duplicate_of_id)


def _resolve(session: Session, raw: str | bytes, context: ScanContext | None) -> Resolution:
    """resolve() must never raise; if it does anyway, the scan is still logged, as a refusal."""
    try:
        return resolve(session, raw, context or ScanContext())
    except Exception:  # noqa: BLE001 — a scan is never lost to a bug in resolution
        log.exception("resolve() raised for a scan of %d bytes", len(as_bytes(raw)))
        return Resolution(ok=False, kind="rejected", error="internal_error",
                          message="This code could not be checked because of a fault in Station. "
                                  "Tell a supervisor.", code=display_text(raw))


def outcome_of(row: Scan) -> ScanOutcome:
    """The outcome a logged scan had (for pages that show scans from the log)."""
    return ScanOutcome(scan_id=row.id, resolution=_restore(row.result), ignored=row.ignored,
                       duplicate_of=row.duplicate_of_id)


def by_client_id(session: Session, client_id: str) -> ScanOutcome | None:
    row = session.execute(select(Scan.id, Scan.result, Scan.ignored, Scan.duplicate_of_id)
                          .where(Scan.client_id == client_id)).first()
    if row is None:
        return None
    return ScanOutcome(scan_id=row.id, resolution=_restore(row.result), retried=True,
                       ignored=row.ignored, duplicate_of=row.duplicate_of_id)


def _lock(session: Session, station_id: int | None, source: str) -> None:
    """Serialise writers per station (PostgreSQL); SQLite's BEGIN IMMEDIATE already serialises all."""
    if session.get_bind().dialect.name != "postgresql":
        return
    if station_id is not None:
        key = (_LOCK_STATION, station_id)
    else:
        key = (_LOCK_SOURCE, zlib.crc32(source.encode()) - 2**31)
    session.execute(text("SELECT pg_advisory_xact_lock(:a, :b)"), {"a": key[0], "b": key[1]})


_FIELDS = {f.name for f in dataclasses.fields(Resolution)}


def _restore(result: dict) -> Resolution:
    return Resolution(**{k: v for k, v in result.items() if k in _FIELDS})


def _jsonable(value: dict) -> dict:
    """The resolution as plain JSON (dates as ISO strings, anything odd as its str)."""
    def default(obj):
        if isinstance(obj, (dt.date, dt.datetime, dt.time)):
            return obj.isoformat()
        if isinstance(obj, (set, frozenset, tuple)):
            return list(obj)
        if isinstance(obj, bytes):
            return obj.decode("utf-8", "replace")
        return str(obj)
    return json.loads(json.dumps(value, default=default))


def _aware(ts: dt.datetime) -> dt.datetime:
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=dt.timezone.utc)  # SQLite: naive UTC


def recent(session: Session, *, station_id: int | None = None, after: int | None = None,
           limit: int = 100, newest_first: bool = True) -> list[Scan]:
    """Scans from the log (with station and operator loaded), optionally at one station / after an id."""
    query = select(Scan).options(joinedload(Scan.station), joinedload(Scan.operator))
    if station_id is not None:
        query = query.where(Scan.station_id == station_id)
    if after is not None:
        query = query.where(Scan.id > after)
    query = query.order_by(Scan.id.desc() if newest_first else Scan.id.asc()).limit(limit)
    return list(session.scalars(query))


def last_id(session: Session, station_id: int | None = None) -> int:
    """The newest scan id (at a station), 0 when there is none."""
    query = select(Scan.id).order_by(Scan.id.desc()).limit(1)
    if station_id is not None:
        query = query.where(Scan.station_id == station_id)
    return session.scalar(query) or 0


def refused(session: Session, start: dt.datetime, end: dt.datetime) -> list[tuple[int | None, str, int]]:
    """Refused scans logged in [start, end): (operator id, kind of refusal, count), most first.

    A scan is refused when resolving it failed (the log's ``ok`` is false: an unknown code, a bad
    check digit), or when the workflow step it was applied to refused it: the answer kept with it in
    scan_applications is an error, its ``data.refused`` the kind ("lot_hold", "lot_expired",
    "shelf_life_too_short", ...; else "<workflow>_refused"). The log is append-only and written
    before the step runs, so a step's refusal is logged with its answer, not on the scan's row.
    A trigger bounce is no refusal."""
    window = (Scan.ts >= start) & (Scan.ts < end) & Scan.ignored.is_(False)
    counts: dict[tuple[int | None, str], int] = {}
    for operator_id, error, n in session.execute(
            select(Scan.operator_id, Scan.error, func.count())
            .where(window, Scan.ok.is_(False)).group_by(Scan.operator_id, Scan.error)):
        counts[(operator_id, error or "refused")] = counts.get((operator_id, error or "refused"), 0) + n
    # Counted here, not grouped by a JSON path in SQL (PostgreSQL will not match two binds of one path):
    # only the refused answers of the range are read.
    for operator_id, workflow, answer in session.execute(
            select(Scan.operator_id, ScanApplication.workflow, ScanApplication.answer)
            .join(ScanApplication, ScanApplication.scan_id == Scan.id)
            .where(window, Scan.ok.is_(True), ScanApplication.answer["kind"].as_string() == "error")):
        kind = ((answer or {}).get("data") or {}).get("refused")
        key = (operator_id, str(kind or f"{workflow or 'scan'}_refused")[:40])
        counts[key] = counts.get(key, 0) + 1
    return sorted(((op, error, n) for (op, error), n in counts.items()), key=lambda r: (-r[2], r[1]))
