"""daily rollups and export jobs (issue 18)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 07:10:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

CATEGORIES = ('conduct', 'integrity', 'unfair_enforcement', 'buck_passing', 'livelihood', 'other')


def _counts(*names):
    return [sa.Column(name, sa.Integer(), nullable=False) for name in names]


def upgrade():
    op.create_table('unit_rating_days',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    *_counts('evaluations', 'satisfied', 'bad', 'excluded'),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_unit_rating_days_unit_id_units')),
    sa.PrimaryKeyConstraint('day', 'unit_id', name=op.f('pk_unit_rating_days'))
    )
    op.create_table('officer_rating_days',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('officer_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    *_counts('evaluations', 'satisfied', 'bad'),
    sa.ForeignKeyConstraint(['officer_id'], ['officers.id'], name=op.f('fk_officer_rating_days_officer_id_officers')),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_officer_rating_days_unit_id_units')),
    sa.PrimaryKeyConstraint('day', 'officer_id', 'unit_id', name=op.f('pk_officer_rating_days'))
    )
    op.create_table('unit_clue_days',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('category', sa.Enum(*CATEGORIES, name='clue_category', native_enum=False, create_constraint=True), nullable=False),
    *_counts('received', 'rejected', 'merged', 'forwarded', 'pending_screening', 'assigned',
             'unfounded', 'substantiated', 'partly_substantiated', 'under_verification',
             'self_verified', 'persons_handled', 'referred', 'referral_persons_handled'),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_unit_clue_days_unit_id_units')),
    sa.PrimaryKeyConstraint('day', 'unit_id', 'category', name=op.f('pk_unit_clue_days'))
    )
    op.create_table('officer_clue_days',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('officer_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    *_counts('received', 'substantiated', 'unfounded', 'under_verification'),
    sa.ForeignKeyConstraint(['officer_id'], ['officers.id'], name=op.f('fk_officer_clue_days_officer_id_officers')),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_officer_clue_days_unit_id_units')),
    sa.PrimaryKeyConstraint('day', 'officer_id', 'unit_id', name=op.f('pk_officer_clue_days'))
    )
    op.create_table('export_jobs',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('format', sa.String(length=8), nullable=False),
    sa.Column('status', sa.Enum('queued', 'running', 'done', 'failed', name='export_status', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('done', sa.Integer(), nullable=False),
    sa.Column('requested_by', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('file_name', sa.String(length=200), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('error', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['requested_by'], ['staff_accounts.id'], name=op.f('fk_export_jobs_requested_by_staff_accounts')),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_export_jobs_unit_id_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_export_jobs'))
    )
    _backfill()


def _backfill():
    """The rollups of the ratings and clues already recorded (the same GROUP BY as
    stats.rollups.raw_rollups)."""
    if op.get_bind().dialect.name == 'postgresql':
        day = "CAST(({} AT TIME ZONE 'Asia/Shanghai') AS DATE)"
        false = 'false'
    else:
        day = "date({}, '+8 hours')"
        false = '0'
    rating_day, clue_day = day.format('created_at'), day.format('c.submitted_at')
    counted = f'is_excluded = {false}'
    op.execute(f"""
        INSERT INTO unit_rating_days (day, unit_id, evaluations, satisfied, bad, excluded)
        SELECT {rating_day}, unit_id,
               SUM(CASE WHEN {counted} THEN 1 ELSE 0 END),
               SUM(CASE WHEN {counted} AND level >= 4 THEN 1 ELSE 0 END),
               SUM(CASE WHEN {counted} AND level <= 2 THEN 1 ELSE 0 END),
               SUM(CASE WHEN {counted} THEN 0 ELSE 1 END)
          FROM evaluations GROUP BY {rating_day}, unit_id""")
    op.execute(f"""
        INSERT INTO officer_rating_days (day, officer_id, unit_id, evaluations, satisfied, bad)
        SELECT {rating_day}, officer_id, unit_id,
               SUM(CASE WHEN {counted} THEN 1 ELSE 0 END),
               SUM(CASE WHEN {counted} AND level >= 4 THEN 1 ELSE 0 END),
               SUM(CASE WHEN {counted} AND level <= 2 THEN 1 ELSE 0 END)
          FROM evaluations WHERE officer_id IS NOT NULL
         GROUP BY {rating_day}, officer_id, unit_id""")
    closed = "c.status = 'closed'"
    under = "c.status IN ('assigned', 'verifying', 'reviewing', 'appealed')"
    substantiated = f"{closed} AND c.outcome IN ('substantiated', 'partly_substantiated')"
    unfounded = f"{closed} AND c.outcome = 'unfounded'"
    op.execute(f"""
        INSERT INTO unit_clue_days (day, unit_id, category, received, rejected, merged, forwarded,
            pending_screening, assigned, unfounded, substantiated, partly_substantiated,
            under_verification, self_verified, persons_handled, referred,
            referral_persons_handled)
        SELECT {clue_day}, c.unit_id, c.category, COUNT(c.id),
               SUM(CASE WHEN c.rejected_at IS NOT NULL THEN 1 ELSE 0 END),
               SUM(CASE WHEN c.merged_at IS NOT NULL THEN 1 ELSE 0 END),
               SUM(CASE WHEN c.forwarded_at IS NOT NULL THEN 1 ELSE 0 END),
               SUM(CASE WHEN c.status IN ('submitted', 'accepted') THEN 1 ELSE 0 END),
               SUM(CASE WHEN c.assigned_at IS NOT NULL THEN 1 ELSE 0 END),
               SUM(CASE WHEN {unfounded} THEN 1 ELSE 0 END),
               SUM(CASE WHEN {substantiated} THEN 1 ELSE 0 END),
               SUM(CASE WHEN {closed} AND c.outcome = 'partly_substantiated' THEN 1 ELSE 0 END),
               SUM(CASE WHEN c.assigned_at IS NOT NULL AND {under} THEN 1 ELSE 0 END),
               SUM(CASE WHEN c.self_verification_reason != '' THEN 1 ELSE 0 END),
               COALESCE(SUM(CASE WHEN {closed} THEN c.persons_handled ELSE 0 END), 0),
               COUNT(r.id), COALESCE(SUM(r.persons_handled), 0)
          FROM clues c LEFT JOIN referrals r ON r.clue_id = c.id
         GROUP BY {clue_day}, c.unit_id, c.category""")
    op.execute(f"""
        INSERT INTO officer_clue_days (day, officer_id, unit_id, received, substantiated,
            unfounded, under_verification)
        SELECT {clue_day}, c.officer_id, c.unit_id, COUNT(c.id),
               SUM(CASE WHEN {substantiated} THEN 1 ELSE 0 END),
               SUM(CASE WHEN {unfounded} THEN 1 ELSE 0 END),
               SUM(CASE WHEN {under} THEN 1 ELSE 0 END)
          FROM clues c WHERE c.officer_id IS NOT NULL
         GROUP BY {clue_day}, c.officer_id, c.unit_id""")


def downgrade():
    op.drop_table('export_jobs')
    op.drop_table('officer_clue_days')
    op.drop_table('unit_clue_days')
    op.drop_table('officer_rating_days')
    op.drop_table('unit_rating_days')
