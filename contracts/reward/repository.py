"""Every reward-ledger query. The ledger is append-only: there is no update or delete here."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, column, exists, func, or_, select, table
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from contracts.reward.models import BeneficiaryKind, Deduction, Distribution, DistributionLine, InventorLink

# The registration number is read by name: the reward package must not import the contract package.
_CONTRACTS = table("contracts", column("id"), column("registration_number"))


def _entry_of(line: type[DistributionLine]) -> ColumnElement[bool]:
    return and_(
        col(InventorLink.contract_id) == col(line.contract_id), col(InventorLink.position) == col(line.position)
    )


def _mine(user_id: int) -> ColumnElement[bool]:
    """An inventor line of an entry linked to the user; or one written for the user, of an entry nobody
    is linked to now (a ``user_id`` named on the contract itself)."""
    linked = exists().where(_entry_of(DistributionLine), col(InventorLink.user_id) == user_id)
    held = exists().where(_entry_of(DistributionLine), col(InventorLink.user_id).is_not(None))
    return and_(
        col(DistributionLine.beneficiary) == BeneficiaryKind.inventor,
        or_(linked, and_(col(DistributionLine.user_id) == user_id, ~held)),
    )


class RewardRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, *objects: object) -> None:
        self.session.add_all(objects)
        await self.session.flush()

    async def deductions_total(self, contract_id: int) -> int:
        statement = select(func.coalesce(func.sum(col(Deduction.amount_fen)), 0)).where(
            col(Deduction.contract_id) == contract_id
        )
        return int((await self.session.execute(statement)).scalar_one())

    async def deductions(self, contract_id: int) -> Sequence[Deduction]:
        statement = select(Deduction).where(col(Deduction.contract_id) == contract_id).order_by(col(Deduction.id))
        return (await self.session.execute(statement)).scalars().all()

    async def distribution_by_ref(self, source_ref: str) -> Distribution | None:
        statement = select(Distribution).where(col(Distribution.source_ref) == source_ref)
        return (await self.session.execute(statement)).scalars().first()

    async def totals(self, contract_id: int) -> tuple[int, int, int, int]:
        """(received, net, team, count) summed over the contract's distributions."""
        statement = select(
            func.coalesce(func.sum(col(Distribution.gross_fen)), 0),
            func.coalesce(func.sum(col(Distribution.net_fen)), 0),
            func.coalesce(func.sum(col(Distribution.team_fen)), 0),
            func.count(col(Distribution.id)),
        ).where(col(Distribution.contract_id) == contract_id)
        row = (await self.session.execute(statement)).one()
        return int(row[0]), int(row[1]), int(row[2]), int(row[3])

    async def inventor_totals(self, contract_id: int) -> dict[int, int]:
        statement = (
            select(col(DistributionLine.position), func.sum(col(DistributionLine.amount_fen)))
            .where(
                col(DistributionLine.contract_id) == contract_id,
                col(DistributionLine.beneficiary) == BeneficiaryKind.inventor,
            )
            .group_by(col(DistributionLine.position))
        )
        return {int(p): int(a) for p, a in (await self.session.execute(statement)).all()}

    async def distributions(self, contract_id: int) -> Sequence[Distribution]:
        statement = (
            select(Distribution).where(col(Distribution.contract_id) == contract_id).order_by(col(Distribution.id))
        )
        return (await self.session.execute(statement)).scalars().all()

    async def lines(self, distribution_ids: Sequence[int]) -> Sequence[DistributionLine]:
        if not distribution_ids:
            return []
        statement = (
            select(DistributionLine)
            .where(col(DistributionLine.distribution_id).in_(distribution_ids))
            .order_by(col(DistributionLine.distribution_id), col(DistributionLine.position))
        )
        return (await self.session.execute(statement)).scalars().all()

    async def lines_of_user(self, user_id: int, offset: int, limit: int) -> tuple[Sequence[DistributionLine], int, int]:
        """A window of the user's own lines (see ``_mine``), their count and their sum in fen."""
        count, total = (
            await self.session.execute(
                select(
                    func.count(col(DistributionLine.id)), func.coalesce(func.sum(col(DistributionLine.amount_fen)), 0)
                ).where(_mine(user_id))
            )
        ).one()
        statement = select(DistributionLine).where(_mine(user_id)).order_by(col(DistributionLine.id))
        rows = (await self.session.execute(statement.offset(offset).limit(limit))).scalars().all()
        return rows, int(count), int(total)

    async def lines_of_institution(
        self, organization_id: int
    ) -> Sequence[tuple[DistributionLine, Distribution, str | None]]:
        """Every line of the institution's ledger, with its distribution and the contract's registration number."""
        statement: Any = (
            select(DistributionLine, Distribution, _CONTRACTS.c.registration_number)
            .join(Distribution, col(Distribution.id) == col(DistributionLine.distribution_id))
            .outerjoin(_CONTRACTS, _CONTRACTS.c.id == col(DistributionLine.contract_id))
            .where(col(DistributionLine.organization_id) == organization_id)
            .order_by(col(DistributionLine.id))
        )
        return [(line, dist, number) for line, dist, number in (await self.session.execute(statement)).all()]
