"""The scan log: every scan, its raw bytes, source, station and result; client ids unique.

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('scans',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ts', sa.DateTime(timezone=True), nullable=False),
    sa.Column('source', sa.String(length=300), nullable=False),
    sa.Column('station_id', sa.Integer(), nullable=True),
    sa.Column('operator_id', sa.Integer(), nullable=True),
    sa.Column('raw', sa.LargeBinary(), nullable=False),
    sa.Column('text', sa.String(length=400), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=True),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('ok', sa.Boolean(), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('error', sa.String(length=40), nullable=True),
    sa.Column('result', sa.JSON(), nullable=False),
    sa.Column('ignored', sa.Boolean(), nullable=False),
    sa.Column('duplicate_of_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['duplicate_of_id'], ['scans.id'], name=op.f('fk_scans_duplicate_of_id_scans')),
    sa.ForeignKeyConstraint(['operator_id'], ['operators.id'], name=op.f('fk_scans_operator_id_operators')),
    sa.ForeignKeyConstraint(['station_id'], ['stations.id'], name=op.f('fk_scans_station_id_stations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scans')),
    # A retried request carries the same client id: the database, not a check in code, keeps it once.
    sa.UniqueConstraint('client_id', name=op.f('uq_scans_client_id'))
    )
    # A station's page polls "scans at this station after id N"; bounce checks read a source's last scan.
    op.create_index('ix_scans_station_id', 'scans', ['station_id', 'id'], unique=False)
    op.create_index('ix_scans_source', 'scans', ['source', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_scans_source', table_name='scans')
    op.drop_index('ix_scans_station_id', table_name='scans')
    op.drop_table('scans')
