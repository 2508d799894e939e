"""auctions: lots, bids, the live stream's events, deposits and the deposit ledger

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 05:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "auctions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("achievement_id", sa.Integer(), nullable=False),
        sa.Column("seller_org_id", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column(
            "contract_type",
            sa.Enum(
                "development",
                "transfer",
                "license",
                "consulting",
                "service",
                name="contracttype",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column(
            "contract_subtype",
            sa.Enum(
                "commissioned_development",
                "cooperative_development",
                "patent_right",
                "patent_application_right",
                "technical_secret",
                "exclusive_license",
                "sole_license",
                "ordinary_license",
                "technical_secret_license",
                "consulting",
                "technical_service",
                "technical_training",
                "technical_intermediary",
                name="contractsubtype",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("start_price_fen", sa.BigInteger(), nullable=False),
        sa.Column("reserve_fen", sa.BigInteger(), nullable=False),
        sa.Column("increment_fen", sa.BigInteger(), nullable=False),
        sa.Column("deposit_fen", sa.BigInteger(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("scheduled_end_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("extension_minutes", sa.Integer(), nullable=False),
        sa.Column("sign_days", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "live", "unsold", "awarded", "contracted", "failed", name="auctionstatus", native_enum=False, length=16
            ),
            nullable=False,
        ),
        sa.Column("current_price_fen", sa.BigInteger(), nullable=True),
        sa.Column("bid_count", sa.Integer(), nullable=False),
        sa.Column("event_seq", sa.Integer(), nullable=False),
        sa.Column("leader_org_id", sa.Integer(), nullable=True),
        sa.Column("winner_bid_id", sa.Integer(), nullable=True),
        sa.Column("winner_org_id", sa.Integer(), nullable=True),
        sa.Column("price_fen", sa.BigInteger(), nullable=True),
        sa.Column("contract_id", sa.Integer(), nullable=True),
        sa.Column("runner_up_offered", sa.Boolean(), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sign_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("ends_at > starts_at", name="times"),
        sa.CheckConstraint("start_price_fen > 0 AND increment_fen > 0 AND deposit_fen > 0", name="amounts"),
        sa.ForeignKeyConstraint(["achievement_id"], ["achievements.id"], ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["contract_id"], ["contracts.id"], ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["leader_org_id"], ["organizations.id"], ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["seller_org_id"], ["organizations.id"], ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["winner_org_id"], ["organizations.id"], ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("auctions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_auctions_achievement_id"), ["achievement_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_auctions_ends_at"), ["ends_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_auctions_seller_org_id"), ["seller_org_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_auctions_sign_due_at"), ["sign_due_at"], unique=False)

    op.create_table(
        "auction_bids",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("auction_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("idempotency_key", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["auction_id"], ["auctions.id"], ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("auction_id", "amount_fen", name="uq_auction_bid_amount"),
        sa.UniqueConstraint("auction_id", "organization_id", "idempotency_key", name="uq_auction_bid_key"),
        sa.UniqueConstraint("auction_id", "seq", name="uq_auction_bid_seq"),
    )
    with op.batch_alter_table("auction_bids", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_auction_bids_auction_id"), ["auction_id"], unique=False)

    op.create_table(
        "auction_deposits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("auction_id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "held",
                "refund_due",
                "awaiting_signature",
                "refunded",
                "credited",
                "forfeited",
                "failed",
                name="depositstatus",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("idempotency_key", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("provider_intent_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("provider_version", sa.Integer(), nullable=False),
        sa.Column("credited_contract_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["auction_id"], ["auctions.id"], ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["credited_contract_id"], ["contracts.id"], ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("auction_id", "organization_id", name="uq_auction_deposit_org"),
        sa.UniqueConstraint("idempotency_key"),
        sa.UniqueConstraint("provider_intent_id"),
    )
    with op.batch_alter_table("auction_deposits", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_auction_deposits_auction_id"), ["auction_id"], unique=False)

    op.create_table(
        "auction_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("auction_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["auction_id"], ["auctions.id"], ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("auction_id", "seq", name="uq_auction_event_seq"),
    )
    op.create_table(
        "auction_deposit_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("deposit_id", sa.Integer(), nullable=False),
        sa.Column("auction_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("paid", "refunded", "credited", "forfeited", name="ledgerkind", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("reference", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["auction_id"], ["auctions.id"], ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["deposit_id"], ["auction_deposits.id"], ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("deposit_id", "kind", name="uq_deposit_entry_kind"),
    )
    with op.batch_alter_table("auction_deposit_entries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_auction_deposit_entries_auction_id"), ["auction_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_auction_deposit_entries_deposit_id"), ["deposit_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("auction_deposit_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_auction_deposit_entries_deposit_id"))
        batch_op.drop_index(batch_op.f("ix_auction_deposit_entries_auction_id"))

    op.drop_table("auction_deposit_entries")
    op.drop_table("auction_events")
    with op.batch_alter_table("auction_deposits", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_auction_deposits_auction_id"))

    op.drop_table("auction_deposits")
    with op.batch_alter_table("auction_bids", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_auction_bids_auction_id"))

    op.drop_table("auction_bids")
    with op.batch_alter_table("auctions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_auctions_sign_due_at"))
        batch_op.drop_index(batch_op.f("ix_auctions_seller_org_id"))
        batch_op.drop_index(batch_op.f("ix_auctions_ends_at"))
        batch_op.drop_index(batch_op.f("ix_auctions_achievement_id"))

    op.drop_table("auctions")
