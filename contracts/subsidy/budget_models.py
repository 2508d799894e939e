"""Budget rows (one per region, year and instrument) and the append-only ledger of their moves."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, UniqueConstraint
from sqlmodel import Field, SQLModel

from core.types import UTCDateTime, str_enum, utcnow


class Instrument(StrEnum):
    post_subsidy = "post_subsidy"  # 技术交易后补助
    voucher = "voucher"  # 科技创新券


class EntryKind(StrEnum):
    """Each kind moves money from one account of the budget to another (see budget.MOVES)."""

    allocate = "allocate"  # appropriation → available (年度预算下达; a negative amount is a cut)
    reserve = "reserve"  # available → reserved (批准时预留)
    release = "release"  # reserved → available (撤销、拨付失败、退回)
    disburse = "disburse"  # reserved → disbursed (拨付成功)


class SubsidyBudget(SQLModel, table=True):
    """The running balances; the ledger entries are their history and must sum to them."""

    __tablename__ = "subsidy_budgets"
    __table_args__ = (
        UniqueConstraint("region_code", "year", "instrument", name="uq_subsidy_budget"),
        CheckConstraint("reserved_fen >= 0 AND disbursed_fen >= 0", name="subsidy_budget_nonnegative"),
        CheckConstraint("reserved_fen + disbursed_fen <= total_fen", name="subsidy_budget_within_total"),
    )

    id: int | None = Field(default=None, primary_key=True)
    region_code: str = Field(max_length=6, description="GB/T 2260: 150000 = 科技厅 (自治区级), 盟市 code")
    year: int
    instrument: Instrument = Field(sa_type=str_enum(Instrument, 16), nullable=False)
    total_fen: int = Field(default=0, sa_type=BigInteger)
    reserved_fen: int = Field(default=0, sa_type=BigInteger)
    disbursed_fen: int = Field(default=0, sa_type=BigInteger)
    source: str = Field(default="", max_length=500, description="预算来源 (文件或占位说明)")
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)

    @property
    def available_fen(self) -> int:
        return self.total_fen - self.reserved_fen - self.disbursed_fen


class BudgetEntry(SQLModel, table=True):
    """One move; (budget, kind, reference) is unique, so a retried call never moves money twice."""

    __tablename__ = "subsidy_budget_entries"
    __table_args__ = (
        UniqueConstraint("budget_id", "kind", "reference", name="uq_subsidy_budget_entry"),
        CheckConstraint("amount_fen <> 0", name="subsidy_budget_entry_nonzero"),
    )

    id: int | None = Field(default=None, primary_key=True)
    budget_id: int = Field(foreign_key="subsidy_budgets.id", index=True, ondelete="RESTRICT")
    kind: EntryKind = Field(sa_type=str_enum(EntryKind, 16), nullable=False)
    amount_fen: int = Field(sa_type=BigInteger)
    reference: str = Field(max_length=64, description="e.g. post_subsidy_claim:12, voucher:7")
    actor_user_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
