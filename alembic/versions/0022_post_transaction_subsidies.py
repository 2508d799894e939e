"""policy budgets and their ledger; post-transaction subsidy (后补助) claims

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06 05:00:00.000000

``subsidy_budgets`` (one row per region, year and instrument: post_subsidy, voucher) with the CHECK
that reserved + disbursed never exceed the total, and ``subsidy_budget_entries``, the ledger of moves.
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _when(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "subsidy_budgets",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("region_code", sa.String(length=6), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column(
            "instrument",
            sa.Enum("post_subsidy", "voucher", name="instrument", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("total_fen", sa.BigInteger(), nullable=False),
        sa.Column("reserved_fen", sa.BigInteger(), nullable=False),
        sa.Column("disbursed_fen", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.String(length=500), nullable=False),
        _when("updated_at"),
        sa.UniqueConstraint("region_code", "year", "instrument", name="uq_subsidy_budget"),
        sa.CheckConstraint("reserved_fen >= 0 AND disbursed_fen >= 0", name="subsidy_budget_nonnegative"),
        sa.CheckConstraint("reserved_fen + disbursed_fen <= total_fen", name="subsidy_budget_within_total"),
    )
    op.create_table(
        "subsidy_budget_entries",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("budget_id", sa.Integer(), sa.ForeignKey("subsidy_budgets.id", ondelete="RESTRICT"), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("allocate", "reserve", "release", "disburse", name="entrykind", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=False),
        sa.Column("actor_user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
        _when("created_at"),
        sa.UniqueConstraint("budget_id", "kind", "reference", name="uq_subsidy_budget_entry"),
        sa.CheckConstraint("amount_fen <> 0", name="subsidy_budget_entry_nonzero"),
    )
    op.create_index("ix_subsidy_budget_entries_budget_id", "subsidy_budget_entries", ["budget_id"])


def downgrade() -> None:
    op.drop_index("ix_subsidy_budget_entries_budget_id", table_name="subsidy_budget_entries")
    op.drop_table("subsidy_budget_entries")
    op.drop_table("subsidy_budgets")
