"""Daily rating rollups: per unit, and per officer, the counts every statistic of ratings is
made of, kept exact in the transaction that records or changes a rating.

A rating counts on its Beijing-time day (the statistics' periods are whole Beijing days), so
a period's figures are a sum over at most days × units rows however many ratings there are.

Exact by construction: every change adds its *difference* (new counts − old counts) with an
atomic upsert (`count = count + delta`), so concurrent transactions commute and none is lost.
- the rating hot path (evaluations.service) adds its one rating with `count_rating`;
- any ORM insert, update or delete of an Evaluation (factories, corrections) is caught at
  flush by `RollupKeeper`, which adds the difference between the flushed and the loaded state;
- bulk loads that bypass both (COPY, Core executemany in the demo city and the benches) end with
  stats.rollups.rebuild_rollups(), which also proves the stored rows equal the raw data.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event, inspect
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Mapped, Session, mapped_column
from sqlalchemy.sql.functions import FunctionElement

from app.db import db, upsert_insert
from evaluations.models import Evaluation
from evaluations.questionnaire import SATISFIED_LEVEL

BAD_LEVEL = 2
# Asia/Shanghai has kept UTC+8 without daylight saving since 1991: a day is a fixed shift.
BEIJING_OFFSET = timedelta(hours=8)


def beijing_day(moment: datetime) -> date:
    """The Beijing calendar day of a UTC instant (the day a rating or clue counts on)."""
    return (moment + BEIJING_OFFSET).date()


def _date_function(name: str, doc: str, **sql: str) -> type[FunctionElement]:
    """An SQL function of one argument giving a date, written per engine as a template
    (`{}`: the argument): `_date_function("f", "…", postgresql="…", sqlite="…")`."""
    function = type(name, (FunctionElement,), {"type": sa.Date(), "inherit_cache": True})
    function.__doc__ = doc
    for dialect, template in sql.items():

        def render(element: Any, compiler: Any, *, _template: str = template, **kw: Any) -> str:
            return _template.format(compiler.process(element.clauses, **kw))

        compiles(function, dialect)(render)
    return function


beijing_date = _date_function(
    "beijing_date",
    "SQL: the Beijing calendar day of a UTC timestamp column, on both engines.",
    postgresql="CAST(({} AT TIME ZONE 'Asia/Shanghai') AS DATE)",
    sqlite="date({}, '+8 hours')",
)
month_start = _date_function(
    "month_start",
    "SQL: the first day of a date's calendar month, on both engines.",
    postgresql="CAST(date_trunc('month', {}) AS DATE)",
    sqlite="date({}, 'start of month')",
)


_INSERT_RATING = sa.insert(Evaluation.__table__).returning(Evaluation.__table__.c.id)


class UnitRatingDay(db.Model):
    """The ratings of one unit on one Beijing day."""

    __tablename__ = "unit_rating_days"

    day: Mapped[date] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("units.id"), primary_key=True)
    evaluations: Mapped[int]  # counted: not excluded
    satisfied: Mapped[int]
    bad: Mapped[int]
    excluded: Mapped[int]


class OfficerRatingDay(db.Model):
    """The counted ratings naming one officer of one unit on one Beijing day."""

    __tablename__ = "officer_rating_days"

    day: Mapped[date] = mapped_column(primary_key=True)
    officer_id: Mapped[int] = mapped_column(sa.ForeignKey("officers.id"), primary_key=True)
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("units.id"), primary_key=True)
    evaluations: Mapped[int]
    satisfied: Mapped[int]
    bad: Mapped[int]


# ---------------------------------------------------------------- adding differences

Key = tuple[Any, ...]
Deltas = dict[Key, list[int]]


def counters(table: sa.Table) -> list[str]:
    """The count columns of a rollup table (everything not in its primary key)."""
    return [c.name for c in table.columns if not c.primary_key]


def key_columns(table: sa.Table) -> list[str]:
    return [c.name for c in table.primary_key.columns]


_UPSERTS: dict[tuple[str, str], sa.Insert] = {}

# A daily rollup → its monthly layer: the same key and counts, `day` the month's first day,
# written by the same add_deltas call (so exact wherever the daily rows are).
MONTHLY: dict[sa.Table, sa.Table] = {}


def _upsert(table: sa.Table, dialect: str) -> sa.Insert:
    """INSERT … ON CONFLICT (key) DO UPDATE SET n = n + excluded.n, built once per table."""
    cached = _UPSERTS.get((table.name, dialect))
    if cached is None:
        insert = upsert_insert(table, dialect)
        cached = insert.on_conflict_do_update(
            index_elements=key_columns(table),
            set_={name: table.c[name] + insert.excluded[name] for name in counters(table)},
        )
        _UPSERTS[(table.name, dialect)] = cached
    return cached


def add_deltas(connection: sa.Connection, table: sa.Table, deltas: Deltas) -> None:
    """Add each key's counts to its row (created at zero when missing); zero changes skipped."""
    names, keys = counters(table), key_columns(table)
    rows = [
        {**dict(zip(keys, key, strict=True)), **dict(zip(names, counts, strict=True))}
        for key, counts in deltas.items()
        if any(counts)
    ]
    if rows:
        connection.execute(_upsert(table, connection.dialect.name), rows)
    monthly = MONTHLY.get(table)
    if monthly is not None and rows:
        by_month: Deltas = {}
        for key, counts in deltas.items():
            merge_into(by_month, (key[0].replace(day=1), *key[1:]), counts, +1)
        add_deltas(connection, monthly, by_month)


def merge_into(deltas: Deltas, key: Key, counts: Iterable[int], sign: int) -> None:
    """deltas[key] += sign × counts (one row per key: an upsert may touch a row only once)."""
    row = deltas.get(key)
    counts = list(counts)
    if row is None:
        deltas[key] = [sign * n for n in counts]
    else:
        for i, n in enumerate(counts):
            row[i] += sign * n


# ---------------------------------------------------------------- a rating's counts


def rating_counts(
    *, created_at: datetime, unit_id: int, officer_id: int | None, level: int, is_excluded: bool
) -> dict[sa.Table, tuple[Key, list[int]]]:
    """What one rating adds to each rollup: {table: (key, counts)}."""
    day = beijing_day(created_at)
    counted = not is_excluded
    satisfied = counted and level >= SATISFIED_LEVEL
    bad = counted and level <= BAD_LEVEL
    found = {
        UnitRatingDay.__table__: (
            (day, unit_id),
            [int(counted), int(satisfied), int(bad), int(is_excluded)],
        )
    }
    if officer_id is not None:
        found[OfficerRatingDay.__table__] = (
            (day, officer_id, unit_id),
            [int(counted), int(satisfied), int(bad)],
        )
    return found


def rating_is_one_statement(dialect: str) -> bool:
    """Whether insert_rating writes the rating and its rollups in one statement on `dialect`
    (PostgreSQL: the upserts ride in the INSERT as data-modifying CTEs), atomic by itself."""
    return dialect == "postgresql"


def insert_rating(connection: sa.Connection, values: Mapping[str, Any]) -> int:
    """Insert a rating with Core and add it to the rollups, in one round trip where
    `rating_is_one_statement`; returns the rating's id."""
    if not rating_is_one_statement(connection.dialect.name):
        new_id = connection.execute(_INSERT_RATING, values).scalar_one()
        count_rating(connection, values)
        return new_id
    found = rating_counts(
        created_at=values["created_at"],
        unit_id=values["unit_id"],
        officer_id=values["officer_id"],
        level=values["level"],
        is_excluded=values["is_excluded"],
    )
    statement = _ONE_STATEMENT[values["officer_id"] is not None]
    # Every column is a parameter of the prebuilt statement: the ones not given are NULL.
    params = {c.name: None for c in Evaluation.__table__.columns if c.name != "id"}
    params.update(values)
    for table, (key, counts) in found.items():
        prefix = table.name
        params.update(
            {f"{prefix}_{name}": value for name, value in zip(key_columns(table), key, strict=True)}
        )
        params.update(
            {f"{prefix}_{name}": n for name, n in zip(counters(table), counts, strict=True)}
        )
    return connection.execute(statement, params).scalar_one()


def _upsert_bound(table: sa.Table) -> sa.Insert:
    """INSERT … ON CONFLICT DO UPDATE for one row given as bind parameters `<table>_<column>`."""
    insert = postgresql.insert(table).values(
        {c.name: sa.bindparam(f"{table.name}_{c.name}", type_=c.type) for c in table.columns}
    )
    return insert.on_conflict_do_update(
        index_elements=key_columns(table),
        set_={name: table.c[name] + insert.excluded[name] for name in counters(table)},
    )


def _one_statement(with_officer: bool) -> sa.Select:
    ratings = Evaluation.__table__
    columns = [c for c in ratings.columns if c.name != "id"]
    new = (
        sa.insert(ratings)
        .values({c.name: sa.bindparam(c.name, type_=c.type) for c in columns})
        .returning(ratings.c.id)
        .cte("new_rating")
    )
    tables = [UnitRatingDay.__table__] + ([OfficerRatingDay.__table__] if with_officer else [])
    counted = [_upsert_bound(table).cte(f"counted_{table.name}") for table in tables]
    return sa.select(new.c.id).add_cte(*counted)


def count_rating(connection: sa.Connection, values: Mapping[str, Any]) -> None:
    """Add a rating just inserted with Core (the hot path) to the rollups."""
    found = rating_counts(
        created_at=values["created_at"],
        unit_id=values["unit_id"],
        officer_id=values["officer_id"],
        level=values["level"],
        is_excluded=values["is_excluded"],
    )
    for table, (key, counts) in found.items():
        add_deltas(connection, table, {key: counts})


# ---------------------------------------------------------------- ORM changes


def old_state(obj: Any, names: Iterable[str]) -> dict[str, Any]:
    """The values an object had when loaded (before this flush's changes)."""
    state = inspect(obj)
    values = {}
    for name in names:
        history = state.attrs[name].history
        if history.deleted:
            values[name] = history.deleted[0]
        elif history.unchanged:
            values[name] = history.unchanged[0]
        elif history.added:
            # Set over an attribute left unset at insert: with active history (below) the
            # old value is loaded, so an empty `deleted` means it was NULL.
            values[name] = None
        else:
            values[name] = getattr(obj, name)
    return values


def new_state(obj: Any, names: Iterable[str]) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in names}


CountsOf = Callable[[Session, dict[str, Any]], dict[sa.Table, tuple[Key, list[int]]]]


class RollupKeeper:
    """Keeps rollups of one model exact across ORM flushes: before a flush, the counts of
    every changed object as loaded are taken away; after it, the counts as written are added,
    in the same transaction. Attributes are watched with active history, so an old value is
    known even when it was set without being read first."""

    def __init__(self, model: type, attributes: tuple[str, ...], counts_of: CountsOf) -> None:
        self.model, self.attributes, self.counts_of = model, attributes, counts_of
        for name in attributes:
            event.listen(getattr(model, name), "set", _noop, active_history=True)
        event.listen(Session, "before_flush", self._before)
        event.listen(Session, "after_flush", self._after)

    def _before(self, session: Session, _context: Any, _instances: Any) -> None:
        taken: dict[sa.Table, Deltas] = defaultdict(dict)
        watched = [o for o in session.new if isinstance(o, self.model)]
        for obj in session.deleted:
            if isinstance(obj, self.model):
                self._add(taken, session, old_state(obj, self.attributes), -1)
        for obj in session.dirty:
            if isinstance(obj, self.model) and obj not in session.deleted and self._changed(obj):
                self._add(taken, session, old_state(obj, self.attributes), -1)
                watched.append(obj)
        # Set, not appended: a failed flush leaves nothing behind for the next one.
        session.info[self._slot] = (taken, watched)

    def _after(self, session: Session, _context: Any) -> None:
        taken, watched = session.info.pop(self._slot, ({}, []))
        deltas: dict[sa.Table, Deltas] = defaultdict(dict, taken)
        for obj in watched:
            self._add(deltas, session, new_state(obj, self.attributes), +1)
        if any(deltas.values()):
            connection = session.connection()
            for table, rows in deltas.items():
                add_deltas(connection, table, rows)

    def _add(
        self, deltas: dict[sa.Table, Deltas], session: Session, values: dict, sign: int
    ) -> None:
        for table, (key, counts) in self.counts_of(session, values).items():
            merge_into(deltas[table], key, counts, sign)

    def _changed(self, obj: Any) -> bool:
        attrs = inspect(obj).attrs
        return any(attrs[name].history.has_changes() for name in self.attributes)

    @property
    def _slot(self) -> str:
        return f"rollups:{self.model.__name__}"


def _noop(_target: Any, value: Any, _old: Any, _initiator: Any) -> Any:
    return value


def _evaluation_counts(_session: Session, values: dict[str, Any]) -> dict:
    return rating_counts(**values)


evaluation_keeper = RollupKeeper(
    Evaluation,
    ("created_at", "unit_id", "officer_id", "level", "is_excluded"),
    _evaluation_counts,
)


# Built once: the hot path only binds values (no statement building per request).
_ONE_STATEMENT = {flag: _one_statement(flag) for flag in (False, True)}
