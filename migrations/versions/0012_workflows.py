"""One way in for every scan (issue 14): workflow state on the server, and the answer of each applied scan.

- workflow_states: what a worker is in the middle of, per workflow, held by a station or (a browser
  bound to no station) by a floor session — it was in cookies, where the station's own scanner could
  not reach it.
- station_workflows: the workflow open at each station; a scan of the station's own scanner (serial,
  simulated, the agent) is applied to it on the server, in the transaction that logs it.
- scan_applications gains workflow and answer (the step's answer, for retries and for the page that
  shows a device scan's outcome); client_id becomes optional (only the old logged:<id> claims had one).

Revision ID: 0012
Revises: 0011
"""
from alembic import op
import sqlalchemy as sa

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'workflow_states',
        sa.Column('holder', sa.String(40), nullable=False),
        sa.Column('workflow', sa.String(20), nullable=False),
        sa.Column('state', sa.JSON(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('holder', 'workflow', name=op.f('pk_workflow_states')),
    )
    op.create_table(
        'station_workflows',
        sa.Column('station_id', sa.Integer(), nullable=False),
        sa.Column('workflow', sa.String(20), nullable=False),
        sa.Column('floor_session_id', sa.Integer(), nullable=True),
        sa.Column('operator_id', sa.Integer(), nullable=True),
        sa.Column('token_id', sa.Integer(), nullable=True),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['station_id'], ['stations.id'], name=op.f('fk_station_workflows_station_id_stations')),
        sa.ForeignKeyConstraint(['floor_session_id'], ['floor_sessions.id'],
                                name=op.f('fk_station_workflows_floor_session_id_floor_sessions')),
        sa.ForeignKeyConstraint(['operator_id'], ['operators.id'], name=op.f('fk_station_workflows_operator_id_operators')),
        sa.ForeignKeyConstraint(['token_id'], ['api_tokens.id'], name=op.f('fk_station_workflows_token_id_api_tokens')),
        sa.PrimaryKeyConstraint('station_id', name=op.f('pk_station_workflows')),
    )
    with op.batch_alter_table('scan_applications') as batch:
        batch.add_column(sa.Column('workflow', sa.String(20)))
        batch.add_column(sa.Column('answer', sa.JSON()))
        batch.alter_column('client_id', existing_type=sa.String(64), nullable=True)


def downgrade() -> None:
    with op.batch_alter_table('scan_applications') as batch:
        batch.drop_column('answer')
        batch.drop_column('workflow')
    op.drop_table('station_workflows')
    op.drop_table('workflow_states')
