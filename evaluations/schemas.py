"""Request and response schemas of the resident-facing endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, StrictInt, StringConstraints, model_validator

from app.org.models import UnitKind
from app.schemas import MAX_ID, Schema, StrictId
from evaluations.questionnaire import ClueCategory


class ScanUnit(Schema):
    id: int
    name: str
    kind: UnitKind
    kind_label: str
    address: str


class ScanOfficer(Schema):
    id: int
    name: str
    staff_no: str
    position: str


class LevelOut(Schema):
    level: int
    label: str
    is_bad: bool = Field(description="1、2 为差评")


class DimensionOut(Schema):
    key: str
    label: str


class QuestionnaireOut(Schema):
    id: int
    version: int
    levels: list[LevelOut]
    dimensions: list[DimensionOut]
    reasons: dict[str, list[str]] = Field(description="按评价等级给出的可选原因标签")


class CategoryOut(Schema):
    code: str
    label: str
    group: str = Field(description="职能类、民生类或其他")


class ScanOut(Schema):
    unit: ScanUnit
    officer: ScanOfficer | None
    location: str = Field(description="窗口名称；单位码为空")
    questionnaire: QuestionnaireOut
    categories: list[CategoryOut]


# ---------------------------------------------------------------- resident sign-in


class WeChatSignIn(Schema):
    code: Annotated[str, StringConstraints(min_length=1, max_length=128)] = Field(
        description="小程序 wx.login 得到的 code"
    )


class ResidentTokenOut(Schema):
    token: str
    expires_in: int = Field(description="令牌有效秒数")


# ---------------------------------------------------------------- rating

PHONE = r"^1[3-9]\d{9}$"


class ClueIn(Schema):
    category: ClueCategory
    description: Annotated[str, StringConstraints(min_length=5, max_length=2000)] = Field(
        description="问题经过：时间、地点、事情"
    )
    officer_id: StrictId | None = Field(None, description="被反映的人员（须属于被评价单位）")
    identity: Literal["anonymous", "confidential"] = Field(
        description="anonymous 匿名；confidential 实名保密（须留电话，仅审核人员可见）"
    )
    phone: Annotated[str, StringConstraints(pattern=PHONE)] | None = Field(
        None, description="实名保密时的手机号，加密保存"
    )
    sms_consent: bool = Field(
        False,
        description="反映人另行勾选同意：手机号可用于发送办理进度短信（含查询链接）；须同时留手机号",
    )

    @model_validator(mode="after")
    def _phone_matches_identity(self) -> ClueIn:
        if self.identity == "confidential" and not self.phone:
            raise ValueError("实名保密反映须填写手机号")
        if self.identity == "anonymous" and self.phone:
            raise ValueError("匿名反映不能填写手机号")
        if self.sms_consent and not self.phone:
            raise ValueError("同意接收短信须填写手机号")
        return self


class EvaluationIn(Schema):
    qr_token: Annotated[str, StringConstraints(min_length=1, max_length=32)]
    level: StrictInt = Field(ge=1, le=5, description="5 非常满意 … 1 非常不满意")
    dimensions: dict[str, Annotated[StrictInt, Field(ge=1, le=5)]] | None = Field(
        None, description="各维度评分 1–5，维度见问卷"
    )
    reasons: list[Annotated[str, StringConstraints(max_length=20)]] | None = Field(
        None, max_length=10, description="原因标签，须是问卷中该等级的选项"
    )
    comment: Annotated[str, StringConstraints(max_length=500)] | None = None
    officer_id: StrictId | None = Field(None, description="被评价的人员（须属于被评价单位）")
    clue: ClueIn | None = None
    scene: StrictInt | None = Field(
        None, ge=0, le=MAX_ID, description="小程序进入场景值（1011/1047 现场扫码）"
    )
    scancode_time: StrictInt | None = Field(
        None, ge=0, le=4_102_444_800, description="小程序扫码时间（Unix 秒，2100 年以前）"
    )


class ClueSummary(Schema):
    tracking_no: str | None
    status: str
    due_at: datetime | None
    tracking_url: str | None = Field(
        None, description="反映人的私人查询链接（/t/{secret}）：免登录查看进度、回评、申请复核"
    )


class EvaluationOut(Schema):
    id: int
    clue: ClueSummary | None
