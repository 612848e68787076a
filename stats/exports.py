"""Exports: the clue ledger (台账) and the unit ranking, as Excel workbooks and CSV files.

Nothing personal leaves through an export: no reporter identity, phone or resident id, and
no free text a resident wrote (the description, comments, appeal reasons may name or identify
people; they stay behind the clue page). The ledger says what happened to each clue and when.

Workbooks: Chinese headers in a bold, frozen first row with a filter, widths fitted to the
content, dates as real Excel dates in Beijing time. CSV: UTF-8 with a BOM (Excel otherwise
reads the Chinese as mojibake), the same columns. Text that a spreadsheet would run as a
formula (=, +, -, @ first) is neutralised in both.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import IO, Any

import sqlalchemy as sa
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from sqlalchemy.orm import aliased

from app.clock import LOCAL_TZ, local_date, local_day_start, utcnow
from app.extensions import db
from app.org.models import Officer, StaffAccount, Unit, subtree_ids
from clues.models import (
    Appeal,
    AppealDecision,
    Clue,
    ClueSource,
    ClueStage,
    Outcome,
    Referral,
    ReferralStatus,
    ReratingInvitation,
    Stage,
)
from clues.queries import knows_the_minute_under
from clues.states import ClueStatus
from evaluations.questionnaire import LEVELS, ClueCategory
from stats.measures import period_bounds
from stats.ranking import Ranking, UnitFigures

TEXT, INT, DATETIME, PERCENT, DATE = "text", "int", "datetime", "percent", "date"


@dataclass(frozen=True)
class Column:
    header: str
    width: float
    kind: str = TEXT


# ---------------------------------------------------------------- the clue ledger

LEDGER_STAGES = (
    (Stage.SCREENING, "审核"),
    (Stage.VERIFICATION, "核查"),
    (Stage.REVIEW, "上级审核"),
)

LEDGER_COLUMNS = [
    Column("线索编号", 17),
    Column("来源", 12),
    Column("类别", 12),
    Column("类别分组", 9),
    Column("被反映单位", 22),
    Column("被反映人员", 10),
    Column("人员编号", 10),
    Column("承办单位", 22),
    Column("交被反映单位自查的理由", 24),
    Column("当前状态", 11),
    Column("收到时间", 17, DATETIME),
    *[
        column
        for _, label in LEDGER_STAGES
        for column in (
            Column(f"{label}开始", 17, DATETIME),
            Column(f"{label}期限", 17, DATETIME),
            Column(f"{label}完成", 17, DATETIME),
            Column(f"{label}是否按期", 11),
        )
    ],
    Column("核查轮次", 9, INT),
    Column("延期（工作日）", 13, INT),
    Column("不予受理原因", 20),
    Column("并入线索", 17),
    Column("办结时间", 17, DATETIME),
    Column("核查结论", 10),
    Column("组织处理人数", 13, INT),
    Column("涉及违纪违规", 13),
    Column("移交纪检", 10),
    Column("纪检处理人数", 13, INT),
    Column("回评结果", 20),
    Column("复核申请次数", 13, INT),
    Column("复核决定", 12),
]


def _stage_cells(runs: list[Any], now: datetime) -> list[Any]:
    """Start of the first run, due and finish of the last, and whether it was on time:
    超期 when any run finished late, 已超期 when the open run is past due, 办理中 while it runs."""
    if not runs:
        return [None, None, None, "", 0, 0]
    first, last = runs[0], runs[-1]
    if any(r.finished_at is not None and not r.on_time for r in runs):
        flag = "超期"
    elif last.finished_at is None:
        flag = "已超期" if last.due_at < now else "办理中"
    else:
        flag = "按期"
    return [
        first.started_at,
        last.due_at,
        last.finished_at,
        flag,
        len(runs),
        sum(r.extended_days for r in runs),
    ]


def _rerating_text(invitations: list[Any]) -> str:
    """The latest closure's re-ratings: the one reporter's verdict, or (a merged clue's
    reporters follow its master) how many of the invited answered and were satisfied."""
    if not invitations:
        return ""
    latest = max(i.round for i in invitations)
    current = [i for i in invitations if i.round == latest]
    rated = [i for i in current if i.status == "rated"]
    if not rated:
        return "待回评" if any(i.status == "pending" for i in current) else "未回评"
    if len(current) == 1:
        verdict = rated[0]
        return f"{LEVELS.get(verdict.level, '')}，{'已解决' if verdict.resolved else '未解决'}"
    satisfied = sum(1 for i in rated if i.is_satisfied)
    return f"{len(current)} 人受邀，{len(rated)} 人回评，其中 {satisfied} 人满意且已解决"


def ledger_query(
    *, start: date, end: date, root: Unit, visible: sa.ColumnElement[bool] | None
) -> sa.Select:
    """The ids of the ledger's clues: received in the period about units of root's subtree
    (and, when given, visible to the caller)."""
    since, until = period_bounds(start, end)
    stmt = sa.select(Clue.id).where(
        Clue.submitted_at.between(since, until), Clue.unit_id.in_(subtree_ids(root))
    )
    return stmt.where(visible) if visible is not None else stmt


def ledger_rows(clue_ids: sa.Select, reader: StaffAccount) -> Iterator[list[Any]]:
    """One row of LEDGER_COLUMNS per clue of `clue_ids`, oldest first; five queries. When
    the resident filed is given to the minute only where `reader` may know it
    (clues.queries.knows_the_minute), else as the day."""
    now = utcnow()
    ids = clue_ids.scalar_subquery()
    stages: dict[int, dict[Stage, list[Any]]] = defaultdict(lambda: defaultdict(list))
    for run in db.session.execute(
        sa.select(
            ClueStage.clue_id,
            ClueStage.stage,
            ClueStage.started_at,
            ClueStage.due_at,
            ClueStage.finished_at,
            ClueStage.on_time,
            ClueStage.extended_days,
        )
        .where(ClueStage.clue_id.in_(ids))
        .order_by(ClueStage.clue_id, ClueStage.id)
    ):
        stages[run.clue_id][run.stage].append(run)
    reratings: dict[int, list[Any]] = defaultdict(list)
    for invitation in db.session.execute(
        sa.select(
            ReratingInvitation.clue_id,
            ReratingInvitation.round,
            ReratingInvitation.status,
            ReratingInvitation.level,
            ReratingInvitation.resolved,
            ReratingInvitation.is_satisfied.label("is_satisfied"),
        ).where(ReratingInvitation.clue_id.in_(ids))
    ):
        reratings[invitation.clue_id].append(invitation)
    appeals: dict[int, list[Any]] = defaultdict(list)
    for appeal in db.session.execute(
        sa.select(Appeal.clue_id, Appeal.decision)
        .where(Appeal.clue_id.in_(ids))
        .order_by(Appeal.clue_id, Appeal.id)
    ):
        appeals[appeal.clue_id].append(appeal)

    concerned, handling, master = aliased(Unit), aliased(Unit), aliased(Clue)
    clues = db.session.execute(
        sa.select(
            Clue.id,
            Clue.tracking_no,
            Clue.source,
            Clue.category,
            Clue.status,
            Clue.submitted_at,
            Clue.closed_at,
            Clue.outcome,
            Clue.persons_handled,
            Clue.involves_misconduct,
            Clue.reject_reason,
            Clue.self_verification_reason,
            concerned.name.label("unit_name"),
            concerned.path.label("unit_path"),
            handling.name.label("handling_name"),
            Officer.name.label("officer_name"),
            Officer.staff_no,
            master.tracking_no.label("master_no"),
            Referral.status.label("referral_status"),
            Referral.persons_handled.label("referral_persons"),
        )
        .join(concerned, concerned.id == Clue.unit_id)
        .outerjoin(handling, handling.id == Clue.assigned_unit_id)
        .outerjoin(Officer, Officer.id == Clue.officer_id)
        .outerjoin(master, master.id == Clue.master_id)
        .outerjoin(Referral, Referral.clue_id == Clue.id)
        .where(Clue.id.in_(ids))
        .order_by(Clue.submitted_at, Clue.id)
        .execution_options(yield_per=2000)
    )
    for clue in clues:
        runs = stages.get(clue.id, {})
        stage_cells, rounds, extended = [], 0, 0
        filed = clue.submitted_at
        if not knows_the_minute_under(clue.unit_path, reader):
            filed = local_day_start(local_date(filed))
        for stage, _ in LEDGER_STAGES:
            *cells, count, days = _stage_cells(runs.get(stage, []), now)
            if stage is Stage.SCREENING and cells[0] is not None:
                cells[0] = filed  # screening starts when the resident files
            stage_cells += cells
            if stage is Stage.VERIFICATION:
                rounds, extended = count, days
        clue_appeals = appeals.get(clue.id, [])
        closed = clue.status in (ClueStatus.CLOSED, ClueStatus.APPEALED)
        yield [
            clue.tracking_no,
            ClueSource(clue.source).label,
            ClueCategory(clue.category).label,
            ClueCategory(clue.category).group,
            clue.unit_name,
            clue.officer_name or "",
            clue.staff_no or "",
            clue.handling_name or "",
            clue.self_verification_reason,
            ClueStatus(clue.status).label,
            filed,
            *stage_cells,
            rounds,
            extended,
            clue.reject_reason.label if clue.reject_reason else "",
            clue.master_no or "",
            clue.closed_at,
            Outcome(clue.outcome).label if clue.outcome else "",
            clue.persons_handled if closed and clue.outcome else None,
            ("是" if clue.involves_misconduct else "否") if clue.outcome else "",
            ReferralStatus.label_of(clue.referral_status),
            clue.referral_persons,
            _rerating_text(reratings.get(clue.id, [])),
            len(clue_appeals),
            AppealDecision.label_of(clue_appeals[-1].decision, "待决定") if clue_appeals else "",
        ]


# ---------------------------------------------------------------- the ranking

RANKING_COLUMNS = [
    Column("单位", 24),
    Column("满意率排名", 11, INT),
    Column("满意率", 10, PERCENT),
    Column("有效评价数", 11, INT),
    Column("满意数", 9, INT),
    Column("按期办结率排名", 15, INT),
    Column("按期办结率", 11, PERCENT),
    Column("核查件数", 10, INT),
    Column("按期件数", 10, INT),
    Column("回评满意率", 11, PERCENT),
    Column("回评数", 9, INT),
    Column("收到线索", 10, INT),
    Column("红榜", 7),
    Column("约谈", 40),
]


def ranking_rows(ranking: Ranking) -> Iterator[list[Any]]:
    """One row per unit, in the order of the ranking table (see `ordered_units`)."""
    red = {u.unit_id for u in ranking.red_list}
    for unit in ordered_units(ranking):
        yield [
            unit.unit_name,
            unit.satisfaction_rank,
            unit.satisfaction_rate,
            unit.evaluations,
            unit.satisfied,
            unit.on_time_rank,
            unit.on_time_rate,
            unit.stages,
            unit.on_time,
            unit.rerating_satisfaction_rate,
            unit.reratings,
            unit.clues_received,
            "是" if unit.unit_id in red else "",
            "；".join(unit.interview_reasons),
        ]


def ordered_units(ranking: Ranking) -> list[UnitFigures]:
    """Ranked units by satisfaction rank, then the units short of the minimum sample."""
    ranked = list(ranking.by_satisfaction)
    seen = {u.unit_id for u in ranked}
    return ranked + [u for u in ranking.units if u.unit_id not in seen]


def ranking_notes(ranking: Ranking, period_label: str) -> list[tuple[str, str]]:
    """The 说明 sheet: the period and how each figure is counted."""
    return [
        (
            "统计周期",
            f"{ranking.start.isoformat()} 至 {ranking.end.isoformat()}（{period_label}，北京时间）",
        ),
        ("满意率", "（非常满意 + 满意）/ 有效评价数；被标记排除的评价不计入"),
        (
            "按期办结率",
            "期内按期办结的核查件数 /（期内办结的核查件数 + 期末仍未办结且已超期的件数）",
        ),
        ("回评满意率", "期内回评中评价为满意以上且表示问题已解决的比例"),
        (
            "最低样本",
            f"有效评价少于 {ranking.min_evaluations} 条不参与满意率排名；"
            f"核查件数少于 {ranking.min_stages} 件不参与按期办结率排名",
        ),
        ("约谈", "按期办结率低于 80%，或满意率排名末位"),
        ("红榜", "满意率排名前三且按期办结率不低于 90% 的单位"),
    ]


# ---------------------------------------------------------------- writers

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_HEADER_FONT = Font(bold=True)
_TITLE_FONT = Font(bold=True, size=14)
_HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
_HEADER_ALIGN = Alignment(horizontal="center", vertical="center", wrap_text=True)
_NUMBER_FORMATS = {DATETIME: "yyyy-mm-dd hh:mm", DATE: "yyyy-mm-dd", PERCENT: "0.0%"}


def _local(value: datetime) -> datetime:
    """Excel has no time zones: Beijing wall-clock time, naive."""
    return value.astimezone(LOCAL_TZ).replace(tzinfo=None, microsecond=0)


def _safe_text(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_START) else value


def write_xlsx(
    target: IO[bytes],
    sheets: Iterable[tuple[str, list[Column], Iterable[list[Any]]]],
    *,
    titles: Mapping[str, str] | None = None,
) -> None:
    """Stream (title, columns, rows) sheets into an .xlsx written to `target`.

    A sheet named in `titles` is a document to print (the 台账): its title line above the
    header, a 序号 column, the title and header repeated on every printed page, landscape,
    as wide as the page."""
    book = Workbook(write_only=True)
    for title, columns, rows in sheets:
        heading = (titles or {}).get(title)
        sheet = book.create_sheet(title)
        if heading is not None:
            columns = [Column("序号", 6, INT), *columns]
            _print_setup(sheet)
        for index, column in enumerate(columns, start=1):
            sheet.column_dimensions[get_column_letter(index)].width = column.width
        top = 1 if heading is None else 2
        sheet.freeze_panes = f"A{top + 1}"
        if heading is not None:
            cell = WriteOnlyCell(sheet, value=heading)
            cell.font = _TITLE_FONT
            sheet.append([cell])
        header = []
        for column in columns:
            cell = WriteOnlyCell(sheet, value=column.header)
            cell.font, cell.fill, cell.alignment = _HEADER_FONT, _HEADER_FILL, _HEADER_ALIGN
            header.append(cell)
        sheet.append(header)
        count = 0
        for row in rows:
            values = [count + 1, *row] if heading is not None else row
            cells = []
            for column, value in zip(columns, values, strict=True):
                if isinstance(value, datetime):
                    value = _local(value)
                cell = WriteOnlyCell(sheet, value=value)
                if isinstance(value, str):
                    cell.data_type = "s"  # never a formula, whatever the text starts with
                elif column.kind in _NUMBER_FORMATS and value is not None:
                    cell.number_format = _NUMBER_FORMATS[column.kind]
                cells.append(cell)
            sheet.append(cells)
            count += 1
        last = get_column_letter(len(columns))
        sheet.auto_filter.ref = f"A{top}:{last}{count + top}"
        if heading is not None:
            sheet.print_title_rows = f"1:{top}"
    book.save(target)


def _print_setup(sheet: Any) -> None:
    """Landscape A4, every column on one page's width, as many pages down as it takes."""
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = "9"  # A4
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.print_options.horizontalCentered = True


def _csv_value(value: Any, kind: str) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return _local(value).strftime("%Y-%m-%d %H:%M")
    if kind == PERCENT:
        return f"{value:.1%}"
    if isinstance(value, str):
        return _safe_text(value)
    return str(value)


def write_csv(columns: list[Column], rows: Iterable[list[Any]]) -> bytes:
    """The rows as CSV, UTF-8 with a BOM so Excel opens the Chinese correctly."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([column.header for column in columns])
    for row in rows:
        writer.writerow(
            [_csv_value(value, column.kind) for column, value in zip(columns, row, strict=True)]
        )
    return buffer.getvalue().encode("utf-8-sig")
