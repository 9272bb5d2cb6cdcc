"""The JSON API under /api/v1: bearer tokens, pydantic bodies, one JSON error shape, OpenAPI."""
from __future__ import annotations

from werkzeug.exceptions import HTTPException


def init_app(app) -> None:
    # Importing the modules registers their routes.
    from . import (floor_views, labels, openapi, picking_views, print_views, recall_views,  # noqa: F401
                   report_views, scan_views, trace_views, views)
    from .core import bp, routing_error

    app.register_blueprint(bp)
    app.register_error_handler(HTTPException, routing_error)
