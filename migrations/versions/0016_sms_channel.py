"""the SMS channel (issue 15): the outbox's channel CHECK constraint admits 'sms'

The column keeps its length (6, "wechat"); only the constraint changes. On SQLite batch mode
copies the outbox table, which has no triggers to restore.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04 07:10:00.000000

"""
from alembic import op
import sqlalchemy as sa  # noqa: F401


# revision identifiers, used by Alembic.
revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

BEFORE = ('wechat', '12345')
AFTER = ('wechat', '12345', 'sms')


def _condition(values):
    return f"channel IN ({', '.join(repr(value) for value in values)})"


def _constrain(values):
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_outbox_outbox_channel'), type_='check')
        batch_op.create_check_constraint(op.f('ck_outbox_outbox_channel'), _condition(values))


def upgrade():
    _constrain(AFTER)


def downgrade():
    op.execute("DELETE FROM outbox WHERE channel = 'sms'")
    _constrain(BEFORE)
