"""the seed's practices: bad-rating rectification, callbacks, briefs, interviews (issue 17)

Also the clue sources 信访 (petition) and 网格员 (grid): the CHECK constraint of clues.source
only widens. On SQLite the stored table definition is edited in place (SQLite's documented
procedure for changing a CHECK constraint), as 0011 does, because copying `clues` in batch
mode would trip the foreign keys of every table that refers to it.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 07:10:00.000000

"""
import re

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
JSONType = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')
OLD_SOURCES = ('evaluation', 'direct', 'survey', 'case_review')
NEW_SOURCES = (*OLD_SOURCES, 'petition', 'grid')
SOURCE_CHECK = 'ck_clues_clue_source'
CALLBACK_RESULTS = ('satisfied', 'basically_satisfied', 'unsatisfied', 'unreachable')


def _callback_result(nullable):
    return sa.Column(
        'callback_result' if nullable else 'result',
        sa.Enum(*CALLBACK_RESULTS, name='callback_result', native_enum=False,
                create_constraint=True, length=19),
        nullable=nullable,
    )


def _sqlite_replace_check(table, name, condition):
    """Rewrite one CHECK constraint inside SQLite's stored CREATE TABLE statement."""
    bind = op.get_bind()
    sql = bind.execute(
        sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :name"),
        {"name": table},
    ).scalar_one()
    pattern = re.compile(rf'(CONSTRAINT\s+"?{name}"?\s+CHECK\s*)\((?:[^()]|\([^()]*\))*\)')
    if not pattern.search(sql):
        raise RuntimeError(f"CHECK constraint {name} not found on {table}")
    new_sql = pattern.sub(lambda m: f"{m.group(1)}({condition})", sql, count=1)
    version = bind.execute(sa.text("PRAGMA schema_version")).scalar_one()
    bind.execute(sa.text("PRAGMA writable_schema = ON"))
    bind.execute(
        sa.text("UPDATE sqlite_master SET sql = :sql WHERE type = 'table' AND name = :name"),
        {"sql": new_sql, "name": table},
    )
    bind.execute(sa.text(f"PRAGMA schema_version = {int(version) + 1}"))
    bind.execute(sa.text("PRAGMA writable_schema = OFF"))


def _sources(values):
    condition = f"source IN ({', '.join(repr(value) for value in values)})"
    if op.get_bind().dialect.name == 'sqlite':
        _sqlite_replace_check('clues', SOURCE_CHECK, condition)
    else:
        op.drop_constraint(op.f(SOURCE_CHECK), 'clues', type_='check')
        op.create_check_constraint(op.f(SOURCE_CHECK), 'clues', condition)


def upgrade():
    _sources(NEW_SOURCES)
    op.create_table('clue_callbacks',
    sa.Column('id', BigId, nullable=False),
    sa.Column('clue_id', BigId, nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    _callback_result(False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('called_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['clue_id'], ['clues.id'], name=op.f('fk_clue_callbacks_clue_id_clues')),
    sa.ForeignKeyConstraint(['staff_id'], ['staff_accounts.id'], name=op.f('fk_clue_callbacks_staff_id_staff_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clue_callbacks'))
    )
    op.create_index(op.f('ix_clue_callbacks_clue_id'), 'clue_callbacks', ['clue_id'], unique=False)

    op.create_table('bad_rating_rectifications',
    sa.Column('id', BigId, nullable=False),
    sa.Column('evaluation_id', BigId, nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('officer_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.Enum('open', 'rectified', name='rectification_status', native_enum=False, create_constraint=True, length=9), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('measures', sa.Text(), nullable=False),
    _callback_result(True),
    sa.Column('rectified_by', sa.Integer(), nullable=True),
    sa.Column('rectified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('on_time', sa.Boolean(), nullable=True),
    sa.ForeignKeyConstraint(['evaluation_id'], ['evaluations.id'], name=op.f('fk_bad_rating_rectifications_evaluation_id_evaluations')),
    sa.ForeignKeyConstraint(['officer_id'], ['officers.id'], name=op.f('fk_bad_rating_rectifications_officer_id_officers')),
    sa.ForeignKeyConstraint(['rectified_by'], ['staff_accounts.id'], name=op.f('fk_bad_rating_rectifications_rectified_by_staff_accounts')),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_bad_rating_rectifications_unit_id_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bad_rating_rectifications')),
    sa.UniqueConstraint('evaluation_id', name=op.f('uq_bad_rating_rectifications_evaluation_id'))
    )
    op.create_index('ix_bad_rating_rectifications_unit_status', 'bad_rating_rectifications', ['unit_id', 'status'], unique=False)
    op.create_index(op.f('ix_bad_rating_rectifications_opened_at'), 'bad_rating_rectifications', ['opened_at'], unique=False)

    op.create_table('interviews',
    sa.Column('id', BigId, nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('held_on', sa.Date(), nullable=False),
    sa.Column('interviewer', sa.String(length=100), nullable=False),
    sa.Column('interviewee', sa.String(length=100), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('commitments', sa.Text(), nullable=False),
    sa.Column('follow_up_due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('followed_up_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('follow_up_note', sa.Text(), nullable=False),
    sa.Column('followed_up_by', sa.Integer(), nullable=True),
    sa.Column('recorded_by', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['followed_up_by'], ['staff_accounts.id'], name=op.f('fk_interviews_followed_up_by_staff_accounts')),
    sa.ForeignKeyConstraint(['recorded_by'], ['staff_accounts.id'], name=op.f('fk_interviews_recorded_by_staff_accounts')),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_interviews_unit_id_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_interviews'))
    )
    op.create_index(op.f('ix_interviews_unit_id'), 'interviews', ['unit_id'], unique=False)

    op.create_table('clue_public_summaries',
    sa.Column('clue_id', BigId, nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('approved_by', sa.Integer(), nullable=False),
    sa.Column('approved_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['approved_by'], ['staff_accounts.id'], name=op.f('fk_clue_public_summaries_approved_by_staff_accounts')),
    sa.ForeignKeyConstraint(['clue_id'], ['clues.id'], name=op.f('fk_clue_public_summaries_clue_id_clues')),
    sa.PrimaryKeyConstraint('clue_id', name=op.f('pk_clue_public_summaries'))
    )

    op.create_table('daily_briefs',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('content', JSONType, nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('day', name=op.f('pk_daily_briefs'))
    )


def downgrade():
    op.execute("UPDATE clues SET source = 'case_review' WHERE source IN ('petition', 'grid')")
    _sources(OLD_SOURCES)
    op.drop_table('daily_briefs')
    op.drop_table('clue_public_summaries')
    op.drop_index(op.f('ix_interviews_unit_id'), table_name='interviews')
    op.drop_table('interviews')
    op.drop_index(op.f('ix_bad_rating_rectifications_opened_at'), table_name='bad_rating_rectifications')
    op.drop_index('ix_bad_rating_rectifications_unit_status', table_name='bad_rating_rectifications')
    op.drop_table('bad_rating_rectifications')
    op.drop_index(op.f('ix_clue_callbacks_clue_id'), table_name='clue_callbacks')
    op.drop_table('clue_callbacks')
