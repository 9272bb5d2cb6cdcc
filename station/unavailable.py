"""When the database cannot do its part: a clear 503 instead of a stack trace, and the app carries on.

A PostgreSQL restart, a network cut to the database host, a full disk or a read-only file under
SQLite, or a write lock held past the busy timeout all reach the app as a DBAPIError. None of them
is the request's fault and none of them saved anything (the transaction rolled back), so the
answer says so in words and asks to try again; `Retry-After` tells programs when. The app needs no
restart: the pool checks a connection before lending it (pool_pre_ping) and drops dead ones, so
the first request after the database is back succeeds.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import Response, current_app, render_template, request
from sqlalchemy.exc import DBAPIError

RETRY_AFTER_S = 2


@dataclass(frozen=True)
class Unavailable:
    code: str
    message: str


# Substrings of the driver's message (sqlite3, psycopg) -> what the worker is told.
_KINDS = (
    (("database or disk is full", "no space left", "disk full"),
     Unavailable("disk_full", "The station's disk is full, so nothing was saved. Tell your supervisor: "
                              "space must be freed on the server.")),
    (("readonly database", "read-only", "read only"),
     Unavailable("database_read_only", "The station's database cannot be written just now (read-only), so "
                                       "nothing was saved. Tell your supervisor.")),
    (("database is locked", "database table is locked"),
     Unavailable("database_busy", "The database is busy, so nothing was saved. Try again in a moment.")),
    (("disk i/o error",),
     Unavailable("disk_error", "The station could not write to its disk, so nothing was saved. Tell your "
                               "supervisor.")),
)
_UNREACHABLE = Unavailable("database_unavailable", "The database cannot be reached just now, so nothing was "
                                                   "saved. Try again in a moment.")


def describe(exc: BaseException) -> Unavailable | None:
    """What to tell the worker when `exc` means the database could not serve; None for other errors
    (a bug stays a 500 and is logged as one)."""
    if not isinstance(exc, DBAPIError):
        return None
    text = str(exc.orig or exc).lower()
    for needles, kind in _KINDS:
        if any(n in text for n in needles):
            return kind
    if exc.connection_invalidated or _is_connection_error(exc):
        return _UNREACHABLE
    return None


def _is_connection_error(exc: DBAPIError) -> bool:
    # psycopg: OperationalError for a refused/lost connection; SQLSTATE class 08 (connection
    # exception) and 57P0x (the server is shutting down or restarting).
    sqlstate = getattr(exc.orig, "sqlstate", None) or ""
    if sqlstate.startswith("08") or sqlstate.startswith("57P0"):
        return True
    # A refused or reset connection: psycopg raises OperationalError with no SQLSTATE (sqlite3's
    # OperationalError is not about connections, and its messages are matched above).
    orig = type(exc.orig)
    return orig.__name__ == "OperationalError" and orig.__module__.startswith("psycopg")


def response(kind: Unavailable) -> Response:
    """503: for htmx and station.js requests the floor's red banner (station.js shows 5xx answers),
    else a page of its own with a "Try again" button."""
    current_app.logger.warning("%s %s: %s", request.method, request.path, kind.code)
    partial = request.headers.get("HX-Request")
    body = render_template("partials/floor_banner.html" if partial else "unavailable.html",
                           kind="error", message=kind.message, detail=None)
    return Response(body, status=503, mimetype="text/html", headers={"Retry-After": str(RETRY_AFTER_S)})


def init_app(app) -> None:
    @app.errorhandler(DBAPIError)
    def _database_unavailable(exc: DBAPIError):
        kind = describe(exc)
        if kind is None:
            raise exc  # a real bug: Flask's 500 and the log
        return response(kind)
