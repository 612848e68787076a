"""Labelled string enums: each member carries the Chinese words people read for it.

A member is declared with its stored value and its label, `SUBMITTED = "submitted", "待审核"`
(Indico's `RichEnum.__titles__`, kept next to the value instead of in a parallel dict), so
templates, exports, letters and messages all name a status the same way and a new member
cannot be added without its label.
"""

from __future__ import annotations

import enum
from typing import Any, Self


class LabelledEnum(enum.StrEnum):
    """A StrEnum whose members are declared `NAME = "value", "标签"`; `.label` is the label.

    A subclass that needs more per-member facts declares them after the label and takes
    them in its own `__init__(self, value, label, *facts)`.
    """

    _label: str

    def __new__(cls, value: str, label: str, *_facts: Any) -> Self:
        member = str.__new__(cls, value)
        member._value_ = value
        member._label = label
        return member

    @property
    def label(self) -> str:
        return self._label

    @classmethod
    def label_of(cls, value: str | None, default: str = "") -> str:
        """The label of a raw stored value (a database row, an event), else `default`."""
        if value is None:
            return default
        try:
            return cls(value).label
        except ValueError:
            return default
