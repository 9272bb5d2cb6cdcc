"""Production runs: a run on a line (item, line, status, output lot) and the component lots scanned into it.

New tables only: no existing row needs a default, so the columns carry no server defaults (the
application sets status and timestamps). One open run per line is a partial unique index, the same
on SQLite and PostgreSQL; the status CHECK comes from the portable enum (ck_production_runs_run_status).

Revision ID: 0005
Revises: 0004
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('production_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('location_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('open', 'finished', 'cancelled', name='run_status', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('station_id', sa.Integer(), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_by_id', sa.Integer(), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_by_id', sa.Integer(), nullable=True),
    sa.Column('qty', sa.Integer(), nullable=True),
    sa.Column('output_lot_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("status <> 'finished' OR (output_lot_id IS NOT NULL AND qty IS NOT NULL AND finished_at IS NOT NULL)", name=op.f('ck_production_runs_finished_has_lot')),
    sa.CheckConstraint('qty IS NULL OR qty > 0', name=op.f('ck_production_runs_qty_positive')),
    sa.ForeignKeyConstraint(['finished_by_id'], ['operators.id'], name=op.f('fk_production_runs_finished_by_id_operators')),
    sa.ForeignKeyConstraint(['item_id'], ['items.id'], name=op.f('fk_production_runs_item_id_items')),
    sa.ForeignKeyConstraint(['location_id'], ['locations.id'], name=op.f('fk_production_runs_location_id_locations')),
    sa.ForeignKeyConstraint(['output_lot_id'], ['lots.id'], name=op.f('fk_production_runs_output_lot_id_lots')),
    sa.ForeignKeyConstraint(['started_by_id'], ['operators.id'], name=op.f('fk_production_runs_started_by_id_operators')),
    sa.ForeignKeyConstraint(['station_id'], ['stations.id'], name=op.f('fk_production_runs_station_id_stations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_production_runs')),
    sa.UniqueConstraint('output_lot_id', name=op.f('uq_production_runs_output_lot_id'))
    )
    with op.batch_alter_table('production_runs', schema=None) as batch_op:
        batch_op.create_index('ix_production_runs_location_id', ['location_id', 'id'], unique=False)
        # A line works on one run at a time.
        batch_op.create_index('uq_production_runs_open', ['location_id'], unique=True, sqlite_where=sa.text("status = 'open'"), postgresql_where=sa.text("status = 'open'"))

    op.create_table('production_run_components',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('lot_id', sa.Integer(), nullable=False),
    sa.Column('location_id', sa.Integer(), nullable=False),
    sa.Column('qty', sa.Integer(), nullable=False),
    sa.Column('scanned_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('operator_id', sa.Integer(), nullable=True),
    sa.Column('raw_scan', sa.String(length=400), nullable=True),
    sa.CheckConstraint('qty > 0', name=op.f('ck_production_run_components_qty_positive')),
    sa.ForeignKeyConstraint(['location_id'], ['locations.id'], name=op.f('fk_production_run_components_location_id_locations')),
    sa.ForeignKeyConstraint(['lot_id'], ['lots.id'], name=op.f('fk_production_run_components_lot_id_lots')),
    sa.ForeignKeyConstraint(['operator_id'], ['operators.id'], name=op.f('fk_production_run_components_operator_id_operators')),
    sa.ForeignKeyConstraint(['run_id'], ['production_runs.id'], name=op.f('fk_production_run_components_run_id_production_runs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_production_run_components'))
    )
    with op.batch_alter_table('production_run_components', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_production_run_components_lot_id'), ['lot_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_production_run_components_run_id'), ['run_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('production_run_components', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_production_run_components_run_id'))
        batch_op.drop_index(batch_op.f('ix_production_run_components_lot_id'))

    op.drop_table('production_run_components')
    with op.batch_alter_table('production_runs', schema=None) as batch_op:
        batch_op.drop_index('uq_production_runs_open', sqlite_where=sa.text("status = 'open'"), postgresql_where=sa.text("status = 'open'"))
        batch_op.drop_index('ix_production_runs_location_id')

    op.drop_table('production_runs')
