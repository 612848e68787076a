"""QR codes: tokens, rendering (PNG, SVG, poster, batch PDF/ZIP) and scan resolution."""

from __future__ import annotations

import os

from flask import Flask

from app import signals


def init_app(app: Flask) -> None:
    from qr import routes
    from qr.cli import qr_cli

    if not app.config.get("QR_CACHE_DIR"):
        app.config["QR_CACHE_DIR"] = os.path.join(app.instance_path, "qr-cache")
    app.register_blueprint(routes.bp)
    app.cli.add_command(qr_cli)
    signals.unit_deactivated.connect(_revoke_unit_codes)
    signals.officer_deactivated.connect(_revoke_officer_codes)
    signals.officer_transferred.connect(_revoke_officer_codes)


def _revoke_unit_codes(unit, **_: object) -> None:
    from qr.service import revoke_codes_of

    revoke_codes_of(unit_id=unit.id, reason="单位停用")


def _revoke_officer_codes(officer, **_: object) -> None:
    from qr.service import revoke_codes_of

    revoke_codes_of(officer_id=officer.id, reason="人员停用或调离")
