"""Flask's signed-cookie sessions, opened only when a request carries a session cookie."""
from __future__ import annotations

from flask.sessions import SecureCookieSession, SecureCookieSessionInterface


class LazyCookieSessionInterface(SecureCookieSessionInterface):
    """Scanners and API clients send no cookie: skip building the signing serializer for them,
    which Flask does on every request and which cost as much as a scan's database lookup."""

    def open_session(self, app, request) -> SecureCookieSession | None:
        if app.secret_key and self.get_cookie_name(app) not in request.cookies:
            return self.session_class()
        return super().open_session(app, request)
