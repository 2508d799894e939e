"""Every deal query."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.deal.models import Deal, DealMessage, DealStatus
from market.listings.models import Achievement, Demand


class DealRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, *objects: object) -> None:
        self.session.add_all(objects)
        await self.session.flush()

    async def achievement(self, achievement_id: int) -> Achievement | None:
        return await self.session.get(Achievement, achievement_id)

    async def demand(self, demand_id: int) -> Demand | None:
        return await self.session.get(Demand, demand_id)

    async def deal(self, deal_id: int) -> Deal | None:
        return await self.session.get(Deal, deal_id)

    async def open_deal(
        self, *, achievement_id: int | None, demand_id: int | None, seller: int, buyer: int
    ) -> Deal | None:
        statement = select(Deal).where(
            Deal.status == DealStatus.open,
            Deal.seller_org_id == seller,
            Deal.buyer_org_id == buyer,
            Deal.achievement_id == achievement_id if achievement_id is not None else Deal.demand_id == demand_id,
        )
        return (await self.session.execute(statement)).scalars().first()

    async def deals_of(self, organization_id: int) -> Sequence[Deal]:
        statement = (
            select(Deal)
            .where(or_(Deal.seller_org_id == organization_id, Deal.buyer_org_id == organization_id))
            .order_by(Deal.id.desc())  # type: ignore[union-attr]
        )
        return (await self.session.execute(statement)).scalars().all()

    async def messages(self, deal_id: int) -> Sequence[DealMessage]:
        statement = select(DealMessage).where(DealMessage.deal_id == deal_id).order_by(DealMessage.id)  # type: ignore[arg-type]
        return (await self.session.execute(statement)).scalars().all()
