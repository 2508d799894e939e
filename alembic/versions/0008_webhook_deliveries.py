"""webhook delivery state on notifications

Each notification records its push: pending, delivered or failed (dead-lettered after the last
attempt or at once for a refused destination), with the number of attempts, so an organization
sees what happened to its alerts. Existing rows are read from delivered_at / delivery_error.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 21:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUS = sa.Enum("pending", "delivered", "failed", name="deliverystatus", native_enum=False, length=16)


def upgrade() -> None:
    with op.batch_alter_table("notifications") as batch:
        batch.add_column(sa.Column("delivery_status", STATUS, nullable=True))
        batch.add_column(sa.Column("delivery_attempts", sa.Integer(), nullable=False, server_default="0"))
    op.execute("UPDATE notifications SET delivery_status = 'delivered' WHERE delivered_at IS NOT NULL")
    op.execute(
        "UPDATE notifications SET delivery_status = 'failed' WHERE delivered_at IS NULL AND delivery_error IS NOT NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("notifications") as batch:
        batch.drop_column("delivery_attempts")
        batch.drop_column("delivery_status")
