"""Deal rules: who may open one, who may talk on it, and how it ends (contract or dropped)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from contracts import errors, notices
from contracts.deal.models import Deal, DealMessage, DealOrigin, DealStatus
from contracts.deal.repository import DealRepository
from contracts.deal.schemas import DealCreate
from core.types import utcnow
from market.identity.service import Principal
from market.listings.models import Achievement, Demand, ListingStatus


class DealService:
    def __init__(self, session: AsyncSession) -> None:
        self.repository = DealRepository(session)

    async def open(self, principal: Principal, data: DealCreate) -> Deal:
        acting = principal.require_can_publish()
        listing: Achievement | Demand | None
        if data.achievement_id is not None:
            listing = await self.repository.achievement(data.achievement_id)
            origin = DealOrigin.achievement_interest
        else:
            listing = await self.repository.demand(data.demand_id or 0)
            origin = DealOrigin.demand_answer
        if listing is None or listing.status != ListingStatus.published:
            raise errors.ListingNotFound()
        if listing.owner_id == acting.id:
            raise errors.OwnListing()
        seller, buyer = (
            (listing.owner_id, acting.id or 0)
            if origin == DealOrigin.achievement_interest
            else (acting.id or 0, listing.owner_id)
        )
        deal = await self.repository.open_deal(
            achievement_id=data.achievement_id, demand_id=data.demand_id, seller=seller, buyer=buyer
        )
        if deal is None:
            deal = Deal(
                origin=origin,
                achievement_id=data.achievement_id,
                demand_id=data.demand_id,
                seller_org_id=seller,
                buyer_org_id=buyer,
                created_by=principal.user.id,
            )
            await self.repository.add(deal)
        opening = DealMessage(
            deal_id=deal.id or 0, organization_id=acting.id or 0, author_user_id=principal.user.id, body=data.message
        )
        await self.repository.add(opening)
        await notices.deal_message(self.repository.session, principal, deal, opening)
        return deal

    async def get(self, principal: Principal, deal_id: int) -> Deal:
        deal = await self.repository.deal(deal_id)
        if deal is None or not (principal.belongs_to(deal.seller_org_id) or principal.belongs_to(deal.buyer_org_id)):
            raise errors.DealNotFound()
        return deal

    async def mine(self, principal: Principal, offset: int, limit: int) -> tuple[list[Deal], int]:
        if principal.organization is None:
            return [], 0
        return await self.repository.deals_of(principal.organization.id or 0, offset, limit)

    async def post(self, principal: Principal, deal_id: int, body: str) -> DealMessage:
        deal = await self.get(principal, deal_id)
        if deal.status != DealStatus.open:
            raise errors.DealClosed()
        assert principal.organization is not None
        message = DealMessage(
            deal_id=deal.id or 0,
            organization_id=principal.organization.id or 0,
            author_user_id=principal.user.id,
            body=body,
        )
        await self.repository.add(message)
        await notices.deal_message(self.repository.session, principal, deal, message)
        return message

    async def messages(
        self, principal: Principal, deal_id: int, offset: int, limit: int
    ) -> tuple[list[DealMessage], int]:
        await self.get(principal, deal_id)
        return await self.repository.messages(deal_id, offset, limit)

    async def drop(self, principal: Principal, deal_id: int, reason: str) -> Deal:
        deal = await self.get(principal, deal_id)
        if deal.status != DealStatus.open:
            raise errors.DealClosed(current=deal.status.value, allowed=[])
        deal.status, deal.closed_at, deal.drop_reason = DealStatus.dropped, utcnow(), reason
        await self.repository.add(deal)
        return deal
