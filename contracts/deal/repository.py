"""Every deal query."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from contracts.deal.models import Deal, DealMessage, DealStatus
from core.pagination import paged
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
            col(Deal.status) == DealStatus.open,
            col(Deal.seller_org_id) == seller,
            col(Deal.buyer_org_id) == buyer,
            col(Deal.achievement_id) == achievement_id
            if achievement_id is not None
            else col(Deal.demand_id) == demand_id,
        )
        return (await self.session.execute(statement)).scalars().first()

    async def deals_of(self, organization_id: int, offset: int, limit: int) -> tuple[list[Deal], int]:
        statement = (
            select(Deal)
            .where(or_(col(Deal.seller_org_id) == organization_id, col(Deal.buyer_org_id) == organization_id))
            .order_by(col(Deal.id).desc())
        )
        return await paged(self.session, statement, offset, limit)

    async def messages(self, deal_id: int, offset: int, limit: int) -> tuple[list[DealMessage], int]:
        statement = select(DealMessage).where(col(DealMessage.deal_id) == deal_id).order_by(col(DealMessage.id))
        return await paged(self.session, statement, offset, limit)
