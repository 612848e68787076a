"""operations: lease fencing tokens, job runs, retention of personal data (issue 20)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04 07:10:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('leases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('token', sa.Integer(), server_default='1', nullable=False))
    op.create_table('job_runs',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('last_success_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_failure_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_duration_seconds', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_job_runs'))
    )


def downgrade():
    op.drop_table('job_runs')
    with op.batch_alter_table('leases', schema=None) as batch_op:
        batch_op.drop_column('token')
