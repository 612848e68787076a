"""enum columns: CHECK constraints on the statuses, decisions and kinds that were bare strings

Each column keeps its rows; its length shrinks to the longest value, like every other enum
column. On SQLite batch mode copies the tables, which drops the append-only triggers of
clue_events: they are made again right after.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 21:40:00.000000

"""
from itertools import groupby

from alembic import op
import sqlalchemy as sa
from sqlalchemy import Text  # noqa: F401  (autogenerate writes JSONB(astext_type=Text()))


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

CLUE_STATUSES = ('submitted', 'accepted', 'assigned', 'verifying', 'reviewing', 'closed',
                 'appealed', 'rejected', 'merged', 'forwarded')

# table, column, enum name (the constraint is ck_<table>_<enum name>), values, length before,
# nullable; grouped by table so each table is copied once on SQLite.
ENUM_COLUMNS = [
    ('clue_appeals', 'decision', 'appeal_decision', ('reopened', 'upheld'), 16, True),
    ('clue_events', 'from_status', 'from_status', CLUE_STATUSES, 16, True),
    ('clue_events', 'to_status', 'to_status', CLUE_STATUSES, 16, False),
    ('clue_extensions', 'status', 'extension_status',
     ('pending', 'approved', 'denied', 'lapsed'), 16, False),
    ('clue_reporters', 'identity', 'reporter_identity', ('anonymous', 'confidential'), 16, False),
    ('clue_reports', 'decision', 'report_decision', ('approved', 'returned'), 16, True),
    ('clue_rerating_invitations', 'status', 'rerating_status',
     ('pending', 'rated', 'not_rated', 'superseded'), 16, False),
    ('clue_warnings', 'kind', 'warning_kind', ('officer_reported', 'unit_reported', 'repeat'),
     32, False),
    ('letter_counters', 'kind', 'letter_kind', ('reminder', 'supervision', 'escalation', 'notice'),
     16, False),
    ('outbox', 'kind', 'outbox_kind',
     ('clue_accepted', 'clue_result', 'appeal_decision', 'rerating_invite', 'forward'), 32, False),
]

SQLITE_EVENT_TRIGGERS = [
    f"""CREATE TRIGGER clue_events_no_{verb.lower()} BEFORE {verb} ON clue_events
        BEGIN SELECT RAISE(ABORT, 'clue_events is append-only'); END"""
    for verb in ('UPDATE', 'DELETE')
]


def _by_table():
    return groupby(ENUM_COLUMNS, key=lambda spec: spec[0])


def _condition(column, values):
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


def _restore_sqlite_event_triggers():
    if op.get_bind().dialect.name == 'sqlite':
        for statement in SQLITE_EVENT_TRIGGERS:
            op.execute(statement)


def upgrade():
    for table, specs in _by_table():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for _, column, name, values, before, nullable in specs:
                batch_op.alter_column(
                    column,
                    existing_type=sa.String(length=before),
                    type_=sa.String(length=max(len(value) for value in values)),
                    existing_nullable=nullable,
                )
                batch_op.create_check_constraint(
                    op.f(f'ck_{table}_{name}'), _condition(column, values)
                )
    _restore_sqlite_event_triggers()


def downgrade():
    for table, specs in _by_table():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for _, column, name, values, before, nullable in specs:
                batch_op.drop_constraint(op.f(f'ck_{table}_{name}'), type_='check')
                batch_op.alter_column(
                    column,
                    existing_type=sa.String(length=max(len(value) for value in values)),
                    type_=sa.String(length=before),
                    existing_nullable=nullable,
                )
    _restore_sqlite_event_triggers()
