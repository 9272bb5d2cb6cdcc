"""Server-rendered pages (HTMX); one blueprint per workflow."""
from __future__ import annotations


def init_app(app) -> None:
    from .. import auth
    from . import (filters, home, intake, line, lots, moving, operators_admin, picking, printers, receiving,
                   recalls, scan, setup, signin, supervisor, trace)
    from . import station_feed  # noqa: F401 - adds scan.station_feed to the scan blueprint before it is registered
    from . import picking_taps  # noqa: F401 - adds the pick page's taps to the picking blueprint
    from . import line_runs  # noqa: F401 - adds a run's own page to the line blueprint
    from . import lot_actions  # noqa: F401 - adds the lot card's hold / quarantine / release to the lots blueprint
    from . import scan_log  # noqa: F401 - adds the scan log (and the |controls filter) to the scan blueprint
    from . import recall_export  # noqa: F401 - adds a recall's CSV to the recalls blueprint
    from . import recall_scans  # noqa: F401 - adds the recall pages' scan URLs to the recalls blueprint
    from . import printer_settings  # noqa: F401 - adds the printer settings (admins) to the printers blueprint
    from . import operators_edit  # noqa: F401 - adds add/role/PIN/disable/badge label to the operators blueprint

    filters.init_app(app)
    auth.init_app(app)
    for module in (signin, setup, home, lots, printers, scan, receiving, picking, moving, line, trace, recalls):
        app.register_blueprint(module.bp)
    app.register_blueprint(intake.bp)  # /floor/answer/<scan id>: a station scanner's applied scans
    app.register_blueprint(operators_admin.bp)  # admins: PIN locks, sign out everywhere
    from . import imports_admin
    app.register_blueprint(imports_admin.bp)  # admins: bulk import (/import)
    from . import counting
    app.register_blueprint(counting.bp)  # /count: stock counts, and the supervisor's approvals (/count/pending)
    from . import customers_admin, orders_admin
    app.register_blueprint(orders_admin.bp)  # supervisors: /orders (enter, cancel) and /customers
    app.register_blueprint(customers_admin.bp)
    from . import returns
    app.register_blueprint(returns.bp)  # /return: customer returns at the dock
    from . import expected_admin
    app.register_blueprint(expected_admin.bp)  # supervisors: /expected (expected deliveries: enter, close short)
    from . import webhooks_admin
    app.register_blueprint(webhooks_admin.bp)  # admins: /webhooks (subscriptions, dead deliveries, replay)
    supervisor.init_app(app)  # the hub and its reports: expiry, audit, overrides
