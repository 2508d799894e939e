"""后补助 claims, their contract lines (each contract claimed once: a unique column) and their history."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint
from sqlmodel import Field, SQLModel

from core.types import UTCDateTime, str_enum, utcnow


class ClaimStatus(StrEnum):
    draft = "draft"  # built by the applicant, amounts computed, not yet sent
    submitted = "submitted"  # waiting for the 盟市 review
    region_approved = "region_approved"  # 盟市 recommended it (perhaps for less): waiting for 科技厅
    approved = "approved"  # 科技厅 approved; the budget is reserved
    disbursing = "disbursing"  # the payout was sent to the provider
    paid = "paid"  # the provider paid it out; the reservation is disbursed
    payout_failed = "payout_failed"  # the provider could not pay; still reserved, may be retried
    refused = "refused"  # by the 盟市 or the 科技厅; its contracts may be claimed again
    withdrawn = "withdrawn"  # by the applicant before approval; its contracts may be claimed again


OPEN = (ClaimStatus.draft, ClaimStatus.submitted, ClaimStatus.region_approved)
CLOSED_WITHOUT_MONEY = (ClaimStatus.refused, ClaimStatus.withdrawn)


class SubsidyClaim(SQLModel, table=True):
    __tablename__ = "subsidy_claims"
    __table_args__ = (
        CheckConstraint("claimed_fen >= 0", name="subsidy_claim_claimed_nonnegative"),
        CheckConstraint(
            "approved_fen IS NULL OR (approved_fen >= 0 AND approved_fen <= claimed_fen)",
            name="subsidy_claim_approved_within_claimed",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    applicant_org_id: int = Field(foreign_key="organizations.id", index=True, ondelete="RESTRICT")
    side: str = Field(max_length=8, description="buyer | seller")
    region_code: str = Field(max_length=6, index=True, description="申请单位所在地区 (盟市审核范围)")
    year: int = Field(index=True, description="合同登记年度 = 预算年度")
    rule_code: str = Field(max_length=32)
    budget_region_code: str = Field(max_length=6, description="付款预算: 150000 科技厅, 或盟市")
    claimed_fen: int = Field(sa_type=BigInteger, description="按规则计算的申请金额")
    recommended_fen: int | None = Field(default=None, sa_type=BigInteger, description="盟市审核建议金额")
    approved_fen: int | None = Field(default=None, sa_type=BigInteger, description="科技厅核定金额 (已预留)")
    status: ClaimStatus = Field(
        default=ClaimStatus.draft, sa_type=str_enum(ClaimStatus, 16), nullable=False, index=True
    )
    payee_name: str = Field(max_length=100)
    payee_account: str = Field(max_length=40)
    payout_attempt: int = Field(default=0)
    payout_id: str | None = Field(default=None, max_length=64, unique=True)
    payout_version: int = Field(default=0)
    created_by: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)

    @property
    def payout_key(self) -> str:
        return f"post-subsidy-{self.id}-{self.payout_attempt}"


class ClaimLine(SQLModel, table=True):
    """One contract of a claim. ``active_contract_id`` is unique: while a claim that is not refused or
    withdrawn holds the contract, no other claim can (the database says so, whatever the race)."""

    __tablename__ = "subsidy_claim_lines"

    id: int | None = Field(default=None, primary_key=True)
    claim_id: int = Field(foreign_key="subsidy_claims.id", index=True, ondelete="RESTRICT")
    contract_id: int = Field(foreign_key="contracts.id", index=True, ondelete="RESTRICT")
    active_contract_id: int | None = Field(
        default=None, foreign_key="contracts.id", unique=True, ondelete="RESTRICT", description="申报占用"
    )
    registration_number: str | None = Field(default=None, max_length=16)
    registered_on: str = Field(max_length=10, description="登记日期 (Asia/Shanghai), 决定适用规则")
    technology_income_fen: int = Field(sa_type=BigInteger)
    rate_bp: int
    amount_fen: int = Field(sa_type=BigInteger)


class ClaimEvent(SQLModel, table=True):
    """The claim's status history, append-only: every submission, review, refusal, approval, payout."""

    __tablename__ = "subsidy_claim_events"

    id: int | None = Field(default=None, primary_key=True)
    claim_id: int = Field(foreign_key="subsidy_claims.id", index=True, ondelete="RESTRICT")
    from_status: str | None = Field(default=None, max_length=16)
    to_status: str = Field(max_length=16)
    amount_fen: int | None = Field(default=None, sa_type=BigInteger)
    reason: str | None = Field(default=None, max_length=500)
    actor_user_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
