"""Hash chains (issue 13, point 8): the scan log becomes append-only like the ledger, and the rows the
four append-only tables already hold are chained (chain_hash, chain_heads).

- scans refuses UPDATE and DELETE (and TRUNCATE on PostgreSQL), with the same triggers as the ledger
  (migration 0002 on SQLite; station_append_only() on PostgreSQL).
- movements, lot_events, recall_events and scans: every existing row gets its chain_hash, in id order,
  as station/services/chain.py computes it for a new row; chain_heads gets each chain's last id and
  hash. The append-only triggers are dropped (SQLite) or disabled (PostgreSQL) around the backfill.

The hashed columns are those of this revision (COLUMNS below), not whatever the models say later.

Revision ID: 0011
Revises: 0010
"""
from alembic import op
import sqlalchemy as sa

from station.services import chain

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

OLD_APPEND_ONLY = ('movements', 'lot_events', 'recall_events')
CHAINED = ('scans', 'movements', 'lot_events', 'recall_events')
PAGE = 2000

# The hashed columns and their kinds at this revision (chain.column_kinds of the models at 0011).
COLUMNS = {
    'movements': (
        ('ts', 'datetime'), ('kind', 'str'), ('lot_id', 'int'), ('qty', 'int'), ('from_location_id', 'int'),
        ('to_location_id', 'int'), ('handling_unit_id', 'int'), ('operator_id', 'int'), ('station_id', 'int'),
        ('order_line_id', 'int'), ('customer_id', 'int'), ('reference', 'str'), ('reason', 'str'),
        ('raw_scan', 'str'), ('followed_suggestion', 'bool'), ('token_id', 'int'),
    ),
    'lot_events': (
        ('ts', 'datetime'), ('lot_id', 'int'), ('action', 'str'), ('from_status', 'str'), ('to_status', 'str'),
        ('reason', 'str'), ('operator_id', 'int'), ('station_id', 'int'), ('token_id', 'int'),
    ),
    'recall_events': (
        ('ts', 'datetime'), ('recall_id', 'int'), ('action', 'str'), ('lot_id', 'int'), ('customer_id', 'int'),
        ('qty', 'int'), ('note', 'str'), ('operator_id', 'int'), ('station_id', 'int'), ('token_id', 'int'),
    ),
    'scans': (
        ('ts', 'datetime'), ('source', 'str'), ('station_id', 'int'), ('operator_id', 'int'), ('raw', 'bytes'),
        ('text', 'str'), ('client_id', 'str'), ('kind', 'str'), ('ok', 'bool'), ('message', 'str'),
        ('error', 'str'), ('result', 'json'), ('ignored', 'bool'), ('duplicate_of_id', 'int'), ('token_id', 'int'),
    ),
}
JSON_COLUMNS = {('scans', 'result')}


def _sqlite() -> bool:
    return op.get_bind().dialect.name == 'sqlite'


def _create_sqlite_triggers(tables) -> None:
    # The same triggers as migration 0002.
    for table in tables:
        for action in ('UPDATE', 'DELETE'):
            op.execute(
                f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: "
                f"record a correcting entry instead'); END"
            )


def _drop_sqlite_triggers(tables) -> None:
    for table in tables:
        for action in ('update', 'delete'):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{action}")


def _pg_triggers(tables, enable: bool) -> None:
    verb = 'ENABLE' if enable else 'DISABLE'
    for table in tables:
        op.execute(f"ALTER TABLE {table} {verb} TRIGGER {table}_append_only")


def _create_pg_triggers(table: str) -> None:
    # station_append_only() is the function migration 0002 made.
    op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
               f"FOR EACH ROW EXECUTE FUNCTION station_append_only()")
    op.execute(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
               f"FOR EACH STATEMENT EXECUTE FUNCTION station_append_only()")


def _backfill(table: str) -> tuple[int, str]:
    """Chain every row of `table` in id order; its last (id, hash)."""
    bind = op.get_bind()
    naive_wall = bind.dialect.name == 'sqlite'
    kinds = COLUMNS[table]
    names = []
    for name, _ in kinds:
        pg_json = (table, name) in JSON_COLUMNS and not naive_wall
        names.append(f"CAST({name} AS TEXT) AS {name}" if pg_json else name)
    query = sa.text(f"SELECT id, {', '.join(names)} FROM {table} WHERE id > :after ORDER BY id LIMIT {PAGE}")
    write = sa.text(f"UPDATE {table} SET chain_hash = :h WHERE id = :id")
    previous, last_id, after = chain.GENESIS, 0, -1
    while True:
        rows = bind.execute(query, {"after": after}).mappings().all()
        if not rows:
            break
        hashes = []
        for row in rows:
            # Rows written through the ORM or raw SQL alike: their values as stored (SQLite: text).
            digest = chain.content_digest(table, row, naive_wall, stored=True, kinds=kinds)
            previous = chain.make_hash(previous, digest)
            hashes.append({"h": previous, "id": row["id"]})
        bind.execute(write, hashes)
        last_id = after = rows[-1]["id"]
    return last_id, previous


def upgrade() -> None:
    if _sqlite():
        _drop_sqlite_triggers(OLD_APPEND_ONLY)
    else:
        _pg_triggers(OLD_APPEND_ONLY, enable=False)
    heads = {table: _backfill(table) for table in CHAINED}
    if _sqlite():
        _create_sqlite_triggers(OLD_APPEND_ONLY + ('scans',))
    else:
        _pg_triggers(OLD_APPEND_ONLY, enable=True)
        _create_pg_triggers('scans')
    op.execute("DELETE FROM chain_heads")
    op.get_bind().execute(
        sa.text("INSERT INTO chain_heads (chain, last_id, last_hash) VALUES (:chain, :last_id, :last_hash)"),
        [{"chain": table, "last_id": last_id, "last_hash": last_hash}
         for table, (last_id, last_hash) in heads.items()])


def downgrade() -> None:
    if _sqlite():
        _drop_sqlite_triggers(CHAINED)
    else:
        op.execute("DROP TRIGGER IF EXISTS scans_append_only ON scans")
        op.execute("DROP TRIGGER IF EXISTS scans_no_truncate ON scans")
        _pg_triggers(OLD_APPEND_ONLY, enable=False)
    for table in CHAINED:
        op.execute(f"UPDATE {table} SET chain_hash = NULL")
    op.execute("DELETE FROM chain_heads")
    if _sqlite():
        _create_sqlite_triggers(OLD_APPEND_ONLY)
    else:
        _pg_triggers(OLD_APPEND_ONLY, enable=True)
