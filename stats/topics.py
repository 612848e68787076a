"""专题分析: what residents complain about, per unit and period.

The texts are the descriptions of the clues received in the period and the comments of the
bad ratings (levels 1–2, flagged ones left out) given in it, about the units of a subtree.
Each text is cut into words and tagged by jieba (a real Chinese segmenter, with a few words
of this domain added so that 推诿扯皮 or 态度生硬 stay whole). Kept are nouns, verbs,
adjectives, idioms and set phrases of two characters or more; numerals and measure words
(三趟), pronouns, adverbs, function words, Latin letters, the stop words of
stats/data/stopwords.txt and personal names (nr: an officer's name is no topic, and a topic
list is no place to name anyone) are dropped. A term counts once per
text that uses it (document frequency), so one long complaint cannot top the list.
"""

from __future__ import annotations

import functools
import logging
import re
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from app.extensions import db
from app.org.models import Unit, subtree_ids
from clues.models import Clue
from evaluations.models import Evaluation
from stats.measures import BAD, counted_ratings, period_bounds
from stats.practices import clues_by_category, unit_names

STOPWORDS_FILE = Path(__file__).with_name("data") / "stopwords.txt"
TOP_TERMS = 20
TOP_TERMS_PER_UNIT = 5
# Terms of this domain the general dictionary would split.
DOMAIN_WORDS = (
    "推诿扯皮",
    "态度生硬",
    "态度恶劣",
    "吃拿卡要",
    "门难进",
    "脸难看",
    "事难办",
    "不作为",
    "乱作为",
    "慢作为",
    "执法不公",
    "办事效率",
    "户籍窗口",
    "来回跑",
    "排队时间",
    "办案拖延",
    "立案难",
    "执行难",
)
_WORD = re.compile(r"^[\u4e00-\u9fff]{2,}$")


# Part-of-speech tags (jieba's, after ICTCLAS) whose words can name a complaint.
KEPT_TAGS = ("n", "v", "a", "l", "i", "j", "s")
DROPPED_TAGS = ("nr",)  # person names


@functools.cache
def _tokenizer() -> Any:
    import jieba
    import jieba.posseg

    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    for word in DOMAIN_WORDS:
        tokenizer.add_word(word, freq=2000, tag="l")
    return jieba.posseg.POSTokenizer(tokenizer)


@functools.cache
def stopwords() -> frozenset[str]:
    lines = STOPWORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip() for line in lines if line.strip() and not line.startswith("#"))


# Segmenting costs about a millisecond a text; a dashboard asks for the same period again and
# again, and texts never change, so each process keeps the terms of the texts it has seen.
@functools.lru_cache(maxsize=50_000)
def terms_of(text: str) -> frozenset[str]:
    """The distinct complaint terms of one text."""
    stop = stopwords()
    return frozenset(
        pair.word
        for pair in _tokenizer().lcut(text, HMM=True)
        if pair.flag.startswith(KEPT_TAGS)
        and not pair.flag.startswith(DROPPED_TAGS)
        and _WORD.match(pair.word)
        and pair.word not in stop
    )


def _texts(start: date, end: date, units: Any) -> list[tuple[int, str]]:
    """(unit id, text) of the period's clue descriptions and bad-rating comments."""
    since, until = period_bounds(start, end)
    clues = db.session.execute(
        sa.select(Clue.unit_id, Clue.description).where(
            Clue.submitted_at.between(since, until), Clue.unit_id.in_(units)
        )
    ).all()
    comments = db.session.execute(
        sa.select(Evaluation.unit_id, Evaluation.comment).where(
            counted_ratings(since, until),
            BAD,
            Evaluation.unit_id.in_(units),
            Evaluation.comment != "",
        )
    ).all()
    return [(unit_id, text) for unit_id, text in [*clues, *comments] if text]


def _ranked(counter: Counter[str], limit: int) -> list[dict[str, Any]]:
    return [
        {"term": term, "count": count}
        for term, count in sorted(counter.items(), key=lambda item: (-item[1], item[0]))[:limit]
    ]


def topics(*, start: date, end: date, root: Unit) -> dict[str, Any]:
    """The most frequent complaint terms of root's subtree and of each of its units."""
    units = subtree_ids(root)
    overall: Counter[str] = Counter()
    per_unit: dict[int, Counter[str]] = {}
    documents: Counter[int] = Counter()
    for unit_id, text in _texts(start, end, units):
        terms = terms_of(text)
        overall.update(terms)
        per_unit.setdefault(unit_id, Counter()).update(terms)
        documents[unit_id] += 1
    names = unit_names(per_unit)
    return {
        "start": start,
        "end": end,
        "unit": {"id": root.id, "name": root.name},
        "documents": sum(documents.values()),
        "terms": _ranked(overall, TOP_TERMS),
        "by_category": clues_by_category(start=start, end=end, units=units),
        "units": [
            {
                "unit_id": unit_id,
                "unit": names.get(unit_id, ""),
                "documents": documents[unit_id],
                "terms": _ranked(per_unit[unit_id], TOP_TERMS_PER_UNIT),
            }
            for unit_id in sorted(per_unit, key=lambda uid: (-documents[uid], uid))
        ],
    }
