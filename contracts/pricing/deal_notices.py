"""成交公示: every completed deal is published (parties, object, price, mode, date), whatever its mode.

Auctions (``contracts.auction``) and listings publish on award; a contract completed without one
publishes on completion (``contracts.pricing.completion``). Only adds to the session: the caller commits.
"""

from __future__ import annotations

import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from contracts.pricing.models import DealMode, DealNotice
from market.identity.models import Organization
from market.listings.models import Achievement


async def publish_deal_notice(
    session: AsyncSession,
    *,
    achievement_id: int,
    mode: str,
    price_fen: int,
    seller_organization_id: int,
    buyer_organization_id: int,
    contract_id: int | None,
    deal_date: datetime.date,
) -> DealNotice:
    """The public record of a deal; the names shown are those of the day it was published."""
    achievement = await session.get(Achievement, achievement_id)
    seller = await session.get(Organization, seller_organization_id)
    buyer = await session.get(Organization, buyer_organization_id)
    if achievement is None or seller is None or buyer is None:
        raise ValueError("deal notice for an unknown achievement or organization")
    if price_fen <= 0:
        raise ValueError("deal notice price must be positive")
    notice = DealNotice(
        achievement_id=achievement_id,
        mode=DealMode(mode),
        price_fen=price_fen,
        seller_organization_id=seller_organization_id,
        buyer_organization_id=buyer_organization_id,
        contract_id=contract_id,
        title=achievement.title,
        seller_name=seller.name,
        buyer_name=buyer.name,
        deal_date=deal_date,
    )
    session.add(notice)
    await session.flush()
    return notice
