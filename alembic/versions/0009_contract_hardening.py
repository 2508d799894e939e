"""signatures and registrations bound to a digest of the contract's terms

Adds the digest each party signed, the digest a registration certified, and the number of times a
registration was re-issued after a registrar's correction. Contracts that exist already are bound
to their terms as they stand (the same digest as ``contracts.contract.terms``, copied here so this
step stays what it was when later code changes).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 21:40:00.000000
"""

import hashlib
import json
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
import sqlmodel

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CONTRACT_TERMS = (
    "title",
    "type",
    "subtype",
    "field",
    "seller_org_id",
    "buyer_org_id",
    "seller_region",
    "buyer_region",
    "seller_kind",
    "buyer_kind",
    "total_fen",
    "technology_income_fen",
    "term_start",
    "term_end",
    "service_invention",
    "reward_rate_bp",
    "reward_rule",
    "inventors",
)
MILESTONE_TERMS = ("seq", "title", "amount_fen", "due_on")
DEDUCTION_TERMS = ("kind", "description", "amount_fen")


def _plain(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return str(value)


def digest(
    contract: dict[str, Any],
    milestones: list[dict[str, Any]],
    deductions: list[dict[str, Any]],
    achievement_ids: list[int],
) -> str:
    doc = {
        "contract": {name: _plain(contract[name]) for name in CONTRACT_TERMS},
        "milestones": sorted(({n: _plain(m[n]) for n in MILESTONE_TERMS} for m in milestones), key=lambda m: m["seq"]),
        "deductions": sorted(
            ({n: _plain(d[n]) for n in DEDUCTION_TERMS} for d in deductions),
            key=lambda d: json.dumps(d, sort_keys=True),
        ),
        "achievement_ids": sorted(int(i) for i in achievement_ids),
    }
    return hashlib.sha256(
        json.dumps(doc, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()
    ).hexdigest()


CONTRACTS = sa.table(
    "contracts",
    sa.column("id", sa.Integer),
    sa.column("title", sa.String),
    sa.column("type", sa.String),
    sa.column("subtype", sa.String),
    sa.column("field", sa.String),
    sa.column("seller_org_id", sa.Integer),
    sa.column("buyer_org_id", sa.Integer),
    sa.column("seller_region", sa.String),
    sa.column("buyer_region", sa.String),
    sa.column("seller_kind", sa.String),
    sa.column("buyer_kind", sa.String),
    sa.column("total_fen", sa.BigInteger),
    sa.column("technology_income_fen", sa.BigInteger),
    sa.column("term_start", sa.Date),
    sa.column("term_end", sa.Date),
    sa.column("service_invention", sa.Boolean),
    sa.column("reward_rate_bp", sa.Integer),
    sa.column("reward_rule", sa.String),
    sa.column("inventors", sa.JSON),
    sa.column("seller_signed_at", sa.DateTime),
    sa.column("buyer_signed_at", sa.DateTime),
    sa.column("registration_number", sa.String),
    sa.column("seller_signed_digest", sa.String),
    sa.column("buyer_signed_digest", sa.String),
    sa.column("registered_digest", sa.String),
)
MILESTONES = sa.table(
    "contract_milestones",
    sa.column("contract_id", sa.Integer),
    sa.column("seq", sa.Integer),
    sa.column("title", sa.String),
    sa.column("amount_fen", sa.BigInteger),
    sa.column("due_on", sa.Date),
)
DEDUCTIONS = sa.table(
    "reward_deductions",
    sa.column("contract_id", sa.Integer),
    sa.column("kind", sa.String),
    sa.column("description", sa.String),
    sa.column("amount_fen", sa.BigInteger),
)
LINKS = sa.table("contract_achievements", sa.column("contract_id", sa.Integer), sa.column("achievement_id", sa.Integer))


def upgrade() -> None:
    with op.batch_alter_table("contracts") as batch:
        batch.add_column(sa.Column("seller_signed_digest", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch.add_column(sa.Column("buyer_signed_digest", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch.add_column(sa.Column("registered_digest", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch.add_column(sa.Column("registration_revision", sa.Integer(), nullable=False, server_default="0"))
    bind = op.get_bind()
    for row in bind.execute(sa.select(CONTRACTS)).mappings().all():
        cid = row["id"]
        milestones = [
            dict(m) for m in bind.execute(sa.select(MILESTONES).where(MILESTONES.c.contract_id == cid)).mappings()
        ]
        deductions = [
            dict(d) for d in bind.execute(sa.select(DEDUCTIONS).where(DEDUCTIONS.c.contract_id == cid)).mappings()
        ]
        links = list(bind.execute(sa.select(LINKS.c.achievement_id).where(LINKS.c.contract_id == cid)).scalars())
        terms = digest(dict(row), milestones, deductions, links)
        bind.execute(
            CONTRACTS.update()
            .where(CONTRACTS.c.id == cid)
            .values(
                seller_signed_digest=terms if row["seller_signed_at"] is not None else None,
                buyer_signed_digest=terms if row["buyer_signed_at"] is not None else None,
                registered_digest=terms if row["registration_number"] is not None else None,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("contracts") as batch:
        batch.drop_column("registration_revision")
        batch.drop_column("registered_digest")
        batch.drop_column("buyer_signed_digest")
        batch.drop_column("seller_signed_digest")
