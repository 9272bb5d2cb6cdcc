"""A throw-away PostgreSQL database for a benchmark run (STATION_BENCH_PG_URL names the server)."""
from __future__ import annotations

import os
import uuid
from typing import Callable

from sqlalchemy import create_engine, text

PG_ADMIN = os.environ.get("STATION_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def throwaway_database(prefix: str) -> tuple[str, Callable[[], None]] | None:
    """(url, drop) of a new database named prefix_<random>, or None (said why) without a server."""
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001 - no server: the bench runs on SQLite alone
        print(f"PostgreSQL skipped: {exc.__class__.__name__}")
        admin.dispose()
        return None

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return PG_ADMIN.rsplit("/", 1)[0] + "/" + name, drop
