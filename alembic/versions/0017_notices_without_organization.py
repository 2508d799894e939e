"""notices without an organization: registrars (region and platform admins) and linked inventors

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 04:00:00.000000

Registrars belong to no organization, so a user's notification and its e-mail push may have none.
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("user_notifications", "notification_deliveries")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch_op:
            batch_op.alter_column("organization_id", existing_type=sa.Integer(), nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM notification_deliveries WHERE organization_id IS NULL")
    op.execute("DELETE FROM user_notifications WHERE organization_id IS NULL")
    for table in TABLES:
        with op.batch_alter_table(table) as batch_op:
            batch_op.alter_column("organization_id", existing_type=sa.Integer(), nullable=False)
