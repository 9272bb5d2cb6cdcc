"""Server-rendered pages (HTMX); one blueprint per workflow."""
from __future__ import annotations


def init_app(app) -> None:
    from . import home

    app.register_blueprint(home.bp)
