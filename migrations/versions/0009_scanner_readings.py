"""scanner_readings: the state of each station's scanner as the process reading it last saw it, so
that every app process (not only the one reading the scanners) shows it on the scan log page.

Revision ID: 0009
Revises: 0008
"""
from alembic import op
import sqlalchemy as sa

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('scanner_readings',
    sa.Column('station_id', sa.Integer(), nullable=False),
    sa.Column('url', sa.String(length=300), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('scans', sa.Integer(), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('last_scan_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reader', sa.String(length=80), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['station_id'], ['stations.id'], name=op.f('fk_scanner_readings_station_id_stations')),
    sa.PrimaryKeyConstraint('station_id', name=op.f('pk_scanner_readings'))
    )


def downgrade() -> None:
    op.drop_table('scanner_readings')
