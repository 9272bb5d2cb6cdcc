"""The floor framework: who is signed in at this browser, which station it is, who may do what.

Every floor page (receiving, put-away, picking, line, lookup, supervisor, set-up) builds on this.

Python API (import from station.views.floor)
--------------------------------------------
    WORKFLOWS: dict[str, frozenset[Role]]   which roles may use each workflow
    current_operator() -> FloorOperator | None   id, badge, name, role (Role); None when signed out or
                                             timed out (FLOOR_IDLE_MINUTES, default 30, idle time;
                                             every request of a signed-in operator counts as activity).
                                             The session cookie holds only a random secret; its
                                             floor_sessions row (one indexed SELECT per request) says
                                             who, and ends on the server: sign_out(), the idle timeout,
                                             the operator disabled, sign_out_everywhere(operator_id) /
                                             end_operator_sessions(db, operator_id). A copy of the
                                             cookie stops working with the row.
    start_session(db, operator_id, station_id=None) -> secret   a floor_sessions row; the cookie
                                             holds {"s": secret} under SESSION_KEY (tests use it)
    current_station() -> FloorStation | None    the station this device is bound to (long-lived
                                             cookie "station", the same one the scan page uses, its
                                             value the name signed with the app's key:
                                             station_cookie_value(name) / station_cookie_name(); an
                                             unsigned or forged value is no station): id, name,
                                             location_id, location_code, printer_id, printer_name,
                                             scanner_url
    actor(raw_scan=None) -> Actor             services.actor.Actor for the signed-in operator and
                                             station: pass it to every write service
    Every endpoint needs a signed-in operator (require_signed_in, a before_request set up by
    init_app) except those in OPEN_ENDPOINTS / OPEN_BLUEPRINTS, each listed with its reason: the
    sign-in flow, /floor/badge, the station scanner feed (the sign-in page reads badges from it),
    static files, htmx, the home page (signed out: only the sign-in prompt) and the API (its own
    bearer token). Signed out, a page goes to the sign-in page with ?next=; htmx / station.js get
    401 + HX-Redirect; JSON clients 401 {"error": "signed_out", "message": ...}.
    @requires("receiving")                    view decorator: signed out -> sign-in page with ?next=;
                                             without the role -> 403 page in plain words; for htmx /
                                             station.js requests: 401 + HX-Redirect, or 403 + a red
                                             banner partial (partials/floor_banner.html). The guarded
                                             view carries .station_workflow (tests/test_roles_matrix.py
                                             checks every page POST has one, or is listed as open).
                                             "printers" (printer settings) is for admins only. The API
                                             (station/api/core.py route(workflow=...)) uses the same
                                             WORKFLOWS for token roles.
    can("picking") -> bool                    also a Jinja global, like current_operator() and
                                             current_station()
    refusal(workflow) -> str                  "Receiving is for receivers and supervisors — …"
    banner_response(kind, message, status=200, detail=None)   a full-width banner partial
                                             (kind ok | error | info) for htmx / station.js answers
    bind_station(response, station|None)      set / forget this device's station cookie

Tests: tests/conftest.py has `signed_in(client, role, badge=None, name=None)` — creates an active
operator with that role (no PIN needed) in the client's app database and signs the client in;
returns the FloorOperator. `bound_station(client, name="Test station", location_id=None,
printer_id=None)` binds the client to a station (created if missing) and returns its id. For browser
tests, `signed_in_page(page, base_url, app, role)` signs a Playwright page in through /signin.

Front-end contract (station/static/station.js; every page extending base.html)
-----------------------------------------------------------------------------
* A workflow page turns on keyboard-wedge capture with <body data-scan-url="{{ url_for(...) }}">
  (block body_attrs) exactly as the scan page does: each scan is POSTed (form: code, client_id,
  station, source) to that URL, its HTML answer is dispatched as the DOM event
  "station:scan-result" on <body> (detail.html) and shown in #scan-current / #scan-history when
  the page has them. An answer with an HX-Redirect header makes the browser go there.
  Pages without their own data-scan-url still capture scans when base.html gives the page a
  floor scan URL (home, sign-in, set-up): {% block floor_scan %}{% endblock %} — see base.html.
* Command barcodes never reach a page's scan URL. A scanned CMD:CONFIRM / CANCEL / UNDO / NEXT /
  REPRINT (any case, with or without an AIM prefix such as ]C0) is handled in the browser:
    1. the event "station:command" (detail.command = "confirm", …; cancelable) is dispatched on
       <body> — a page that wants to do something special calls event.preventDefault();
    2. otherwise the first visible, enabled element marked data-command="confirm" (etc.) is
       clicked (a <button> in an hx-post form, a link, …);
    3. if there is none, a red banner says "Nothing to confirm on this screen" and the refusal
       sound plays.
  So: mark the button that a CMD barcode should press with data-command="confirm" | "cancel" |
  "undo" | "next" | "reprint". Only one of each should be visible at a time.
* Operator badges (OPR:<badge>) never reach a page's scan URL either: they go to /floor/badge.
  The signed-in operator's own badge signs out; another badge signs that operator in (with the
  PIN step if their role needs one) and comes back to the same page.
* Banners that are not the answer to a page's scan (commands, badges) go to #scan-current when
  the page has one, else to #floor-banner (base.html, top of <main>). So does a page's own scan
  answer when it is a floor banner (class "floor-banner", e.g. @requires' 403 for htmx) and the
  page has no #scan-current.
* <body data-scan-target="ID"> (the lot lookup page): each scan answer replaces that element's
  content instead of going to #scan-current / #scan-history (htmx attributes in it are processed).
* The station's own scanner (StationDevice.scanner_url: serial, sim://): when the bound station has
  one, base.html gives every page data-station-feed (views/scan.py station_feed) and its start cursor;
  station.js polls it and sends each new scan of that scanner where a wedge scan on the page would
  go — commands and badges handled in the browser, the rest to the page's scan URL with the client id
  "logged:<scan id>". services.scans.ingest then claims the scanner's logged row instead of logging
  the scan again, so the page's handler acts on it exactly once (a retry, a second tab or another
  process gets `retried`). A scan handler needs nothing special for this: pass the form's client_id
  to scans.ingest as every page does.
* Sounds: a scan answer chirps (data-ok="1") or buzzes; a floor banner by its kind (info: silent).
  An answer to a TAP — an htmx request started by a click or submit, including a button pressed by a
  CMD: barcode — sounds by the banner it swaps in (banner--scan first, else the first .banner):
  ok chirps, error / warn buzz, info is silent. Polled and "load" requests stay silent. A failed tap
  (5xx, no connection) buzzes with its red banner. window.stationSoundLog records every sound played
  ("ok:tap", "bad:scan", …) for tests; <body data-scan-sound> is the last one.
* Wrong-PIN throttling (FLOOR_PIN_ATTEMPTS, default 3, then FLOOR_PIN_LOCK_SECONDS, default 60,
  doubled for each lock in a row up to FLOOR_PIN_LOCK_MAX_SECONDS, default a day) is counted on the
  operator's row (operators.pin_failures / pin_failed_at / pin_locked_until / pin_lock_count), so every
  app process sees the same count; see take_guess(). An admin clears a lock (unlock_pin; the Operators
  page, `station operator unlock BADGE`). A badge nobody has goes to the same PIN step and is answered
  like a wrong PIN (try_pin_unknown), so the PIN step does not tell which badges exist.
* Signed in, the page reloads itself after FLOOR_IDLE_MINUTES without a key or a tap, so an
  unattended tablet shows the sign-in page.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import time
from dataclasses import dataclass
from functools import wraps
from urllib.parse import urlsplit

from flask import current_app, g, make_response, redirect, render_template, request, session, url_for
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.exc import SQLAlchemyError

from .. import get_db
from ..scanning.codes import browser_codes
from ..models import FloorSession, Location, Operator, Printer, Role, StationDevice
from ..services.actor import Actor
from ..services import pins
from ..services.pins import check_pin, hash_pin  # noqa: F401 - part of this module's API

R = Role
ALL_ROLES = frozenset(Role)

WORKFLOWS: dict[str, frozenset[Role]] = {
    "receiving": frozenset({R.RECEIVER, R.SUPERVISOR, R.ADMIN}),
    "putaway": frozenset({R.RECEIVER, R.PICKER, R.SUPERVISOR, R.ADMIN}),
    "picking": frozenset({R.PICKER, R.SUPERVISOR, R.ADMIN}),
    "line": frozenset({R.LINE_OPERATOR, R.SUPERVISOR, R.ADMIN}),
    "lookup": ALL_ROLES,
    "supervisor": frozenset({R.SUPERVISOR, R.ADMIN}),  # hold / quarantine / release, create items
    "setup": frozenset({R.SUPERVISOR, R.ADMIN}),       # bind this device to a station
    "printers": frozenset({R.ADMIN}),                  # add printers, change their address and settings
    "operators": frozenset({R.ADMIN}),                 # PIN locks, ending an operator's sessions
}
# Cancelling and reprinting any print job (pages and API): the roles whose work prints labels.
WORKFLOWS["printing"] = WORKFLOWS["receiving"] | WORKFLOWS["line"] | WORKFLOWS["supervisor"]

TITLES = {"receiving": "Receiving", "putaway": "Put-away", "picking": "Picking", "line": "The line",
          "lookup": "Lot lookup", "supervisor": "The supervisor screen", "setup": "Station set-up",
          "printers": "Printer settings", "operators": "Operators (PIN locks, sessions)",
          "printing": "Cancelling and reprinting labels"}
ROLE_NAMES = {R.RECEIVER: "receiver", R.PICKER: "picker", R.LINE_OPERATOR: "line operator",
              R.SUPERVISOR: "supervisor", R.ADMIN: "admin"}
ROLE_PLURALS = {R.RECEIVER: "receivers", R.PICKER: "pickers", R.LINE_OPERATOR: "line operators",
                R.SUPERVISOR: "supervisors", R.ADMIN: "admins"}

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


def _now() -> float:
    return time.time()


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
    at = _at(_now() if now is None else now)
    with db.write() as s:
        s.add(FloorSession(secret_hash=_hash(secret), operator_id=operator_id, station_id=station_id,
                           started_at=at, last_seen_at=at))
    return secret


def end_session(db, secret: str, reason: str = END_SIGNED_OUT) -> bool:
    """End the floor session of this cookie secret; False when it had ended already (or never was)."""
    with db.write() as s:
        done = s.execute(update(FloorSession)
                         .where(FloorSession.secret_hash == _hash(secret), FloorSession.ended_at.is_(None))
                         .values(ended_at=_at(_now()), end_reason=reason)
                         .execution_options(synchronize_session=False))
    return done.rowcount > 0


def end_operator_sessions(db, operator_id: int, reason: str = END_EVERYWHERE) -> int:
    """End every open floor session of the operator, on every device; how many were open."""
    with db.write() as s:
        done = s.execute(update(FloorSession)
                         .where(FloorSession.operator_id == operator_id, FloorSession.ended_at.is_(None))
                         .values(ended_at=_at(_now()), end_reason=reason)
                         .execution_options(synchronize_session=False))
    return done.rowcount


def _end_by_id(session_id: int, reason: str) -> None:
    with get_db().write() as s:
        s.execute(update(FloorSession)
                  .where(FloorSession.id == session_id, FloorSession.ended_at.is_(None))
                  .values(ended_at=_at(_now()), end_reason=reason)
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
        now = _now()
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


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def refusal(workflow: str) -> str:
    """Why the signed-in operator may not use `workflow`, in words."""
    roles = [r for r in Role if r in WORKFLOWS[workflow]]
    shown = [r for r in roles if r is not R.ADMIN] or roles  # admins may do anything; no need to say
    return (f"{TITLES.get(workflow, workflow.capitalize())} is for {_join([ROLE_PLURALS[r] for r in shown])}"
            f" — sign in with such a badge")


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


def pin_roles() -> frozenset[str]:
    value = current_app.config.get("FLOOR_PIN_ROLES", ("supervisor", "admin"))
    if isinstance(value, str):
        value = value.replace(",", " ").split()
    return frozenset(str(getattr(v, "value", v)).strip().lower() for v in value)


def needs_pin(op: FloorOperator, pin_hash: str | None = None) -> bool:
    """A PIN is asked of the roles in FLOOR_PIN_ROLES, and of anyone who has a PIN set."""
    return op.role.value in pin_roles() or bool(pin_hash)


def pin_hash_of(op_id: int) -> str | None:
    with get_db().read() as s:
        return s.execute(select(Operator.pin_hash).where(Operator.id == op_id)).scalar_one_or_none()


# The PIN throttle lives on the operator's row (pin_failures, pin_failed_at, pin_locked_until,
# pin_lock_count), so every app process counts the same wrong PINs. A guess is taken in one write
# transaction that holds the row (SELECT … FOR UPDATE on PostgreSQL; SQLite's write lock) before the PIN
# is checked: counted as wrong until it proves right, refused while the badge is locked, so two
# processes (or twenty requests at once) cannot both be granted the last guess. Each lock in a row
# lasts twice the one before (FLOOR_PIN_LOCK_SECONDS, 2x, 4x, … capped at FLOOR_PIN_LOCK_MAX_SECONDS);
# the right PIN or an admin (unlock_pin) starts over. A badge nobody has goes through the same steps
# in memory (pins.MemoryThrottle), so the PIN step answers alike for both.

Guess = pins.Guess


def _unknown_badges() -> pins.MemoryThrottle:
    """This app's throttle for badges nobody has (one per process)."""
    return current_app.extensions.setdefault("station.unknown_badges", pins.MemoryThrottle())


def _at(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.timezone.utc)


def _aware(ts: dt.datetime | None) -> dt.datetime | None:
    return ts.replace(tzinfo=dt.timezone.utc) if ts is not None and ts.tzinfo is None else ts


def _epoch(ts: dt.datetime | None) -> float | None:
    return None if ts is None else _aware(ts).timestamp()


def take_guess(op_id: int, now: float, attempts: int, lock_seconds: float,
               max_lock_seconds: float | None = None) -> Guess:
    """Take one PIN guess for the operator: FLOOR_PIN_ATTEMPTS wrong ones, each within the lock time of
    the one before, lock the badge — for FLOOR_PIN_LOCK_SECONDS the first time, twice as long each
    lock after it in a row."""
    if max_lock_seconds is None:
        max_lock_seconds = _max_lock()
    with get_db().write() as s:
        row = s.execute(select(Operator.pin_failures, Operator.pin_failed_at, Operator.pin_locked_until,
                               Operator.pin_lock_count)
                        .where(Operator.id == op_id).with_for_update()).first()
        if row is None:  # the operator was removed meanwhile: as good as locked
            return Guess(False, 0, lock_seconds)
        state = pins.Throttle(row.pin_failures or 0, _epoch(row.pin_failed_at), _epoch(row.pin_locked_until),
                              row.pin_lock_count or 0)
        guess, changed = pins.take(state, now, attempts, lock_seconds, max_lock_seconds)
        if changed is not None:
            s.execute(update(Operator).where(Operator.id == op_id)
                      .values(pin_failures=changed.failures, pin_failed_at=_at(changed.failed_at),
                              pin_locked_until=None if changed.locked_until is None else _at(changed.locked_until),
                              pin_lock_count=changed.lock_count)
                      .execution_options(synchronize_session=False))
    return guess


def clear_guesses(op_id: int) -> None:
    """The right PIN: the count and the locks in a row start over."""
    with get_db().write() as s:
        s.execute(update(Operator).where(Operator.id == op_id)
                  .values(pin_failures=0, pin_failed_at=None, pin_locked_until=None, pin_lock_count=0)
                  .execution_options(synchronize_session=False))


def unlock_pin(db, op_id: int) -> bool:
    """An admin clears the badge's PIN lock and its count (locks in a row too); False when there was
    nothing to clear."""
    with db.write() as s:
        done = s.execute(update(Operator)
                         .where(Operator.id == op_id,
                                or_(Operator.pin_failures > 0, Operator.pin_lock_count > 0,
                                    Operator.pin_locked_until.is_not(None)))
                         .values(pin_failures=0, pin_failed_at=None, pin_locked_until=None, pin_lock_count=0)
                         .execution_options(synchronize_session=False))
    return done.rowcount > 0


def _max_lock() -> float:
    return float(current_app.config.get("FLOOR_PIN_LOCK_MAX_SECONDS", 24 * 3600))


_NO_PIN_HASH: list[str] = []


def _no_pin_hash() -> str:
    """A hash no PIN matches, checked when an operator has none, so that answer takes as long as a
    wrong PIN and the timing tells nothing about who has a PIN."""
    if not _NO_PIN_HASH:
        _NO_PIN_HASH.append(hash_pin(secrets.token_hex(16)))
    return _NO_PIN_HASH[0]


def _wait_words(seconds: float) -> str:
    seconds = max(1, int(seconds + 0.999))
    if seconds < 60:
        return f"{seconds} seconds"
    minutes = (seconds + 59) // 60
    if minutes < 120:
        return "1 minute" if minutes == 1 else f"{minutes} minutes"
    hours = (minutes + 59) // 60
    return f"{hours} hours"


def _guess_words(badge: str, guess: Guess, ok: bool, attempts: int) -> tuple[bool, str | None]:
    """The words for a guess, the same for a real badge and a guessed one."""
    if not guess.granted:
        return False, (f"Too many wrong PINs for badge {badge} — wait {_wait_words(guess.locked_for)}, "
                       f"then try again, or ask an admin.")
    if ok:
        return True, None
    left = attempts - guess.failures
    if left <= 0:
        return False, (f"Wrong PIN again — badge {badge} is locked for {_wait_words(guess.lock_length)}. "
                       f"Wait, then try again, or ask an admin.")
    return False, f"Wrong PIN — {left} {'try' if left == 1 else 'tries'} left."


def _pin_settings() -> tuple[int, float, float]:
    cfg = current_app.config
    return max(1, int(cfg.get("FLOOR_PIN_ATTEMPTS", 3))), float(cfg.get("FLOOR_PIN_LOCK_SECONDS", 60)), _max_lock()


def try_pin(op: FloorOperator, pin: str) -> tuple[bool, str | None]:
    """Check `op`'s PIN, counting wrong ones in the database. (True, None) signs in; (False, why) says
    why not."""
    attempts, lock, max_lock = _pin_settings()
    stored = pin_hash_of(op.id)
    if not stored:
        check_pin(_no_pin_hash(), pin or "0")
        return False, (f"{op.name} has no PIN yet, and a {op.role_name} needs one — an admin sets it with "
                       f"'station operator set-pin {op.badge}'.")
    guess = take_guess(op.id, _now(), attempts, lock, max_lock)
    ok = guess.granted and check_pin(stored, pin)
    if ok:
        clear_guesses(op.id)
    return _guess_words(op.badge, guess, ok, attempts)


def try_pin_unknown(badge: str, pin: str) -> tuple[bool, str]:
    """A PIN for a badge nobody has (or no longer active): counted and answered like a wrong PIN for a
    real badge — the same words, the same locks, one slow hash check like a real one."""
    attempts, lock, max_lock = _pin_settings()
    with get_db().read() as s:  # the same look-up a real badge's PIN costs
        s.execute(select(Operator.pin_hash).where(Operator.badge == badge)).first()
    guess = _unknown_badges().take(badge, _now(), attempts, lock, max_lock)
    if guess.granted:
        check_pin(_no_pin_hash(), pin or "0")
    ok, why = _guess_words(badge, guess, False, attempts)
    return ok, why or "Wrong PIN."


# --- station binding -----------------------------------------------------------------------------


def bind_station(response, station):
    """Remember (or forget, with None) the station of this device on `response`: a signed cookie (the
    station's name and its signature), so a device cannot make itself a station by writing a cookie."""
    from ..sessions import cookie_secure

    if station is None:
        response.delete_cookie(STATION_COOKIE)
    else:
        response.set_cookie(STATION_COOKIE, station_cookie_value(station.name), max_age=STATION_COOKIE_MAX_AGE,
                            httponly=True, samesite="Lax", secure=cookie_secure(current_app))
    return response


# --- the decorator -------------------------------------------------------------------------------


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


def safe_next(target: str | None, default: str | None = None) -> str:
    """`target` when it is a path on this site (never another host, no control characters), else
    `default` or home."""
    fallback = default or url_for("home.index")
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return fallback
    if len(target) > 2000 or any(ord(c) < 32 or 127 <= ord(c) < 160 for c in target):
        return fallback  # CR/LF and other control characters: never into a Location header
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return fallback
    return target


def here() -> str:
    """The page the worker is on: for htmx / station.js requests, the page that sent it."""
    if is_htmx():
        current = request.headers.get("HX-Current-URL")
        if current:
            parts = urlsplit(current)
            return parts.path + (f"?{parts.query}" if parts.query else "")
    if request.method == "GET":
        qs = request.query_string.decode("latin-1")
        return request.path + (f"?{qs}" if qs else "")
    ref = request.referrer
    if ref:
        parts = urlsplit(ref)
        if parts.netloc == request.host:
            return parts.path + (f"?{parts.query}" if parts.query else "")
    return url_for("home.index")


def signin_url(next_url: str | None = None) -> str:
    args = {"next": next_url} if next_url and next_url != url_for("home.index") else {}
    if g.get("floor_timed_out"):
        args["timeout"] = "1"
    return url_for("signin.page", **args)


def banner_response(kind: str, message: str, status: int = 200, detail: str | None = None):
    """A banner partial (partials/floor_banner.html) for htmx and station.js."""
    return make_response(render_template("partials/floor_banner.html", kind=kind, message=message,
                                         detail=detail), status)


def wants_json() -> bool:
    """A client of the scan page that asked for JSON (Accept, or a JSON body), not htmx / station.js."""
    if is_htmx():
        return False
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" or request.is_json


def signed_out_response():
    """What a signed-out request gets: a full page goes to the sign-in page (?next= brings the worker
    back); htmx / station.js get 401 + HX-Redirect with a red banner; JSON clients 401 in words."""
    target = signin_url(here())
    why = ("You were signed out after a while without use — scan your badge to go on."
           if g.get("floor_timed_out") else "Sign in first — scan your badge.")
    if is_htmx():
        response = banner_response("error", why, 401)
        response.headers["HX-Redirect"] = target
        return response
    if wants_json():
        response = make_response({"error": "signed_out", "message": why}, 401)
        response.headers["Location"] = target
        return response
    return redirect(target)


def requires(workflow: str):
    """Only operators whose role may use `workflow` get into the view."""
    if workflow not in WORKFLOWS:
        raise KeyError(f"unknown workflow {workflow!r}; one of {', '.join(WORKFLOWS)}")

    def decorate(view):
        @wraps(view)
        def guarded(*args, **kwargs):
            op = current_operator()
            if op is None:
                return signed_out_response()
            if op.role not in WORKFLOWS[workflow]:
                message = refusal(workflow)
                detail = f"You are signed in as {op.name}, {op.role_name}."
                if is_htmx():
                    return banner_response("error", message, 403, detail)
                return make_response(render_template("signin_refused.html", message=message, detail=detail,
                                                     workflow=workflow), 403)
            return view(*args, **kwargs)

        guarded.floor_workflow = workflow
        guarded.station_workflow = workflow  # tests enumerate the guarded routes by it
        return guarded

    return decorate


# --- every page needs a signed-in operator ---------------------------------------------------------

# The endpoints a signed-out browser may reach, and why. Everything else (every page, partial, feed,
# preview and form post, including ones added later) needs a signed-in operator; @requires(workflow)
# on a view then decides whether that operator's role may use it.
OPEN_ENDPOINTS = {
    # the sign-in flow itself: the page, the typed badge, the PIN step, cancelling it, signing out
    "signin.page": "the sign-in page",
    "signin.submit": "the sign-in page",
    "signin.pin": "the sign-in page",
    "signin.pin_submit": "the sign-in page",
    "signin.cancel": "the sign-in page",
    "signin.signout": "signing out must work whatever state the session is in",
    "signin.scan": "the sign-in and home pages' wedge capture: it takes badges only",
    "signin.badge": "a scanned OPR: badge goes here from every page, the sign-in page included",
    # the sign-in page of a station with its own (serial, simulated) scanner polls that scanner's new
    # scans, so a badge scanned on it signs in (station.js sends badges to /floor/badge); without this a
    # station with a serial scanner could not be signed in to by scanning
    "scan.station_feed": "the sign-in page of a station with its own scanner reads badges from it",
    # files every page (the sign-in page too) loads
    "static": "CSS, JS, icons",
    "vendor": "htmx",
    # the home page: signed out it is only a sign-in prompt (views/home.py shows no tiles then)
    "home.index": "a sign-in prompt when signed out",
}
OPEN_BLUEPRINTS = {
    "api": "the JSON API checks its own bearer token on every route (station/api/core.py)",
}


def require_signed_in():
    """before_request: a signed-out request to any endpoint not listed open goes to sign in."""
    endpoint = request.endpoint
    if endpoint is None:  # no such URL (404) or method (405): Flask answers that as usual
        return None
    if endpoint in OPEN_ENDPOINTS or request.blueprint in OPEN_BLUEPRINTS:
        return None
    if current_operator() is None:
        return signed_out_response()
    return None


def init_app(app) -> None:
    app.before_request(require_signed_in)
    app.add_template_global(can)
    app.add_template_global(current_operator)
    app.add_template_global(current_station)
    app.add_template_global(idle_seconds, "floor_idle_seconds")
    app.add_template_global(browser_codes, "station_codes")  # base.html: <body data-code-*> for station.js
