"""Server-rendered pages (HTMX); one blueprint per workflow."""
from __future__ import annotations


def init_app(app) -> None:
    from . import filters, floor, home, lots, printers, scan, setup, signin

    filters.init_app(app)
    floor.init_app(app)
    app.register_blueprint(signin.bp)
    app.register_blueprint(setup.bp)
    app.register_blueprint(home.bp)
    app.register_blueprint(lots.bp)
    app.register_blueprint(printers.bp)
    app.register_blueprint(scan.bp)
    from . import receiving; app.register_blueprint(receiving.bp)  # noqa: E702
    from . import picking; app.register_blueprint(picking.bp)  # noqa: E702
    from . import moving; app.register_blueprint(moving.bp)  # noqa: E702
    from . import line; app.register_blueprint(line.bp)  # noqa: E702
    from . import supervisor; supervisor.init_app(app)  # noqa: E702
    from . import trace; app.register_blueprint(trace.bp)  # noqa: E702
    from . import recalls; app.register_blueprint(recalls.bp)  # noqa: E702
