"""policy budgets and their ledger; post-transaction subsidy (后补助) claims

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06 05:00:00.000000

``subsidy_budgets`` (one row per region, year and instrument: post_subsidy, voucher) with the CHECK
that reserved + disbursed never exceed the total, and ``subsidy_budget_entries``, the ledger of moves.
``subsidy_claims`` with their lines (``active_contract_id`` unique: a contract is held by one claim at
a time) and their status history ``subsidy_claim_events``.
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
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
    _claims()


CLAIM_STATUSES = (
    "draft",
    "submitted",
    "region_approved",
    "approved",
    "disbursing",
    "paid",
    "payout_failed",
    "refused",
    "withdrawn",
)


def _claims() -> None:
    op.create_table(
        "subsidy_claims",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "applicant_org_id", sa.Integer(), sa.ForeignKey("organizations.id", ondelete="RESTRICT"), nullable=False
        ),
        sa.Column("side", sa.String(length=8), nullable=False),
        sa.Column("region_code", sa.String(length=6), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("rule_code", sa.String(length=32), nullable=False),
        sa.Column("budget_region_code", sa.String(length=6), nullable=False),
        sa.Column("claimed_fen", sa.BigInteger(), nullable=False),
        sa.Column("recommended_fen", sa.BigInteger(), nullable=True),
        sa.Column("approved_fen", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.Enum(*CLAIM_STATUSES, name="claimstatus", native_enum=False, length=16), nullable=False),
        sa.Column("payee_name", sa.String(length=100), nullable=False),
        sa.Column("payee_account", sa.String(length=40), nullable=False),
        sa.Column("payout_attempt", sa.Integer(), nullable=False),
        sa.Column("payout_id", sa.String(length=64), nullable=True, unique=True),
        sa.Column("payout_version", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
        _when("created_at"),
        _when("updated_at"),
        sa.CheckConstraint("claimed_fen >= 0", name="subsidy_claim_claimed_nonnegative"),
        sa.CheckConstraint(
            "approved_fen IS NULL OR (approved_fen >= 0 AND approved_fen <= claimed_fen)",
            name="subsidy_claim_approved_within_claimed",
        ),
    )
    for column in ("applicant_org_id", "region_code", "year", "status"):
        op.create_index(f"ix_subsidy_claims_{column}", "subsidy_claims", [column])
    op.create_table(
        "subsidy_claim_lines",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("claim_id", sa.Integer(), sa.ForeignKey("subsidy_claims.id", ondelete="RESTRICT"), nullable=False),
        sa.Column("contract_id", sa.Integer(), sa.ForeignKey("contracts.id", ondelete="RESTRICT"), nullable=False),
        # Unique: while a claim that is not refused or withdrawn holds a contract, no other claim can.
        sa.Column(
            "active_contract_id",
            sa.Integer(),
            sa.ForeignKey("contracts.id", ondelete="RESTRICT"),
            nullable=True,
            unique=True,
        ),
        sa.Column("registration_number", sa.String(length=16), nullable=True),
        sa.Column("registered_on", sa.String(length=10), nullable=False),
        sa.Column("technology_income_fen", sa.BigInteger(), nullable=False),
        sa.Column("rate_bp", sa.Integer(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_subsidy_claim_lines_claim_id", "subsidy_claim_lines", ["claim_id"])
    op.create_index("ix_subsidy_claim_lines_contract_id", "subsidy_claim_lines", ["contract_id"])
    op.create_table(
        "subsidy_claim_events",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("claim_id", sa.Integer(), sa.ForeignKey("subsidy_claims.id", ondelete="RESTRICT"), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("actor_user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
        _when("at"),
    )
    op.create_index("ix_subsidy_claim_events_claim_id", "subsidy_claim_events", ["claim_id"])


def downgrade() -> None:
    op.drop_index("ix_subsidy_claim_events_claim_id", table_name="subsidy_claim_events")
    op.drop_table("subsidy_claim_events")
    op.drop_index("ix_subsidy_claim_lines_contract_id", table_name="subsidy_claim_lines")
    op.drop_index("ix_subsidy_claim_lines_claim_id", table_name="subsidy_claim_lines")
    op.drop_table("subsidy_claim_lines")
    for column in ("applicant_org_id", "region_code", "year", "status"):
        op.drop_index(f"ix_subsidy_claims_{column}", table_name="subsidy_claims")
    op.drop_table("subsidy_claims")
    op.drop_index("ix_subsidy_budget_entries_budget_id", table_name="subsidy_budget_entries")
    op.drop_table("subsidy_budget_entries")
    op.drop_table("subsidy_budgets")
