"""the handling rollup (issue 18): per unit and Beijing day, the verification stages it
finished (on time or not), and the re-ratings and appeals about the clues it handles

The overview and the rankings read the on-time sample, the re-rating satisfaction, 案结事了率
and the appeals of any period from it instead of joining every re-rating to its clue.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04 11:10:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

COUNTS = ('stages_finished', 'stages_on_time', 'reratings', 'rerating_satisfied', 'resolved',
          'appeals', 'appeals_reopened', 'appeals_upheld')


def upgrade():
    op.create_table('unit_handling_days',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    *[sa.Column(name, sa.Integer(), nullable=False) for name in COUNTS],
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_unit_handling_days_unit_id_units')),
    sa.PrimaryKeyConstraint('day', 'unit_id', name=op.f('pk_unit_handling_days'))
    )
    _backfill()


def _backfill():
    """The rows of what is already recorded (the same GROUP BY as
    stats.rollups.raw_rollups)."""
    if op.get_bind().dialect.name == 'postgresql':
        day = "CAST(({} AT TIME ZONE 'Asia/Shanghai') AS DATE)"
        true = 'true'
    else:
        day = "date({}, '+8 hours')"
        true = '1'
    unit = 'COALESCE(c.assigned_unit_id, c.unit_id)'
    op.execute(f"""
        INSERT INTO unit_handling_days (day, unit_id, {', '.join(COUNTS)})
        SELECT day, unit_id, {', '.join(f'SUM({name})' for name in COUNTS)} FROM (
            SELECT {day.format('s.finished_at')} AS day, s.unit_id AS unit_id,
                   1 AS stages_finished,
                   CASE WHEN s.on_time = {true} THEN 1 ELSE 0 END AS stages_on_time,
                   0 AS reratings, 0 AS rerating_satisfied, 0 AS resolved,
                   0 AS appeals, 0 AS appeals_reopened, 0 AS appeals_upheld
              FROM clue_stages s
             WHERE s.stage = 'verification' AND s.finished_at IS NOT NULL
               AND s.unit_id IS NOT NULL
            UNION ALL
            SELECT {day.format('r.rated_at')}, {unit}, 0, 0, 1,
                   CASE WHEN r.level >= 4 AND r.resolved = {true} THEN 1 ELSE 0 END,
                   CASE WHEN r.resolved = {true} THEN 1 ELSE 0 END, 0, 0, 0
              FROM clue_rerating_invitations r JOIN clues c ON c.id = r.clue_id
             WHERE r.status = 'rated' AND r.rated_at IS NOT NULL
            UNION ALL
            SELECT {day.format('a.created_at')}, {unit}, 0, 0, 0, 0, 0, 1,
                   CASE WHEN a.decision = 'reopened' THEN 1 ELSE 0 END,
                   CASE WHEN a.decision = 'upheld' THEN 1 ELSE 0 END
              FROM clue_appeals a JOIN clues c ON c.id = a.clue_id
        ) AS handled
        GROUP BY day, unit_id""")


def downgrade():
    op.drop_table('unit_handling_days')
