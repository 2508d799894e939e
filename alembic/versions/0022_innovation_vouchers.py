"""innovation vouchers (科技创新券): providers, vouchers, their ledger, spends and redemptions

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06 05:00:00.000000

A voucher keeps five balances (issued, held, spent, redeemed, expired) under a CHECK that they sum to
its face value; ``voucher_entries`` is the append-only ledger of moves between them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATES = ("issued", "held", "spent", "redeemed", "expired")
MOVES = ("issue", "accept", "spend", "redeem", "expire", "void", "void_lapsed")


def _text(name: str, length: int, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sqlmodel.sql.sqltypes.AutoString(length=length), nullable=nullable)


def _when(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _fen(name: str) -> sa.Column:
    return sa.Column(name, sa.BigInteger(), nullable=False)


def _fk(table: str, column: str, target: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete=ondelete
    )


def _index(table: str, *columns: str) -> None:
    with op.batch_alter_table(table, schema=None) as batch_op:
        for column in columns:
            batch_op.create_index(batch_op.f(f"ix_{table}_{column}"), [column], unique=False)


def upgrade() -> None:
    op.create_table(
        "voucher_providers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        _text("region", 6),
        _text("categories", 200),
        sa.Column("listed_by", sa.Integer(), nullable=True),
        _when("listed_at"),
        _when("delisted_at", nullable=True),
        _fk("voucher_providers", "organization_id", "organizations", "RESTRICT"),
        _fk("voucher_providers", "listed_by", "users", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_voucher_providers")),
        sa.UniqueConstraint("organization_id", name=op.f("uq_voucher_providers_organization_id")),
    )
    _index("voucher_providers", "region")
    op.create_table(
        "vouchers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        _text("region", 6),
        _text("budget_region", 6),
        sa.Column("year", sa.Integer(), nullable=False),
        _text("sme_number", 64),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=False),
        _fen("face_fen"),
        _fen("issued_fen"),
        _fen("held_fen"),
        _fen("spent_fen"),
        _fen("redeemed_fen"),
        _fen("expired_fen"),
        sa.Column("issued_by", sa.Integer(), nullable=True),
        _when("issued_at"),
        _when("accepted_at", nullable=True),
        _when("expired_at", nullable=True),
        _fk("vouchers", "organization_id", "organizations", "RESTRICT"),
        _fk("vouchers", "issued_by", "users", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vouchers")),
        sa.CheckConstraint("face_fen > 0", name=op.f("ck_vouchers_face_positive")),
        sa.CheckConstraint(
            "issued_fen >= 0 AND held_fen >= 0 AND spent_fen >= 0 AND redeemed_fen >= 0 AND expired_fen >= 0",
            name=op.f("ck_vouchers_balances_nonnegative"),
        ),
        sa.CheckConstraint(
            "issued_fen + held_fen + spent_fen + redeemed_fen + expired_fen = face_fen",
            name=op.f("ck_vouchers_conserved"),
        ),
    )
    _index("vouchers", "organization_id", "region", "year", "valid_until", "expired_at")
    op.create_table(
        "voucher_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("voucher_id", sa.Integer(), nullable=False),
        sa.Column("move", sa.Enum(*MOVES, name="move", native_enum=False, length=16), nullable=False),
        sa.Column("from_state", sa.Enum(*STATES, name="voucherstate", native_enum=False, length=16), nullable=True),
        sa.Column("to_state", sa.Enum(*STATES, name="voucherstate", native_enum=False, length=16), nullable=False),
        _fen("amount_fen"),
        _text("ref", 80),
        sa.Column("actor_user_id", sa.Integer(), nullable=True),
        _when("created_at"),
        _fk("voucher_entries", "voucher_id", "vouchers", "RESTRICT"),
        _fk("voucher_entries", "actor_user_id", "users", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_voucher_entries")),
        sa.UniqueConstraint("ref", name=op.f("uq_voucher_entries_ref")),
        sa.CheckConstraint("amount_fen > 0", name=op.f("ck_voucher_entries_amount_positive")),
    )
    _index("voucher_entries", "voucher_id")
    op.create_table(
        "voucher_redemptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider_org_id", sa.Integer(), nullable=False),
        _fen("amount_fen"),
        sa.Column("spends", sa.Integer(), nullable=False),
        _text("idempotency_key", 64),
        _text("payout_id", 64, nullable=True),
        sa.Column("payout_version", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("pending", "paid", "failed", name="redemptionstatus", native_enum=False, length=16),
            nullable=False,
        ),
        _text("failure", 200, nullable=True),
        sa.Column("requested_by", sa.Integer(), nullable=True),
        _when("created_at"),
        _when("settled_at", nullable=True),
        _fk("voucher_redemptions", "provider_org_id", "organizations", "RESTRICT"),
        _fk("voucher_redemptions", "requested_by", "users", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_voucher_redemptions")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_voucher_redemptions_idempotency_key")),
        sa.UniqueConstraint("payout_id", name=op.f("uq_voucher_redemptions_payout_id")),
        sa.CheckConstraint("amount_fen > 0", name=op.f("ck_voucher_redemptions_amount_positive")),
    )
    _index("voucher_redemptions", "provider_org_id")
    op.create_table(
        "voucher_spends",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("voucher_id", sa.Integer(), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("milestone_id", sa.Integer(), nullable=False),
        sa.Column("provider_org_id", sa.Integer(), nullable=False),
        _text("category", 32),
        _fen("amount_fen"),
        _fen("technology_income_fen"),
        sa.Column("redemption_id", sa.Integer(), nullable=True),
        sa.Column("spent_by", sa.Integer(), nullable=True),
        _when("created_at"),
        _when("voided_at", nullable=True),
        _fk("voucher_spends", "voucher_id", "vouchers", "RESTRICT"),
        _fk("voucher_spends", "contract_id", "contracts", "RESTRICT"),
        _fk("voucher_spends", "milestone_id", "contract_milestones", "RESTRICT"),
        _fk("voucher_spends", "provider_org_id", "organizations", "RESTRICT"),
        sa.ForeignKeyConstraint(
            ["redemption_id"],
            ["voucher_redemptions.id"],
            name=op.f("fk_voucher_spends_redemption_id_voucher_redemptions"),
        ),
        _fk("voucher_spends", "spent_by", "users", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_voucher_spends")),
        sa.UniqueConstraint("milestone_id", name=op.f("uq_voucher_spends_milestone_id")),
        sa.CheckConstraint("amount_fen > 0", name=op.f("ck_voucher_spends_amount_positive")),
    )
    _index("voucher_spends", "voucher_id", "contract_id", "provider_org_id", "redemption_id")


def downgrade() -> None:
    for table in ("voucher_spends", "voucher_redemptions", "voucher_entries", "vouchers", "voucher_providers"):
        op.drop_table(table)
