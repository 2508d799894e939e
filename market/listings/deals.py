"""What a listing learns from the contracts on it; contracts call these in their own transaction.

The market cannot see contracts (they depend on it, not the reverse), so the contract side says
what happened: a signed contract holds the achievement's price until it completes or ends; a
completed transfer (专利权转让, 专利申请权转让, 技术秘密转让) closes the achievement as
``transferred`` and takes it out of search; a completed licence is recorded on the achievement,
which stays open for further licences.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from core import audit, outbox, reference
from core.types import utcnow
from market.listings.models import Achievement, ListingStatus
from market.listings.service import SEARCH_TOPIC


def contract_kind(subtype: str) -> str | None:
    """``transfer`` or ``license`` for the contract subtypes that move rights in an achievement."""
    for item in reference.code_list("contract_subtypes"):
        if item.code == subtype:
            return item.parent if item.parent in ("transfer", "license") else None
    return None


async def _locked(session: AsyncSession, achievement_ids: Iterable[int]) -> list[Achievement]:
    ids = sorted(set(achievement_ids))
    if not ids:
        return []
    statement = select(Achievement).where(col(Achievement.id).in_(ids)).order_by(col(Achievement.id))
    return list((await session.execute(statement.with_for_update())).scalars().all())


async def hold_price(session: AsyncSession, achievement_ids: Iterable[int], contract_id: int) -> None:
    """Both parties signed: the price they agreed on is the achievement's until the contract ends."""
    for row in await _locked(session, achievement_ids):
        if contract_id not in row.contracts_in_force:
            row.contracts_in_force = [*row.contracts_in_force, contract_id]
            session.add(row)


async def release_price(session: AsyncSession, achievement_ids: Iterable[int], contract_id: int) -> None:
    """The contract was terminated, or its signatures voided by a change of terms."""
    for row in await _locked(session, achievement_ids):
        if contract_id in row.contracts_in_force:
            row.contracts_in_force = [held for held in row.contracts_in_force if held != contract_id]
            session.add(row)


async def contract_completed(
    session: AsyncSession,
    achievement_ids: Iterable[int],
    contract_id: int,
    subtype: str,
    completed_on: date,
    actor_user_id: int | None,
) -> None:
    """Release the price; a transfer closes the achievement, a licence is recorded on it."""
    kind = contract_kind(subtype)
    for row in await _locked(session, achievement_ids):
        row.contracts_in_force = [held for held in row.contracts_in_force if held != contract_id]
        if kind == "license" and all(entry.get("contract_id") != contract_id for entry in row.licences):
            licence = {"contract_id": contract_id, "subtype": subtype, "granted_on": completed_on.isoformat()}
            row.licences = [*row.licences, licence]
        elif kind == "transfer" and row.status != ListingStatus.transferred:
            before, row.status, row.updated_at = row.status, ListingStatus.transferred, utcnow()
            await audit.record(
                session,
                "achievement",
                row.id or 0,
                "transferred",
                actor_user_id=actor_user_id,
                from_status=before.value,
                to_status=row.status.value,
                reason=f"转让合同 {contract_id} 履行完毕",
                changes={"contract_id": contract_id, "subtype": subtype},
            )
            key = f"achievement:{row.id}"
            await outbox.enqueue(session, SEARCH_TOPIC, key, {"kind": "achievement", "id": row.id})
        session.add(row)
