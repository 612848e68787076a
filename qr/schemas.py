"""Request and response schemas of the QR endpoints."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from app.schemas import Id, Page, PageQuery, Schema
from qr.models import QRStatus


class QRCodeIn(Schema):
    unit_id: Id
    officer_id: Id | None = Field(None, description="人员码：该单位的人员")
    label: Annotated[str, StringConstraints(max_length=50)] = Field(
        "", description="窗口码：窗口名称，如“户籍窗口 2 号”"
    )


class QRCodeOut(Schema):
    id: int
    token: str
    url: str = Field(description="二维码内容：{PUBLIC_BASE_URL}/q/{token}")
    serial: str
    unit_id: int
    officer_id: int | None
    label: str
    status: QRStatus
    created_at: datetime
    revoked_at: datetime | None
    revoked_reason: str
    replaced_by_id: int | None


class QRCodeList(Schema):
    items: list[QRCodeOut]


class QRCodeQuery(PageQuery):
    unit_id: Id | None = Field(None, description="只看该单位及其下级单位的二维码")
    status: QRStatus | None = None


class QRCodePage(Page):
    items: list[QRCodeOut]


class RevokeIn(Schema):
    reason: Annotated[str, StringConstraints(min_length=1, max_length=100)] = "停用"


class ImageQuery(Schema):
    format: Literal["png", "svg"] = "png"


class ExportQuery(Schema):
    unit_id: Id
    format: Literal["zip", "pdf"] = "pdf"


class ExportJobIn(Schema):
    unit_id: Id
    format: Literal["zip", "pdf"] = "pdf"


class ExportJobOut(Schema):
    id: int
    unit_id: int
    format: str
    status: str = Field(description="queued 排队中、running 正在生成、done 已完成、failed 生成失败")
    status_label: str
    total: int = Field(description="海报总数")
    done: int = Field(description="已生成的海报数")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    file_name: str
    size: int = Field(description="文件字节数（完成后）")
    error: str
    download_url: str | None = Field(description="完成后的下载地址")


class ScanCountQuery(Schema):
    since: date
    until: date


class ScanCountOut(Schema):
    day: date
    count: int


class ScanCountsOut(Schema):
    total: int
    days: list[ScanCountOut]
