"""Logging: one line per event that matters, plain text in a terminal or JSON for collectors.

`LOG_FORMAT=json` writes one JSON object per line (time, level, logger, message, exception) for
a log collector; `LOG_LEVEL` sets the threshold (DEBUG shows every routine job run).
APScheduler's own "Running job … executed successfully" lines are kept below WARNING: the
scheduler's jobs log for themselves (app/jobs.py), and only when they did something.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Libraries whose INFO lines are routine chatter for an operator.
QUIET_LOGGERS = ("apscheduler",)


class JsonFormatter(logging.Formatter):
    """One JSON object per record, UTF-8 text kept readable (no \\u escapes)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.process,
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(level: str = "INFO", fmt: str = "text") -> None:
    """Set the root handler once per process (a second app in the same process changes nothing
    but the level and format)."""
    root = logging.getLogger()
    handler = next((h for h in root.handlers if getattr(h, "_pingyi", False)), None)
    if handler is None:
        if root.handlers:  # someone (gunicorn, pytest) configured logging first: keep theirs
            handler = None
        else:
            handler = logging.StreamHandler()
            handler._pingyi = True  # type: ignore[attr-defined]
            root.addHandler(handler)
    if handler is not None:
        handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    root.setLevel(level.upper())
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def did_something(result: Any) -> bool:
    """Whether a job's result says it changed or sent anything: a non-zero count, True, or any
    other non-empty value. A job that found nothing to do returns zeros, False or None."""
    if isinstance(result, dict):
        return any(did_something(value) for value in result.values())
    if isinstance(result, list | tuple | set):
        return any(did_something(value) for value in result)
    return bool(result)
