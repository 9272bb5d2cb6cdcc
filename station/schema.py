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
    cfg = Config(str(ROOT / "alembic.ini"))
    with db.engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")
    ensure_defaults(db, config)


def ensure_defaults(db: Database, config=DEFAULTS) -> None:
    """The "default" lot-numbering scheme, from the configured pattern and reset."""
    with db.write() as session:
        if session.scalar(select(LotScheme).where(LotScheme.name == "default")) is None:
            session.add(LotScheme(name="default", pattern=config["DEFAULT_LOT_PATTERN"],
                                  reset=SequenceReset(config["DEFAULT_LOT_RESET"])))
