"""What every page view shares: fragment-or-page rendering and cleaning a scanned value."""
from __future__ import annotations

from flask import Response, make_response, render_template, request

# Flask-free, so workflow steps use them too; kept importable from here for the pages.
from ..workflows.inputs import MAX_QTY, clean_scan, parse_qty  # noqa: F401


def wants_fragment() -> bool:
    """True when htmx asked for a piece of the page rather than a whole page.

    A history restore (the back button after a cache miss) needs the whole page even
    though htmx may send HX-Request with it.
    """
    return (request.headers.get("HX-Request") == "true"
            and request.headers.get("HX-History-Restore-Request") != "true")


def page_or_fragment(page: str, fragment: str, status: int = 200, **context) -> Response:
    """Render `fragment` alone for htmx, else the full `page` (which includes the same fragment)."""
    template = fragment if wants_fragment() else page
    response = make_response(render_template(template, **context), status)
    # One URL answers two ways; caches and the browser's back/forward cache must keep them apart.
    response.vary.add("HX-Request")
    return response
