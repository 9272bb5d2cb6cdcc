"""Flask's signed-cookie sessions, opened only when a request carries a session cookie.

The cookie holds no identity of its own worth stealing for long: the floor session in it is a random
secret whose SHA-256 names a floor_sessions row (station/auth/), which ends on the server.

Secure flag (STATION_COOKIE_SECURE, config "COOKIE_SECURE"): "auto" (the default) marks the session
and station cookies Secure when the request came over HTTPS — behind a reverse proxy that ends TLS
that needs STATION_PROXY_FIX (the proxy's X-Forwarded-Proto), else every request looks like plain
HTTP; "always" marks them Secure whatever the request (a browser then drops them over plain HTTP);
"never" leaves them unmarked."""
from __future__ import annotations

from flask import has_request_context, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface


def cookie_secure(app) -> bool:
    """Whether a cookie set now gets the Secure attribute."""
    mode = app.config.get("COOKIE_SECURE", "auto")
    if mode is True or mode == "always":
        return True
    if mode is False or mode == "never":
        return False
    if app.config.get("SESSION_COOKIE_SECURE"):
        return True
    return has_request_context() and request.is_secure


class LazyCookieSessionInterface(SecureCookieSessionInterface):
    """Scanners and API clients send no cookie: skip building the signing serializer for them,
    which Flask does on every request and which cost as much as a scan's database lookup."""

    def open_session(self, app, request) -> SecureCookieSession | None:
        if app.secret_key and self.get_cookie_name(app) not in request.cookies:
            return self.session_class()
        return super().open_session(app, request)

    def get_cookie_secure(self, app) -> bool:
        return cookie_secure(app)
