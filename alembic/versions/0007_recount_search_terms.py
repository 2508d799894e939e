"""recount search terms

Counts stored before this revision were capped at 1,000 by Meilisearch's maxTotalHits; they are
a cache, so they are dropped and counted again on first use.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 10:40:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("DELETE FROM search_term_counts")


def downgrade() -> None:
    pass
