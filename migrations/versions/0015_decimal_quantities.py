"""Decimal quantities (issue 17): every quantity column holds millionths of the item's unit as a BIGINT
(station/quantities.py says why), and each item says how many decimals it is counted in.

Every stored quantity is multiplied by 1,000,000: what was 5 ea is 5,000,000 millionths, read back as 5.
The ledger's tables are append-only, so their guards are lifted around the rewrite and put back exactly
as they were; the hash chains are untouched (a quantity is hashed by its value, 5, not by its storage).

Revision ID: 0015
Revises: 0014
"""
from alembic import op
import sqlalchemy as sa


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

SCALE = 1_000_000
COLUMNS = {
    'lots': ('on_hand',),
    'lot_links': ('qty',),
    'handling_units': ('qty_received',),
    'stock': ('qty',),
    'movements': ('qty',),
    'expected_receipt_lines': ('qty', 'received_qty'),
    'expected_pallets': ('qty',),
    'order_lines': ('qty', 'picked_qty', 'short_qty'),
    'count_lines': ('expected_qty', 'counted_qty'),
    'production_runs': ('qty',),
    'production_run_components': ('qty',),
    'recall_lots': ('on_hand_at_start', 'retrieved_qty'),
    'recall_customers': ('shipped_qty',),
    'recall_events': ('qty',),
}
APPEND_ONLY = ('movements', 'recall_events')


def _rescale(multiply: bool) -> None:
    bind = op.get_bind()
    if bind.dialect.name == 'postgresql':
        # One rewrite per table; ALTER ... USING fires no row trigger, so the append-only guards stay on.
        for table, columns in COLUMNS.items():
            changes = ", ".join(
                f"ALTER COLUMN {c} TYPE BIGINT USING {c}::bigint * {SCALE}" if multiply else
                f"ALTER COLUMN {c} TYPE INTEGER USING ({c} / {SCALE})::integer" for c in columns)
            op.execute(f"ALTER TABLE {table} {changes}")
        return
    # SQLite keeps every INTEGER in 64 bits already: only the values change, under lifted guards.
    saved = bind.execute(sa.text(
        "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN ('movements', 'recall_events')"
    )).scalars().all()
    for name in bind.execute(sa.text(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN ('movements', 'recall_events')"
    )).scalars().all():
        op.execute(f"DROP TRIGGER {name}")
    for table, columns in COLUMNS.items():
        op.execute(f"UPDATE {table} SET " + ", ".join(
            f"{c} = {c} * {SCALE}" if multiply else f"{c} = {c} / {SCALE}" for c in columns))
    for sql in saved:
        op.execute(sql)


def _drop_column_of_ledger(table: str, column: str) -> None:
    # SQLite rebuilds the table to drop a column (and its triggers with it): they are made again after.
    bind = op.get_bind()
    if bind.dialect.name != 'sqlite':
        op.drop_column(table, column)
        return
    saved = bind.execute(sa.text("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = :t"),
                         {"t": table}).scalars().all()
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.drop_column(column)
    for sql in saved:
        if bind.execute(sa.text("SELECT count(*) FROM sqlite_master WHERE sql = :s"), {"s": sql}).scalar() == 0:
            op.execute(sql)


def upgrade() -> None:
    with op.batch_alter_table('items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('qty_decimals', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('variable_measure', sa.Boolean(), server_default=sa.text('false'),
                                      nullable=False))
        batch_op.create_check_constraint(batch_op.f('ck_items_qty_decimals'), 'qty_decimals BETWEEN 0 AND 6')
    with op.batch_alter_table('item_gtins', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pack_qty', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
                                      nullable=True))
        batch_op.add_column(sa.Column('pack_name', sa.String(length=20), nullable=True))
        batch_op.create_check_constraint(batch_op.f('ck_item_gtins_pack_qty_positive'),
                                         'pack_qty IS NULL OR pack_qty > 0')
    op.add_column('handling_units', sa.Column('pieces_received', sa.Integer(), nullable=True))
    # A nullable column on the ledger: no rebuild, and the rows before it hash as they did (NULLs are left out).
    op.add_column('movements', sa.Column('pieces', sa.Integer(), nullable=True))
    _rescale(multiply=True)


def downgrade() -> None:
    # Whole quantities come back as they were; a fractional one is cut to its whole part (it cannot be stored).
    _rescale(multiply=False)
    _drop_column_of_ledger('movements', 'pieces')
    op.drop_column('handling_units', 'pieces_received')
    with op.batch_alter_table('item_gtins', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_item_gtins_pack_qty_positive'), type_='check')
        batch_op.drop_column('pack_name')
        batch_op.drop_column('pack_qty')
    with op.batch_alter_table('items', schema=None) as batch_op:
        batch_op.drop_column('variable_measure')
        batch_op.drop_constraint(batch_op.f('ck_items_qty_decimals'), type_='check')
        batch_op.drop_column('qty_decimals')
