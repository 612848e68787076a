"""console administration (issue 16): a trigram index for finding a phrase in complaints

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 07:10:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade():
    # The staff lists search complaints with LIKE '%…%' (any Chinese phrase). On PostgreSQL
    # pg_trgm's GIN index answers that for phrases of three characters or more (pg_trgm is a
    # trusted extension since PostgreSQL 13: the database owner may create it); SQLite gets
    # an ordinary index, so both engines keep the models' schema.
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_index(
        "ix_clues_description_trgm",
        "clues",
        ["description"],
        postgresql_using="gin",
        postgresql_ops={"description": "gin_trgm_ops"},
    )


def downgrade():
    op.drop_index("ix_clues_description_trgm", table_name="clues")
