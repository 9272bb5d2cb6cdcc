"""Configuration from environment variables, with defaults for the embedded station."""
from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def database_url(instance_path: str | os.PathLike) -> str:
    """The database URL: STATION_DATABASE_URL, then DATABASE_URL, else SQLite in the instance folder."""
    url = os.environ.get("STATION_DATABASE_URL") or os.environ.get("DATABASE_URL")
    if url:
        return normalise_url(url)
    return f"sqlite:///{Path(instance_path) / 'station.db'}"


def normalise_url(url: str) -> str:
    """Map the common postgres:// spellings to the psycopg 3 driver SQLAlchemy should use."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def settings(instance_path: str) -> dict:
    """Every setting the app reads, with its default."""
    env = os.environ.get
    return {
        "DATABASE_URL": database_url(instance_path),
        "SECRET_KEY": env("STATION_SECRET_KEY", "dev-only-change-me"),
        "API_TOKEN_CACHE_SECONDS": float(env("STATION_API_TOKEN_CACHE_SECONDS", "5")),
        "NODE_MODULES": env("STATION_NODE_MODULES", str(ROOT / "node_modules")),
        "DEFAULT_LOT_PATTERN": env("STATION_LOT_PATTERN", "{yy}{mm}{dd}-{seq:03}"),
        "DEFAULT_LOT_RESET": env("STATION_LOT_RESET", "daily"),
        # The same code from the same scanner within this many ms is a trigger bounce, ignored.
        "SCAN_BOUNCE_MS": int(env("STATION_SCAN_BOUNCE_MS", "500")),
    }
