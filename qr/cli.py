"""Command line for QR codes: `flask --app run qr export …`."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from app.extensions import db
from app.org.service import find_unit_by_code
from qr.export import export_pdf, export_zip
from qr.fonts import FontNotFound
from qr.render import resolve_font

qr_cli = AppGroup("qr", help="二维码：批量导出可打印的海报。")


@qr_cli.command(
    "export",
    help="导出单位及其全部下级单位的有效二维码海报："
    "PDF（每页一张 A5，可直接打印）或 PNG 的 ZIP 包。",
)
@click.option("--unit-code", required=True, help="单位编码（包含其全部下级单位）")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["pdf", "zip"]),
    default="pdf",
    show_default=True,
    help="输出格式",
)
@click.option(
    "--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="输出文件路径"
)
@click.option(
    "--workers", type=click.IntRange(min=1), default=None, help="并行进程数（默认：全部 CPU 核）"
)
def export_command(unit_code: str, fmt: str, out: Path, workers: int | None) -> None:
    # Imported here: qr.service is the database side and is only needed by this command.
    from qr.service import subtree_poster_infos

    unit = find_unit_by_code(unit_code)
    if unit is None:
        raise click.ClickException(f"单位不存在：{unit_code}")
    infos = subtree_poster_infos(unit)
    unit_name = unit.name
    # Nothing is written; end the transaction so no connection is held during the long render.
    db.session.rollback()
    if not infos:
        raise click.ClickException(f"{unit_name}及其下级单位没有有效的二维码")
    if not out.parent.is_dir():
        raise click.ClickException(f"输出目录不存在：{out.parent}")
    try:
        font = resolve_font(current_app.config.get("QR_FONT_PATH"))
    except FontNotFound as exc:
        raise click.ClickException(str(exc)) from exc

    exporter = export_pdf if fmt == "pdf" else export_zip
    with click.progressbar(length=len(infos), label="正在生成海报", show_pos=True) as bar:
        shown = 0

        def progress(done: int) -> None:
            nonlocal shown
            bar.update(done - shown)
            shown = done

        count = exporter(infos, out, workers=workers, progress=progress, font_path=font)
    click.echo(f"已导出 {unit_name}及其下级单位的 {count} 张海报：{out.resolve()}")
