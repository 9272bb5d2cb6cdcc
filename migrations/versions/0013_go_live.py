"""Go live at a real site (issue 15): expected receipts, stock counts, and what orders and customers need.

- expected_receipts / expected_receipt_lines / expected_pallets: what a supplier will deliver (PO or ASN),
  received against at the dock.
- counts / count_lines: a stock count of one location, booked at once or after a supervisor's approval.
- customers gain a minimum remaining shelf life and `active`; orders a priority, who entered them, and a
  cancellation; items their usual supplier.
- movement kinds `opening`, `count`, `return`; location kind `quarantine`.

Revision ID: 0013
Revises: 0012
"""
from alembic import op
import sqlalchemy as sa

OLD_KINDS = ('receive', 'move', 'adjust', 'pick', 'consume', 'produce', 'ship', 'unpick')
NEW_KINDS = OLD_KINDS + ('opening', 'count', 'return')
OLD_PLACES = ('dock', 'storage', 'line', 'shipping')
NEW_PLACES = OLD_PLACES + ('quarantine',)


def _enum(values, name: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=16)


def _set_values(table: str, column: str, name: str, old, new) -> None:
    """Change the CHECK of a portable enum column from `old` to `new` values."""
    if op.get_bind().dialect.name == 'sqlite':
        # SQLite cannot change a CHECK in place: the table is rebuilt, which drops its triggers.
        append_only = table == 'movements'
        if append_only:
            _drop_sqlite_triggers(table)
        with op.batch_alter_table(table, recreate='always') as batch_op:
            batch_op.alter_column(column, existing_type=_enum(old, name), type_=_enum(new, name),
                                  existing_nullable=False)
        if append_only:
            _create_sqlite_triggers(table)
        return
    op.drop_constraint(op.f(f'ck_{table}_{name}'), table, type_='check')
    quoted = ", ".join(f"'{v}'" for v in new)
    op.create_check_constraint(op.f(f'ck_{table}_{name}'), table, f"{column} IN ({quoted})")


def _create_sqlite_triggers(table: str) -> None:
    # The same triggers as migration 0002.
    for action in ("UPDATE", "DELETE"):
        op.execute(f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                   f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: record a correcting entry instead'); END")


def _drop_sqlite_triggers(table: str) -> None:
    for action in ("update", "delete"):
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{action}")


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    _set_values('movements', 'kind', 'movement_kind', OLD_KINDS, NEW_KINDS)
    _set_values('locations', 'kind', 'location_kind', OLD_PLACES, NEW_PLACES)
    op.create_table('counts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('location_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('open', 'pending', 'booked', 'rejected', 'cancelled', name='count_status', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('station_id', sa.Integer(), nullable=True),
    sa.Column('counted_by_id', sa.Integer(), nullable=True),
    sa.Column('token_id', sa.Integer(), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decision_note', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['counted_by_id'], ['operators.id'], name=op.f('fk_counts_counted_by_id_operators')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['operators.id'], name=op.f('fk_counts_decided_by_id_operators')),
    sa.ForeignKeyConstraint(['location_id'], ['locations.id'], name=op.f('fk_counts_location_id_locations')),
    sa.ForeignKeyConstraint(['station_id'], ['stations.id'], name=op.f('fk_counts_station_id_stations')),
    sa.ForeignKeyConstraint(['token_id'], ['api_tokens.id'], name=op.f('fk_counts_token_id_api_tokens')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_counts'))
    )
    with op.batch_alter_table('counts', schema=None) as batch_op:
        batch_op.create_index('ix_counts_location_id', ['location_id', 'id'], unique=False)
        batch_op.create_index('ix_counts_status', ['status', 'id'], unique=False)

    op.create_table('expected_receipts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('supplier_id', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=40), nullable=False),
    sa.Column('expected_on', sa.Date(), nullable=True),
    sa.Column('status', sa.Enum('open', 'received', 'closed', 'cancelled', name='expected_status', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('token_id', sa.Integer(), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_by_id', sa.Integer(), nullable=True),
    sa.Column('close_reason', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['closed_by_id'], ['operators.id'], name=op.f('fk_expected_receipts_closed_by_id_operators')),
    sa.ForeignKeyConstraint(['created_by_id'], ['operators.id'], name=op.f('fk_expected_receipts_created_by_id_operators')),
    sa.ForeignKeyConstraint(['supplier_id'], ['suppliers.id'], name=op.f('fk_expected_receipts_supplier_id_suppliers')),
    sa.ForeignKeyConstraint(['token_id'], ['api_tokens.id'], name=op.f('fk_expected_receipts_token_id_api_tokens')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_expected_receipts')),
    sa.UniqueConstraint('supplier_id', 'reference', name=op.f('uq_expected_receipts_supplier_id_reference'))
    )
    with op.batch_alter_table('expected_receipts', schema=None) as batch_op:
        batch_op.create_index('ix_expected_receipts_status', ['status', 'expected_on'], unique=False)

    op.create_table('count_lines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('count_id', sa.Integer(), nullable=False),
    sa.Column('lot_id', sa.Integer(), nullable=False),
    sa.Column('handling_unit_id', sa.Integer(), nullable=True),
    sa.Column('expected_qty', sa.Integer(), nullable=False),
    sa.Column('counted_qty', sa.Integer(), nullable=True),
    sa.Column('reason', sa.String(length=200), nullable=True),
    sa.CheckConstraint('counted_qty IS NULL OR counted_qty >= 0', name=op.f('ck_count_lines_counted_not_negative')),
    sa.CheckConstraint('expected_qty >= 0', name=op.f('ck_count_lines_expected_not_negative')),
    sa.ForeignKeyConstraint(['count_id'], ['counts.id'], name=op.f('fk_count_lines_count_id_counts')),
    sa.ForeignKeyConstraint(['handling_unit_id'], ['handling_units.id'], name=op.f('fk_count_lines_handling_unit_id_handling_units')),
    sa.ForeignKeyConstraint(['lot_id'], ['lots.id'], name=op.f('fk_count_lines_lot_id_lots')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_count_lines'))
    )
    with op.batch_alter_table('count_lines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_count_lines_count_id'), ['count_id'], unique=False)

    op.create_table('expected_receipt_lines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('expected_receipt_id', sa.Integer(), nullable=False),
    sa.Column('line_no', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('qty', sa.Integer(), nullable=False),
    sa.Column('received_qty', sa.Integer(), server_default='0', nullable=False),
    sa.Column('supplier_lot', sa.String(length=40), nullable=True),
    sa.CheckConstraint('qty > 0', name=op.f('ck_expected_receipt_lines_qty_positive')),
    sa.CheckConstraint('received_qty >= 0', name=op.f('ck_expected_receipt_lines_received_not_negative')),
    sa.ForeignKeyConstraint(['expected_receipt_id'], ['expected_receipts.id'], name=op.f('fk_expected_receipt_lines_expected_receipt_id_expected_receipts')),
    sa.ForeignKeyConstraint(['item_id'], ['items.id'], name=op.f('fk_expected_receipt_lines_item_id_items')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_expected_receipt_lines')),
    sa.UniqueConstraint('expected_receipt_id', 'line_no', name=op.f('uq_expected_receipt_lines_expected_receipt_id_line_no'))
    )
    op.create_table('expected_pallets',
    sa.Column('sscc', sa.String(length=18), nullable=False),
    sa.Column('line_id', sa.Integer(), nullable=False),
    sa.Column('qty', sa.Integer(), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint('qty IS NULL OR qty > 0', name=op.f('ck_expected_pallets_qty_positive')),
    sa.ForeignKeyConstraint(['line_id'], ['expected_receipt_lines.id'], name=op.f('fk_expected_pallets_line_id_expected_receipt_lines')),
    sa.PrimaryKeyConstraint('sscc', name=op.f('pk_expected_pallets'))
    )
    with op.batch_alter_table('expected_pallets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_expected_pallets_line_id'), ['line_id'], unique=False)

    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('min_shelf_life_days', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('active', sa.Boolean(), server_default=sa.text('true'), nullable=False))
        batch_op.create_check_constraint(batch_op.f('ck_customers_min_shelf_life'),
                                         'min_shelf_life_days IS NULL OR min_shelf_life_days >= 0')

    with op.batch_alter_table('items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('supplier_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_items_supplier_id_suppliers'), 'suppliers', ['supplier_id'], ['id'])

    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('priority', sa.Integer(), server_default='5', nullable=False))
        batch_op.add_column(sa.Column('created_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('token_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('cancel_reason', sa.String(length=200), nullable=True))
        batch_op.create_index('ix_orders_status', ['status', 'priority', 'due_on', 'id'], unique=False)
        batch_op.create_check_constraint(batch_op.f('ck_orders_priority_range'), 'priority BETWEEN 1 AND 9')
        batch_op.create_foreign_key(batch_op.f('fk_orders_token_id_api_tokens'), 'api_tokens', ['token_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_orders_created_by_id_operators'), 'operators', ['created_by_id'], ['id'])

    # The lot and print-job list APIs: a filter by status, or by lot, walks its index in id order.
    op.create_index('ix_lots_status', 'lots', ['status', 'id'], unique=False)
    op.create_index('ix_print_jobs_lot', 'print_jobs', ['lot_id', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_print_jobs_lot', table_name='print_jobs')
    op.drop_index('ix_lots_status', table_name='lots')

    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_orders_priority_range'), type_='check')
        batch_op.drop_constraint(batch_op.f('fk_orders_created_by_id_operators'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_orders_token_id_api_tokens'), type_='foreignkey')
        batch_op.drop_index('ix_orders_status')
        batch_op.drop_column('cancel_reason')
        batch_op.drop_column('cancelled_at')
        batch_op.drop_column('token_id')
        batch_op.drop_column('created_by_id')
        batch_op.drop_column('priority')

    with op.batch_alter_table('items', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_items_supplier_id_suppliers'), type_='foreignkey')
        batch_op.drop_column('supplier_id')

    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_customers_min_shelf_life'), type_='check')
        batch_op.drop_column('active')
        batch_op.drop_column('min_shelf_life_days')

    with op.batch_alter_table('expected_pallets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_expected_pallets_line_id'))

    op.drop_table('expected_pallets')
    op.drop_table('expected_receipt_lines')
    with op.batch_alter_table('count_lines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_count_lines_count_id'))

    op.drop_table('count_lines')
    with op.batch_alter_table('expected_receipts', schema=None) as batch_op:
        batch_op.drop_index('ix_expected_receipts_status')

    op.drop_table('expected_receipts')
    with op.batch_alter_table('counts', schema=None) as batch_op:
        batch_op.drop_index('ix_counts_status')
        batch_op.drop_index('ix_counts_location_id')

    op.drop_table('counts')
    _set_values('locations', 'kind', 'location_kind', NEW_PLACES, OLD_PLACES)
    _set_values('movements', 'kind', 'movement_kind', NEW_KINDS, OLD_KINDS)
