"""Command-line interface (`flask --app run <command>`)."""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask import Flask
from flask.cli import with_appcontext

from app.errors import ApiError, DomainError
from app.extensions import db
from app.jobs import JOBS, run_job
from app.org import service
from app.org.models import Role, UnitKind


def register(app: Flask) -> None:
    for command in (
        create_unit_command,
        create_staff_command,
        staff_cli,
        jobs_cli,
        calendar_cli,
        crypto_cli,
    ):
        app.cli.add_command(command)


def _fail(error: ApiError | DomainError) -> None:
    db.session.rollback()
    raise click.ClickException(f"{error.message} {error.details or ''}".strip())


@click.command("create-unit", help="新增单位；不给 --parent-code 时建立根单位（系统初始化用）。")
@click.option("--code", required=True, help="单位编码（唯一）")
@click.option("--name", required=True, help="单位名称")
@click.option(
    "--kind",
    required=True,
    type=click.Choice([k.value for k in UnitKind]),
    help="类别：police 公安、court 法院、procuratorate 检察院、justice 司法行政、committee 政法委",
)
@click.option("--parent-code", default=None, help="上级单位编码")
@click.option("--region", default="", help="所属地区")
@click.option("--address", default="", help="地址")
@with_appcontext
def create_unit_command(
    code: str, name: str, kind: str, parent_code: str | None, region: str, address: str
) -> None:
    parent = None
    if parent_code:
        parent = service.find_unit_by_code(parent_code)
        if parent is None:
            raise click.ClickException(f"上级单位不存在：{parent_code}")
    try:
        unit = service.create_unit(
            code=code, name=name, kind=UnitKind(kind), parent=parent, region=region, address=address
        )
    except (ApiError, DomainError) as error:
        _fail(error)
    db.session.commit()
    click.echo(f"已新增单位 {unit.name}（{unit.code}，id={unit.id}）")


@click.command("create-staff", help="新增工作人员账号。")
@click.option("--username", required=True, help="用户名")
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="密码（不给则交互输入）；至少 8 位，含字母和数字",
)
@click.option(
    "--role",
    required=True,
    type=click.Choice([r.value for r in Role]),
    help="角色：" + "、".join(f"{r.value} {r.label}" for r in Role),
)
@click.option("--unit-code", required=True, help="所属单位编码")
@click.option("--display-name", default=None, help="显示名称（默认同用户名）")
@click.option(
    "--officer-number",
    default=None,
    help="关联本人的人员记录（被反映时回避）：该单位人员的警号/工号",
)
@with_appcontext
def create_staff_command(
    username: str,
    password: str,
    role: str,
    unit_code: str,
    display_name: str | None,
    officer_number: str | None,
) -> None:
    unit = service.find_unit_by_code(unit_code)
    if unit is None:
        raise click.ClickException(f"单位不存在：{unit_code}")
    officer = None
    if officer_number is not None:
        officer = service.find_officer_by_staff_no(unit, officer_number)
        if officer is None:
            raise click.ClickException(f"{unit.name}没有警号/工号为 {officer_number} 的人员")
    try:
        account = service.create_staff(
            username=username,
            password=password,
            display_name=display_name or username,
            role=Role(role),
            unit=unit,
            officer=officer,
        )
    except (ApiError, DomainError) as error:
        _fail(error)
    db.session.commit()
    linked = f"，关联人员 {officer.name}（{officer.staff_no}）" if officer else ""
    click.echo(f"已新增账号 {account.username}（{account.role.label}，{unit.name}{linked}）")


@click.group("staff", help="工作人员账号。")
def staff_cli() -> None:
    pass


@staff_cli.command(
    "check-placement",
    help="列出不符合角色设置（STAFF_PLACEMENT：各角色可设在哪类单位）的账号，含已停用的："
    "用户名、角色、单位和原因。有这样的账号时以状态 1 退出，没有时以 0 退出。",
)
@with_appcontext
def staff_check_placement() -> None:
    offenders = service.misplaced_staff()
    for account, problem in offenders:
        state = "" if account.is_active else "（已停用）"
        click.echo(
            f"{account.username}{state}\t{account.role.value} {account.role.label}\t"
            f"{account.unit.name}（{account.unit.code}）\t{problem}"
        )
    if offenders:
        click.echo(f"共 {len(offenders)} 个账号不符合角色设置。", err=True)
        raise SystemExit(1)
    click.echo("所有账号都符合角色设置。")


@staff_cli.command(
    "import",
    help="从表格（.csv 或 .xlsx）批量新增或更新账号。首行列名：用户名、姓名、角色、单位编码，"
    "可选 警号/工号（关联本人的人员记录，被反映时回避；已有账号留空即解除关联）。角色填"
    + "、".join(r.label for r in Role)
    + "之一（或其代码）。"
    "任何一行有误时全部不导入，并逐行说明原因。新账号的初始密码写入 --passwords-out 指定的文件"
    "（仅本人可读），不给时打印出来；请当面交给本人并提醒首次登录后修改。",
)
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--passwords-out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="新账号初始密码的保存文件（CSV：用户名,初始密码）",
)
@with_appcontext
def staff_import(path: Path, passwords_out: Path | None) -> None:
    from app.org.staff_import import import_staff, read_rows

    try:
        done = import_staff(read_rows(path))
    except DomainError as error:
        db.session.rollback()
        raise click.ClickException("未导入任何账号。\n" + error.message) from None
    db.session.commit()
    created = [row for row in done if row.created]
    for row in done:
        linked = f"，关联人员 {row.officer}" if row.officer else "，未关联人员记录"
        click.echo(f"第 {row.line} 行 {row.username}：{'新增' if row.created else '更新'}{linked}")
    if created and passwords_out is not None:
        passwords_out.touch(mode=0o600)
        passwords_out.write_text(
            "用户名,初始密码\n" + "".join(f"{r.username},{r.password}\n" for r in created),
            encoding="utf-8",
        )
        click.echo(f"新账号的初始密码已写入 {passwords_out}")
    elif created:
        click.echo("新账号的初始密码（请当面交给本人，首次登录后修改）：")
        for row in created:
            click.echo(f"  {row.username}\t{row.password}")
    click.echo(f"共新增 {len(created)} 个、更新 {len(done) - len(created)} 个账号。")


@click.group("jobs", help="定时任务：列出或立即执行一次。")
def jobs_cli() -> None:
    pass


@jobs_cli.command("list", help="列出所有任务。")
def jobs_list() -> None:
    for entry in sorted(JOBS.values(), key=lambda j: j.name):
        click.echo(f"{entry.name:28} {entry.description}")


@jobs_cli.command("run", help="立即执行一次任务（任务幂等，重复执行不会重复发送）。")
@click.argument("name")
@with_appcontext
def jobs_run(name: str) -> None:
    if name not in JOBS:
        raise click.ClickException(f"没有这个任务：{name}（可用：{', '.join(sorted(JOBS))}）")
    result = run_job(name)
    click.echo(f"{name}：{json.dumps(result, ensure_ascii=False, default=str)}")


@click.group("calendar", help="工作日历（节假日与调休）。")
def calendar_cli() -> None:
    pass


@calendar_cli.command(
    "load", help="载入国务院办公厅公布的某年放假安排（JSON，格式见 app/data/holidays）。"
)
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
def calendar_load(path: Path) -> None:
    from app.workdays import load_schedule, read_schedule_file

    try:
        days = load_schedule(read_schedule_file(path))
    except (ApiError, DomainError) as error:
        _fail(error)
    db.session.commit()
    click.echo(f"已载入 {path.name}：{days} 天")


@calendar_cli.command(
    "status", help="已载入哪些年份的放假安排；缺少期限可能落入的年份时退出码为 1。"
)
@with_appcontext
def calendar_status_command() -> None:
    from app.workdays import calendar_status

    status = calendar_status()
    known = "、".join(str(year) for year in status.known_years) or "无"
    click.echo(f"已载入官方放假安排的年份：{known}")
    if not status.ok:
        raise click.ClickException(status.message)


@calendar_cli.command("show", help="显示某年的节假日与调休上班日。")
@click.argument("year", type=int)
@with_appcontext
def calendar_show(year: int) -> None:
    from app.workdays import special_days

    for row in special_days(year):
        click.echo(f"{row.day}  {'上班' if row.is_working else '放假'}  {row.name}")


@click.group("crypto", help="加密保存的信息（反映人电话、微信 openid）。")
def crypto_cli() -> None:
    pass


@crypto_cli.command(
    "rotate",
    help="用 PHONE_ENCRYPTION_KEY 中的第一个密钥重新加密全部已保存的信息；"
    "完成后即可从列表中去掉旧密钥。",
)
@with_appcontext
def crypto_rotate() -> None:
    from app.crypto import rotate_stored_secrets

    try:
        changed = rotate_stored_secrets()
    except (ApiError, DomainError) as error:
        _fail(error)
    db.session.commit()
    for column, count in changed.items():
        click.echo(f"{column}：{count} 条")
    click.echo("已用新密钥重新加密。")
