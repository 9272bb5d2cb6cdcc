"""The web shell: the Flask app factory (create_app), the current app's Database (get_db) and the
vendored front-end files. `from station import create_app, get_db` finds them here (station/__init__.py)."""
from __future__ import annotations

import os
from pathlib import Path

from flask import Flask, abort, current_app, send_from_directory

from . import limits
from .config import ROOT, settings
from .db import Database
from .sessions import LazyCookieSessionInterface


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app: settings from the environment (or `test_config`), database, blueprints, CLI."""
    app = Flask(
        "station",  # the package: the app's name, logger and root path stay those of station/
        instance_path=os.environ.get("STATION_INSTANCE") or str(ROOT / "instance"),
        template_folder=str(ROOT / "templates"),
    )
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.from_mapping(settings(app.instance_path))
    app.config["MAX_CONTENT_LENGTH"] = limits.max_body_bytes()
    if test_config:
        app.config.update(test_config)
    limits.init_app(app)  # before any route: every <int:…> is an id in range (station/ids.py)
    app.session_interface = LazyCookieSessionInterface()
    if app.config.get("PROXY_FIX"):  # X-Forwarded-* from that many proxies (STATION_PROXY_FIX)
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = int(app.config["PROXY_FIX"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)

    app.extensions["station.db"] = Database(app.config["DATABASE_URL"])

    from . import api, cli, security, unavailable, views

    security.init_app(app)  # first: a forged form is refused before anything else runs
    unavailable.init_app(app)
    views.init_app(app)
    api.init_app(app)
    cli.init_app(app)
    app.add_url_rule("/vendor/<path:filename>", "vendor", _vendor)
    return app


def get_db() -> Database:
    """The Database of the current app."""
    return current_app.extensions["station.db"]


# Front-end packages come from npm at set-up; only their dist files are served.
_VENDOR = {"htmx.min.js": "htmx.org/dist/htmx.min.js"}


def _vendor(filename: str):
    relative = _VENDOR.get(filename)
    if relative is None:
        abort(404)
    path = Path(current_app.config["NODE_MODULES"]) / relative
    if not path.is_file():
        abort(404, description=f"{relative} is missing: run scripts/setup.sh (npm install)")
    return send_from_directory(path.parent, path.name, max_age=86400)
