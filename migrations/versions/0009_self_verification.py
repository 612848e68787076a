"""the reason a misconduct clue is verified by the reported unit itself

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 22:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('clues', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('self_verification_reason', sa.Text(), server_default='', nullable=False)
        )


def downgrade():
    with op.batch_alter_table('clues', schema=None) as batch_op:
        batch_op.drop_column('self_verification_reason')
