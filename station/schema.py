"""Create or upgrade the schema with Alembic, and the rows every site needs."""
from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy import select

from .config import ROOT
from .db import Database
from .models import LotScheme, SequenceReset


def upgrade(db: Database, config) -> None:
    """Run migrations to head on `db`, then make sure the default lot scheme exists."""
    cfg = Config(str(ROOT / "alembic.ini"))
    with db.engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")
    with db.write() as session:
        if session.scalar(select(LotScheme).where(LotScheme.name == "default")) is None:
            session.add(LotScheme(name="default", pattern=config["DEFAULT_LOT_PATTERN"],
                                  reset=SequenceReset(config["DEFAULT_LOT_RESET"])))
