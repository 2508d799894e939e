"""The reward ledger: deduction lines, append-only distributions with one line per beneficiary, and the
accounts linked to a contract's inventors (by an invitation the seller sends)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, UniqueConstraint
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


class InvitationChannel(StrEnum):
    email = "email"
    phone = "phone"


class InventorLink(SQLModel, table=True):
    """One inventor entry of a contract (its position in the contract's list): the account linked to it,
    and the invitation the seller sent last (only the code's SHA-256 is kept).

    One row per entry, so one account per entry; a new invitation overwrites the last one, and the
    account it links replaces the earlier one when it is accepted. An account holds at most one entry
    of a contract.
    """

    __tablename__ = "reward_inventor_links"
    __table_args__ = (UniqueConstraint("contract_id", "position"), UniqueConstraint("contract_id", "user_id"))

    id: int | None = Field(default=None, primary_key=True)
    contract_id: int = Field(foreign_key="contracts.id", index=True, ondelete="RESTRICT")
    position: int = Field(description="1.. in the contract's order, as on the distribution lines")
    name: str = Field(max_length=100)
    user_id: int | None = Field(default=None, foreign_key="users.id", index=True, ondelete="SET NULL")
    linked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    channel: InvitationChannel = Field(sa_type=str_enum(InvitationChannel, 8), nullable=False)
    address: str = Field(max_length=254, description="the e-mail address or mobile number invited")
    code_digest: str = Field(max_length=64, unique=True)
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    invited_by: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    invited_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    accepted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
