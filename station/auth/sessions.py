"""Who is signed in at this browser (a floor_sessions row per signed-in browser) and which station it is."""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import time
from dataclasses import dataclass

from flask import current_app, g, request, session
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import SQLAlchemyError

from ..app import get_db
from ..models import FloorSession, Location, Operator, Printer, Role, StationDevice
from ..services.actor import Actor
from ..services.pins import check_pin, hash_pin  # noqa: F401 - part of this module's API
from .roles import ROLE_NAMES, WORKFLOWS

SESSION_KEY = "floor"            # {"s": secret}: sha256(secret) is the floor_sessions row (see below)
PENDING_KEY = "floor_pending"    # {"badge": ..., "at": ...}: badge scanned, PIN still to come
STATION_COOKIE = "station"       # the station's name, signed (station_cookie_value); shared with views/scan.py
STATION_COOKIE_MAX_AGE = 365 * 24 * 3600
REFRESH_SECONDS = 15             # activity younger than this does not write floor_sessions.last_seen_at
PENDING_SECONDS = 120            # a PIN must follow its badge within this time


# --- who and where -----------------------------------------------------------------------------


@dataclass(frozen=True)
class FloorOperator:
    id: int
    badge: str
    name: str
    role: Role

    @property
    def role_name(self) -> str:
        return ROLE_NAMES[self.role]


@dataclass(frozen=True)
class FloorStation:
    id: int
    name: str
    location_id: int | None
    location_code: str | None
    printer_id: int | None
    printer_name: str | None
    scanner_url: str | None


def now_seconds() -> float:
    return time.time()


def _at(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.timezone.utc)


def _aware(ts: dt.datetime | None) -> dt.datetime | None:
    return ts.replace(tzinfo=dt.timezone.utc) if ts is not None and ts.tzinfo is None else ts


def idle_seconds() -> int:
    return int(float(current_app.config.get("FLOOR_IDLE_MINUTES", 30)) * 60)


# --- floor sessions: a row per signed-in browser, the cookie carries only its secret ----------------
#
# The session cookie (Flask's, signed with the app's secret) holds {"s": secret}; the floor_sessions
# row whose secret_hash is the secret's SHA-256 says who it is, since when, and whether it has ended.
# A copy of the cookie is worth nothing once the row ends: sign-out, idle timeout, the operator
# disabled, "sign out everywhere". Each request costs one indexed SELECT (secret_hash is unique,
# joined to the operator by primary key); last_seen_at is written at most every REFRESH_SECONDS.

END_SIGNED_OUT, END_TIMED_OUT, END_DISABLED, END_EVERYWHERE = "signed_out", "timed_out", "disabled", "everywhere"

_SESSION_LOOKUP = (
    select(FloorSession.id.label("session_id"), FloorSession.last_seen_at, Operator.id.label("operator_id"),
           Operator.badge, Operator.name, Operator.role, Operator.active)
    .join(Operator, Operator.id == FloorSession.operator_id)
    .where(FloorSession.secret_hash == bindparam("secret_hash"), FloorSession.ended_at.is_(None)))


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _cookie_secret() -> str | None:
    state = session.get(SESSION_KEY)
    secret = state.get("s") if isinstance(state, dict) else None
    return secret if isinstance(secret, str) and 20 <= len(secret) <= 200 else None


def start_session(db, operator_id: int, station_id: int | None = None, now: float | None = None) -> str:
    """A new floor session for the operator (a floor_sessions row); returns the secret for the cookie
    (tests: ``session[SESSION_KEY] = {"s": start_session(db, op_id)}``)."""
    secret = secrets.token_urlsafe(32)
    at = _at(now_seconds() if now is None else now)
    with db.write() as s:
        s.add(FloorSession(secret_hash=_hash(secret), operator_id=operator_id, station_id=station_id,
                           started_at=at, last_seen_at=at))
    return secret


def end_session(db, secret: str, reason: str = END_SIGNED_OUT) -> bool:
    """End the floor session of this cookie secret; False when it had ended already (or never was)."""
    with db.write() as s:
        done = s.execute(update(FloorSession)
                         .where(FloorSession.secret_hash == _hash(secret), FloorSession.ended_at.is_(None))
                         .values(ended_at=_at(now_seconds()), end_reason=reason)
                         .execution_options(synchronize_session=False))
    return done.rowcount > 0


def end_operator_sessions(db, operator_id: int, reason: str = END_EVERYWHERE) -> int:
    """End every open floor session of the operator, on every device; how many were open."""
    with db.write() as s:
        done = s.execute(update(FloorSession)
                         .where(FloorSession.operator_id == operator_id, FloorSession.ended_at.is_(None))
                         .values(ended_at=_at(now_seconds()), end_reason=reason)
                         .execution_options(synchronize_session=False))
    return done.rowcount


def _end_by_id(session_id: int, reason: str) -> None:
    with get_db().write() as s:
        s.execute(update(FloorSession)
                  .where(FloorSession.id == session_id, FloorSession.ended_at.is_(None))
                  .values(ended_at=_at(now_seconds()), end_reason=reason)
                  .execution_options(synchronize_session=False))


def _touch(session_id: int, now: float) -> None:
    """Activity: move last_seen_at on (at most every REFRESH_SECONDS). A database that cannot be
    written just now (read-only, busy) must not cost the worker the page: the next request tries again."""
    try:
        with get_db().write() as s:
            s.execute(update(FloorSession)
                      .where(FloorSession.id == session_id, FloorSession.ended_at.is_(None))
                      .values(last_seen_at=_at(now))
                      .execution_options(synchronize_session=False))
    except SQLAlchemyError as exc:
        current_app.logger.warning("floor session %s: last_seen_at not refreshed (%s)", session_id,
                                   str(exc).splitlines()[0][:200])


def current_operator() -> FloorOperator | None:
    """The operator signed in at this browser, or None (signed out, timed out, session ended, badge
    deactivated)."""
    if "floor_operator" in g:
        return g.floor_operator
    g.floor_timed_out = False
    op = None
    secret = _cookie_secret()
    if secret is None:
        if SESSION_KEY in session:  # an old-style or damaged value: nothing to look up
            session.pop(SESSION_KEY, None)
    else:
        with get_db().reader() as reader:
            row = reader.execute(_SESSION_LOOKUP, {"secret_hash": _hash(secret)}).first()
        now = now_seconds()
        if row is None:  # ended (signed out, everywhere, disabled) or never was
            session.pop(SESSION_KEY, None)
        elif not row.active:  # disabled: every session of theirs ends, here and on other devices
            end_operator_sessions(get_db(), row.operator_id, END_DISABLED)
            session.pop(SESSION_KEY, None)
        else:
            last = _aware(row.last_seen_at).timestamp()
            if now - last > idle_seconds():
                _end_by_id(row.session_id, END_TIMED_OUT)
                session.pop(SESSION_KEY, None)
                g.floor_timed_out = True
            else:
                op = FloorOperator(row.operator_id, row.badge, row.name, Role(row.role))
                g.floor_session_id = row.session_id
                if now - last >= REFRESH_SECONDS:
                    _touch(row.session_id, now)
    g.floor_operator = op
    return op


def floor_session_id() -> int | None:
    """The floor_sessions row of this browser (None when signed out): it holds the workflow state of a
    browser bound to no station (station/workflows/state.py)."""
    current_operator()
    return g.get("floor_session_id")


def timed_out() -> bool:
    """True when this request found the operator's session idle for too long (and ended it)."""
    current_operator()
    return bool(g.get("floor_timed_out"))


def load_operator(*, operator_id: int | None = None, badge: str | None = None,
                  include_inactive: bool = False) -> FloorOperator | None:
    stmt = select(Operator.id, Operator.badge, Operator.name, Operator.role, Operator.active)
    stmt = stmt.where(Operator.id == operator_id) if operator_id is not None else stmt.where(Operator.badge == badge)
    with get_db().read() as s:
        row = s.execute(stmt).first()
    if row is None or (not row.active and not include_inactive):
        return None
    return FloorOperator(row.id, row.badge, row.name, Role(row.role))


def current_station() -> FloorStation | None:
    """The station this device is bound to (the signed station cookie), or None — also when the cookie
    is not one this server signed (typed in by hand, forged, signed with another key)."""
    if "floor_station" in g:
        return g.floor_station
    name = station_cookie_name()
    g.floor_station = station_by(name=name) if name else None
    return g.floor_station


def _station_signer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt="station.station-cookie")


def station_cookie_value(name: str) -> str:
    """The station cookie's value for station `name`: the name, signed with the app's secret key."""
    return _station_signer().dumps(name)


def station_cookie_name() -> str | None:
    """The station name in this request's station cookie when this server signed it, else None."""
    raw = request.cookies.get(STATION_COOKIE)
    if not raw or len(raw) > 400:
        return None
    try:
        name = _station_signer().loads(raw)
    except BadSignature:
        return None
    return name if isinstance(name, str) and name else None


def station_by(*, name: str | None = None, station_id: int | None = None) -> FloorStation | None:
    stmt = (select(StationDevice.id, StationDevice.name, StationDevice.location_id, Location.code,
                   StationDevice.printer_id, Printer.name, StationDevice.scanner_url)
            .outerjoin(Location, Location.id == StationDevice.location_id)
            .outerjoin(Printer, Printer.id == StationDevice.printer_id))
    stmt = stmt.where(StationDevice.name == name) if name is not None else stmt.where(StationDevice.id == station_id)
    with get_db().read() as s:
        row = s.execute(stmt).first()
    return FloorStation(*row) if row else None


def actor(raw_scan: str | None = None) -> Actor:
    """Who and where, for the ledger: the signed-in operator (or None) at this station (or None)."""
    op = current_operator()
    st = current_station()
    return Actor(operator_id=op.id if op else None, station_id=st.id if st else None, raw_scan=raw_scan)


def can(workflow: str) -> bool:
    """May the signed-in operator use this workflow? False when nobody is signed in."""
    op = current_operator()
    return op is not None and op.role in WORKFLOWS[workflow]



# --- signing in and out --------------------------------------------------------------------------


def sign_in(op: FloorOperator) -> None:
    """Start a floor session for `op` at this browser (a hand-over ends the one before)."""
    previous = _cookie_secret()
    if previous:
        end_session(get_db(), previous, END_SIGNED_OUT)
    session.pop(PENDING_KEY, None)
    station = current_station()
    secret = start_session(get_db(), op.id, station.id if station else None)
    session[SESSION_KEY] = {"s": secret}
    g.floor_operator = op
    g.floor_timed_out = False


def sign_out() -> FloorOperator | None:
    """End this browser's floor session (on the server: a copy of the cookie stops working too);
    returns who was signed in."""
    op = current_operator()
    secret = _cookie_secret()
    if secret:
        end_session(get_db(), secret, END_SIGNED_OUT)
    session.pop(SESSION_KEY, None)
    session.pop(PENDING_KEY, None)
    g.floor_operator = None
    return op


def sign_out_everywhere(operator_id: int) -> int:
    """End every floor session of the operator (this browser's too); how many were open."""
    count = end_operator_sessions(get_db(), operator_id, END_EVERYWHERE)
    op = current_operator()
    if op is not None and op.id == operator_id:
        session.pop(SESSION_KEY, None)
        g.floor_operator = None
    return count


