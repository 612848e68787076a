"""The demo city's codes and the poster printed by seed-demo."""

from __future__ import annotations

import re

import sqlalchemy as sa
import zxingcpp
from PIL import Image

from app.extensions import db
from app.org.models import Unit
from qr.models import QRCode


def test_seed_demo_issues_unit_and_window_codes_and_a_poster(app, runner, client):
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        units = db.session.scalar(sa.select(sa.func.count()).select_from(Unit))
        unit_codes = db.session.scalar(
            sa.select(sa.func.count()).select_from(QRCode).where(QRCode.label == "")
        )
        windows = db.session.scalar(
            sa.select(sa.func.count()).select_from(QRCode).where(QRCode.label != "")
        )
    assert unit_codes == units and windows > units // 2
    poster = re.search(r"可扫码的海报：(\S+?)（", result.output).group(1)
    page = re.search(r"评价页面：(\S+)", result.output).group(1)
    assert [r.text for r in zxingcpp.read_barcodes(Image.open(poster))] == [page]
    token = page.rsplit("/", 1)[1]
    assert "户籍窗口 1 号" in client.get(f"/q/{token}").get_data(as_text=True)
    again = runner.invoke(args=["seed-demo"])
    assert "二维码：新增 0 个" in again.output
