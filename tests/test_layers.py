"""The package layers of STYLE.md, checked by import-linter (contracts in pyproject.toml).

`app ← qr ← evaluations ← clues ← notifications ← stats ← console/demo`: a lower package never
imports a higher one, function-level imports included; console and demo are independent of
each other; and no product package imports the development sandboxes.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_packages_depend_one_way_and_never_on_the_sandboxes():
    lint_imports = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run(
        [str(lint_imports), "--no-cache", "--no-logo"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 kept, 0 broken" in result.stdout, result.stdout
