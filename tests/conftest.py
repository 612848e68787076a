"""Test fixtures: every database test runs on SQLite and again on PostgreSQL.

PostgreSQL comes from TEST_DATABASE_URL (a server where we may create databases). Without it
the PostgreSQL half is skipped with the reason; with PINGYI_REQUIRE_SERVICES=1 (CI) a missing
service fails the run instead.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import flask_migrate
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from app import create_app
from app.extensions import db
from config import normalize_database_url

pytest_plugins = ["tests.fixtures.wechat", "tests.fixtures.hotline", "tests.fixtures.sms"]

REQUIRE_SERVICES = os.environ.get("PINGYI_REQUIRE_SERVICES") == "1"
TEST_SECRET = "test-secret-key-for-pingyi-tests-only"


def service_missing(reason: str) -> None:
    """Skip (on a developer's machine) or fail (in CI) when a service is absent."""
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason}（CI 要求所有服务可用）", pytrace=False)
    pytest.skip(reason)


def base_config(database_url: str) -> dict[str, Any]:
    return {
        "SQLALCHEMY_DATABASE_URI": database_url,
        "TESTING": True,
        "SECRET_KEY": TEST_SECRET,
        "PUBLIC_BASE_URL": "http://pingyi.test",
        "WECHAT_APPID": "",
        "REDIS_URL": None,
        # Cheap hashes keep the many staff accounts tests create fast; production uses scrypt.
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        # The fixtures file clues and photos dozens of times from one resident and one address;
        # these limits are tested with their own values (tests/hardening/test_abuse_limits.py).
        "RATE_LIMIT_CLUE_RESIDENT": "10000/hour",
        "RATE_LIMIT_CLUE_NETWORK": "10000/hour",
        "RATE_LIMIT_PHOTO_RESIDENT": "10000/hour",
        "RATE_LIMIT_PHOTO_NETWORK": "10000/hour",
    }


def migrate_database(url: str) -> None:
    """Bring a database to the head revision with the project's migrations."""
    app = create_app(base_config(url))
    with app.app_context():
        flask_migrate.upgrade()
        db.engine.dispose()


def postgres_admin_url() -> str | None:
    raw = os.environ.get("TEST_DATABASE_URL")
    return normalize_database_url(raw) if raw else None


def _run_outside_transaction(admin_url: str, statement: str) -> None:
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(statement)
    finally:
        engine.dispose()


def create_postgres_database(admin_url: str, name: str) -> str:
    _run_outside_transaction(admin_url, f'CREATE DATABASE "{name}"')
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def drop_postgres_database(admin_url: str, name: str) -> None:
    _run_outside_transaction(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def require_postgres() -> str:
    url = postgres_admin_url()
    if not url:
        service_missing("未设置 TEST_DATABASE_URL，跳过 PostgreSQL 部分")
    assert url is not None
    try:
        engine = sa.create_engine(url)
        with engine.connect():
            pass
        engine.dispose()
    except sa.exc.OperationalError as exc:
        service_missing(f"无法连接 TEST_DATABASE_URL 指向的 PostgreSQL：{exc.orig}")
    return url


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked postgres_only run only in the PostgreSQL half (not skipped on SQLite)."""
    keep, dropped = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        engine = callspec.params.get("database") if callspec else None
        if item.get_closest_marker("postgres_only") and engine == "sqlite":
            dropped.append(item)
        else:
            keep.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


@dataclass
class TestDatabase:
    """A migrated database of one engine and a way to hand each test a clean copy."""

    kind: str
    template: str  # sqlite: the template file; postgresql: the database URL
    # postgresql: the rows migrations seed (calendar, questionnaire), restored after each wipe
    seeded: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    engine: sa.Engine | None = None

    def fresh_url(self, tmp_path: Path) -> str:
        if self.kind == "sqlite":
            target = tmp_path / "pingyi.sqlite3"
            shutil.copyfile(self.template, target)
            return f"sqlite:///{target}"
        self._reset_postgres()
        return self.template

    def _reset_postgres(self) -> None:
        assert self.engine is not None
        with self.engine.begin() as conn:
            tables = [
                row[0]
                for row in conn.execute(
                    sa.text(
                        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                        "AND tablename <> 'alembic_version'"
                    )
                )
            ]
            # Append-only tables (audit log, clue events) refuse TRUNCATE; the test database's
            # owner may switch their guard triggers off for the wipe, in this one transaction.
            guarded = [
                row[0]
                for row in conn.execute(
                    sa.text(
                        "SELECT DISTINCT c.relname FROM pg_trigger t "
                        "JOIN pg_class c ON c.oid = t.tgrelid "
                        "WHERE NOT t.tgisinternal"
                    )
                )
            ]
            for table in guarded:
                conn.exec_driver_sql(f'ALTER TABLE "{table}" DISABLE TRIGGER USER')
            conn.exec_driver_sql(
                "TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"
            )
            for table in guarded:
                conn.exec_driver_sql(f'ALTER TABLE "{table}" ENABLE TRIGGER USER')
            metadata = sa.MetaData()
            for table, rows in self.seeded.items():
                conn.execute(sa.Table(table, metadata, autoload_with=conn).insert(), rows)
                if "id" in rows[0]:
                    conn.execute(
                        sa.text(
                            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                            f'(SELECT max(id) FROM "{table}"))'
                        )
                    )


def seeded_rows(engine: sa.Engine) -> dict[str, list[dict[str, Any]]]:
    """Every row the migrations wrote, by table."""
    metadata = sa.MetaData()
    metadata.reflect(engine)
    with engine.connect() as conn:
        return {
            name: rows
            for name, table in metadata.tables.items()
            if name != "alembic_version"
            and (rows := [dict(r._mapping) for r in conn.execute(sa.select(table))])
        }


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestDatabase]:
    """A migrated database per engine, made once per test session."""
    if request.param == "sqlite":
        template = tmp_path_factory.mktemp("sqlite") / "template.sqlite3"
        url = f"sqlite:///{template}"
        migrate_database(url)
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        engine.dispose()
        yield TestDatabase("sqlite", str(template))
        return
    admin_url = require_postgres()
    name = f"pingyi_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    url = create_postgres_database(admin_url, name)
    try:
        migrate_database(url)
        engine = sa.create_engine(url)
        yield TestDatabase("postgresql", url, seeded_rows(engine), engine)
        engine.dispose()
    finally:
        drop_postgres_database(admin_url, name)


@pytest.fixture
def database_url(database: TestDatabase, tmp_path: Path) -> str:
    """The URL of a clean, migrated database for this test."""
    return database.fresh_url(tmp_path)


@pytest.fixture
def app(database_url: str):
    app = create_app(base_config(database_url))
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()
