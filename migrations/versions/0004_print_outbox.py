"""Print outbox: jobs keep their label data, backoff and worker claim; printers keep their last status; SSCC counters.

Revision ID: 0004
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa

# 'printed' becomes 'sent': the station knows a job reached the printer, not that a label came out.
_OLD_STATES = "'queued', 'sending', 'printed', 'failed', 'cancelled'"
_NEW_STATES = "'queued', 'sending', 'sent', 'failed', 'cancelled'"


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('sscc_counters',
    sa.Column('company_prefix', sa.String(length=10), nullable=False),
    sa.Column('extension', sa.Integer(), nullable=False),
    sa.Column('last_serial', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('company_prefix', 'extension', name=op.f('pk_sscc_counters'))
    )
    _swap_status_check('printed', 'sent', _NEW_STATES)
    with op.batch_alter_table('print_jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('data', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('label_size', sa.String(length=10), nullable=False, server_default='4x6'))
        batch_op.add_column(sa.Column('dpi', sa.Integer(), nullable=False, server_default='203'))
        batch_op.add_column(sa.Column('sscc', sa.String(length=18), nullable=True))
        batch_op.add_column(sa.Column('station_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('operator_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('request_id', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('reprint_of_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('claimed_by', sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_print_jobs_printer', ['printer_id', 'id'], unique=False)
        batch_op.create_unique_constraint(batch_op.f('uq_print_jobs_request_id'), ['request_id'])
        batch_op.create_foreign_key(batch_op.f('fk_print_jobs_reprint_of_id_print_jobs'), 'print_jobs', ['reprint_of_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_print_jobs_operator_id_operators'), 'operators', ['operator_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_print_jobs_station_id_stations'), 'stations', ['station_id'], ['id'])

    with op.batch_alter_table('printers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('state', sa.String(length=16), nullable=False, server_default='unknown'))
        batch_op.add_column(sa.Column('state_detail', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('state_checked_at', sa.DateTime(timezone=True), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('printers', schema=None) as batch_op:
        batch_op.drop_column('state_checked_at')
        batch_op.drop_column('state_detail')
        batch_op.drop_column('state')

    with op.batch_alter_table('print_jobs', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_print_jobs_station_id_stations'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_print_jobs_operator_id_operators'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_print_jobs_reprint_of_id_print_jobs'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('uq_print_jobs_request_id'), type_='unique')
        batch_op.drop_index('ix_print_jobs_printer')
        batch_op.drop_column('sent_at')
        batch_op.drop_column('claimed_at')
        batch_op.drop_column('claimed_by')
        batch_op.drop_column('next_attempt_at')
        batch_op.drop_column('reprint_of_id')
        batch_op.drop_column('request_id')
        batch_op.drop_column('operator_id')
        batch_op.drop_column('station_id')
        batch_op.drop_column('sscc')
        batch_op.drop_column('dpi')
        batch_op.drop_column('label_size')
        batch_op.drop_column('data')

    op.drop_table('sscc_counters')
    _swap_status_check('sent', 'printed', _OLD_STATES)


def _swap_status_check(old: str, new: str, states: str) -> None:
    with op.batch_alter_table('print_jobs', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_print_jobs_print_job_status'), type_='check')
    op.execute(sa.text("UPDATE print_jobs SET status = :new WHERE status = :old").bindparams(old=old, new=new))
    with op.batch_alter_table('print_jobs', schema=None) as batch_op:
        batch_op.create_check_constraint('print_job_status', f"status IN ({states})")
