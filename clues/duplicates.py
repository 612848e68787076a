"""Duplicate suggestions at screening: open clues about the same officer or unit in the last
30 days whose text is similar (character-bigram overlap, which suits Chinese without a
word segmenter)."""

from __future__ import annotations

import re
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from app.extensions import db
from clues.models import Clue
from clues.states import OPEN_STATUSES

MIN_SCORE = 0.2
_NOISE = re.compile(r"[\s\W_]+", re.UNICODE)


def bigrams(text: str) -> set[str]:
    compact = _NOISE.sub("", text.lower())
    return {compact[i : i + 2] for i in range(len(compact) - 1)} or (
        {compact} if compact else set()
    )


def similarity(a: str, b: str) -> float:
    """Jaccard overlap of character bigrams, 0–1."""
    first, second = bigrams(a), bigrams(b)
    if not first or not second:
        return 0.0
    return len(first & second) / len(first | second)


def duplicate_suggestions(clue: Clue, limit: int = 5) -> list[tuple[Clue, float]]:
    """The most similar open clues about the same target, best first."""
    since = clue.submitted_at - timedelta(days=current_app.config["DUPLICATE_WINDOW_DAYS"])
    target = (
        (Clue.officer_id == clue.officer_id)
        if clue.officer_id is not None
        else (Clue.unit_id == clue.unit_id)
    )
    candidates = db.session.scalars(
        sa.select(Clue)
        .where(
            target,
            Clue.id != clue.id,
            Clue.submitted_at >= since,
            Clue.status.in_(OPEN_STATUSES),
        )
        .order_by(Clue.id.desc())
        .limit(200)
    )
    scored = [(other, similarity(clue.description, other.description)) for other in candidates]
    scored = [pair for pair in scored if pair[1] >= MIN_SCORE]
    return sorted(scored, key=lambda pair: pair[1], reverse=True)[:limit]
