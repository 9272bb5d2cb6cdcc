"""What every page view shares: fragment-or-page rendering and cleaning a scanned value."""
from __future__ import annotations

import unicodedata

from flask import Response, make_response, render_template, request


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


def clean_scan(raw: str | None) -> str:
    """A scanned or typed value without control or format characters and surrounding whitespace.

    Keyboard-wedge scanners can add CR/LF/Tab, a GS separator or invisible prefixes; none of
    them belongs in a lot number or location code. (Not for GS1 element strings: there GS
    separates fields, and the scan parser must see it.)
    """
    text = "".join(c for c in (raw or "") if unicodedata.category(c) not in ("Cc", "Cf"))
    return text.strip()
