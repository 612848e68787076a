"""Duplicate suggestions at screening: open clues about the same officer or unit in the last
30 days whose text is similar (character-bigram overlap, which suits Chinese without a
word segmenter)."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from app.extensions import db
from app.org.models import StaffAccount
from clues.models import Clue
from clues.service import visible_to
from clues.states import OPEN_STATUSES

MIN_SCORE = 0.2
CANDIDATES = 200  # the newest open clues about a target that are compared
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


def duplicate_suggestions(
    clue: Clue, staff: StaffAccount, limit: int = 5
) -> list[tuple[Clue, float]]:
    """The most similar open clues about the same target that `staff` may see, best first."""
    return duplicate_suggestions_for([clue], staff, limit=limit).get(clue.id, [])


def _target(clue: Clue) -> tuple[str, int]:
    return ("officer", clue.officer_id) if clue.officer_id is not None else ("unit", clue.unit_id)


def duplicate_suggestions_for(
    clues: Sequence[Clue], staff: StaffAccount, limit: int = 5
) -> dict[int, list[tuple[Clue, float]]]:
    """Suggestions for a page of clues, read with one query whatever the page's size: every
    open clue about any of their targets within the window that `staff` may see (so never
    one about the caller's own officer record, nor one outside their scope), scored per clue."""
    visible = visible_to(staff)
    if not clues or visible is None:
        return {}
    window = timedelta(days=current_app.config["DUPLICATE_WINDOW_DAYS"])
    officers = {c.officer_id for c in clues if c.officer_id is not None}
    units = {c.unit_id for c in clues if c.officer_id is None}
    candidates = db.session.scalars(
        sa.select(Clue)
        .where(
            Clue.officer_id.in_(officers) | Clue.unit_id.in_(units),
            Clue.submitted_at >= min(c.submitted_at for c in clues) - window,
            Clue.status.in_(OPEN_STATUSES),
            visible,
        )
        .order_by(Clue.id.desc())
    ).all()
    by_target: dict[tuple[str, int], list[Clue]] = defaultdict(list)
    for other in candidates:
        if other.officer_id is not None:
            by_target[("officer", other.officer_id)].append(other)
        by_target[("unit", other.unit_id)].append(other)
    found = {}
    for clue in clues:
        since = clue.submitted_at - window
        pool = [
            other
            for other in by_target[_target(clue)]
            if other.id != clue.id and other.submitted_at >= since
        ][:CANDIDATES]
        scored = [(other, similarity(clue.description, other.description)) for other in pool]
        scored = [pair for pair in scored if pair[1] >= MIN_SCORE]
        found[clue.id] = sorted(scored, key=lambda pair: pair[1], reverse=True)[:limit]
    return found
