"""Domain code speaks the domain: no HTTP status or ApiError below a route or a view."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOMAIN_MODULES = [
    "clues/service.py",
    "clues/states.py",
    "clues/actions.py",
    "clues/queries.py",
    "clues/referrals.py",
    "evaluations/service.py",
    "app/org/service.py",
    "qr/service.py",
    *sorted(
        str(p.relative_to(ROOT))
        for p in (ROOT / "notifications").rglob("*.py")
        if not p.name.endswith("_routes.py")
    ),
]


def _http_words(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in ("ApiError", "abort"):
            found.append(f"{node.id} at line {node.lineno}")
        if isinstance(node, ast.ImportFrom) and node.module in ("werkzeug.exceptions",):
            found.append(f"import from {node.module} at line {node.lineno}")
    return found


@pytest.mark.parametrize("module", DOMAIN_MODULES)
def test_domain_modules_raise_domain_errors_only(module):
    path = ROOT / module
    assert path.exists(), module
    assert _http_words(path) == [], module
