"""科技创新券: listed service providers, vouchers with their five balances, the append-only ledger of
moves between them, spends on milestones and providers' redemptions (payouts)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import JSON, BigInteger, CheckConstraint, Column
from sqlmodel import Field, SQLModel

from contracts.voucher.ledger import Move, VoucherState
from core.types import UTCDateTime, str_enum, utcnow


class VoucherProvider(SQLModel, table=True):
    """A service provider listed for some categories (服务机构目录); only listed providers may receive vouchers."""

    __tablename__ = "voucher_providers"

    id: int | None = Field(default=None, primary_key=True)
    organization_id: int = Field(foreign_key="organizations.id", unique=True, ondelete="RESTRICT")
    region: str = Field(max_length=6, index=True, description="the provider's own region, for admins' scope")
    categories: str = Field(max_length=200, description="listed categories, comma-framed: ,consulting,testing,")
    listed_by: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    listed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    delisted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Voucher(SQLModel, table=True):
    """One voucher and where each fen of its face value is now (the five balances sum to the face value)."""

    __tablename__ = "vouchers"
    __table_args__ = (
        CheckConstraint("face_fen > 0", name="face_positive"),
        CheckConstraint(
            "issued_fen >= 0 AND held_fen >= 0 AND spent_fen >= 0 AND redeemed_fen >= 0 AND expired_fen >= 0",
            name="balances_nonnegative",
        ),
        CheckConstraint("issued_fen + held_fen + spent_fen + redeemed_fen + expired_fen = face_fen", name="conserved"),
    )

    id: int | None = Field(default=None, primary_key=True)
    organization_id: int = Field(foreign_key="organizations.id", index=True, ondelete="RESTRICT")
    region: str = Field(max_length=6, index=True, description="the holder's 盟市 (or its own code)")
    budget_region: str = Field(max_length=6, description="whose budget pays: 150000 (科技厅) or a 盟市")
    year: int = Field(index=True, description="the budget year")
    sme_number: str = Field(max_length=64, description="科技型中小企业入库登记编号")
    categories: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    valid_until: date = Field(index=True, description="last day it may be spent (Asia/Shanghai)")
    face_fen: int = Field(sa_type=BigInteger)
    issued_fen: int = Field(default=0, sa_type=BigInteger)
    held_fen: int = Field(default=0, sa_type=BigInteger)
    spent_fen: int = Field(default=0, sa_type=BigInteger)
    redeemed_fen: int = Field(default=0, sa_type=BigInteger)
    expired_fen: int = Field(default=0, sa_type=BigInteger)
    issued_by: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    issued_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    accepted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    expired_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)


class VoucherEntry(SQLModel, table=True):
    """One move of the ledger (never updated); ``ref`` is unique, so a retried move is never applied twice."""

    __tablename__ = "voucher_entries"
    __table_args__ = (CheckConstraint("amount_fen > 0", name="amount_positive"),)

    id: int | None = Field(default=None, primary_key=True)
    voucher_id: int = Field(foreign_key="vouchers.id", index=True, ondelete="RESTRICT")
    move: Move = Field(sa_type=str_enum(Move, 16), nullable=False)
    from_state: VoucherState | None = Field(default=None, sa_type=str_enum(VoucherState, 16))
    to_state: VoucherState = Field(sa_type=str_enum(VoucherState, 16), nullable=False)
    amount_fen: int = Field(sa_type=BigInteger)
    ref: str = Field(max_length=80, unique=True)
    actor_user_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class VoucherSpend(SQLModel, table=True):
    """Part of a milestone paid with a voucher (one per milestone); the rest went through the provider.
    Void (``voided_at``) when the milestone will never be paid: its value went back to the voucher."""

    __tablename__ = "voucher_spends"
    __table_args__ = (CheckConstraint("amount_fen > 0", name="amount_positive"),)

    id: int | None = Field(default=None, primary_key=True)
    voucher_id: int = Field(foreign_key="vouchers.id", index=True, ondelete="RESTRICT")
    contract_id: int = Field(foreign_key="contracts.id", index=True, ondelete="RESTRICT")
    milestone_id: int = Field(foreign_key="contract_milestones.id", unique=True, ondelete="RESTRICT")
    provider_org_id: int = Field(foreign_key="organizations.id", index=True, ondelete="RESTRICT")
    category: str = Field(max_length=32)
    amount_fen: int = Field(sa_type=BigInteger)
    technology_income_fen: int = Field(sa_type=BigInteger, description="技术交易额 of the contract, for leverage")
    redemption_id: int | None = Field(default=None, foreign_key="voucher_redemptions.id", index=True)
    spent_by: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    voided_at: datetime | None = Field(default=None, sa_type=UTCDateTime, description="its milestone went unpaid")


class RedemptionStatus(StrEnum):
    pending = "pending"  # payout sent, its outcome not known yet
    paid = "paid"  # the spends are redeemed, the budget disbursed
    failed = "failed"  # the spends are free to be redeemed again


class VoucherRedemption(SQLModel, table=True):
    """A provider's redemption of the spends it received: one payout through the payment provider."""

    __tablename__ = "voucher_redemptions"
    __table_args__ = (CheckConstraint("amount_fen > 0", name="amount_positive"),)

    id: int | None = Field(default=None, primary_key=True)
    provider_org_id: int = Field(foreign_key="organizations.id", index=True, ondelete="RESTRICT")
    amount_fen: int = Field(sa_type=BigInteger)
    spends: int
    idempotency_key: str = Field(max_length=64, unique=True)
    payout_id: str | None = Field(default=None, max_length=64, unique=True)
    payout_version: int = Field(default=0)
    status: RedemptionStatus = Field(
        default=RedemptionStatus.pending, sa_type=str_enum(RedemptionStatus, 16), nullable=False
    )
    failure: str | None = Field(default=None, max_length=200)
    requested_by: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    settled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
