"""the monthly layer of the clue rollup (issue 18): per unit, category and calendar month, the
sums of unit_clue_days, so a year's overview reads 12 rows per unit and category, not 365

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04 14:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None

CATEGORIES = ('conduct', 'integrity', 'unfair_enforcement', 'buck_passing', 'livelihood', 'other')
COUNTS = ('received', 'rejected', 'merged', 'forwarded', 'pending_screening', 'assigned',
          'unfounded', 'substantiated', 'partly_substantiated', 'under_verification',
          'self_verified', 'persons_handled', 'referred', 'referral_persons_handled')


def upgrade():
    op.create_table('unit_clue_months',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('category', sa.Enum(*CATEGORIES, name='clue_category', native_enum=False, create_constraint=True), nullable=False),
    *[sa.Column(name, sa.Integer(), nullable=False) for name in COUNTS],
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_unit_clue_months_unit_id_units')),
    sa.PrimaryKeyConstraint('day', 'unit_id', 'category', name=op.f('pk_unit_clue_months'))
    )
    # The months of what is already recorded: the daily rows summed.
    if op.get_bind().dialect.name == 'postgresql':
        month = "CAST(date_trunc('month', day) AS DATE)"
    else:
        month = "date(day, 'start of month')"
    op.execute(f"""
        INSERT INTO unit_clue_months (day, unit_id, category, {', '.join(COUNTS)})
        SELECT {month}, unit_id, category, {', '.join(f'SUM({name})' for name in COUNTS)}
          FROM unit_clue_days
         GROUP BY {month}, unit_id, category""")


def downgrade():
    op.drop_table('unit_clue_months')
