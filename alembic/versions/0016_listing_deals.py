"""listing deals: the contracts in force on an achievement (its price held) and its completed licences

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 03:30:00.000000

``achievements.status`` is VARCHAR(16) without a constraint: the new ``transferred`` needs no change.
Contracts already signed and not ended hold their achievements' prices; completed licences are listed
and completed transfers close their achievements (the index check takes them out of search).
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

IN_FORCE = ("signed", "registered", "performing")
TRANSFERS = ("patent_right", "patent_application_right", "technical_secret")
LICENCES = ("exclusive_license", "sole_license", "ordinary_license", "technical_secret_license")


def upgrade() -> None:
    with op.batch_alter_table("achievements") as batch_op:
        batch_op.add_column(sa.Column("licences", sa.JSON(), nullable=False, server_default=sa.text("'[]'")))
        batch_op.add_column(sa.Column("contracts_in_force", sa.JSON(), nullable=False, server_default=sa.text("'[]'")))
    with op.batch_alter_table("achievements") as batch_op:
        batch_op.alter_column("licences", server_default=None)
        batch_op.alter_column("contracts_in_force", server_default=None)
    _backfill()


def _backfill() -> None:
    """Existing contracts, read with plain SQL (no project imports in migrations)."""
    connection = op.get_bind()
    links = connection.execute(
        sa.text(
            "SELECT ca.achievement_id, c.id, c.status, c.subtype, c.updated_at FROM contract_achievements ca "
            "JOIN contracts c ON c.id = ca.contract_id ORDER BY c.id"
        )
    ).all()
    held: dict[int, list[int]] = {}
    licences: dict[int, list[dict[str, object]]] = {}
    transferred: set[int] = set()
    for achievement_id, contract_id, status, subtype, updated_at in links:
        if status in IN_FORCE:
            held.setdefault(achievement_id, []).append(contract_id)
        elif status == "completed" and subtype in LICENCES:
            granted = str(updated_at)[:10]
            licences.setdefault(achievement_id, []).append(
                {"contract_id": contract_id, "subtype": subtype, "granted_on": granted}
            )
        elif status == "completed" and subtype in TRANSFERS:
            transferred.add(achievement_id)
    achievements = sa.table(
        "achievements",
        sa.column("id", sa.Integer),
        sa.column("status", sa.String),
        sa.column("licences", sa.JSON),
        sa.column("contracts_in_force", sa.JSON),
    )
    for achievement_id in set(held) | set(licences) | transferred:
        values: dict[str, object] = {
            "contracts_in_force": held.get(achievement_id, []),
            "licences": licences.get(achievement_id, []),
        }
        if achievement_id in transferred:
            values["status"] = "transferred"
        connection.execute(achievements.update().where(achievements.c.id == achievement_id).values(**values))


def downgrade() -> None:
    op.execute("UPDATE achievements SET status = 'closed' WHERE status = 'transferred'")
    with op.batch_alter_table("achievements") as batch_op:
        batch_op.drop_column("contracts_in_force")
        batch_op.drop_column("licences")
