"""Configuration from environment variables, with defaults for the embedded station."""
from __future__ import annotations

import errno
import os
import secrets
import stat
from pathlib import Path

from . import webhook_policy
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


class ConfigError(ValueError):
    """A setting Station will not start with; the message says which and what to do."""


# --- the secret key (signs the session and station cookies) ----------------------------------------

SECRET_KEY_FILE = "secret_key"      # in the instance folder, made on first start when none is set
MIN_SECRET_KEY_LENGTH = 32
# Keys that were ever shipped as a default or an example (config, env example, docs): anyone can sign
# cookies with them, so Station refuses to start with one.
KNOWN_SECRET_KEYS = frozenset({
    "dev-only-change-me", "change-me", "changeme", "change_me", "secret", "dev", "development",
    "replace-me", "please-change-me", "your-secret-key", "station",
})


def _refusal_of(key: str, where: str) -> str | None:
    """Why `key` must not sign anything, in words; None when it is fine."""
    stripped = key.strip()
    lowered = stripped.lower()
    if lowered in KNOWN_SECRET_KEYS or "change-me" in lowered or "changeme" in lowered:
        return (f"{where} is an example or development value that anyone can read in Station's code — "
                f"with it anyone can sign a session cookie. Set a long random value, e.g. the output of "
                f"python3 -c 'import secrets; print(secrets.token_urlsafe(48))', or leave "
                f"STATION_SECRET_KEY unset to have one made in the instance folder.")
    if len(stripped) < MIN_SECRET_KEY_LENGTH:
        return (f"{where} is {len(stripped)} characters long; a secret key needs at least "
                f"{MIN_SECRET_KEY_LENGTH} random characters, e.g. the output of "
                f"python3 -c 'import secrets; print(secrets.token_urlsafe(48))'.")
    return None


def check_secret_key(key: str, where: str = "STATION_SECRET_KEY") -> str:
    """`key` when it may sign sessions; ConfigError in words when it is known, empty or too short."""
    problem = _refusal_of(key, where)
    if problem:
        raise ConfigError(problem)
    return key.strip()


def _read_key_file(path: Path) -> str:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError(f"{path} is not a regular file; remove it and start again (a new key is made).")
        if info.st_mode & 0o077:
            raise ConfigError(f"{path} can be read by other users (mode {stat.S_IMODE(info.st_mode):04o}): "
                              f"anyone who reads it can sign session cookies. Run 'chmod 600 {path}' (and "
                              f"consider a new key: remove the file, every operator then signs in again).")
        data = os.read(fd, 4096)
    finally:
        os.close(fd)
    return check_secret_key(data.decode("utf-8", "replace"), f"The key in {path}")


def instance_secret_key(instance_path: str | os.PathLike) -> str:
    """The key in the instance folder's `secret_key` file, made on first use: random, mode 0600,
    created whole (written to a private temporary file, then linked into place, which fails when the
    file exists), so processes starting at the same moment all end up with the one that was made
    first. A file with group or other permissions, or too short, is refused (ConfigError)."""
    folder = Path(instance_path)
    path = folder / SECRET_KEY_FILE
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        temporary = folder / f".{SECRET_KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, (secrets.token_urlsafe(48) + "\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(temporary, path)  # exclusive, like O_EXCL: the first process to link wins
        except FileExistsError:
            pass
        except OSError as exc:  # a file system without hard links: O_EXCL on the file itself
            if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOSYS):
                raise
            _create_exclusive(path)
        finally:
            temporary.unlink(missing_ok=True)
    return _read_key_file(path)


def _create_exclusive(path: Path) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    try:
        os.write(fd, (secrets.token_urlsafe(48) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def secret_key(instance_path: str | os.PathLike) -> str:
    """STATION_SECRET_KEY when it is set (refused when it is an example value or short), else the key
    file in the instance folder (made on first start). Never a fixed value."""
    configured = os.environ.get("STATION_SECRET_KEY", "")
    if configured.strip():
        return check_secret_key(configured)
    return instance_secret_key(instance_path)


def cookie_secure_setting() -> str:
    """STATION_COOKIE_SECURE: "auto" (default: Secure when the request came over HTTPS, as seen through
    STATION_PROXY_FIX), "1"/"true" (always) or "0"/"false" (never)."""
    value = os.environ.get("STATION_COOKIE_SECURE", "auto").strip().lower() or "auto"
    if value in ("1", "true", "yes", "on", "always"):
        return "always"
    if value in ("0", "false", "no", "off", "never"):
        return "never"
    if value == "auto":
        return "auto"
    raise ConfigError(f"STATION_COOKIE_SECURE must be auto, true or false, not {value!r}.")


def proxy_fix_setting() -> int:
    value = os.environ.get("STATION_PROXY_FIX", "0").strip() or "0"
    if not (value.isascii() and value.isdigit() and int(value) <= 5):
        raise ConfigError(f"STATION_PROXY_FIX must be the number of reverse proxies in front of Station "
                          f"(0 to 5), not {value!r}.")
    return int(value)


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


def count_approval_threshold() -> int:
    """STATION_COUNT_APPROVAL_THRESHOLD (default 10): a stock count waits for a supervisor's approval when
    any one of its lines differs from the books by MORE than this many units, found or missing (a line
    of 40 on the books counted 29 or 51, with 10); every smaller difference is booked at once. 0: every
    difference waits. A whole number, 0 to 100,000,000."""
    value = os.environ.get("STATION_COUNT_APPROVAL_THRESHOLD", "10").strip() or "10"
    if not (value.isascii() and value.isdigit() and int(value) <= 100_000_000):
        raise ConfigError(f"STATION_COUNT_APPROVAL_THRESHOLD must be a whole number of units (0 or more), "
                          f"not {value!r}.")
    return int(value)


def decimal_comma_setting() -> bool:
    """STATION_DECIMAL_COMMA: "1"/"true" when the site writes 12,35 (most of Europe), "0"/"false"
    (default) for 12.35. Pages show quantities and the keypad's separator key that way; typed quantities
    are read either way."""
    value = os.environ.get("STATION_DECIMAL_COMMA", "0").strip().lower() or "0"
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"STATION_DECIMAL_COMMA must be true (12,35) or false (12.35), not {value!r}.")


# Webhook delivery (station/processes/webhook_worker.py): the setting, its default, and its bounds.
WEBHOOK_DELIVERY = {
    # The whole request (connect, send, answer) must end within this many seconds, or it is a failure.
    "WEBHOOK_TIMEOUT_SECONDS": ("STATION_WEBHOOK_TIMEOUT_SECONDS", 10.0, 0.1, 300.0),
    # Retries wait a random time up to base * 2^(attempts-1), capped (exponential backoff, full jitter).
    "WEBHOOK_RETRY_BASE_SECONDS": ("STATION_WEBHOOK_RETRY_BASE_SECONDS", 10.0, 0.01, 86400.0),
    "WEBHOOK_RETRY_MAX_SECONDS": ("STATION_WEBHOOK_RETRY_MAX_SECONDS", 3600.0, 0.01, 7 * 86400.0),
    # A delivery still failing this many hours after it was made is given up (dead; "deliver again").
    "WEBHOOK_GIVE_UP_HOURS": ("STATION_WEBHOOK_GIVE_UP_HOURS", 72.0, 0.001, 24 * 365.0),
}


def webhook_delivery_settings() -> dict:
    """The WEBHOOK_DELIVERY settings from the environment; ConfigError names a bad one."""
    values = {}
    for key, (name, default, low, high) in WEBHOOK_DELIVERY.items():
        text = os.environ.get(name, "").strip()
        try:
            value = float(text) if text else default
        except ValueError:
            value = float("nan")
        if not low <= value <= high:  # also refuses nan and inf
            raise ConfigError(f"{name} must be a number of {'hours' if 'HOURS' in name else 'seconds'} "
                              f"from {low:g} to {high:g}, not {text!r}.")
        values[key] = value
    return values


def settings(instance_path: str) -> dict:
    """Every setting the app reads, with its default."""
    env = os.environ.get
    company_prefix, sscc_extension = sscc_settings()  # checked at start, not at the first pallet label
    return {
        "DATABASE_URL": database_url(instance_path),
        # Signs the session and station cookies: STATION_SECRET_KEY, else instance/secret_key (made on
        # first start); a known example value or a short key stops the start with a ConfigError.
        "SECRET_KEY": secret_key(instance_path),
        # Secure on the session and station cookies: "auto" (when the request is HTTPS), "always", "never".
        "COOKIE_SECURE": cookie_secure_setting(),
        # Reverse proxies in front of Station that set X-Forwarded-For/-Proto/-Host (werkzeug ProxyFix):
        # 0 (default) trusts none of those headers; 1 for one proxy (nginx, Caddy) in front.
        "PROXY_FIX": proxy_fix_setting(),
        "API_TOKEN_CACHE_SECONDS": float(env("STATION_API_TOKEN_CACHE_SECONDS", "5")),
        "NODE_MODULES": env("STATION_NODE_MODULES", str(ROOT / "node_modules")),
        "DEFAULT_LOT_PATTERN": env("STATION_LOT_PATTERN", "{yy}{mm}{dd}-{seq:03}"),
        "DEFAULT_LOT_RESET": env("STATION_LOT_RESET", "daily"),
        # The same code from the same scanner within this many ms is a trigger bounce, ignored.
        "SCAN_BOUNCE_MS": int(env("STATION_SCAN_BOUNCE_MS", "500")),
        # SSCCs (pallet labels): extension digit + company prefix + serial + check digit.
        "GS1_COMPANY_PREFIX": company_prefix,
        "SSCC_EXTENSION": sscc_extension,
        # The floor (station/auth/): signed-in operators are signed out after this many idle minutes;
        # these roles sign in with badge and PIN; this many wrong PINs lock a badge for this long.
        "FLOOR_IDLE_MINUTES": float(env("STATION_FLOOR_IDLE_MINUTES", "30")),
        "FLOOR_PIN_ROLES": tuple(env("STATION_FLOOR_PIN_ROLES", "supervisor,admin").replace(",", " ").split()),
        "FLOOR_PIN_ATTEMPTS": int(env("STATION_FLOOR_PIN_ATTEMPTS", "3")),
        "FLOOR_PIN_LOCK_SECONDS": float(env("STATION_FLOOR_PIN_LOCK_SECONDS", "60")),
        # Each lock in a row lasts twice the one before, up to this (an admin clears a lock at once).
        "FLOOR_PIN_LOCK_MAX_SECONDS": float(env("STATION_FLOOR_PIN_LOCK_MAX_SECONDS", str(24 * 3600))),
        # The floor session lives in Flask's signed cookie: not readable by page scripts, not sent
        # along with requests from other sites' forms.
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        # Origins besides the request's own whose page forms are accepted (station/security.py): a
        # reverse proxy that changes the host or scheme, e.g. "https://station.example.com".
        "TRUSTED_ORIGINS": tuple(env("STATION_TRUSTED_ORIGINS", "").replace(",", " ").split()),
        # Printers and scanners on the network must be inside these networks (CIDRs; empty: anywhere).
        "DEVICE_NETWORKS": parse_networks(env("STATION_DEVICE_NETWORKS", "")),
        # Webhook receivers on a private network must be inside these (CIDRs; empty: public addresses only).
        "WEBHOOK_NETWORKS": webhook_policy.parse_networks(env("STATION_WEBHOOK_NETWORKS", "")),
        # Webhook timeout, retry backoff and give-up window (WEBHOOK_DELIVERY above).
        **webhook_delivery_settings(),
        # Picking: the picker scans the location before the lot (off: the lot scan alone confirms).
        "PICK_SCAN_LOCATION": env("STATION_PICK_SCAN_LOCATION", "0").strip().lower() in ("1", "true", "yes", "on"),
        # Stock counts: a difference of more than this many units on a line waits for a supervisor.
        "COUNT_APPROVAL_THRESHOLD": count_approval_threshold(),
        # Quantities on the pages (and the keypad's separator key): 12,35 when true, else 12.35.
        "DECIMAL_COMMA": decimal_comma_setting(),
    }
