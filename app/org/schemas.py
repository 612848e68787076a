"""Request and response schemas of the registry and staff sign-in."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field, StringConstraints, model_validator

from app.org.models import Role, UnitKind
from app.schemas import Id, Page, PageQuery, Schema

Code = Annotated[str, StringConstraints(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")]
Name = Annotated[str, StringConstraints(min_length=1, max_length=100)]
ShortText = Annotated[str, StringConstraints(max_length=50)]
PersonName = Annotated[str, StringConstraints(min_length=1, max_length=50)]
StaffNo = Annotated[str, StringConstraints(min_length=1, max_length=32)]
Region = Annotated[str, StringConstraints(max_length=64)]
Address = Annotated[str, StringConstraints(max_length=200)]
Username = Annotated[
    str, StringConstraints(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")
]
Password = Annotated[str, StringConstraints(min_length=1, max_length=128, strip_whitespace=False)]


# ---------------------------------------------------------------- units


class UnitIn(Schema):
    code: Code = Field(description="单位编码，全局唯一")
    name: Name
    kind: UnitKind = Field(
        description="单位类别：police 公安、court 法院、procuratorate 检察院、"
        "justice 司法行政、committee 政法委"
    )
    parent_id: Id = Field(description="上级单位（根单位由初始化命令创建）")
    region: Region = ""
    address: Address = ""


class UnitPatch(Schema):
    """Only the fields sent are changed; null is refused."""

    code: Code = None
    name: Name = None
    kind: UnitKind = None
    parent_id: Id = None
    region: Region = None
    address: Address = None


class UnitOut(Schema):
    id: int
    code: str
    name: str
    kind: UnitKind
    parent_id: int | None
    depth: int
    region: str
    address: str
    is_active: bool
    # A plain field filled in below rather than a computed field: the OpenAPI document shows
    # response models as they validate, where a computed field does not exist, and the
    # document must describe what the API sends.
    kind_label: str = Field("", description="单位类别的中文名")

    @model_validator(mode="after")
    def _label_kind(self) -> UnitOut:
        self.kind_label = self.kind.label
        return self


class UnitQuery(PageQuery):
    parent_id: Id | None = None
    kind: UnitKind | None = None
    is_active: bool | None = None
    q: Annotated[str, StringConstraints(max_length=50)] | None = Field(
        None, description="按名称或编码模糊查找"
    )


class UnitPage(Page):
    items: list[UnitOut]


# ---------------------------------------------------------------- officers


class OfficerIn(Schema):
    name: PersonName
    staff_no: StaffNo = Field(description="警号或工号，本单位内唯一")
    position: ShortText = ""


class OfficerPatch(Schema):
    """Only the fields sent are changed; null is refused."""

    name: PersonName = None
    staff_no: StaffNo = None
    position: ShortText = None
    unit_id: Id = Field(None, description="调往的单位")


class OfficerOut(Schema):
    id: int
    unit_id: int
    name: str
    staff_no: str
    position: str
    is_active: bool


class OfficerQuery(PageQuery):
    is_active: bool | None = None


class OfficerPage(Page):
    items: list[OfficerOut]


# ---------------------------------------------------------------- staff accounts


# Recusal: a clue about the linked officer never reaches the account.
OFFICER_LINK = (
    "本人的人员记录（被反映时回避）：须是账号所在单位或其下级单位的在用人员，"
    "一名人员只能关联一个账号"
)


class StaffIn(Schema):
    username: Username
    password: Password
    display_name: PersonName
    role: Role = Field(
        description="screener 审核交办、verifier 核查、superior 上级审核、"
        "liaison 纪检联络员、analyst 统计分析、admin 系统管理员"
    )
    unit_id: Id = Field(
        description="所属单位；审核交办、上级审核、纪检联络员、统计分析和系统管理员"
        "默认只能设在政法委单位（配置 STAFF_PLACEMENT）"
    )
    officer_id: Id | None = Field(None, description=OFFICER_LINK)


class StaffPatch(Schema):
    """Only the fields sent are changed; null is refused, except `officer_id` (unlinks)."""

    display_name: PersonName = None
    role: Role = None
    unit_id: Id = None
    officer_id: Id | None = Field(None, description=OFFICER_LINK + "；null 解除关联")


class StaffOut(Schema):
    id: int
    username: str
    display_name: str
    role: Role
    unit_id: int
    officer_id: int | None = Field(description="关联的人员记录（回避用）")
    is_active: bool
    locked_until: datetime | None
    last_login_at: datetime | None
    password_changed_at: datetime


class StaffQuery(PageQuery):
    role: Role | None = None
    unit_id: Id | None = None
    is_active: bool | None = None


class StaffPage(Page):
    items: list[StaffOut]


class PasswordReset(Schema):
    new_password: Password


class PasswordChange(Schema):
    current_password: Password
    new_password: Password


# ---------------------------------------------------------------- sign-in


class SessionIn(Schema):
    username: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    password: Password


class SessionUnit(Schema):
    id: int
    code: str
    name: str


class SessionOut(Schema):
    token: str
    expires_in: int = Field(description="令牌有效秒数")
    role: Role
    unit: SessionUnit
    display_name: str


class WeChatBindIn(Schema):
    code: Annotated[str, StringConstraints(min_length=1, max_length=128)] = Field(
        description="小程序 wx.login 得到的 code"
    )
