"""The demo city 临江市 (fictional): units, officers and one staff account per role.

`seed_demo()` is idempotent: it creates what is missing and leaves what exists alone.
`flask --app run seed-demo [--with-history]` runs it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import with_appcontext

from app.extensions import db
from app.org import service
from app.org.models import Officer, Role, Unit, UnitKind
from demo.codes import seed_demo_codes
from demo.history import generate_history

DEMO_PASSWORD = "Pingyi2026"

CITY = "临江市"
ROOT_CODE = "LJ"


@dataclass(frozen=True)
class DemoUnit:
    code: str
    name: str
    kind: UnitKind
    parent: str | None
    region: str
    address: str
    officers: int


@dataclass(frozen=True)
class DemoStaff:
    username: str
    display_name: str
    role: Role
    unit_code: str


DISTRICTS = [
    # code, name, is_county, police station names
    ("JC", "江城区", False, ["滨江派出所", "望湖派出所"]),
    ("LH", "临湖区", False, ["湖滨派出所"]),
    ("BS", "北山区", False, ["北山路派出所"]),
    ("NP", "南浦区", False, ["南浦派出所"]),
    ("DG", "东港区", False, ["港口派出所"]),
    ("YX", "云溪县", True, ["城关派出所"]),
]

STREETS = ["滨江大道", "人民路", "解放路", "建设路", "中山路", "文化路", "长江路", "和平街"]


def demo_units() -> list[DemoUnit]:
    """The unit tree: city committee → city organs and district committees → their units."""
    rng = random.Random(7)

    def address(region: str) -> str:
        return f"{CITY}{region}{rng.choice(STREETS)}{rng.randint(1, 300)}号"

    units = [
        DemoUnit(ROOT_CODE, "临江市委政法委", UnitKind.COMMITTEE, None, CITY, address(""), 2),
        DemoUnit("LJ-GA", "临江市公安局", UnitKind.POLICE, ROOT_CODE, CITY, address(""), 8),
        DemoUnit("LJ-FY", "临江市中级人民法院", UnitKind.COURT, ROOT_CODE, CITY, address(""), 8),
        DemoUnit(
            "LJ-JCY", "临江市人民检察院", UnitKind.PROCURATORATE, ROOT_CODE, CITY, address(""), 8
        ),
        DemoUnit("LJ-SFJ", "临江市司法局", UnitKind.JUSTICE, ROOT_CODE, CITY, address(""), 8),
    ]
    for code, region, is_county, stations in DISTRICTS:
        base = f"{ROOT_CODE}-{code}"
        police_name = f"{region}公安局" if is_county else f"临江市公安局{region[:-1]}分局"
        units += [
            DemoUnit(
                base, f"{region}委政法委", UnitKind.COMMITTEE, ROOT_CODE, region, address(region), 2
            ),
            DemoUnit(f"{base}-GA", police_name, UnitKind.POLICE, base, region, address(region), 8),
            DemoUnit(
                f"{base}-FY", f"{region}人民法院", UnitKind.COURT, base, region, address(region), 8
            ),
            DemoUnit(
                f"{base}-JCY",
                f"{region}人民检察院",
                UnitKind.PROCURATORATE,
                base,
                region,
                address(region),
                6,
            ),
            DemoUnit(
                f"{base}-SFJ", f"{region}司法局", UnitKind.JUSTICE, base, region, address(region), 4
            ),
        ]
        prefix = "" if is_county else police_name.removeprefix("临江市公安局")
        for number, station in enumerate(stations, start=1):
            units.append(
                DemoUnit(
                    f"{base}-GA-{number:02d}",
                    f"{prefix}{station}",
                    UnitKind.POLICE,
                    f"{base}-GA",
                    region,
                    address(region),
                    12,
                )
            )
        if code == "JC":
            units.append(
                DemoUnit(
                    f"{base}-SFJ-01",
                    "江城区滨江司法所",
                    UnitKind.JUSTICE,
                    f"{base}-SFJ",
                    region,
                    address(region),
                    4,
                )
            )
    return units


DEMO_STAFF = [
    DemoStaff("admin", "系统管理员", Role.ADMIN, ROOT_CODE),
    DemoStaff("screener", "审核交办员（周敏）", Role.SCREENER, ROOT_CODE),
    DemoStaff("superior", "上级审核员（江城区委政法委 陈立）", Role.SUPERIOR, "LJ-JC"),
    DemoStaff("verifier", "核查员（滨江派出所 刘洋）", Role.VERIFIER, "LJ-JC-GA-01"),
    DemoStaff("liaison", "纪检联络员（吴静）", Role.LIAISON, ROOT_CODE),
    DemoStaff("analyst", "统计分析员（组织部 孙宁）", Role.ANALYST, ROOT_CODE),
]

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦方白邹孟熊秦邱江尹薛段雷侯龙史陶黎贺顾毛郝龚邵"
)
GIVEN = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰飞红鹏辉鑫波宇浩凯健俊帆帅旭宁"
    "婷雪琳晨阳欣怡佳璐瑶博文斌嘉毅然志远建国海燕晓峰春梅振华立新思远子涵梓萱雨泽"
)

POSITIONS = {
    UnitKind.POLICE: ["所长", "副所长", "社区民警", "户籍民警", "民警", "民警", "辅警"],
    UnitKind.COURT: ["庭长", "法官", "法官", "法官助理", "书记员"],
    UnitKind.PROCURATORATE: ["检察官", "检察官", "检察官助理"],
    UnitKind.JUSTICE: ["司法所长", "人民调解员", "司法助理员"],
    UnitKind.COMMITTEE: ["科长", "科员"],
}
STAFF_NO_PREFIX = {
    UnitKind.POLICE: "",
    UnitKind.COURT: "FY",
    UnitKind.PROCURATORATE: "JC",
    UnitKind.JUSTICE: "SF",
    UnitKind.COMMITTEE: "ZF",
}


def _officer_name(rng: random.Random) -> str:
    given = "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))
    return rng.choice(SURNAMES) + given


@dataclass
class SeedReport:
    units: int = 0
    officers: int = 0
    staff: int = 0
    notes: list[str] = field(default_factory=list)


def seed_demo(*, with_history: bool = False) -> SeedReport:
    """Create the demo city's missing units, officers and staff accounts (idempotent); with
    history, also a year of ratings, clues in every state and letters (once)."""
    report = SeedReport()
    by_code: dict[str, Unit] = {}
    rng = random.Random(2026)
    serial = 100000
    for spec in demo_units():
        unit = service.find_unit_by_code(spec.code)
        if unit is None:
            unit = service.create_unit(
                code=spec.code,
                name=spec.name,
                kind=spec.kind,
                parent=by_code[spec.parent] if spec.parent else None,
                region=spec.region,
                address=spec.address,
            )
            report.units += 1
        by_code[spec.code] = unit
        existing = _staff_nos(unit)
        for index in range(spec.officers):
            serial += 1
            name = _officer_name(rng)
            position = POSITIONS[spec.kind][index % len(POSITIONS[spec.kind])]
            staff_no = f"{STAFF_NO_PREFIX[spec.kind]}{serial:06d}"
            if staff_no not in existing:
                service.create_officer(unit=unit, name=name, staff_no=staff_no, position=position)
                report.officers += 1
    for staff in DEMO_STAFF:
        if service.find_staff_by_username(staff.username) is None:
            service.create_staff(
                username=staff.username,
                password=DEMO_PASSWORD,
                display_name=staff.display_name,
                role=staff.role,
                unit=by_code[staff.unit_code],
            )
            report.staff += 1
    report.notes.extend(seed_demo_codes(by_code))
    if with_history:
        report.notes.extend(generate_history(by_code))
    return report


def _staff_nos(unit: Unit) -> set[str]:
    return set(db.session.scalars(sa.select(Officer.staff_no).where(Officer.unit_id == unit.id)))


@click.command(
    "seed-demo", help="载入演示城市“临江市”：单位、人员和每个角色一个账号（可重复执行）。"
)
@click.option(
    "--with-history",
    is_flag=True,
    help="同时生成过去一年的评价、各种状态的线索和函件（只生成一次）",
)
@with_appcontext
def seed_demo_command(with_history: bool) -> None:
    if current_app.config.get("ENV") == "production":
        raise click.ClickException(
            f"生产环境不能载入演示数据：演示账号的密码（{DEMO_PASSWORD}）是公开的"
        )
    report = seed_demo(with_history=with_history)
    db.session.commit()
    click.echo(
        f"演示城市已就绪：新增单位 {report.units} 个、人员 {report.officers} 名、"
        f"账号 {report.staff} 个。"
    )
    click.echo(
        f"演示账号（密码均为 {DEMO_PASSWORD}）："
        + "、".join(f"{s.username}（{s.role.label}）" for s in DEMO_STAFF)
    )
    for line in report.notes:
        click.echo(line)
