"""QR factories for tests."""

from __future__ import annotations

from flask import Flask

from app.extensions import db
from app.org.models import Officer, Unit
from qr import service
from qr.models import QRCode
from tests.factories import detach


def make_code(app: Flask, unit: Unit, *, officer: Officer | None = None, label: str = "") -> QRCode:
    with app.app_context():
        code = service.issue_code(
            unit=db.session.get(Unit, unit.id),
            officer=db.session.get(Officer, officer.id) if officer else None,
            label=label,
        )
        db.session.commit()
        return detach(code)
