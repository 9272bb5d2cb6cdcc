"""Picking policy, undo and short lines; split links; recalls; indexes for the audit filters.

- items.refuse_younger_lots: per-item policy, a lot younger than the suggestion is refused.
- order_lines.short_qty / short_reason: what an order shipped without, and why.
- movements.kind gains 'unpick' (a pick taken back); its CHECK is rebuilt. On SQLite that means
  rebuilding the table, so the append-only triggers of 0002 are dropped and made again around it.
- lot_links.kind: 'production' (made on a line) or 'split' (part of a lot under a new number).
- recalls, recall_lots, recall_customers, recall_events (append-only like the ledger).
- movements indexes by operator, station, from/to location and customer for the audit filters.

Revision ID: 0006
Revises: 0005
"""
from alembic import op
import sqlalchemy as sa

OLD_KINDS = ('receive', 'move', 'adjust', 'pick', 'consume', 'produce', 'ship')
NEW_KINDS = OLD_KINDS + ('unpick',)


def _kind(values) -> sa.Enum:
    return sa.Enum(*values, name='movement_kind', native_enum=False, create_constraint=True, length=16)


def _set_movement_kinds(values) -> None:
    if op.get_bind().dialect.name == 'sqlite':
        # SQLite cannot change a CHECK in place: the table is rebuilt, which drops its triggers.
        _drop_sqlite_triggers(('movements',))
        with op.batch_alter_table('movements', recreate='always') as batch_op:
            batch_op.alter_column('kind', existing_type=_kind(OLD_KINDS if values == NEW_KINDS else NEW_KINDS),
                                  type_=_kind(values), existing_nullable=False)
        _create_sqlite_triggers(('movements',))
        return
    op.drop_constraint(op.f('ck_movements_movement_kind'), 'movements', type_='check')
    quoted = ", ".join(f"'{v}'" for v in values)
    op.create_check_constraint(op.f('ck_movements_movement_kind'), 'movements', f"kind IN ({quoted})")


def _create_sqlite_triggers(tables) -> None:
    # The same triggers as migration 0002.
    for table in tables:
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: "
                f"record a correcting entry instead'); END"
            )


def _drop_sqlite_triggers(tables) -> None:
    for table in tables:
        for action in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{action}")


def _append_only(table: str) -> None:
    if op.get_bind().dialect.name == 'sqlite':
        _create_sqlite_triggers((table,))
        return
    # station_append_only() is the function migration 0002 made.
    op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
               f"FOR EACH ROW EXECUTE FUNCTION station_append_only()")
    op.execute(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
               f"FOR EACH STATEMENT EXECUTE FUNCTION station_append_only()")


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('recalls',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('status', sa.Enum('open', 'closed', name='recall_status', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('lot_id', sa.Integer(), nullable=True),
    sa.Column('supplier_id', sa.Integer(), nullable=True),
    sa.Column('supplier_lot', sa.String(length=40), nullable=True),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('opened_by_id', sa.Integer(), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_by_id', sa.Integer(), nullable=True),
    sa.Column('close_reason', sa.String(length=200), nullable=True),
    sa.CheckConstraint("status <> 'closed' OR closed_at IS NOT NULL", name=op.f('ck_recalls_closed_has_time')),
    sa.CheckConstraint('lot_id IS NOT NULL OR (supplier_id IS NOT NULL AND supplier_lot IS NOT NULL)', name=op.f('ck_recalls_has_source')),
    sa.ForeignKeyConstraint(['closed_by_id'], ['operators.id'], name=op.f('fk_recalls_closed_by_id_operators')),
    sa.ForeignKeyConstraint(['lot_id'], ['lots.id'], name=op.f('fk_recalls_lot_id_lots')),
    sa.ForeignKeyConstraint(['opened_by_id'], ['operators.id'], name=op.f('fk_recalls_opened_by_id_operators')),
    sa.ForeignKeyConstraint(['supplier_id'], ['suppliers.id'], name=op.f('fk_recalls_supplier_id_suppliers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recalls')),
    sa.UniqueConstraint('number', name=op.f('uq_recalls_number'))
    )
    op.create_table('recall_customers',
    sa.Column('recall_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('shipped_qty', sa.Integer(), nullable=False),
    sa.Column('notified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('notified_by_id', sa.Integer(), nullable=True),
    sa.Column('note', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_recall_customers_customer_id_customers')),
    sa.ForeignKeyConstraint(['notified_by_id'], ['operators.id'], name=op.f('fk_recall_customers_notified_by_id_operators')),
    sa.ForeignKeyConstraint(['recall_id'], ['recalls.id'], name=op.f('fk_recall_customers_recall_id_recalls')),
    sa.PrimaryKeyConstraint('recall_id', 'customer_id', name=op.f('pk_recall_customers'))
    )
    op.create_table('recall_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ts', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recall_id', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=20), nullable=False),
    sa.Column('lot_id', sa.Integer(), nullable=True),
    sa.Column('customer_id', sa.Integer(), nullable=True),
    sa.Column('qty', sa.Integer(), nullable=True),
    sa.Column('note', sa.String(length=200), nullable=True),
    sa.Column('operator_id', sa.Integer(), nullable=True),
    sa.Column('station_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_recall_events_customer_id_customers')),
    sa.ForeignKeyConstraint(['lot_id'], ['lots.id'], name=op.f('fk_recall_events_lot_id_lots')),
    sa.ForeignKeyConstraint(['operator_id'], ['operators.id'], name=op.f('fk_recall_events_operator_id_operators')),
    sa.ForeignKeyConstraint(['recall_id'], ['recalls.id'], name=op.f('fk_recall_events_recall_id_recalls')),
    sa.ForeignKeyConstraint(['station_id'], ['stations.id'], name=op.f('fk_recall_events_station_id_stations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recall_events'))
    )
    with op.batch_alter_table('recall_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recall_events_recall_id'), ['recall_id'], unique=False)
    _append_only('recall_events')

    op.create_table('recall_lots',
    sa.Column('recall_id', sa.Integer(), nullable=False),
    sa.Column('lot_id', sa.Integer(), nullable=False),
    sa.Column('depth', sa.Integer(), nullable=False),
    sa.Column('status_before', sa.Enum('available', 'quarantine', 'hold', 'recalled', 'expired', 'consumed', name='recall_lot_status_before', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('on_hand_at_start', sa.Integer(), nullable=False),
    sa.Column('retrieved_qty', sa.Integer(), nullable=False),
    sa.CheckConstraint('retrieved_qty >= 0', name=op.f('ck_recall_lots_retrieved_not_negative')),
    sa.ForeignKeyConstraint(['lot_id'], ['lots.id'], name=op.f('fk_recall_lots_lot_id_lots')),
    sa.ForeignKeyConstraint(['recall_id'], ['recalls.id'], name=op.f('fk_recall_lots_recall_id_recalls')),
    sa.PrimaryKeyConstraint('recall_id', 'lot_id', name=op.f('pk_recall_lots'))
    )
    with op.batch_alter_table('recall_lots', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recall_lots_lot_id'), ['lot_id'], unique=False)

    with op.batch_alter_table('items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('refuse_younger_lots', sa.Boolean(), server_default=sa.text('false'), nullable=False))

    with op.batch_alter_table('lot_links', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.Enum('production', 'split', name='link_kind', native_enum=False, create_constraint=True, length=16), server_default='production', nullable=False))

    with op.batch_alter_table('movements', schema=None) as batch_op:
        batch_op.create_index('ix_movements_customer_id', ['customer_id', 'id'], unique=False)
        batch_op.create_index('ix_movements_from_location_id', ['from_location_id', 'id'], unique=False)
        batch_op.create_index('ix_movements_operator_id', ['operator_id', 'id'], unique=False)
        batch_op.create_index('ix_movements_station_id', ['station_id', 'id'], unique=False)
        batch_op.create_index('ix_movements_to_location_id', ['to_location_id', 'id'], unique=False)

    with op.batch_alter_table('order_lines', schema=None) as batch_op:
        batch_op.add_column(sa.Column('short_qty', sa.Integer(), server_default=sa.text('0'), nullable=False))
        batch_op.add_column(sa.Column('short_reason', sa.String(length=200), nullable=True))

    _set_movement_kinds(NEW_KINDS)


def downgrade() -> None:
    # An undone pick cannot be expressed without 'unpick': downgrading a database that has one fails
    # at the CHECK, which is right (the ledger cannot be rewritten).
    _set_movement_kinds(OLD_KINDS)
    with op.batch_alter_table('order_lines', schema=None) as batch_op:
        batch_op.drop_column('short_reason')
        batch_op.drop_column('short_qty')

    with op.batch_alter_table('movements', schema=None) as batch_op:
        batch_op.drop_index('ix_movements_to_location_id')
        batch_op.drop_index('ix_movements_station_id')
        batch_op.drop_index('ix_movements_operator_id')
        batch_op.drop_index('ix_movements_from_location_id')
        batch_op.drop_index('ix_movements_customer_id')

    with op.batch_alter_table('lot_links', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_lot_links_link_kind'), type_='check')
        batch_op.drop_column('kind')

    with op.batch_alter_table('items', schema=None) as batch_op:
        batch_op.drop_column('refuse_younger_lots')

    with op.batch_alter_table('recall_lots', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_recall_lots_lot_id'))

    op.drop_table('recall_lots')
    with op.batch_alter_table('recall_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_recall_events_recall_id'))

    if op.get_bind().dialect.name == 'sqlite':
        _drop_sqlite_triggers(('recall_events',))
    op.drop_table('recall_events')
    op.drop_table('recall_customers')
    op.drop_table('recalls')
