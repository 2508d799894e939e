"""The reward ledger: deduction lines, and append-only distributions with one line per beneficiary."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger
from sqlmodel import Field, SQLModel

from contracts.reward.rules import DeductionKind
from core.types import UTCDateTime, str_enum, utcnow


class Deduction(SQLModel, table=True):
    """One explicit line subtracted from income to get 净收入."""

    __tablename__ = "reward_deductions"

    id: int | None = Field(default=None, primary_key=True)
    contract_id: int = Field(foreign_key="contracts.id", index=True, ondelete="RESTRICT")
    kind: DeductionKind = Field(sa_type=str_enum(DeductionKind, 32), nullable=False)
    description: str = Field(max_length=200)
    amount_fen: int = Field(sa_type=BigInteger)
    created_by: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class DistributionSource(StrEnum):
    payment = "payment"
    refund = "refund"


class Distribution(SQLModel, table=True):
    """One received payment's split (or one refund's reversal, with negative amounts). Never updated."""

    __tablename__ = "reward_distributions"

    id: int | None = Field(default=None, primary_key=True)
    contract_id: int = Field(foreign_key="contracts.id", index=True, ondelete="RESTRICT")
    payment_id: int = Field(foreign_key="payments.id", index=True, ondelete="RESTRICT")
    source: DistributionSource = Field(sa_type=str_enum(DistributionSource, 16), nullable=False)
    source_ref: str = Field(max_length=80, unique=True, description="payment:<id> or refund:<provider refund id>")
    gross_fen: int = Field(sa_type=BigInteger)
    deductions_fen: int = Field(sa_type=BigInteger)
    net_fen: int = Field(sa_type=BigInteger)
    team_fen: int = Field(sa_type=BigInteger)
    institution_fen: int = Field(sa_type=BigInteger)
    rate_bp: int
    rule: str = Field(max_length=32)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class BeneficiaryKind(StrEnum):
    institution = "institution"
    inventor = "inventor"


class DistributionLine(SQLModel, table=True):
    __tablename__ = "reward_distribution_lines"

    id: int | None = Field(default=None, primary_key=True)
    distribution_id: int = Field(foreign_key="reward_distributions.id", index=True, ondelete="RESTRICT")
    contract_id: int = Field(foreign_key="contracts.id", index=True, ondelete="RESTRICT")
    beneficiary: BeneficiaryKind = Field(sa_type=str_enum(BeneficiaryKind, 16), nullable=False)
    position: int = Field(description="0 for the institution, 1.. for inventors in the contract's order")
    name: str = Field(max_length=100)
    organization_id: int | None = Field(default=None, foreign_key="organizations.id", ondelete="RESTRICT")
    user_id: int | None = Field(default=None, foreign_key="users.id", index=True, ondelete="SET NULL")
    amount_fen: int = Field(sa_type=BigInteger)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
