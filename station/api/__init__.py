"""The JSON API under /api/v1: bearer tokens, pydantic bodies, one JSON error shape, OpenAPI."""
from __future__ import annotations

from werkzeug.exceptions import HTTPException


def init_app(app) -> None:
    from . import floor_views, labels, openapi, picking_views, print_views, views  # noqa: F401 - importing them registers their routes
    from . import scan_views  # noqa: F401
    from . import trace_views  # noqa: F401
    from . import recall_views  # noqa: F401
    from .core import bp, routing_error

    app.register_blueprint(bp)
    app.register_error_handler(HTTPException, routing_error)
