"""Technology contracts (技术合同, 民法典 第二十章): parties, amounts in fen, milestones, lifecycle."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from core.types import UTCDateTime, str_enum, utcnow
from market.identity.models import OrganizationKind


class ContractType(StrEnum):
    development = "development"  # 技术开发
    transfer = "transfer"  # 技术转让
    license = "license"  # 技术许可
    consulting = "consulting"  # 技术咨询
    service = "service"  # 技术服务


class ContractSubtype(StrEnum):
    commissioned_development = "commissioned_development"  # 委托开发
    cooperative_development = "cooperative_development"  # 合作开发
    patent_right = "patent_right"  # 专利权转让
    patent_application_right = "patent_application_right"  # 专利申请权转让
    technical_secret = "technical_secret"  # 技术秘密转让
    exclusive_license = "exclusive_license"  # 专利实施许可: 独占
    sole_license = "sole_license"  # 排他
    ordinary_license = "ordinary_license"  # 普通
    technical_secret_license = "technical_secret_license"  # 技术秘密使用许可
    consulting = "consulting"  # 技术咨询
    technical_service = "technical_service"  # 技术服务
    technical_training = "technical_training"  # 技术培训
    technical_intermediary = "technical_intermediary"  # 技术中介


SUBTYPES: dict[ContractType, frozenset[ContractSubtype]] = {
    ContractType.development: frozenset(
        {ContractSubtype.commissioned_development, ContractSubtype.cooperative_development}
    ),
    ContractType.transfer: frozenset(
        {ContractSubtype.patent_right, ContractSubtype.patent_application_right, ContractSubtype.technical_secret}
    ),
    ContractType.license: frozenset(
        {
            ContractSubtype.exclusive_license,
            ContractSubtype.sole_license,
            ContractSubtype.ordinary_license,
            ContractSubtype.technical_secret_license,
        }
    ),
    ContractType.consulting: frozenset({ContractSubtype.consulting}),
    ContractType.service: frozenset(
        {ContractSubtype.technical_service, ContractSubtype.technical_training, ContractSubtype.technical_intermediary}
    ),
}


class ContractStatus(StrEnum):
    draft = "draft"
    signed = "signed"
    registered = "registered"
    performing = "performing"
    completed = "completed"
    terminated = "terminated"


# Every move of the lifecycle. Signing (/sign), registration (/register), the first payment and
# completion (the seller claims, the buyer confirms) have their own paths; ``MANUAL_TRANSITIONS`` is
# what ``/transitions`` accepts and what a contract's ``allowed_transitions`` lists.
TRANSITIONS: dict[ContractStatus, tuple[ContractStatus, ...]] = {
    ContractStatus.draft: (ContractStatus.signed, ContractStatus.terminated),
    ContractStatus.signed: (ContractStatus.registered, ContractStatus.performing, ContractStatus.terminated),
    ContractStatus.registered: (ContractStatus.performing, ContractStatus.terminated),
    ContractStatus.performing: (ContractStatus.completed, ContractStatus.terminated),
    ContractStatus.completed: (),
    ContractStatus.terminated: (),
}

# 认定登记 is for tax relief and statistics and does not hold up performance: a signed contract is
# paid and performed before, during or after it. Registration is the ``registered_at`` record;
# the ``registered`` status only marks a signed contract registered before its first payment.
REGISTRABLE = (ContractStatus.signed, ContractStatus.performing, ContractStatus.completed)

MANUAL_TRANSITIONS: dict[ContractStatus, tuple[ContractStatus, ...]] = {
    ContractStatus.draft: (ContractStatus.terminated,),
    ContractStatus.signed: (ContractStatus.performing, ContractStatus.terminated),
    ContractStatus.registered: (ContractStatus.performing, ContractStatus.terminated),
    ContractStatus.performing: (ContractStatus.terminated,),
    ContractStatus.completed: (),
    ContractStatus.terminated: (),
}


class Contract(SQLModel, table=True):
    __tablename__ = "contracts"
    __table_args__ = (
        CheckConstraint(
            "technology_income_fen >= 0 AND technology_income_fen <= total_fen", name="income_within_total"
        ),
        CheckConstraint("total_fen > 0", name="total_positive"),
        CheckConstraint("seller_org_id <> buyer_org_id", name="two_parties"),
    )

    id: int | None = Field(default=None, primary_key=True)
    deal_id: int | None = Field(default=None, foreign_key="deals.id", index=True, ondelete="SET NULL")
    title: str = Field(max_length=200)
    type: ContractType = Field(sa_type=str_enum(ContractType, 16), nullable=False)
    subtype: ContractSubtype = Field(sa_type=str_enum(ContractSubtype, 32), nullable=False)
    field: str | None = Field(default=None, max_length=32, description="技术领域代码")
    seller_org_id: int = Field(foreign_key="organizations.id", index=True, ondelete="RESTRICT")
    buyer_org_id: int = Field(foreign_key="organizations.id", index=True, ondelete="RESTRICT")
    seller_region: str = Field(max_length=6, index=True)
    buyer_region: str = Field(max_length=6)
    seller_kind: OrganizationKind = Field(sa_type=str_enum(OrganizationKind, 16), nullable=False)
    buyer_kind: OrganizationKind = Field(sa_type=str_enum(OrganizationKind, 16), nullable=False)
    total_fen: int = Field(description="合同成交额", sa_type=BigInteger)
    technology_income_fen: int = Field(description="技术交易额 (技术性收入)", sa_type=BigInteger)
    signed_on: date | None = None
    term_start: date | None = None
    term_end: date | None = None
    status: ContractStatus = Field(
        default=ContractStatus.draft, sa_type=str_enum(ContractStatus, 16), nullable=False, index=True
    )
    seller_signed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    buyer_signed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    seller_signed_digest: str | None = Field(default=None, max_length=64, description="卖方签署时条款的摘要")
    buyer_signed_digest: str | None = Field(default=None, max_length=64, description="买方签署时条款的摘要")
    registration_requested_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    registration_number: str | None = Field(default=None, max_length=16, unique=True)
    registered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    registered_by: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    registered_digest: str | None = Field(default=None, max_length=64, description="认定登记的条款摘要")
    registration_revision: int = Field(default=0, description="登记更正后重新出具的次数")
    completion_claimed_at: datetime | None = Field(
        default=None, sa_type=UTCDateTime, description="卖方声明履行完毕的时间"
    )
    completion_due_at: datetime | None = Field(
        default=None, sa_type=UTCDateTime, description="买方确认或提出异议的截止时间"
    )
    service_invention: bool = Field(default=False, description="职务科技成果")
    reward_rate_bp: int | None = Field(default=None, description="成果完成人奖励比例 (基点)")
    reward_rule: str | None = Field(default=None, max_length=32)
    inventors: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_by: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class ContractAchievement(SQLModel, table=True):
    __tablename__ = "contract_achievements"

    contract_id: int = Field(foreign_key="contracts.id", primary_key=True, ondelete="CASCADE")
    achievement_id: int = Field(foreign_key="achievements.id", primary_key=True, ondelete="RESTRICT")


class MilestoneStatus(StrEnum):
    pending = "pending"
    paying = "paying"
    paid = "paid"
    refunded = "refunded"


class Milestone(SQLModel, table=True):
    __tablename__ = "contract_milestones"
    __table_args__ = (UniqueConstraint("contract_id", "seq"), CheckConstraint("amount_fen > 0", name="amount_positive"))

    id: int | None = Field(default=None, primary_key=True)
    contract_id: int = Field(foreign_key="contracts.id", index=True, ondelete="CASCADE")
    seq: int
    title: str = Field(max_length=200)
    amount_fen: int = Field(sa_type=BigInteger)
    due_on: date | None = None
    status: MilestoneStatus = Field(
        default=MilestoneStatus.pending, sa_type=str_enum(MilestoneStatus, 16), nullable=False
    )
    paid_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
