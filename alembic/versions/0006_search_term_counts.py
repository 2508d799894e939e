"""search term counts

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "search_term_counts",
        sa.Column("index_uid", sqlmodel.sql.sqltypes.AutoString(length=250), nullable=False),
        sa.Column("term", sqlmodel.sql.sqltypes.AutoString(length=250), nullable=False),
        sa.Column("documents", sa.Integer(), nullable=False),
        sa.Column("counted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("index_uid", "term", name=op.f("pk_search_term_counts")),
    )


def downgrade() -> None:
    op.drop_table("search_term_counts")
