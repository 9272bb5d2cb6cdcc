"""scans.applied_by: the page request that applied a device scan (serial, simulated or the scanner agent).

Until now a page claimed a scanner's scan by writing its client id into scans.client_id, which only
works for rows that have none; the scanner agent's scans carry the agent's own client id (its resend
key), so they could not be claimed. The claim gets its own column, unique like client_id.

Revision ID: 0007
Revises: 0006
"""
from alembic import op
import sqlalchemy as sa

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('scans', schema=None) as batch_op:
        batch_op.add_column(sa.Column('applied_by', sa.String(length=64), nullable=True))
        batch_op.create_index('uq_scans_applied_by', ['applied_by'], unique=True)
    # Claims made before this column existed: logged:<id> client ids on device scans.
    op.execute("UPDATE scans SET applied_by = client_id, client_id = NULL WHERE client_id LIKE 'logged:%'")


def downgrade() -> None:
    op.execute("UPDATE scans SET client_id = applied_by WHERE applied_by IS NOT NULL AND client_id IS NULL")
    with op.batch_alter_table('scans', schema=None) as batch_op:
        batch_op.drop_index('uq_scans_applied_by')
        batch_op.drop_column('applied_by')
