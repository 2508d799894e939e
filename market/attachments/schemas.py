"""Attachment responses. Which attachments a caller gets is decided by the query (their visibility);
each one's fields are public to whoever gets it, but who uploaded it stays with that organization."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from core.pagination import Page
from core.settings import Settings
from core.visibility import Classified, Org, Public, Subject
from market.attachments.models import (
    CATEGORY_ZH,
    VISIBILITY_ZH,
    Attachment,
    AttachmentCategory,
    AttachmentVisibility,
    OwnerKind,
)
from market.attachments.service import Holder, signed_link


class AttachmentRead(Classified):
    id: Public[int]
    owner_kind: Public[OwnerKind] = Field(description="附在何种对象上")
    owner_id: Public[int]
    category: Public[AttachmentCategory]
    category_label: Public[str] = Field(description="类别中文名")
    visibility: Public[AttachmentVisibility]
    visibility_label: Public[str] = Field(description="可见范围中文名")
    filename: Public[str]
    media_type: Public[str] = Field(description="按文件内容识别的类型")
    size: Public[int] = Field(description="字节数")
    sha256: Public[str] = Field(description="内容的 SHA-256 (十六进制)")
    created_at: Public[datetime]
    download_url: Public[str] = Field(description="签名下载链接 (无需登录头), 到期失效, 只对本附件有效")
    download_expires_at: Public[datetime]
    organization_id: Org[int | None] = Field(description="上传单位")
    uploaded_by: Org[int | None] = Field(description="上传用户")


class AttachmentPage(Page[AttachmentRead]):
    pass


def render(settings: Settings, holder: Holder, attachment: Attachment) -> AttachmentRead:
    url, expires_at = signed_link(settings, attachment)
    return AttachmentRead(
        id=attachment.id or 0,
        owner_kind=attachment.owner_kind,
        owner_id=attachment.owner_id,
        category=attachment.category,
        category_label=CATEGORY_ZH[attachment.category],
        visibility=attachment.visibility,
        visibility_label=VISIBILITY_ZH[attachment.visibility],
        filename=attachment.filename,
        media_type=attachment.media_type,
        size=attachment.size,
        sha256=attachment.sha256,
        created_at=attachment.created_at,
        download_url=url,
        download_expires_at=expires_at,
        organization_id=attachment.organization_id,
        uploaded_by=attachment.uploaded_by,
    ).about(Subject(owner=attachment.organization_id, regions=holder.subject.regions))
