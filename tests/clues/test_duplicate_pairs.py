"""Duplicate suggestions measured on a labelled set of complaint pairs about the same unit:
paraphrases of one matter (another resident, other words, other order) and different
matters that share words. The figures are the ones docs/decisions.md reports."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

from clues.duplicates import MIN_SCORE, duplicate_score

PAIRS = json.loads((Path(__file__).parent / "data" / "duplicate_pairs.json").read_text("utf-8"))[
    "pairs"
]


def _clue(text: str, category: str) -> SimpleNamespace:
    return SimpleNamespace(description=text, category=category)


def measure(threshold: float = MIN_SCORE) -> tuple[float, float]:
    """(recall, precision) of "suggested" (score ≥ threshold) against the labels."""
    suggested = [
        (duplicate_score(_clue(p["a"], p["ca"]), _clue(p["b"], p["cb"])) >= threshold, p)
        for p in PAIRS
    ]
    hits = sum(1 for shown, p in suggested if shown and p["duplicate"])
    shown = sum(1 for is_shown, _ in suggested if is_shown)
    wanted = sum(1 for p in PAIRS if p["duplicate"])
    return hits / wanted, hits / shown if shown else 1.0


def test_the_labelled_set_is_balanced_and_hard():
    assert len(PAIRS) >= 60
    assert sum(p["duplicate"] for p in PAIRS) * 2 == len(PAIRS)


def test_recall_and_precision_on_paraphrases():
    recall, precision = measure()
    assert recall >= 0.85, recall
    assert precision >= 0.7, precision


def test_the_reported_paraphrase_is_caught():
    story = _clue("户口迁移，材料不全，跑了三趟", "buck_passing")
    retold = _clue("我去派出所办户口迁入，每次都说缺材料，前后跑了三次还没办成", "buck_passing")
    other = _clue("办理身份证时照片不合格，要求重新拍照", "buck_passing")
    assert duplicate_score(story, retold) >= MIN_SCORE
    assert duplicate_score(story, other) < MIN_SCORE
