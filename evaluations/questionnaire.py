"""The rating questionnaire (five levels, dimensions, level-dependent reasons) and the clue
categories residents choose from. Questionnaires are versioned per unit kind; every rating
keeps the version it answered."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import utcnow
from app.db import JSONType, db
from app.enums import LabelledEnum
from app.org.models import UnitKind

LEVELS = {5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "非常不满意"}
BAD_LEVELS = frozenset({1, 2})
# Level 4 (满意) and 5 (非常满意) count as satisfied, in ratings and re-ratings alike.
SATISFIED_LEVEL = 4

DEFAULT_DIMENSIONS = [
    {"key": "attitude", "label": "态度"},
    {"key": "efficiency", "label": "效率"},
    {"key": "fairness", "label": "公正"},
    {"key": "integrity", "label": "廉洁"},
]
_GOOD = ["热情周到", "办事高效", "公正规范", "清正廉洁", "解释耐心", "一次办好"]
_FAIR = ["等待时间较长", "流程较繁琐", "解释不够清楚", "环境有待改善"]
_BAD = ["态度生硬", "推诿扯皮", "办事拖拉", "执法不公", "吃拿卡要", "多次跑腿", "解释不清"]
DEFAULT_REASONS = {"5": _GOOD, "4": _GOOD, "3": _FAIR, "2": _BAD, "1": _BAD}


class ClueCategory(LabelledEnum):
    """What a clue is about; `group` is the broader class (职能类, 民生类) shown beside it."""

    CONDUCT = "conduct", "作风问题", "职能类"
    INTEGRITY = "integrity", "廉洁问题", "职能类"
    UNFAIR_ENFORCEMENT = "unfair_enforcement", "执法司法不公", "职能类"
    BUCK_PASSING = "buck_passing", "推诿扯皮", "职能类"
    LIVELIHOOD = "livelihood", "民生诉求", "民生类"
    OTHER = "other", "其他", "其他"

    def __init__(self, value: str, label: str, group: str) -> None:
        self.group = group


class Questionnaire(db.Model):
    """One published version of the questionnaire for a unit kind ("" kind: the default)."""

    __tablename__ = "questionnaires"
    __table_args__ = (sa.UniqueConstraint("unit_kind", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_kind: Mapped[str] = mapped_column(sa.String(16), default="")
    version: Mapped[int]
    dimensions: Mapped[list[dict[str, str]]] = mapped_column(JSONType)
    reasons: Mapped[dict[str, list[str]]] = mapped_column(JSONType)
    is_current: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def dimension_keys(self) -> set[str]:
        return {d["key"] for d in self.dimensions}

    def reasons_for(self, level: int) -> list[str]:
        return self.reasons.get(str(level), [])


@dataclass(frozen=True)
class QuestionnaireVersion:
    """An immutable snapshot of one published questionnaire version."""

    id: int
    version: int
    dimensions: list[dict[str, str]]
    reasons: dict[str, list[str]]

    @property
    def dimension_keys(self) -> set[str]:
        return {d["key"] for d in self.dimensions}

    def reasons_for(self, level: int) -> list[str]:
        return self.reasons.get(str(level), [])


# (database, kind) → (read at, version). Versions never change once published; only which one
# is current does, so a process may serve the previous version for up to the configured TTL.
_current: dict[tuple[str, str], tuple[float, QuestionnaireVersion]] = {}


def current_questionnaire(kind: UnitKind) -> QuestionnaireVersion:
    """The questionnaire residents answer for a unit of `kind`: the kind's own, else the default.

    The default's first version is written by the migration that created the table.
    """
    key = (str(db.engine.url), kind.value)
    cached = _current.get(key)
    ttl = current_app.config["QUESTIONNAIRE_CACHE_SECONDS"]
    if cached is not None and time.monotonic() - cached[0] < ttl:
        return cached[1]
    rows = db.session.scalars(
        sa.select(Questionnaire).where(
            Questionnaire.is_current, Questionnaire.unit_kind.in_([kind.value, ""])
        )
    ).all()
    by_kind = {row.unit_kind: row for row in rows}
    row = by_kind.get(kind.value) or by_kind[""]
    version = QuestionnaireVersion(row.id, row.version, row.dimensions, row.reasons)
    _current[key] = (time.monotonic(), version)
    return version


def publish_questionnaire(
    *, kind: UnitKind | None, dimensions: list[dict[str, str]], reasons: dict[str, list[str]]
) -> Questionnaire:
    """Publish a new version for `kind` (None: the default); earlier ratings keep theirs."""
    stored_kind = kind.value if kind else ""
    kind_filter = Questionnaire.unit_kind == stored_kind
    latest = db.session.scalar(sa.select(sa.func.max(Questionnaire.version)).where(kind_filter))
    db.session.execute(sa.update(Questionnaire).where(kind_filter).values(is_current=False))
    row = Questionnaire(
        unit_kind=stored_kind, version=(latest or 0) + 1, dimensions=dimensions, reasons=reasons
    )
    db.session.add(row)
    db.session.flush()
    _current.clear()
    return row


def questionnaire_body(questionnaire: Questionnaire | QuestionnaireVersion) -> dict[str, Any]:
    """The questionnaire as the scan endpoint and the H5 page present it."""
    return {
        "id": questionnaire.id,
        "version": questionnaire.version,
        "levels": [
            {"level": level, "label": label, "is_bad": level in BAD_LEVELS}
            for level, label in LEVELS.items()
        ],
        "dimensions": questionnaire.dimensions,
        "reasons": questionnaire.reasons,
    }


def categories_body() -> list[dict[str, str]]:
    return [{"code": c.value, "label": c.label, "group": c.group} for c in ClueCategory]
