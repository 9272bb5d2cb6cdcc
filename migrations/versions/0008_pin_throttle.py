"""operators.pin_failures / pin_failed_at / pin_locked_until: the wrong-PIN throttle in the database.

Until now each app process counted wrong PINs in memory, so N processes allowed N times the guesses
and a restart forgot a lock. The count now lives on the operator's row (views/floor.py take_guess).

Revision ID: 0008
Revises: 0007
"""
from alembic import op
import sqlalchemy as sa

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('operators', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pin_failures', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('pin_failed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('pin_locked_until', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('operators', schema=None) as batch_op:
        batch_op.drop_column('pin_locked_until')
        batch_op.drop_column('pin_failed_at')
        batch_op.drop_column('pin_failures')
