"""resident tracking links, consent and the SMS channel (issue 15)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 07:10:00.000000

"""
import secrets
from datetime import UTC, datetime

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

# As in clues/tracking.py (a migration never imports the application).
ACCESS_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def upgrade():
    tracking = op.create_table('clue_tracking',
    sa.Column('clue_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('secret', sa.String(length=64), nullable=False),
    sa.Column('access_code', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['clue_id'], ['clues.id'], name=op.f('fk_clue_tracking_clue_id_clues')),
    sa.PrimaryKeyConstraint('clue_id', name=op.f('pk_clue_tracking')),
    sa.UniqueConstraint('secret', name=op.f('uq_clue_tracking_secret'))
    )
    with op.batch_alter_table('clue_reporters', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('sms_consent', sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    # Clues filed before this revision get their link too, so every reporter can follow.
    clue_ids = op.get_bind().execute(sa.text('SELECT id FROM clues')).scalars().all()
    now = datetime.now(UTC)
    if clue_ids:
        op.bulk_insert(tracking, [
            {
                'clue_id': clue_id,
                'secret': secrets.token_urlsafe(24),
                'access_code': ''.join(secrets.choice(ACCESS_CODE_ALPHABET) for _ in range(8)),
                'created_at': now,
            }
            for clue_id in clue_ids
        ])


def downgrade():
    with op.batch_alter_table('clue_reporters', schema=None) as batch_op:
        batch_op.drop_column('sms_consent')
    op.drop_table('clue_tracking')
