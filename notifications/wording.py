"""The wording of letters, notices and inbox messages: plain-text Jinja templates under
notifications/templates/, so the text can be read and changed without reading the sweeps.

A template whose first line is a title separates it from the body with a blank line
(`render_titled`). Plain text, so nothing is escaped; an unknown name is an error rather
than silently empty text in an official letter.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from app.clock import local_date


def chinese_date(day: date | datetime) -> str:
    """2026年11月2日; an instant is read as its Asia/Shanghai date."""
    if isinstance(day, datetime):
        day = local_date(day)
    return f"{day.year}年{day.month}月{day.day}日"


_env = Environment(
    loader=PackageLoader("notifications", "templates"),
    autoescape=False,
    trim_blocks=True,
    lstrip_blocks=True,
    undefined=StrictUndefined,
)
_env.filters["chinese_date"] = chinese_date


def render(name: str, **context: Any) -> str:
    """The text of template `name` (e.g. "inbox/letter_reminder.txt")."""
    return _env.get_template(name).render(context)


def render_titled(name: str, **context: Any) -> tuple[str, str]:
    """(title, body) of a template that starts with its title and a blank line."""
    title, _, body = render(name, **context).partition("\n\n")
    return title, body
