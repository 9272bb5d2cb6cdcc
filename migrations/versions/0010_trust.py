"""Trust, second pass (issue 13): the schema every part of it needs, in one step.

- floor_sessions: a signed-in browser is a row; its cookie carries a secret whose SHA-256 is the key,
  so sign-out, the idle timeout, disabling an operator and "sign out everywhere" end it on the server.
- operators.pin_lock_count: PIN locks in a row, so each lock lasts twice as long as the one before.
- api_tokens.role gains 'agent' (a station PC's scanner agent) and api_tokens.station_id binds a token
  to its station (an agent token must have one).
- api_requests: an API write's request_id and its first answer, so a retry gets the same answer.
- token_id on movements, lot_events, recall_events, print_jobs and scans: which API token wrote it.
- chain_hash on movements, lot_events, recall_events and scans, and chain_heads: each append-only
  table is a hash chain (station/services/chain.py; `station audit verify`).
- scans.applied_by moves to scan_applications (the scan log is append-only now; applying a device scan
  inserts a row there instead of updating the scan).
- print_jobs.status gains 'printed' (seen done by the printer's own counters); printed_at, lost_count.

On SQLite a batch change rebuilds the table, which drops its append-only triggers: they are dropped
and made again around it.

Revision ID: 0010
Revises: 0009
"""
from alembic import op
import sqlalchemy as sa

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

APPEND_ONLY = ('movements', 'lot_events', 'recall_events')
OLD_ROLES = ('receiver', 'picker', 'line_operator', 'supervisor', 'admin')
NEW_ROLES = OLD_ROLES + ('agent',)
OLD_JOB_STATES = ('queued', 'sending', 'sent', 'failed', 'cancelled')
NEW_JOB_STATES = ('queued', 'sending', 'sent', 'printed', 'failed', 'cancelled')


def _sqlite() -> bool:
    return op.get_bind().dialect.name == 'sqlite'


def _drop_sqlite_triggers() -> None:
    for table in APPEND_ONLY:
        for action in ('update', 'delete'):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{action}")


def _create_sqlite_triggers() -> None:
    # The same triggers as migrations 0002 and 0006.
    for table in APPEND_ONLY:
        for action in ('UPDATE', 'DELETE'):
            op.execute(
                f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: "
                f"record a correcting entry instead'); END"
            )


def _check(table: str, name: str, column: str, values) -> None:
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.drop_constraint(op.f(f'ck_{table}_{name}'), type_='check')
        quoted = ", ".join(f"'{v}'" for v in values)
        batch_op.create_check_constraint(name, f"{column} IN ({quoted})")


def upgrade() -> None:
    if _sqlite():
        _drop_sqlite_triggers()
    op.create_table('chain_heads',
    sa.Column('chain', sa.String(length=40), nullable=False),
    sa.Column('last_id', sa.BigInteger(), nullable=False),
    sa.Column('last_hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('chain', name=op.f('pk_chain_heads'))
    )
    op.create_table('floor_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('secret_hash', sa.String(length=64), nullable=False),
    sa.Column('operator_id', sa.Integer(), nullable=False),
    sa.Column('station_id', sa.Integer(), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('end_reason', sa.String(length=20), nullable=True),
    sa.ForeignKeyConstraint(['operator_id'], ['operators.id'], name=op.f('fk_floor_sessions_operator_id_operators')),
    sa.ForeignKeyConstraint(['station_id'], ['stations.id'], name=op.f('fk_floor_sessions_station_id_stations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_floor_sessions')),
    sa.UniqueConstraint('secret_hash', name=op.f('uq_floor_sessions_secret_hash'))
    )
    with op.batch_alter_table('floor_sessions', schema=None) as batch_op:
        batch_op.create_index('ix_floor_sessions_operator_id', ['operator_id', 'ended_at'], unique=False)

    op.create_table('api_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.String(length=64), nullable=False),
    sa.Column('endpoint', sa.String(length=80), nullable=False),
    sa.Column('status', sa.Integer(), nullable=False),
    sa.Column('body', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['token_id'], ['api_tokens.id'], name=op.f('fk_api_requests_token_id_api_tokens')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_requests')),
    sa.UniqueConstraint('token_id', 'request_id', name=op.f('uq_api_requests_token_id_request_id'))
    )
    op.create_table('scan_applications',
    sa.Column('scan_id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('operator_id', sa.Integer(), nullable=True),
    sa.Column('applied_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['operator_id'], ['operators.id'], name=op.f('fk_scan_applications_operator_id_operators')),
    sa.ForeignKeyConstraint(['scan_id'], ['scans.id'], name=op.f('fk_scan_applications_scan_id_scans')),
    sa.PrimaryKeyConstraint('scan_id', name=op.f('pk_scan_applications')),
    sa.UniqueConstraint('client_id', name=op.f('uq_scan_applications_client_id'))
    )
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('station_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_api_tokens_station_id_stations'), 'stations', ['station_id'], ['id'])
    _check('api_tokens', 'token_role', 'role', NEW_ROLES)
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.create_check_constraint('agent_has_station', "role <> 'agent' OR station_id IS NOT NULL")

    with op.batch_alter_table('lot_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('token_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('chain_hash', sa.String(length=64), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_lot_events_token_id_api_tokens'), 'api_tokens', ['token_id'], ['id'])

    with op.batch_alter_table('movements', schema=None) as batch_op:
        batch_op.add_column(sa.Column('token_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('chain_hash', sa.String(length=64), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_movements_token_id_api_tokens'), 'api_tokens', ['token_id'], ['id'])

    with op.batch_alter_table('operators', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pin_lock_count', sa.Integer(), server_default='0', nullable=False))

    with op.batch_alter_table('print_jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('printed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('lost_count', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('token_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_print_jobs_token_id_api_tokens'), 'api_tokens', ['token_id'], ['id'])
    _check('print_jobs', 'print_job_status', 'status', NEW_JOB_STATES)

    with op.batch_alter_table('recall_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('token_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('chain_hash', sa.String(length=64), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_recall_events_token_id_api_tokens'), 'api_tokens', ['token_id'], ['id'])

    op.execute("INSERT INTO scan_applications (scan_id, client_id, operator_id, applied_at) "
               "SELECT id, applied_by, operator_id, ts FROM scans WHERE applied_by IS NOT NULL")
    with op.batch_alter_table('scans', schema=None) as batch_op:
        batch_op.add_column(sa.Column('token_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('chain_hash', sa.String(length=64), nullable=True))
        batch_op.drop_index(batch_op.f('uq_scans_applied_by'))
        batch_op.create_foreign_key(batch_op.f('fk_scans_token_id_api_tokens'), 'api_tokens', ['token_id'], ['id'])
        batch_op.drop_column('applied_by')
    if _sqlite():
        _create_sqlite_triggers()


def downgrade() -> None:
    if _sqlite():
        _drop_sqlite_triggers()
    with op.batch_alter_table('scans', schema=None) as batch_op:
        batch_op.add_column(sa.Column('applied_by', sa.String(length=64), nullable=True))
        batch_op.drop_constraint(batch_op.f('fk_scans_token_id_api_tokens'), type_='foreignkey')
        batch_op.create_index('uq_scans_applied_by', ['applied_by'], unique=True)
        batch_op.drop_column('chain_hash')
        batch_op.drop_column('token_id')
    op.execute("UPDATE scans SET applied_by = (SELECT a.client_id FROM scan_applications a "
               "WHERE a.scan_id = scans.id)")

    with op.batch_alter_table('recall_events', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_recall_events_token_id_api_tokens'), type_='foreignkey')
        batch_op.drop_column('chain_hash')
        batch_op.drop_column('token_id')

    op.execute("UPDATE print_jobs SET status = 'sent' WHERE status = 'printed'")
    _check('print_jobs', 'print_job_status', 'status', OLD_JOB_STATES)
    with op.batch_alter_table('print_jobs', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_print_jobs_token_id_api_tokens'), type_='foreignkey')
        batch_op.drop_column('token_id')
        batch_op.drop_column('lost_count')
        batch_op.drop_column('printed_at')

    with op.batch_alter_table('operators', schema=None) as batch_op:
        batch_op.drop_column('pin_lock_count')

    with op.batch_alter_table('movements', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_movements_token_id_api_tokens'), type_='foreignkey')
        batch_op.drop_column('chain_hash')
        batch_op.drop_column('token_id')

    with op.batch_alter_table('lot_events', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_lot_events_token_id_api_tokens'), type_='foreignkey')
        batch_op.drop_column('chain_hash')
        batch_op.drop_column('token_id')

    op.execute("UPDATE api_tokens SET revoked_at = CURRENT_TIMESTAMP, role = 'receiver' WHERE role = 'agent'")
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_api_tokens_agent_has_station'), type_='check')
    _check('api_tokens', 'token_role', 'role', OLD_ROLES)
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_api_tokens_station_id_stations'), type_='foreignkey')
        batch_op.drop_column('station_id')

    op.drop_table('scan_applications')
    op.drop_table('api_requests')
    with op.batch_alter_table('floor_sessions', schema=None) as batch_op:
        batch_op.drop_index('ix_floor_sessions_operator_id')

    op.drop_table('floor_sessions')
    op.drop_table('chain_heads')
    if _sqlite():
        _create_sqlite_triggers()
