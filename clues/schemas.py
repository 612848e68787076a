"""Request and response schemas of the clue endpoints.

No staff-facing schema carries a field from which the reporter could be identified; the
reporter has its own audited endpoint.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field, StrictBool, StrictInt, StringConstraints, model_validator

from app.schemas import Day, Id, Page, PageQuery, Schema, StrictId
from clues.models import ClueSource, Outcome, RejectReason
from clues.states import ClueStatus
from evaluations.questionnaire import ClueCategory
from evaluations.schemas import PHONE, ClueIn

Note = Annotated[str, StringConstraints(max_length=2000)]
Text = Annotated[str, StringConstraints(min_length=1, max_length=5000)]


# ---------------------------------------------------------------- staff: reading


class UnitRef(Schema):
    id: int
    name: str


class OfficerRef(Schema):
    id: int
    name: str
    staff_no: str
    position: str


class WarningOut(Schema):
    kind: str = Field(
        description="officer_reported 同一人员多人反映；unit_reported 同一单位多人"
        "反映；repeat 同一群众多次反映同一对象"
    )
    count: int
    window_days: int
    officer_id: int | None
    created_at: datetime


class ReportOut(Schema):
    id: int
    outcome: Outcome
    findings: str
    measures: str
    persons_handled: int
    involves_misconduct: bool
    reply_to_reporter: str
    submitted_at: datetime
    decision: str | None
    return_reason: str


class ExtensionOut(Schema):
    id: int
    days: int
    reason: str
    status: str
    requested_at: datetime
    decided_at: datetime | None
    decision_note: str


class ActionOffer(Schema):
    action: str = Field(description="操作名，即 POST /clues/{id}/{action} 的 action")
    label: str = Field(description="按钮文字")
    enabled: bool = Field(description="当前用户现在能否执行")
    reason: str = Field(description="不能执行时的原因（与执行时得到的错误说明相同）")


class ClueOut(Schema):
    id: int
    tracking_no: str
    source: ClueSource
    status: ClueStatus
    status_label: str
    category: ClueCategory
    category_label: str
    unit: UnitRef
    officer: OfficerRef | None
    description: str
    assigned_unit: UnitRef | None
    assignee_id: int | None
    stage: str | None = Field(
        description="当前期限环节：screening、verification、review、appeal、forwarded"
    )
    stage_unit_id: int | None = Field(description="当前环节由哪个单位办理（期限的责任单位）")
    due_at: datetime | None
    due_beyond_calendar: bool = Field(
        description="期限落在尚未载入法定节假日安排的年份：按周一至周五推算，可能不准"
    )
    hotline_case_no: str = Field(description="转 12345 后平台的工单编号（未转或未返回时为空）")
    is_overdue: bool
    outcome: Outcome | None
    persons_handled: int
    involves_misconduct: bool
    reject_reason: RejectReason | None
    reporter_message: str
    master_id: int | None
    submitted_at: datetime
    accepted_at: datetime | None
    assigned_at: datetime | None
    verifying_at: datetime | None
    reviewing_at: datetime | None
    closed_at: datetime | None
    rerating_due_at: datetime | None
    self_verification_reason: str = Field(
        description="违纪类线索交被反映单位自查的理由；交上级核查时为空"
    )
    warnings: list[WarningOut] = Field(description="高频线索预警（审核交办人员可见）")
    report: ReportOut | None = Field(description="最近一次核查报告")
    extensions: list[ExtensionOut]
    available_actions: list[ActionOffer] | None = Field(
        None, description="当前用户在此状态下的操作（仅详情和操作结果返回；列表中为空）"
    )


class ClueQuery(PageQuery):
    status: ClueStatus | None = None
    unit_id: Id | None = Field(None, description="被反映单位及其下级")
    overdue: bool | None = Field(None, description="true 只看已超期的")
    tracking_no: Annotated[str, StringConstraints(max_length=20)] | None = Field(
        None, description="线索编号（精确匹配）"
    )
    q: Annotated[str, StringConstraints(max_length=100)] | None = Field(
        None, description="反映内容中的文字（中文子串）或编号的一部分"
    )
    category: ClueCategory | None = None
    source: ClueSource | None = None
    from_: Day | None = Field(None, alias="from", description="登记日期起（北京时间，含当日）")
    to: Day | None = Field(None, description="登记日期止（北京时间，含当日）")


class CluePage(Page):
    items: list[ClueOut]


class EventOut(Schema):
    id: int
    created_at: datetime
    actor_type: str
    actor_name: str = Field(description="工作人员的用户名；群众和系统为空")
    role: str
    action: str
    from_status: str | None
    to_status: str
    note: str
    public_note: str
    details: dict


class EventList(Schema):
    items: list[EventOut]


class ReporterQuery(Schema):
    reason: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=2, max_length=200)
    ] = Field(description="查看理由（记入审计日志），如“回访核实情况”")


class ReporterOut(Schema):
    clue_id: int
    identity: str = Field(description="anonymous 匿名；confidential 实名保密")
    phone: str | None
    channel: str | None = Field(description="wechat 或 h5；工作人员登记的线索为空")


class DuplicateOut(Schema):
    id: int
    tracking_no: str
    status: ClueStatus
    score: float = Field(description="文本相似度 0–1")
    same_officer: bool
    submitted_at: datetime
    description: str


class DuplicateList(Schema):
    items: list[DuplicateOut]


# ---------------------------------------------------------------- staff: actions


class NoteIn(Schema):
    note: Note = ""


class RejectIn(Schema):
    reason: RejectReason
    message: Annotated[str, StringConstraints(min_length=1, max_length=500)] = Field(
        description="告诉反映人的话"
    )


class MergeIn(Schema):
    master_id: StrictId = Field(description="并入的主线索")
    note: Note = ""


class AssignIn(Schema):
    unit_id: StrictId = Field(description="核查单位（须在本人管辖范围内）")
    days: StrictInt | None = Field(
        None, ge=1, le=90, description="核查期限（工作日）；不填按类别默认"
    )
    assignee_id: StrictId | None = Field(None, description="指定承办的核查人员")
    note: Note = ""
    self_verification_reason: Note = Field(
        "",
        description="作风、廉洁、执法不公类线索交被反映单位（或其下级）自查时必填：为什么不交上级核查",
    )


class ReassignIn(Schema):
    unit_id: StrictId = Field(description="改派给的核查单位（须在本人管辖范围内）")
    reason: Annotated[str, StringConstraints(min_length=1, max_length=2000)] = Field(
        description="改派理由"
    )
    days: StrictInt | None = Field(
        None, ge=1, le=90, description="新的核查期限（工作日）；不填按类别默认"
    )
    assignee_id: StrictId | None = Field(None, description="指定承办的核查人员")
    self_verification_reason: Note = Field(
        "", description="作风、廉洁、执法不公类线索改派被反映单位（或其下级）自查时必填"
    )


class SendBackIn(Schema):
    reason: Annotated[str, StringConstraints(min_length=1, max_length=2000)] = Field(
        description="为什么不应由本单位核查（审核交办人员据此重新交办）"
    )


class ReopenIn(Schema):
    note: Note = ""
    unit_id: StrictId | None = Field(
        None, description="重新核查的单位；不填由原核查单位办理（12345 办结的交被反映单位）"
    )


class ReportIn(Schema):
    outcome: Outcome
    findings: Text
    measures: Annotated[str, StringConstraints(max_length=5000)] = ""
    persons_handled: StrictInt = Field(0, ge=0, le=1000, description="组织处理人数")
    involves_misconduct: StrictBool = Field(False, description="是否涉及违纪违规（可移交纪检）")
    reply_to_reporter: Annotated[str, StringConstraints(max_length=1000)] = Field(
        "", description="办结后告诉反映人的话"
    )


class ReturnIn(Schema):
    reason: Annotated[str, StringConstraints(min_length=1, max_length=2000)]


class ExtensionIn(Schema):
    days: StrictInt = Field(ge=1, le=90, description="延长的工作日数")
    reason: Annotated[str, StringConstraints(min_length=1, max_length=2000)]


class UpholdIn(Schema):
    note: Annotated[str, StringConstraints(min_length=1, max_length=2000)] = Field(
        description="维持的理由（告诉反映人）"
    )


class ClueRegisterIn(Schema):
    source: ClueSource = Field(
        description="survey 民意测评；case_review 案件评查；petition 信访；grid 网格员"
    )
    category: ClueCategory
    unit_id: StrictId
    officer_id: StrictId | None = None
    description: Annotated[str, StringConstraints(min_length=5, max_length=5000)]
    phone: Annotated[str, StringConstraints(pattern=PHONE)] | None = Field(
        None,
        description="反映人的手机号（信访人、网格员转来的群众）：实名保密，加密保存；"
        "办结后由审核人员回访",
    )
    sms_consent: StrictBool = Field(
        False, description="反映人另行同意接收办理进度短信（此时以短信邀请回评，未回评再回访）"
    )

    @model_validator(mode="after")
    def _consent_needs_a_phone(self) -> ClueRegisterIn:
        if self.sms_consent and not self.phone:
            raise ValueError("同意接收短信须填写手机号")
        return self


# ---------------------------------------------------------------- residents


class DirectReportIn(ClueIn):
    qr_token: Annotated[str, StringConstraints(min_length=1, max_length=32)] = Field(
        description="扫到的二维码：被反映的单位"
    )


class ClueSummaryOut(Schema):
    tracking_no: str
    status: str
    due_at: datetime | None
    tracking_url: str | None = Field(
        None, description="反映人的私人查询链接（/t/{secret}）：免登录查看进度、回评、申请复核"
    )


class TimelineItem(Schema):
    at: datetime
    status: str
    status_label: str
    note: str


class MyClueOut(Schema):
    tracking_no: str
    status: ClueStatus
    status_label: str
    category_label: str
    unit_name: str
    description: str
    submitted_at: datetime
    due_at: datetime | None = Field(description="当前环节的承诺办结时间")
    stage_label: str | None
    outcome_label: str | None = Field(description="办结后的核查结论")
    reply: str = Field(description="办理单位给您的答复")
    master_tracking_no: str | None = Field(description="已并案时，主线索的编号（进度跟随主线索）")
    timeline: list[TimelineItem]
    rerating: dict | None = Field(description="回评邀请：status、expires_at、level、resolved")
    can_appeal: bool


class MyClueList(Schema):
    items: list[MyClueOut]


class ReratingIn(Schema):
    level: StrictInt = Field(ge=1, le=5)
    resolved: StrictBool = Field(description="问题是否已解决")
    comment: Annotated[str, StringConstraints(max_length=500)] = ""


class AppealIn(Schema):
    reason: Annotated[str, StringConstraints(min_length=1, max_length=2000)]


class WithdrawIn(Schema):
    reason: Annotated[str, StringConstraints(max_length=500)] = Field(
        "", description="撤回原因（可不填）"
    )


# ---------------------------------------------------------------- the tracking link


class PromiseOut(Schema):
    stage_label: str = Field(description="当前环节：审核受理、核查、上级审核、上级复核")
    working_days: int = Field(description="本环节承诺的工作日数（含已批准的延期）")
    due_at: datetime = Field(description="本环节承诺完成的时间")
    extended_days: int = Field(description="已批准延长的工作日数")


class AppealStateOut(Schema):
    created_at: datetime
    reason: str
    decision: str | None = Field(description="reopened 重新核查；upheld 维持原结论；空为待决定")
    decision_label: str
    decided_at: datetime | None
    decision_note: str = Field(description="上级机关的决定理由")


class ResidentOffer(Schema):
    action: str = Field(description="rerate 回评；appeal 申请复核")
    label: str
    enabled: bool = Field(description="现在能否办理（与提交时的规则相同）")
    reason: str = Field(description="不能办理时的原因")


class TrackOut(MyClueOut):
    next_step: str = Field(description="接下来会怎样（平实的说明）")
    promise: PromiseOut | None = Field(description="当前环节的承诺期限；办结后为空")
    handled_by: str = Field(description="现在由哪个单位（层级）办理")
    hotline_case_no: str = Field(description="转 12345 后平台的工单编号（如有）")
    hotline_result: str = Field(description="12345 平台的办理结果（如有）")
    appeal: AppealStateOut | None = Field(description="本人最近一次复核申请及上级决定")
    actions: list[ResidentOffer] = Field(description="回评、申请复核两个按钮及能否办理")
    access_code: str | None = Field(description="查询码（与查询编号一起在 /t 页面输入）")
    link_expires_at: datetime | None = Field(description="链接失效时间；办理中为空")
