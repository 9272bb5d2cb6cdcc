"""Server-rendered pages (HTMX); one blueprint per workflow."""
from __future__ import annotations


def init_app(app) -> None:
    from . import (filters, floor, home, line, lots, moving, operators_admin, picking, printers, receiving,
                   recalls, scan, setup, signin, supervisor, trace)

    filters.init_app(app)
    floor.init_app(app)
    for module in (signin, setup, home, lots, printers, scan, receiving, picking, moving, line, trace, recalls):
        app.register_blueprint(module.bp)
    app.register_blueprint(operators_admin.bp)  # admins: PIN locks, sign out everywhere
    supervisor.init_app(app)  # the hub and its reports: expiry, audit, overrides
