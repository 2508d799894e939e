"""inventor links: the account linked to each inventor entry of a contract, and the invitation sent

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 02:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reward_inventor_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "channel",
            sa.Enum("email", "phone", name="invitationchannel", native_enum=False, length=8),
            nullable=False,
        ),
        sa.Column("address", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("code_digest", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("invited_by", sa.Integer(), nullable=True),
        sa.Column("invited_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["contract_id"],
            ["contracts.id"],
            name=op.f("fk_reward_inventor_links_contract_id_contracts"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_reward_inventor_links_user_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["invited_by"], ["users.id"], name=op.f("fk_reward_inventor_links_invited_by_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reward_inventor_links")),
        sa.UniqueConstraint("code_digest", name=op.f("uq_reward_inventor_links_code_digest")),
        sa.UniqueConstraint("contract_id", "position", name=op.f("uq_reward_inventor_links_contract_id_position")),
        sa.UniqueConstraint("contract_id", "user_id", name=op.f("uq_reward_inventor_links_contract_id_user_id")),
    )
    with op.batch_alter_table("reward_inventor_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reward_inventor_links_contract_id"), ["contract_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_reward_inventor_links_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("reward_inventor_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reward_inventor_links_user_id"))
        batch_op.drop_index(batch_op.f("ix_reward_inventor_links_contract_id"))
    op.drop_table("reward_inventor_links")
