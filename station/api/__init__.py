"""The JSON API under /api/v1: bearer tokens, pydantic bodies, one JSON error shape, OpenAPI."""
from __future__ import annotations

from werkzeug.exceptions import HTTPException


def init_app(app) -> None:
    # Importing the modules registers their routes: views, labels, and every *_views module.
    import importlib
    import pkgutil

    for module in pkgutil.iter_modules(__path__):
        if module.name in ("views", "labels") or module.name.endswith("_views"):
            importlib.import_module(f"{__name__}.{module.name}")
    from . import openapi  # noqa: F401 - the document lists the routes registered above
    from .core import bp, routing_error

    app.register_blueprint(bp)
    app.register_error_handler(HTTPException, routing_error)
