"""Create or upgrade the schema with Alembic, and the rows every site needs."""
from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy import select

from .config import ROOT
from .db import Database
from .models import LotScheme, SequenceReset

DEFAULTS = {"DEFAULT_LOT_PATTERN": "{yy}{mm}{dd}-{seq:03}", "DEFAULT_LOT_RESET": "daily"}


def upgrade(db: Database, config=DEFAULTS) -> None:
    """Run migrations to head on `db`, then make sure the rows every site needs exist."""
    migrate(db, "head")
    ensure_defaults(db, config)


def migrate(db: Database, revision: str, *, down: bool = False) -> None:
    """Upgrade (or downgrade) `db` to `revision` in one transaction.

    On SQLite a migration that changes a table's columns or CHECKs rebuilds the table (copy, drop,
    rename). Dropping a table that other rows reference fails while foreign keys are enforced, so they
    are switched off for the migration — as SQLite's own procedure for schema changes says — and every
    reference is checked before the transaction commits: a migration cannot leave a dangling one."""
    cfg = Config(str(ROOT / "alembic.ini"))
    with db.engine.connect() as connection:
        raw = connection.connection.dbapi_connection if db.is_sqlite else None
        if raw is not None:
            raw.execute("PRAGMA foreign_keys=OFF")  # a no-op inside a transaction: before BEGIN
        try:
            with connection.begin():
                cfg.attributes["connection"] = connection
                (command.downgrade if down else command.upgrade)(cfg, revision)
                if raw is not None:
                    dangling = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                    if dangling:
                        raise RuntimeError(f"the migration to {revision} left rows pointing at nothing: "
                                           f"{dangling[:5]}; nothing was changed")
        finally:
            if raw is not None:
                raw.execute("PRAGMA foreign_keys=ON")


def ensure_defaults(db: Database, config=DEFAULTS) -> None:
    """The "default" lot-numbering scheme, from the configured pattern and reset."""
    with db.write() as session:
        if session.scalar(select(LotScheme).where(LotScheme.name == "default")) is None:
            session.add(LotScheme(name="default", pattern=config["DEFAULT_LOT_PATTERN"],
                                  reset=SequenceReset(config["DEFAULT_LOT_RESET"])))
