"""Extensions, created unbound and bound in create_app()."""

from pathlib import Path

from flask_migrate import Migrate

from app.db import db

MIGRATIONS_DIR = str(Path(__file__).resolve().parent.parent / "migrations")

migrate = Migrate(directory=MIGRATIONS_DIR, render_as_batch=True, compare_type=True)

__all__ = ["db", "migrate", "MIGRATIONS_DIR"]
