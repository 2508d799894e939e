"""Every contract query."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from contracts.contract.models import Contract, ContractAchievement, Milestone
from contracts.payment.models import Payment
from contracts.reward.models import Deduction
from core.audit import AuditEntry
from core.pagination import paged
from market.identity.models import Organization
from market.listings.models import Achievement


def _locking(session: AsyncSession) -> bool:
    return session.bind is not None and session.bind.dialect.name == "postgresql"


class ContractRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, *objects: object) -> None:
        self.session.add_all(objects)
        await self.session.flush()

    async def organization(self, organization_id: int) -> Organization | None:
        return await self.session.get(Organization, organization_id)

    async def achievements(self, ids: Sequence[int]) -> list[Achievement]:
        if not ids:
            return []
        statement = select(Achievement).where(col(Achievement.id).in_(ids))
        return list((await self.session.execute(statement)).scalars())

    async def contract(self, contract_id: int, *, lock: bool = False) -> Contract | None:
        """With ``lock``, the row is held until the transaction ends (PostgreSQL; SQLite locks the file)."""
        statement = select(Contract).where(col(Contract.id) == contract_id)
        if lock and _locking(self.session):
            statement = statement.with_for_update()
        result = (await self.session.execute(statement.execution_options(populate_existing=lock))).scalars().first()
        return result

    async def contracts_visible(
        self, *, organization_id: int | None, region_prefix: str | None, everything: bool, offset: int, limit: int
    ) -> tuple[Sequence[Contract], int]:
        statement = select(Contract)
        if not everything:
            conditions = []
            if organization_id is not None:
                conditions += [
                    col(Contract.seller_org_id) == organization_id,
                    col(Contract.buyer_org_id) == organization_id,
                ]
            if region_prefix is not None:
                conditions += [
                    col(Contract.seller_region).startswith(region_prefix),
                    col(Contract.buyer_region).startswith(region_prefix),
                ]
            if not conditions:
                return [], 0
            statement = statement.where(or_(*conditions))
        total = (await self.session.execute(select(func.count()).select_from(statement.subquery()))).scalar_one()
        page = statement.order_by(col(Contract.id).desc()).offset(offset).limit(limit)
        return (await self.session.execute(page)).scalars().all(), total

    async def milestones(self, contract_id: int) -> list[Milestone]:
        statement = select(Milestone).where(col(Milestone.contract_id) == contract_id).order_by(col(Milestone.seq))
        return list((await self.session.execute(statement)).scalars())

    async def milestone(self, contract_id: int, milestone_id: int) -> Milestone | None:
        milestone = await self.session.get(Milestone, milestone_id, populate_existing=True)
        return milestone if milestone is not None and milestone.contract_id == contract_id else None

    async def milestones_with_payment(self, contract_id: int) -> set[int]:
        """Milestones whose payment has started (any state): their amounts are what the provider was asked for."""
        statement = select(col(Payment.milestone_id)).where(col(Payment.contract_id) == contract_id)
        return set((await self.session.execute(statement)).scalars())

    async def deductions(self, contract_id: int) -> list[Deduction]:
        statement = select(Deduction).where(col(Deduction.contract_id) == contract_id).order_by(col(Deduction.id))
        return list((await self.session.execute(statement)).scalars())

    async def achievement_ids(self, contract_id: int) -> list[int]:
        statement = select(col(ContractAchievement.achievement_id)).where(
            col(ContractAchievement.contract_id) == contract_id
        )
        return sorted((await self.session.execute(statement)).scalars())

    async def audit(self, contract_id: int, offset: int, limit: int) -> tuple[list[AuditEntry], int]:
        statement = (
            select(AuditEntry)
            .where(col(AuditEntry.entity_type) == "contract", col(AuditEntry.entity_id) == contract_id)
            .order_by(col(AuditEntry.id))
        )
        return await paged(self.session, statement, offset, limit)
