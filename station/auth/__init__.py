"""Sign-in, roles, PINs and the station binding — the floor's auth, for pages and API alike: who is signed in at this browser, which station it is, who may do what.

Every floor page (receiving, put-away, picking, line, lookup, supervisor, set-up) builds on this.

Python API (import from station.auth; pages and the JSON API both use it)
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

from importlib import import_module

# Each name and the module that holds it, imported on first use: the Flask-free workflows read the roles
# (station.auth.roles) without loading the web half (sessions, PINs, the decorator).
_HOMES = {
    **dict.fromkeys(('ALL_ROLES', 'ROLE_NAMES', 'ROLE_PLURALS', 'TITLES', 'WORKFLOWS', 'refusal',), 'roles'),
    **dict.fromkeys(('END_DISABLED', 'END_EVERYWHERE', 'END_SIGNED_OUT', 'END_TIMED_OUT', 'FloorOperator', 'FloorStation', 'PENDING_KEY', 'PENDING_SECONDS', 'REFRESH_SECONDS', 'SESSION_KEY', 'STATION_COOKIE', 'STATION_COOKIE_MAX_AGE', 'actor', 'can', 'current_operator', 'current_station', 'end_operator_sessions', 'end_session', 'floor_session_id', 'idle_seconds', 'load_operator', 'sign_in', 'sign_out', 'sign_out_everywhere', 'start_session', 'station_by', 'station_cookie_name', 'station_cookie_value', 'timed_out',), 'sessions'),
    **dict.fromkeys(('Guess', 'check_pin', 'clear_guesses', 'hash_pin', 'needs_pin', 'pin_hash_of', 'pin_roles', 'take_guess', 'try_pin', 'try_pin_unknown', 'unlock_pin',), 'pin_guard'),
    **dict.fromkeys(('OPEN_BLUEPRINTS', 'OPEN_ENDPOINTS', 'banner_response', 'bind_station', 'here', 'init_app', 'is_htmx', 'require_signed_in', 'requires', 'safe_next', 'signed_out_response', 'signin_url', 'wants_json',), 'web'),
}
_MODULES = ("roles", "sessions", "pin_guard", "web")
__all__ = sorted(_HOMES)


def __getattr__(name: str):
    if name in _MODULES:
        return import_module(f".{name}", __name__)
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{home}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOMES) | set(_MODULES))
