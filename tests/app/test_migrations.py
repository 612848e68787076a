"""Migrations: one head, and the migrated schema equals the models on both engines."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from app.extensions import MIGRATIONS_DIR, db


def test_one_head():
    config = AlembicConfig()
    config.set_main_option("script_location", MIGRATIONS_DIR)
    heads = ScriptDirectory.from_config(config).get_heads()
    assert len(heads) == 1, f"迁移有多个 head：{heads}"


def test_migrated_schema_equals_models(app):
    with app.app_context():
        with db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(context, db.metadata)
    assert diff == [], f"迁移后的表结构与模型不一致：{diff}"


def test_migration_seeds_official_calendar(app):
    with app.app_context():
        rows = db.session.execute(
            sa.text(
                "SELECT day, is_working FROM calendar_days WHERE day IN "
                "('2026-02-14', '2026-02-17', '2025-10-08', '2025-10-11')"
            )
        ).all()
    seen = {str(day)[:10]: bool(working) for day, working in rows}
    assert seen == {
        "2026-02-14": True,
        "2026-02-17": False,
        "2025-10-08": False,
        "2025-10-11": True,
    }
