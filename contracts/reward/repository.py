"""Every reward-ledger query. The ledger is append-only: there is no update or delete here."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.reward.models import BeneficiaryKind, Deduction, Distribution, DistributionLine


class RewardRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, *objects: object) -> None:
        self.session.add_all(objects)
        await self.session.flush()

    async def deductions_total(self, contract_id: int) -> int:
        statement = select(func.coalesce(func.sum(Deduction.amount_fen), 0)).where(Deduction.contract_id == contract_id)
        return int((await self.session.execute(statement)).scalar_one())

    async def deductions(self, contract_id: int) -> Sequence[Deduction]:
        statement = select(Deduction).where(Deduction.contract_id == contract_id).order_by(Deduction.id)  # type: ignore[arg-type]
        return (await self.session.execute(statement)).scalars().all()

    async def distribution_by_ref(self, source_ref: str) -> Distribution | None:
        statement = select(Distribution).where(Distribution.source_ref == source_ref)
        return (await self.session.execute(statement)).scalars().first()

    async def totals(self, contract_id: int) -> tuple[int, int, int, int]:
        """(received, net, team, count) summed over the contract's distributions."""
        statement = select(
            func.coalesce(func.sum(Distribution.gross_fen), 0),
            func.coalesce(func.sum(Distribution.net_fen), 0),
            func.coalesce(func.sum(Distribution.team_fen), 0),
            func.count(Distribution.id),
        ).where(Distribution.contract_id == contract_id)
        row = (await self.session.execute(statement)).one()
        return int(row[0]), int(row[1]), int(row[2]), int(row[3])

    async def inventor_totals(self, contract_id: int) -> dict[int, int]:
        statement = (
            select(DistributionLine.position, func.sum(DistributionLine.amount_fen))
            .where(
                DistributionLine.contract_id == contract_id, DistributionLine.beneficiary == BeneficiaryKind.inventor
            )
            .group_by(DistributionLine.position)
        )
        return {int(p): int(a) for p, a in (await self.session.execute(statement)).all()}

    async def distributions(self, contract_id: int) -> Sequence[Distribution]:
        statement = select(Distribution).where(Distribution.contract_id == contract_id).order_by(Distribution.id)  # type: ignore[arg-type]
        return (await self.session.execute(statement)).scalars().all()

    async def lines(self, distribution_ids: Sequence[int]) -> Sequence[DistributionLine]:
        if not distribution_ids:
            return []
        statement = (
            select(DistributionLine)
            .where(DistributionLine.distribution_id.in_(distribution_ids))  # type: ignore[attr-defined]
            .order_by(DistributionLine.distribution_id, DistributionLine.position)  # type: ignore[arg-type]
        )
        return (await self.session.execute(statement)).scalars().all()

    async def lines_of_user(self, user_id: int) -> Sequence[DistributionLine]:
        statement = select(DistributionLine).where(DistributionLine.user_id == user_id).order_by(DistributionLine.id)  # type: ignore[arg-type]
        return (await self.session.execute(statement)).scalars().all()

    async def lines_of_institution(self, organization_id: int) -> Sequence[tuple[DistributionLine, Distribution]]:
        statement = (
            select(DistributionLine, Distribution)
            .join(Distribution, Distribution.id == DistributionLine.distribution_id)  # type: ignore[arg-type]
            .where(DistributionLine.organization_id == organization_id)
            .order_by(DistributionLine.id)  # type: ignore[arg-type]
        )
        return [(line, dist) for line, dist in (await self.session.execute(statement)).all()]
