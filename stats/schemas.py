"""Query and response schemas of the statistics and export endpoints."""

from __future__ import annotations

from datetime import date

from pydantic import ConfigDict, Field

from app.schemas import Day, Id, Schema
from stats.ranking import Period


class PeriodQuery(Schema):
    """`from`/`to`: Beijing-time dates, inclusive; default this month up to today."""

    model_config = ConfigDict(populate_by_name=True)

    from_: Day | None = Field(
        None, alias="from", description="起始日期（北京时间，含当日）；默认截止日期所在月的1日"
    )
    to: Day | None = Field(None, description="截止日期（北京时间，含当日）；默认今天")
    unit_id: Id | None = Field(None, description="统计该单位及其下级单位；默认本人所在单位")


class RankingQuery(Schema):
    model_config = ConfigDict(populate_by_name=True)

    period: Period = Field(Period.WEEK, description="week：周一至周日；month：自然月")
    day: Day | None = Field(
        None, alias="date", description="取包含该日期的周或月；默认最近一个完整的周或月"
    )
    unit_id: Id | None = Field(
        None, description="只排该单位及其下级单位；默认全部单位（与每周、每月通报一致）"
    )


class UnitRef(Schema):
    id: int
    name: str


class Targets(Schema):
    on_time_rate: float = Field(description="按期办结率目标")
    satisfaction_rate: float = Field(description="满意率目标")


class CategoryCount(Schema):
    category: str
    label: str
    group: str = Field(description="职能类、民生类或其他")
    clues: int


class OverviewOut(Schema):
    start: date
    end: date
    unit: UnitRef
    evaluations: int = Field(description="有效评价数（不含被标记排除的评价）")
    satisfied: int = Field(description="非常满意 + 满意")
    satisfaction_rate: float | None = Field(description="满意率 =（非常满意 + 满意）/ 有效评价数")
    bad_ratings: int = Field(description="差评数（不满意 + 非常不满意）")
    excluded_ratings: int = Field(description="被标记排除、不计入统计的评价数")
    clues_received: int = Field(description="期内收到的问题线索")
    screened_out: int = Field(description="审核未交办：不予受理 + 并案 + 转 12345")
    rejected: int
    merged: int
    forwarded: int
    pending_screening: int = Field(description="尚待审核或已受理未交办")
    clues_assigned: int = Field(description="审核后交办核查")
    unfounded: int = Field(description="查否")
    substantiated: int = Field(description="查实（含部分属实）")
    partly_substantiated: int = Field(description="其中部分属实")
    under_verification: int = Field(description="交办后尚未办结（核查、审核或复核中）")
    self_verified: int = Field(
        description="作风、廉洁、执法不公类线索经说明理由交被反映单位（或其下级）自查的件数"
    )
    persons_handled: int = Field(description="组织处理人数（经审核的核查报告）")
    referred: int = Field(description="移交纪检的线索")
    referral_persons_handled: int = Field(description="纪检联络员记录的处理人数")
    stages: int = Field(description="按期办结率的样本：期内办结的核查 + 期末已超期未办结的核查")
    stages_on_time: int
    on_time_rate: float | None = Field(description="按期办结率")
    reratings: int = Field(description="期内群众回评数")
    rerating_satisfied: int
    rerating_satisfaction_rate: float | None = Field(description="回评满意率（满意以上且已解决）")
    appeals: int = Field(description="期内群众复核申请数")
    appeals_reopened: int
    appeals_upheld: int
    bad_ratings_to_rectify: int = Field(description="期内交单位整改的差评（不带线索的差评）")
    rectified: int = Field(description="其中已整改（核实、整改并回访）")
    rectified_on_time: int = Field(description="其中按期整改")
    rectification_rate: float | None = Field(description="整改率 = 已整改 / 交办整改的差评")
    rectification_callbacks_reached: int = Field(description="差评整改中回访到本人的")
    clue_callbacks_due: int = Field(
        description="期内办结、需回访的线索（实名保密的反映人未回评或无法回评）"
    )
    clue_callbacks_made: int = Field(description="其中已回访（含联系不上）")
    callbacks_due: int = Field(description="应回访：差评整改 + 需回访的线索")
    callbacks_reached: int = Field(description="回访到本人的（结果不是“联系不上”）")
    callback_rate: float | None = Field(description="回访率 = 回访到本人 / 应回访")
    resolved: int = Field(description="期内回评中表示问题已解决的")
    resolved_rate: float | None = Field(description="案结事了率 = 表示已解决的回评 / 期内回评")
    targets: Targets = Field(description="配置的目标值，与对应指标并列显示")
    by_category: list[CategoryCount] = Field(description="期内收到的线索按类别")


class RankedUnitOut(Schema):
    unit_id: int
    unit: str
    evaluations: int
    satisfied: int
    satisfaction_rate: float | None
    satisfaction_rank: int | None = Field(description="满意率排名；样本不足时为空")
    stages: int
    on_time: int
    on_time_rate: float | None
    on_time_rank: int | None = Field(description="按期办结率排名；样本不足时为空")
    reratings: int
    rerating_satisfied: int
    rerating_satisfaction_rate: float | None
    clues_received: int
    red_list: bool
    interview_reasons: list[str] = Field(description="约谈原因；为空则不约谈")
    by_category: dict[str, int] = Field(
        default_factory=dict, description="期内收到的线索按类别（只列有线索的类别）"
    )


class RankingOut(Schema):
    period: Period
    start: date
    end: date
    unit: UnitRef | None = Field(description="排名范围；为空表示全部单位")
    min_evaluations: int = Field(description="参与满意率排名的最少有效评价数")
    min_stages: int = Field(description="参与按期办结率排名的最少核查件数")
    units: list[RankedUnitOut] = Field(description="全部有数据的单位：按满意率排名，样本不足的在后")
    by_satisfaction: list[int] = Field(description="按满意率排名的单位 id")
    by_on_time: list[int] = Field(description="按按期办结率排名的单位 id")
    red_list: list[RankedUnitOut]
    interview_list: list[RankedUnitOut]
    by_category: list[CategoryCount] = Field(description="排名范围内期内收到的线索按类别")
    targets: Targets


class OfficerSummaryOut(Schema):
    officer_id: int
    name: str
    staff_no: str
    position: str
    unit_id: int
    unit: str
    is_active: bool
    evaluations: int
    satisfied: int
    satisfaction_rate: float | None
    bad_ratings: int
    clues_received: int | None = Field(
        description="期内收到的反映该人员的线索；查看本人汇总时为空（回避）"
    )
    substantiated: int | None = Field(description="其中查实（含部分属实）；本人为空")
    unfounded: int | None = Field(description="其中查否；本人为空")
    under_verification: int | None = Field(description="核查中；本人为空")


class OfficerSummaryList(Schema):
    start: date
    end: date
    unit: UnitRef
    items: list[OfficerSummaryOut]
