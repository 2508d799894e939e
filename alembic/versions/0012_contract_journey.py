"""contract journey: the seller's completion claim and the buyer's deadline

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 23:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("contracts") as batch:
        batch.add_column(sa.Column("completion_claimed_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("completion_due_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("contracts") as batch:
        batch.drop_column("completion_due_at")
        batch.drop_column("completion_claimed_at")
