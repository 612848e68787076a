"""The demo city's QR codes: one per unit and one per service window, and a poster to scan."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from flask import current_app

from app.extensions import db
from app.org.models import Unit, UnitKind
from qr.fonts import FontNotFound
from qr.models import QRCode, QRStatus
from qr.render import poster_png, resolve_font
from qr.service import issue_code, poster_info

WINDOWS = {
    UnitKind.POLICE: ["户籍窗口 1 号", "户籍窗口 2 号"],
    UnitKind.COURT: ["立案窗口", "诉讼服务窗口"],
    UnitKind.PROCURATORATE: ["控告申诉窗口"],
    UnitKind.JUSTICE: ["法律援助窗口"],
    UnitKind.COMMITTEE: [],
}
POSTER_UNIT = "LJ-JC-GA-01"  # 江城分局滨江派出所, where the demo verifier works


def seed_demo_codes(units: dict[str, Unit]) -> list[str]:
    """Issue the missing demo codes and write one poster to instance/ (idempotent)."""
    created = 0
    for unit in units.values():
        existing = set(
            db.session.scalars(
                sa.select(QRCode.label).where(
                    QRCode.unit_id == unit.id,
                    QRCode.officer_id.is_(None),
                    QRCode.status == QRStatus.ACTIVE,
                )
            )
        )
        for label in ["", *WINDOWS[unit.kind]]:
            if label not in existing:
                issue_code(unit=unit, label=label)
                created += 1
    lines = [f"二维码：新增 {created} 个（每个单位一个，另有各服务窗口的窗口码）。"]
    window = db.session.scalars(
        sa.select(QRCode).where(
            QRCode.unit_id == units[POSTER_UNIT].id,
            QRCode.label == WINDOWS[UnitKind.POLICE][0],
            QRCode.status == QRStatus.ACTIVE,
        )
    ).first()
    if window is None:
        return lines
    info = poster_info(window)
    target = Path(current_app.instance_path) / "demo-poster.png"
    try:
        target.write_bytes(
            poster_png(info, font_path=resolve_font(current_app.config.get("QR_FONT_PATH")))
        )
        lines.append(f"可扫码的海报：{target}（{info.unit_name} {info.location}）")
    except FontNotFound as exc:
        lines.append(f"未生成海报：{exc}")
    lines.append(f"评价页面：{info.url}")
    if "127.0.0.1" in info.url or "localhost" in info.url:
        lines.append(
            "用手机扫码前，请把 PUBLIC_BASE_URL 设为本机的局域网地址，例如 "
            "PUBLIC_BASE_URL=http://192.168.1.5:5000 scripts/run"
        )
    return lines
