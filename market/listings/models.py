"""Achievements (科技成果) and demands (技术需求): the market's goods.

Both share a workflow and most columns (``ListingBase``). Money is integer fen. A pending edit of
a published listing lives in ``pending_revision`` so the published version stays visible.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Index
from sqlmodel import Field, SQLModel

from core.types import UTCDateTime, str_enum, utcnow


class ListingStatus(StrEnum):
    draft = "draft"
    submitted = "submitted"
    published = "published"
    rejected = "rejected"
    withdrawn = "withdrawn"
    closed = "closed"
    transferred = "transferred"  # 已转让: a transfer contract on it completed (final, out of search)


class Maturity(StrEnum):
    research = "research"  # 研发阶段
    lab = "lab"  # 小试
    pilot = "pilot"  # 中试
    industrialized = "industrialized"  # 产业化


MATURITY_RANK = {Maturity.research: 1, Maturity.lab: 2, Maturity.pilot: 3, Maturity.industrialized: 4}
# GB/T 22900 levels that fit each stage (adjacent stages share a boundary level).
MATURITY_TRL = {
    Maturity.research: range(1, 4),
    Maturity.lab: range(3, 5),
    Maturity.pilot: range(5, 7),
    Maturity.industrialized: range(7, 10),
}
MATURITY_ZH = {
    Maturity.research: "研发阶段",
    Maturity.lab: "小试",
    Maturity.pilot: "中试",
    Maturity.industrialized: "产业化",
}


class IpType(StrEnum):
    invention_patent = "invention_patent"
    utility_model = "utility_model"
    design = "design"
    software_copyright = "software_copyright"
    plant_variety = "plant_variety"
    ic_layout = "ic_layout"
    know_how = "know_how"


PATENT_IP_TYPES = {IpType.invention_patent, IpType.utility_model, IpType.design}


class TransactionMode(StrEnum):
    transfer = "transfer"
    license = "license"
    equity = "equity"
    joint_development = "joint_development"


class PricingMode(StrEnum):
    """How a state-funded institute sets the price (促进科技成果转化法 art. 18; rules: contracts.pricing.rules)."""

    agreed = "agreed"  # 协议定价 (after a public notice)
    listed = "listed"  # 挂牌交易
    auction = "auction"  # 拍卖


class ListingBase(SQLModel):
    id: int | None = Field(default=None, primary_key=True)
    external_id: str | None = Field(default=None, max_length=64, unique=True)
    owner_id: int = Field(foreign_key="organizations.id", index=True, ondelete="RESTRICT")
    status: ListingStatus = Field(default=ListingStatus.draft, sa_type=str_enum(ListingStatus, 16), nullable=False)
    title: str = Field(max_length=200)
    field: str = Field(max_length=32)
    keywords: list[str] = Field(default_factory=list, sa_type=JSON, nullable=False)
    transaction_modes: list[str] = Field(default_factory=list, sa_type=JSON, nullable=False)
    region: str = Field(max_length=6)
    contact: dict[str, Any] = Field(default_factory=dict, sa_type=JSON, nullable=False)
    pending_revision: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    review_reason: str | None = Field(default=None, max_length=1000, description="last rejection reason")
    created_by: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    published_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Achievement(ListingBase, table=True):
    __tablename__ = "achievements"
    __table_args__ = (Index("ix_achievements_status_field_region", "status", "field", "region"),)

    summary: str = Field(max_length=5000)
    maturity: Maturity = Field(sa_type=str_enum(Maturity, 16), nullable=False)
    trl: int
    ip_type: IpType = Field(sa_type=str_enum(IpType, 32), nullable=False)
    ip_numbers: list[str] = Field(default_factory=list, sa_type=JSON, nullable=False)
    price_fen: int | None = Field(default=None, ge=0, sa_type=BigInteger)
    pricing_mode: PricingMode | None = Field(
        default=None, sa_type=str_enum(PricingMode, 16), description="定价方式: 协议定价 / 挂牌 / 拍卖"
    )
    inventors: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON, nullable=False)
    advantages: list[str] = Field(default_factory=list, sa_type=JSON, nullable=False)
    licences: list[dict[str, Any]] = Field(
        default_factory=list, sa_type=JSON, nullable=False, description="completed licence contracts on it"
    )
    contracts_in_force: list[int] = Field(
        default_factory=list, sa_type=JSON, nullable=False, description="signed contracts on it: its price is held"
    )


class Demand(ListingBase, table=True):
    __tablename__ = "demands"
    __table_args__ = (Index("ix_demands_status_field_region", "status", "field", "region"),)

    description: str = Field(max_length=5000)
    budget_max_fen: int | None = Field(default=None, ge=0, sa_type=BigInteger)
    deadline: date | None = None
    min_maturity: Maturity | None = Field(default=None, sa_type=str_enum(Maturity, 16))


Listing = Achievement | Demand
