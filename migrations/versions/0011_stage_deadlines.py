"""deadlines and escalation for every stage, new workflow actions (issue 17)

- deadline_notices: one row per reminder / overdue notice / escalation of any stage kind,
  unique per (kind, item, level), so a sweep run twice or by two schedulers sends it once;
- clues.withdrawn_at (residents withdraw before screening), clues.hotline_case_no (the 12345
  platform's case number); referrals.receive_due_at / conclude_due_at;
- CHECK constraints: clue status 'withdrawn', clue stage 'forwarded';
- repair: a clue reopened after 12345 had closed it sat under verification with no unit; it
  goes to the reported unit, and its open verification stage with it.

The CHECK constraints only widen (one more allowed value). On SQLite the stored table
definition is edited in place (SQLite's documented procedure for changing CHECK constraints),
because copying `clues` in batch mode would trip the foreign keys of every table that
points at it.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 07:10:00.000000

"""
import re

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

OLD_STATUSES = ('submitted', 'accepted', 'assigned', 'verifying', 'reviewing', 'closed',
                'appealed', 'rejected', 'merged', 'forwarded')
NEW_STATUSES = OLD_STATUSES + ('withdrawn',)
OLD_STAGES = ('screening', 'verification', 'review', 'appeal')
NEW_STAGES = OLD_STAGES + ('forwarded',)
DEADLINE_KINDS = ('screening', 'verification', 'review', 'appeal', 'forwarded',
                  'referral_receipt', 'referral_conclusion', 'letter_reply', 'bad_rating',
                  'interview')

# table, column, constraint name
CHECKS = [
    ('clues', 'status', 'ck_clues_clue_status', 'statuses'),
    ('clue_events', 'from_status', 'ck_clue_events_from_status', 'statuses'),
    ('clue_events', 'to_status', 'ck_clue_events_to_status', 'statuses'),
    ('clue_stages', 'stage', 'ck_clue_stages_clue_stage', 'stages'),
]


def _condition(column, values):
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


def _values(which, new):
    if which == 'statuses':
        return NEW_STATUSES if new else OLD_STATUSES
    return NEW_STAGES if new else OLD_STAGES


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


def _replace_checks(new):
    sqlite = op.get_bind().dialect.name == 'sqlite'
    for table, column, name, which in CHECKS:
        condition = _condition(column, _values(which, new))
        if sqlite:
            _sqlite_replace_check(table, name, condition)
        else:
            op.drop_constraint(op.f(name), table, type_='check')
            op.create_check_constraint(op.f(name), table, condition)


def upgrade():
    op.create_table('deadline_notices',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.Enum(*DEADLINE_KINDS, name='deadline_kind', native_enum=False, create_constraint=True, length=19), nullable=False),
    sa.Column('item_id', sa.BigInteger(), nullable=False),
    sa.Column('level', sa.Integer(), nullable=False),
    sa.Column('clue_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('unit_id', sa.Integer(), nullable=True),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('letter_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('recipients', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['clue_id'], ['clues.id'], name=op.f('fk_deadline_notices_clue_id_clues')),
    sa.ForeignKeyConstraint(['letter_id'], ['letters.id'], name=op.f('fk_deadline_notices_letter_id_letters')),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_deadline_notices_unit_id_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deadline_notices')),
    sa.UniqueConstraint('kind', 'item_id', 'level', name=op.f('uq_deadline_notices_kind_item_id_level'))
    )
    with op.batch_alter_table('deadline_notices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_deadline_notices_clue_id'), ['clue_id'], unique=False)
        batch_op.create_index('ix_deadline_notices_issued_at', ['issued_at'], unique=False)

    op.add_column('clues', sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('clues', sa.Column('hotline_case_no', sa.String(length=64), server_default='', nullable=False))
    op.add_column('referrals', sa.Column('receive_due_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('referrals', sa.Column('conclude_due_at', sa.DateTime(timezone=True), nullable=True))
    _replace_checks(new=True)

    # A clue reopened after 12345 closed it: verified by the reported unit from now on.
    op.execute(
        "UPDATE clues SET assigned_unit_id = unit_id "
        "WHERE assigned_unit_id IS NULL AND status IN ('assigned', 'verifying', 'reviewing')"
    )
    op.execute(
        "UPDATE clue_stages SET unit_id = "
        "(SELECT clues.assigned_unit_id FROM clues WHERE clues.id = clue_stages.clue_id) "
        "WHERE unit_id IS NULL AND stage = 'verification' AND finished_at IS NULL"
    )


def downgrade():
    op.execute("DELETE FROM clue_stages WHERE stage = 'forwarded'")
    op.execute("UPDATE clues SET status = 'rejected' WHERE status = 'withdrawn'")
    _replace_checks(new=False)
    # Plain ALTER TABLE … DROP COLUMN (SQLite ≥ 3.35): no table copy under the foreign keys.
    op.drop_column('referrals', 'conclude_due_at')
    op.drop_column('referrals', 'receive_due_at')
    op.drop_column('clues', 'hotline_case_no')
    op.drop_column('clues', 'withdrawn_at')
    with op.batch_alter_table('deadline_notices', schema=None) as batch_op:
        batch_op.drop_index('ix_deadline_notices_issued_at')
        batch_op.drop_index(batch_op.f('ix_deadline_notices_clue_id'))
    op.drop_table('deadline_notices')
