"""What a request may carry: ids in range, bodies of bounded size, each refusal in words.

- Every ``<int:…>`` in a route is an id (station/ids.py): 1 .. 2**63-1, else 404 "There is no print
  job 18446744073709551616 …" — never a database error.
- A request body above MAX_CONTENT_LENGTH (``STATION_MAX_BODY_BYTES``, default 1 MB) is refused with
  413 before it is read: JSON for the API, the floor's red banner for htmx / station.js, a page
  otherwise. A route that needs more (a file import) is marked ``@large_body``: it takes up to
  MAX_UPLOAD_BYTES. Waitress refuses a body above the largest limit before buffering it
  (station/server.py); every other route's limit is checked against the declared Content-Length before
  anything else runs — before the sign-in or token check, so an oversized body is 413 whoever sends it.
"""
from __future__ import annotations

import os

from flask import Flask, Response, make_response, render_template_string, request
from werkzeug.exceptions import RequestEntityTooLarge

from .ids import IdConverter, IdOutOfRange, IdRule

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
API_PREFIX = "/api/v1"

_PAGE = """{% extends "base.html" %}{% from "partials/banner.html" import banner %}
{% block title %}{{ title }}{% endblock %}{% block heading %}{{ title }}{% endblock %}
{% block content %}{{ banner("error", message, detail) }}
<p><a class="button button--primary" href="{{ url_for('home.index') }}">Go to the start page</a></p>
{% endblock %}"""


def max_body_bytes() -> int:
    """STATION_MAX_BODY_BYTES: the largest request body accepted (bytes; at least 1 KB)."""
    raw = os.environ.get("STATION_MAX_BODY_BYTES", "").strip()
    if not raw:
        return DEFAULT_MAX_BODY_BYTES
    if not (raw.isascii() and raw.isdigit()) or not 1024 <= int(raw) <= 2**40:
        raise ValueError(f"STATION_MAX_BODY_BYTES must be a number of bytes from 1024 up, not {raw!r}.")
    return int(raw)


def _size(n: int) -> str:
    if n >= 1024 * 1024 and n % (1024 * 1024) == 0:
        return f"{n // (1024 * 1024)} MB"
    if n >= 1024 and n % 1024 == 0:
        return f"{n // 1024} KB"
    return f"{n} bytes"


def too_large_message(limit: int | None) -> str:
    said = f"more than {_size(limit)}" if limit else "too large"
    return f"The request is {said}, so it was refused unread — nothing changed."


def _is_api() -> bool:
    return request.path == API_PREFIX or request.path.startswith(API_PREFIX + "/")


def _refusal(status: int, code: str, title: str, message: str, detail: str | None) -> Response:
    from .api.core import error_response
    from .auth import banner_response, is_htmx, wants_json

    if _is_api():
        return error_response(status, code, message + (f" {detail}" if detail else ""))
    if is_htmx():
        return banner_response("error", message, status, detail)
    if wants_json():
        return make_response({"error": code, "message": message}, status)
    return make_response(render_template_string(_PAGE, title=title, message=message, detail=detail), status)


def large_body(view):
    """Mark a view that takes a body up to the app's MAX_UPLOAD_BYTES (put it right under the route)."""
    view.station_large_body = True
    return view


def _check_body_size() -> None:
    """The route's body limit, from the declared Content-Length, before any other check."""
    from flask import current_app

    view = current_app.view_functions.get(request.endpoint)
    if getattr(view, "station_large_body", False):
        request.max_content_length = current_app.config.get("MAX_UPLOAD_BYTES") or current_app.config[
            "MAX_CONTENT_LENGTH"]
    limit = request.max_content_length
    if limit and request.content_length is not None and request.content_length > limit:
        raise RequestEntityTooLarge()


def init_app(app: Flask) -> None:
    app.before_request_funcs.setdefault(None, []).insert(0, _check_body_size)
    # Before any route is added: rules compile their converters when they are registered.
    app.url_rule_class = IdRule
    app.url_map.converters["int"] = IdConverter

    @app.errorhandler(IdOutOfRange)
    def _no_such(exc: IdOutOfRange):
        return _refusal(404, "not_found", "Not found", exc.description,
                        "Check the number: it may have been mistyped or cut off.")

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(exc: RequestEntityTooLarge):
        limit = request.max_content_length
        return _refusal(413, "body_too_large", "Too large", too_large_message(limit),
                        "Send less at a time; a station's forms and scans are far smaller than this.")
