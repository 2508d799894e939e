"""Every query of the claims: contracts and their milestones, claims, lines, history, totals."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from contracts.contract.models import Contract, Milestone
from contracts.subsidy.models import ClaimEvent, ClaimLine, ClaimStatus, SubsidyClaim
from core.pagination import paged
from market.identity.models import Organization

# Claims whose amount counts against the applicant's yearly cap once approved.
APPROVED = (ClaimStatus.approved, ClaimStatus.disbursing, ClaimStatus.paid, ClaimStatus.payout_failed)
PENDING = (ClaimStatus.draft, ClaimStatus.submitted, ClaimStatus.region_approved)


class ClaimRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, *objects: object) -> None:
        self.session.add_all(objects)
        await self.session.flush()

    async def contracts(self, ids: Sequence[int]) -> list[Contract]:
        statement = select(Contract).where(col(Contract.id).in_(ids)).order_by(col(Contract.id))
        return list((await self.session.execute(statement)).scalars().all())

    async def milestones(self, contract_ids: Sequence[int]) -> list[Milestone]:
        statement = select(Milestone).where(col(Milestone.contract_id).in_(contract_ids)).order_by(col(Milestone.id))
        return list((await self.session.execute(statement)).scalars().all())

    async def claimed_contracts(self, contract_ids: Sequence[int]) -> list[int]:
        statement = select(col(ClaimLine.active_contract_id)).where(col(ClaimLine.active_contract_id).in_(contract_ids))
        return sorted(int(i) for i in (await self.session.execute(statement)).scalars().all() if i is not None)

    async def lock_organization(self, organization_id: int) -> Organization | None:
        """Serialises approvals for one applicant (its yearly cap) on PostgreSQL; SQLite writes one at a time."""
        statement = (
            select(Organization)
            .where(col(Organization.id) == organization_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return (await self.session.execute(statement)).scalars().first()

    async def claim(self, claim_id: int, *, lock: bool = False) -> SubsidyClaim | None:
        statement = select(SubsidyClaim).where(col(SubsidyClaim.id) == claim_id)
        if lock:
            statement = statement.with_for_update()
        return (await self.session.execute(statement.execution_options(populate_existing=True))).scalars().first()

    async def lines(self, claim_id: int) -> list[ClaimLine]:
        statement = select(ClaimLine).where(col(ClaimLine.claim_id) == claim_id).order_by(col(ClaimLine.id))
        return list((await self.session.execute(statement)).scalars().all())

    async def free_contracts(self, claim_id: int) -> None:
        """A refused or withdrawn claim no longer holds its contracts (its lines stay, for the record)."""
        await self.session.execute(
            update(ClaimLine)
            .where(col(ClaimLine.claim_id) == claim_id)
            .values(active_contract_id=None)
            .execution_options(synchronize_session=False)
        )

    async def year_total(
        self, organization_id: int, year: int, statuses: Sequence[ClaimStatus], *, excluding: int | None = None
    ) -> int:
        """The applicant's amounts for the year: approved ones count ``approved_fen``, others ``claimed_fen``."""
        amount = func.coalesce(col(SubsidyClaim.approved_fen), col(SubsidyClaim.claimed_fen))
        statement = select(func.coalesce(func.sum(amount), 0)).where(
            col(SubsidyClaim.applicant_org_id) == organization_id,
            col(SubsidyClaim.year) == year,
            col(SubsidyClaim.status).in_(statuses),
        )
        if excluding is not None:
            statement = statement.where(col(SubsidyClaim.id) != excluding)
        return int((await self.session.execute(statement)).scalar_one())

    async def page(
        self,
        *,
        organization_id: int | None,
        region_prefix: str | None,
        status: ClaimStatus | None,
        year: int | None,
        offset: int,
        limit: int,
    ) -> tuple[list[SubsidyClaim], int]:
        statement = select(SubsidyClaim)
        if organization_id is not None:
            statement = statement.where(col(SubsidyClaim.applicant_org_id) == organization_id)
        if region_prefix is not None:
            statement = statement.where(col(SubsidyClaim.region_code).startswith(region_prefix))
        if status is not None:
            statement = statement.where(col(SubsidyClaim.status) == status)
        if year is not None:
            statement = statement.where(col(SubsidyClaim.year) == year)
        return await paged(self.session, statement.order_by(col(SubsidyClaim.id).desc()), offset, limit)

    async def history(self, claim_id: int, offset: int, limit: int) -> tuple[list[ClaimEvent], int]:
        statement = select(ClaimEvent).where(col(ClaimEvent.claim_id) == claim_id).order_by(col(ClaimEvent.id))
        return await paged(self.session, statement, offset, limit)
