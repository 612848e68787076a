"""Database base: declarative base with a naming convention, UTC datetimes, string enums,
the SQLite connection settings (WAL, busy timeout, BEGIN IMMEDIATE) and the check that drops
pooled PostgreSQL connections the server has closed."""

from __future__ import annotations

import enum
import select
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapper, registry

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(sa.TypeDecorator):
    """A timezone-aware UTC datetime on every engine; naive datetimes are refused."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; use app.clock.utcnow()")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# JSON that is JSONB on PostgreSQL.
JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
# Big integer primary keys that still autoincrement on SQLite.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def str_enum(enum_cls: type[enum.StrEnum], name: str) -> sa.Enum:
    """A StrEnum stored as its string value with a CHECK constraint (never a native enum)."""
    return sa.Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=max(len(m.value) for m in enum_cls),
        values_callable=lambda cls: [m.value for m in cls],
        validate_strings=True,
    )


class Base(DeclarativeBase):
    registry = registry(
        metadata=sa.MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={datetime: UTCDateTime(), dict[str, Any]: JSONType},
    )


db = SQLAlchemy(model_class=Base, disable_autonaming=True)


@sa.event.listens_for(db.Model, "after_mapper_constructed", propagate=True)
def _members_on_assignment(mapper: Mapper, class_: type) -> None:
    """A value assigned to an enum column becomes its member at once, not at the next load,
    so `row.status is Status.X` and `row.status.label` hold right after `row.status = "x"`."""
    for prop in mapper.column_attrs:
        column_type = prop.columns[0].type
        enum_cls = getattr(column_type, "enum_class", None)
        if isinstance(column_type, sa.Enum) and enum_cls and issubclass(enum_cls, enum.StrEnum):
            sa.event.listen(getattr(class_, prop.key), "set", _to_member(enum_cls), retval=True)


def _to_member(enum_cls: type[enum.StrEnum]) -> Any:
    def to_member(_target: Any, value: Any, _old: Any, _initiator: Any) -> Any:
        if isinstance(value, str) and not isinstance(value, enum_cls):
            try:
                return enum_cls(value)
            except ValueError:
                return value  # refused when flushed, with the column named
        return value

    return to_member


def upsert_insert(table: Any, dialect_name: str | None = None) -> Any:
    """An INSERT for `dialect_name` (default: the bound engine's), so
    `.on_conflict_do_update()` is available.

    Only PostgreSQL and SQLite are supported; both spell ON CONFLICT the same way.
    """
    name = dialect_name or db.engine.dialect.name
    dialect = postgresql if name == "postgresql" else sqlite
    return dialect.insert(table)


def configure_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    """WAL, busy timeout, foreign keys, and transactions that take the write lock up front.

    pysqlite's own transaction handling begins lazily and deferred; a deferred transaction
    that reads and then writes fails with "database is locked" under concurrent writers
    instead of waiting. We switch the driver to autocommit and emit BEGIN IMMEDIATE
    ourselves, so a writer waits (busy_timeout) for the lock before it reads anything.
    """

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def drop_closed_connections(engine: Engine) -> None:
    """At checkout, replace a pooled PostgreSQL connection the server has closed or is closing.

    SQLAlchemy's pool_pre_ping finds such a connection with a SELECT 1 on every checkout: a
    round trip per request. An idle connection has nothing to read, so a readable socket means
    the server has sent its termination notice or closed the connection (a restart, a crash,
    an idle timeout, pg_terminate_backend); a poll with no timeout sees that without a round
    trip. Raising DisconnectionError makes the pool open a new connection and check out that.
    What neither check sees in time is a network that drops packets silently: pre_ping would
    wait for TCP to give up too.
    """

    @sa.event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        if _closed_by_server(dbapi_connection):
            raise sa.exc.DisconnectionError("the server closed this pooled connection")


def _closed_by_server(dbapi_connection: Any) -> bool:
    if dbapi_connection.closed or dbapi_connection.broken:
        return True
    poll = select.poll()
    poll.register(dbapi_connection.fileno(), select.POLLIN | select.POLLERR | select.POLLHUP)
    return bool(poll.poll(0))
