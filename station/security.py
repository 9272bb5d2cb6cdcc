"""Browser-side security: the response headers every page gets, and the refusal of forged requests.

Headers (after every request; a view that sets a header itself keeps its own — the trace SVG sets a
stricter Content-Security-Policy of its own):

* Content-Security-Policy on HTML: scripts, styles, fonts and fetches only from this site; images
  from here or data:/blob: URLs (label previews); no plugins, no <base>, forms post only here, and
  no other site may frame a page. No inline script or style attribute is allowed, so markup that
  slipped through escaping still cannot run (the pages have none: JS lives in station/static/*.js).
  Every other answer (PNG, JSON, CSV, JS, CSS) gets FILE_POLICY: opened on its own, nothing loads or
  runs in it, and the browser's own image / text viewer may still style itself.
* X-Content-Type-Options: nosniff; Referrer-Policy: same-origin (no URL with a lot number leaves
  the site); X-Frame-Options: DENY (older browsers' frame-ancestors); Permissions-Policy: no
  camera, microphone or geolocation.
* Cache-Control: no-store on HTML answers to a signed-in operator that say nothing about caching,
  so a shared tablet's Back button or cache never shows the previous worker's pages.

Cross-site request forgery. A state-changing page request (POST, PUT, PATCH, DELETE outside
/api/v1) is refused with 403 and a sentence, changing nothing, unless it comes from this site:

1. `Sec-Fetch-Site: cross-site` is refused ("same-origin" and "none" — typed in the address bar,
   a bookmark — pass; "same-site", a sibling host or port, must prove its origin below);
2. `Origin`, when sent, must be this request's own scheme://host[:port] or one of
   STATION_TRUSTED_ORIGINS (comma-separated, for a reverse proxy that changes the host or
   scheme); "null" (sandboxed frames, data: pages, some redirects) is refused;
3. without Origin, the origin of `Referer` must be one of those;
4. a request with none of these headers passes.

Why this is sound without a token (OWASP CSRF Prevention Cheat Sheet: "Verifying Origin with
standard headers" and "Fetch Metadata", as defence in depth with SameSite cookies): a forged
request has to be sent by the victim's browser, since only the browser holds the floor session
cookie. Every browser that runs the station's pages (current Chromium, Firefox, Safari) sends
Origin on every POST/PUT/PATCH/DELETE and Sec-Fetch-Site on every request, and a page cannot forge
or remove either (they are forbidden header names). So a browser request without them is not a
cross-site form — it is curl, a scanner script or the test client, which holds no victim's
cookie and could as well send any header it liked. On top, the session and station cookies are
SameSite=Lax: a cross-site POST does not carry them at all in these browsers, so even a browser
that dropped the headers would arrive signed out. The JSON API (/api/v1) is left alone: it
authenticates by a bearer token, which a browser never attaches by itself.
"""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, render_template_string, request, session

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
# Anything but HTML (label previews, JSON, CSV, scripts, styles): nothing may load or run in it when it
# is opened as a document of its own; only the browser's own viewer styles it (Chromium's image and
# text viewers use style attributes, which the page policy would report as violations).
FILE_POLICY = ("default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; base-uri 'none'; "
               "form-action 'none'; frame-ancestors 'none'")
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
API_PREFIX = "/api/v1"

REFUSED = "This was sent from another website, so the station refused it — nothing changed."
REFUSED_DETAIL = "Use the station's own pages. If you did tap a button here, reload the page and try again."
# A page of its own for plain form posts (htmx and station.js requests get the floor's banner).
_REFUSED_PAGE = """{% extends "base.html" %}{% from "partials/banner.html" import banner %}
{% block title %}Refused{% endblock %}{% block heading %}Refused{% endblock %}
{% block content %}{{ banner("error", message, detail) }}
<p><a class="button button--primary" href="{{ url_for('home.index') }}">Go to the start page</a></p>
{% endblock %}"""

_DEFAULT_PORTS = {"http": "80", "https": "443"}


def normalise_origin(value: str | None) -> str | None:
    """scheme://host[:port] in lower case with the scheme's default port left out; None when
    `value` is not an http(s) URL or origin."""
    if not value:
        return None
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        return None
    scheme, host = parts.scheme.lower(), (parts.hostname or "")
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    if ":" in host:  # an IPv6 literal keeps its brackets
        host = f"[{host}]"
    if port is not None and str(port) != _DEFAULT_PORTS[scheme]:
        host = f"{host}:{port}"
    return f"{scheme}://{host}"


def trusted_origins(app: Flask) -> frozenset[str]:
    """STATION_TRUSTED_ORIGINS as normalised origins (a str or a list of them; bad entries raise)."""
    value = app.config.get("TRUSTED_ORIGINS") or ()
    if isinstance(value, str):
        value = value.replace(",", " ").split()
    origins = set()
    for entry in value:
        origin = normalise_origin(entry)
        if origin is None:
            raise ValueError(f"STATION_TRUSTED_ORIGINS: {entry!r} is not an origin like https://station.example.com")
        origins.add(origin)
    return frozenset(origins)


def forged(headers, own_origin: str, trusted: frozenset[str]) -> bool:
    """True when a state-changing request's headers say another site's page sent it."""
    site = (headers.get("Sec-Fetch-Site") or "").strip().lower()
    if site == "cross-site":
        return True
    allowed = trusted | {own_origin}
    origin = headers.get("Origin")
    if origin is not None:
        return normalise_origin(origin) not in allowed  # "null" and junk normalise to None
    referer = headers.get("Referer")
    if referer:
        return normalise_origin(referer) not in allowed
    # A browser always sends Origin with a POST; a sibling site's request without one is not ours.
    return site == "same-site"


def _is_page_write() -> bool:
    if request.method not in STATE_CHANGING:
        return False
    path = request.path
    return not (path == API_PREFIX or path.startswith(API_PREFIX + "/"))


def _refusal():
    from .auth import banner_response, is_htmx

    if is_htmx():
        return banner_response("error", REFUSED, 403, REFUSED_DETAIL)
    return render_template_string(_REFUSED_PAGE, message=REFUSED, detail=REFUSED_DETAIL), 403


def _signed_in() -> bool:
    from .auth import SESSION_KEY

    return bool(session.get(SESSION_KEY))


def init_app(app: Flask) -> None:
    trusted_origins(app)  # checked at start: a typo must not wait for the first form

    @app.before_request
    def refuse_forged_requests():
        if not _is_page_write():
            return None
        own = normalise_origin(f"{request.scheme}://{request.host}") or ""
        if forged(request.headers, own, trusted_origins(app)):
            app.logger.warning("refused a cross-site %s %s (Origin %r, Referer %r, Sec-Fetch-Site %r)",
                               request.method, request.path, request.headers.get("Origin"),
                               request.headers.get("Referer"), request.headers.get("Sec-Fetch-Site"))
            return _refusal()
        return None

    @app.after_request
    def security_headers(response):
        html = response.mimetype == "text/html"
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value if html or name != "Content-Security-Policy" else FILE_POLICY)
        if html and "Cache-Control" not in response.headers and _signed_in():
            response.headers["Cache-Control"] = "no-store"
        return response

