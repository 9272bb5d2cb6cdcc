"""Configuration from environment variables, with defaults for the embedded station."""
from __future__ import annotations

import os
from pathlib import Path

from .netpolicy import parse_networks

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


# GS1 company prefix for the SSCCs Station draws: 7312345 is the made-up prefix of the demo data.
# A site must set its own, licensed from its GS1 member organisation, before printing pallet labels.
DEMO_GS1_COMPANY_PREFIX = "7312345"


def sscc_settings() -> tuple[str, int]:
    """(company prefix, extension digit) for new SSCCs, from STATION_GS1_COMPANY_PREFIX (7 to 10
    digits) and STATION_SSCC_EXTENSION (one digit, default 0); ValueError names a bad variable."""
    env = os.environ.get
    prefix = env("STATION_GS1_COMPANY_PREFIX", DEMO_GS1_COMPANY_PREFIX).strip()
    if not (prefix.isascii() and prefix.isdigit() and 7 <= len(prefix) <= 10):
        raise ValueError(f"STATION_GS1_COMPANY_PREFIX must be a GS1 company prefix of 7 to 10 digits, "
                         f"not {prefix!r}.")
    extension = env("STATION_SSCC_EXTENSION", "0").strip()
    if not (extension.isascii() and extension.isdigit() and len(extension) == 1):
        raise ValueError(f"STATION_SSCC_EXTENSION must be one digit (0-9), not {extension!r}.")
    return prefix, int(extension)


def settings(instance_path: str) -> dict:
    """Every setting the app reads, with its default."""
    env = os.environ.get
    company_prefix, sscc_extension = sscc_settings()  # checked at start, not at the first pallet label
    return {
        "DATABASE_URL": database_url(instance_path),
        "SECRET_KEY": env("STATION_SECRET_KEY", "dev-only-change-me"),
        "API_TOKEN_CACHE_SECONDS": float(env("STATION_API_TOKEN_CACHE_SECONDS", "5")),
        "NODE_MODULES": env("STATION_NODE_MODULES", str(ROOT / "node_modules")),
        "DEFAULT_LOT_PATTERN": env("STATION_LOT_PATTERN", "{yy}{mm}{dd}-{seq:03}"),
        "DEFAULT_LOT_RESET": env("STATION_LOT_RESET", "daily"),
        # The same code from the same scanner within this many ms is a trigger bounce, ignored.
        "SCAN_BOUNCE_MS": int(env("STATION_SCAN_BOUNCE_MS", "500")),
        # SSCCs (pallet labels): extension digit + company prefix + serial + check digit.
        "GS1_COMPANY_PREFIX": company_prefix,
        "SSCC_EXTENSION": sscc_extension,
        # The floor (views/floor.py): signed-in operators are signed out after this many idle minutes;
        # these roles sign in with badge and PIN; this many wrong PINs lock a badge for this long.
        "FLOOR_IDLE_MINUTES": float(env("STATION_FLOOR_IDLE_MINUTES", "30")),
        "FLOOR_PIN_ROLES": tuple(env("STATION_FLOOR_PIN_ROLES", "supervisor,admin").replace(",", " ").split()),
        "FLOOR_PIN_ATTEMPTS": int(env("STATION_FLOOR_PIN_ATTEMPTS", "3")),
        "FLOOR_PIN_LOCK_SECONDS": float(env("STATION_FLOOR_PIN_LOCK_SECONDS", "60")),
        # The floor session lives in Flask's signed cookie: not readable by page scripts, not sent
        # along with requests from other sites' forms.
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        # Origins besides the request's own whose page forms are accepted (station/security.py): a
        # reverse proxy that changes the host or scheme, e.g. "https://station.example.com".
        "TRUSTED_ORIGINS": tuple(env("STATION_TRUSTED_ORIGINS", "").replace(",", " ").split()),
        # Printers and scanners on the network must be inside these networks (CIDRs; empty: anywhere).
        "DEVICE_NETWORKS": parse_networks(env("STATION_DEVICE_NETWORKS", "")),
        # Picking: the picker scans the location before the lot (off: the lot scan alone confirms).
        "PICK_SCAN_LOCATION": env("STATION_PICK_SCAN_LOCATION", "0").strip().lower() in ("1", "true", "yes", "on"),
    }
