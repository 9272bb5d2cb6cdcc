"""The floor in Flask: the station cookie, @requires, signed-out answers and the sign-in guard on every page."""
from __future__ import annotations

from functools import wraps
from urllib.parse import urlsplit

from flask import current_app, g, make_response, redirect, render_template, request, url_for

from ..scanning.codes import browser_codes
from ..services.pins import check_pin, hash_pin  # noqa: F401 - part of this module's API
from .roles import WORKFLOWS, refusal
from .sessions import (
    STATION_COOKIE,
    STATION_COOKIE_MAX_AGE,
    can,
    current_operator,
    current_station,
    idle_seconds,
    station_cookie_value,
)

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
