"""password failures per account and network

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 21:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('password_failures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('network', sa.String(length=64), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('last_failed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['staff_id'], ['staff_accounts.id'], name=op.f('fk_password_failures_staff_id_staff_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_password_failures')),
    sa.UniqueConstraint('staff_id', 'network', name=op.f('uq_password_failures_staff_id_network'))
    )
    with op.batch_alter_table('password_failures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_password_failures_staff_id'), ['staff_id'], unique=False)
    # Account-wide locks are no longer read; clear them so nothing stale lingers.
    op.execute("UPDATE staff_accounts SET failed_login_count = 0, locked_until = NULL")


def downgrade():
    with op.batch_alter_table('password_failures', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_password_failures_staff_id'))

    op.drop_table('password_failures')
