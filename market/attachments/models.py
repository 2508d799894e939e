"""Attachments and the content-addressed objects they point to.

An object is stored once per SHA-256, whatever its name or how often it is attached; ``refcount`` is
the number of attachment rows pointing to it. When it drops to zero the object is removed by the
outbox (``attachment.object``), never in the request that deleted the last attachment.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Index
from sqlmodel import Field, SQLModel

from core.types import UTCDateTime, str_enum, utcnow


class OwnerKind(StrEnum):
    """What an attachment is attached to."""

    achievement = "achievement"
    demand = "demand"
    deal = "deal"
    contract = "contract"


class AttachmentCategory(StrEnum):
    contract_text = "contract_text"  # 合同文本
    patent_certificate = "patent_certificate"  # 专利证书
    rights_proof = "rights_proof"  # 权属证明 (技术秘密等无登记证书的技术)
    evaluation_report = "evaluation_report"  # 科技成果评价报告
    test_report = "test_report"  # 检测报告
    photo = "photo"  # 照片
    other = "other"  # 其他


CATEGORY_ZH = {
    AttachmentCategory.contract_text: "合同文本",
    AttachmentCategory.patent_certificate: "专利证书",
    AttachmentCategory.rights_proof: "权属证明",
    AttachmentCategory.evaluation_report: "科技成果评价报告",
    AttachmentCategory.test_report: "检测报告",
    AttachmentCategory.photo: "照片",
    AttachmentCategory.other: "其他",
}


class AttachmentVisibility(StrEnum):
    """Who may list and download it (admins governing the object see every attachment)."""

    public = "public"  # anyone who may see the listing, deal or contract
    parties = "parties"  # the owner of a listing; both parties of a deal or contract
    owner = "owner"  # the organization that uploaded it
    admin = "admin"  # the platform admin and the region admins governing the object only


VISIBILITY_ZH = {
    AttachmentVisibility.public: "公开",
    AttachmentVisibility.parties: "交易双方",
    AttachmentVisibility.owner: "上传单位",
    AttachmentVisibility.admin: "管理员",
}


class StoredObject(SQLModel, table=True):
    __tablename__ = "stored_objects"

    sha256: str = Field(primary_key=True, max_length=64, description="hex digest of the content; the storage key")
    size: int = Field(sa_type=BigInteger, nullable=False)
    media_type: str = Field(max_length=128)
    refcount: int = Field(default=0, nullable=False, description="attachment rows pointing here")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class Attachment(SQLModel, table=True):
    __tablename__ = "attachments"
    __table_args__ = (Index("ix_attachments_owner", "owner_kind", "owner_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    owner_kind: OwnerKind = Field(sa_type=str_enum(OwnerKind, 16), nullable=False)
    owner_id: int
    category: AttachmentCategory = Field(sa_type=str_enum(AttachmentCategory, 32), nullable=False)
    visibility: AttachmentVisibility = Field(sa_type=str_enum(AttachmentVisibility, 16), nullable=False)
    filename: str = Field(max_length=255)
    media_type: str = Field(max_length=128, description="detected from the content, not the name")
    size: int = Field(sa_type=BigInteger, nullable=False)
    sha256: str = Field(foreign_key="stored_objects.sha256", index=True, max_length=64, ondelete="RESTRICT")
    organization_id: int | None = Field(
        default=None, foreign_key="organizations.id", ondelete="SET NULL", description="the uploading organization"
    )
    uploaded_by: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
