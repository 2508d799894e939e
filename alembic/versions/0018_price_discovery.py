"""pricing modes, agreed-price notices and objections, listings, deal notices, transaction certificates

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 05:00:00.000000

``achievements.pricing_mode`` is NULL until the owner chooses one (协议定价 / 挂牌 / 拍卖).
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _enum(name: str, length: int, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, length=length)


def _created_at() -> sa.Column:
    return sa.Column("created_at", sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    with op.batch_alter_table("achievements") as batch_op:
        batch_op.add_column(
            sa.Column("pricing_mode", _enum("pricingmode", 16, "agreed", "listed", "auction"), nullable=True)
        )

    op.create_table(
        "price_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("achievement_id", sa.Integer(), nullable=False),
        sa.Column("seller_organization_id", sa.Integer(), nullable=False),
        sa.Column("transferee_organization_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("transferee_name", sa.String(length=200), nullable=False),
        sa.Column("price_fen", sa.BigInteger(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("rule", sa.String(length=32), nullable=False),
        sa.Column("status", _enum("noticestatus", 16, "open", "withdrawn"), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        _created_at(),
        sa.CheckConstraint("price_fen > 0", name=op.f("ck_price_notices_price_positive")),
        sa.CheckConstraint("ends_on >= starts_on", name=op.f("ck_price_notices_period_order")),
        sa.ForeignKeyConstraint(
            ["achievement_id"], ["achievements.id"], name=op.f("fk_price_notices_achievement_id_achievements"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["seller_organization_id"], ["organizations.id"],
            name=op.f("fk_price_notices_seller_organization_id_organizations"), ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["transferee_organization_id"], ["organizations.id"],
            name=op.f("fk_price_notices_transferee_organization_id_organizations"), ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_price_notices_created_by_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_price_notices")),
    )  # fmt: skip
    op.create_index(op.f("ix_price_notices_achievement_id"), "price_notices", ["achievement_id"])
    op.create_index(op.f("ix_price_notices_seller_organization_id"), "price_notices", ["seller_organization_id"])

    op.create_table(
        "price_objections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("organization_id", sa.Integer(), nullable=True),
        sa.Column("reasons", sa.String(length=4000), nullable=False),
        sa.Column("status", _enum("objectionstatus", 16, "open", "answered"), nullable=False),
        sa.Column("answer", sa.String(length=4000), nullable=True),
        sa.Column("answered_by", sa.Integer(), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        _created_at(),
        sa.ForeignKeyConstraint(
            ["notice_id"], ["price_notices.id"], name=op.f("fk_price_objections_notice_id_price_notices"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_price_objections_user_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"], ["organizations.id"],
            name=op.f("fk_price_objections_organization_id_organizations"), ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["answered_by"], ["users.id"], name=op.f("fk_price_objections_answered_by_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_price_objections")),
    )  # fmt: skip
    op.create_index(op.f("ix_price_objections_notice_id"), "price_objections", ["notice_id"])
    op.create_index(op.f("ix_price_objections_status"), "price_objections", ["status"])

    op.create_table(
        "price_listings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("achievement_id", sa.Integer(), nullable=False),
        sa.Column("seller_organization_id", sa.Integer(), nullable=False),
        sa.Column("rule", _enum("listingrule", 16, "first_accept", "bidding"), nullable=False),
        sa.Column("price_fen", sa.BigInteger(), nullable=False),
        sa.Column("opens_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closes_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", _enum("pricelistingstatus", 16, "open", "awarded", "lapsed"), nullable=False),
        sa.Column("winner_organization_id", sa.Integer(), nullable=True),
        sa.Column("final_price_fen", sa.BigInteger(), nullable=True),
        sa.Column("awarded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        _created_at(),
        sa.CheckConstraint("price_fen > 0", name=op.f("ck_price_listings_price_positive")),
        sa.ForeignKeyConstraint(
            ["achievement_id"], ["achievements.id"], name=op.f("fk_price_listings_achievement_id_achievements"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["seller_organization_id"], ["organizations.id"],
            name=op.f("fk_price_listings_seller_organization_id_organizations"), ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["winner_organization_id"], ["organizations.id"],
            name=op.f("fk_price_listings_winner_organization_id_organizations"), ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_price_listings_created_by_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_price_listings")),
    )  # fmt: skip
    op.create_index(op.f("ix_price_listings_achievement_id"), "price_listings", ["achievement_id"])
    op.create_index(op.f("ix_price_listings_status"), "price_listings", ["status"])

    op.create_table(
        "price_listing_acceptances",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("listing_id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("bid_fen", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        _created_at(),
        sa.ForeignKeyConstraint(
            ["listing_id"], ["price_listings.id"],
            name=op.f("fk_price_listing_acceptances_listing_id_price_listings"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"], ["organizations.id"],
            name=op.f("fk_price_listing_acceptances_organization_id_organizations"), ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_price_listing_acceptances_user_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_price_listing_acceptances")),
        sa.UniqueConstraint(
            "listing_id", "organization_id", name=op.f("uq_price_listing_acceptances_listing_id_organization_id")
        ),
    )  # fmt: skip
    op.create_index(op.f("ix_price_listing_acceptances_listing_id"), "price_listing_acceptances", ["listing_id"])

    op.create_table(
        "deal_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("achievement_id", sa.Integer(), nullable=False),
        sa.Column("mode", _enum("dealmode", 16, "agreed", "listed", "auction"), nullable=False),
        sa.Column("price_fen", sa.BigInteger(), nullable=False),
        sa.Column("seller_organization_id", sa.Integer(), nullable=False),
        sa.Column("buyer_organization_id", sa.Integer(), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("seller_name", sa.String(length=200), nullable=False),
        sa.Column("buyer_name", sa.String(length=200), nullable=False),
        sa.Column("deal_date", sa.Date(), nullable=False),
        _created_at(),
        sa.CheckConstraint("price_fen > 0", name=op.f("ck_deal_notices_price_positive")),
        sa.ForeignKeyConstraint(
            ["achievement_id"], ["achievements.id"], name=op.f("fk_deal_notices_achievement_id_achievements"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["seller_organization_id"], ["organizations.id"],
            name=op.f("fk_deal_notices_seller_organization_id_organizations"), ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["buyer_organization_id"], ["organizations.id"],
            name=op.f("fk_deal_notices_buyer_organization_id_organizations"), ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["contract_id"], ["contracts.id"], name=op.f("fk_deal_notices_contract_id_contracts"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deal_notices")),
        sa.UniqueConstraint("contract_id", name=op.f("uq_deal_notices_contract_id")),
    )  # fmt: skip
    op.create_index(op.f("ix_deal_notices_achievement_id"), "deal_notices", ["achievement_id"])
    op.create_index(op.f("ix_deal_notices_buyer_organization_id"), "deal_notices", ["buyer_organization_id"])

    op.create_table(
        "transaction_certificates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("deal_notice_id", sa.Integer(), nullable=True),
        sa.Column("mode", _enum("dealmode", 16, "agreed", "listed", "auction"), nullable=False),
        sa.Column("terms_digest", sa.String(length=64), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        _created_at(),
        sa.ForeignKeyConstraint(
            ["contract_id"], ["contracts.id"], name=op.f("fk_transaction_certificates_contract_id_contracts"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["deal_notice_id"], ["deal_notices.id"],
            name=op.f("fk_transaction_certificates_deal_notice_id_deal_notices"), ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transaction_certificates")),
        sa.UniqueConstraint("number", name=op.f("uq_transaction_certificates_number")),
        sa.UniqueConstraint("contract_id", name=op.f("uq_transaction_certificates_contract_id")),
    )  # fmt: skip


def downgrade() -> None:
    op.drop_table("transaction_certificates")
    op.drop_index(op.f("ix_deal_notices_buyer_organization_id"), table_name="deal_notices")
    op.drop_index(op.f("ix_deal_notices_achievement_id"), table_name="deal_notices")
    op.drop_table("deal_notices")
    op.drop_index(op.f("ix_price_listing_acceptances_listing_id"), table_name="price_listing_acceptances")
    op.drop_table("price_listing_acceptances")
    op.drop_index(op.f("ix_price_listings_status"), table_name="price_listings")
    op.drop_index(op.f("ix_price_listings_achievement_id"), table_name="price_listings")
    op.drop_table("price_listings")
    op.drop_index(op.f("ix_price_objections_status"), table_name="price_objections")
    op.drop_index(op.f("ix_price_objections_notice_id"), table_name="price_objections")
    op.drop_table("price_objections")
    op.drop_index(op.f("ix_price_notices_seller_organization_id"), table_name="price_notices")
    op.drop_index(op.f("ix_price_notices_achievement_id"), table_name="price_notices")
    op.drop_table("price_notices")
    with op.batch_alter_table("achievements") as batch_op:
        batch_op.drop_column("pricing_mode")
