"""挂牌交易: an achievement offered at a stated price for a window.

``first_accept``: the first verified organization to accept the price wins at once. ``bidding``:
organizations accept within the window with a bid of at least the price; once the window has closed
the seller awards it to the highest bid (the earliest among equal bids), or it lapses with none.
An award publishes the 成交公示 (``publish_deal_notice``), which is what lets the contract at that
price with that buyer be signed (``contracts.pricing.gate``). The listing row is locked while accepted.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.contract import service as contract_service
from contracts.pricing import errors
from contracts.pricing.deal_notices import publish_deal_notice
from contracts.pricing.models import DealMode, ListingAcceptance, ListingRule, PriceListing, PriceListingStatus
from contracts.pricing.repository import PricingRepository
from contracts.pricing.schemas import AcceptIn, PriceListingCreate, PriceListingRead
from contracts.pricing.service import PricingService
from core import audit
from core.errors import FieldError
from core.money import fen_to_yuan, yuan_to_fen
from core.types import utcnow
from market.identity.service import Principal
from market.listings.models import ListingStatus, PricingMode


class ListingService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.repository = PricingRepository(session)

    async def open(self, principal: Principal, data: PriceListingCreate) -> PriceListing:
        achievement = await PricingService(self.session).owned_achievement(principal, data.achievement_id)
        if achievement.status != ListingStatus.published:
            raise errors.AchievementNotPriceable()
        if achievement.pricing_mode not in (None, PricingMode.listed):
            raise errors.PricingModeMismatch(detail=f"成果的定价方式为 {achievement.pricing_mode}, 不能挂牌")
        if await self.repository.open_listing(achievement.id or 0) is not None:
            raise errors.PricingModeLocked("成果已有进行中的挂牌")
        price = yuan_to_fen(data.price)
        if price <= 0:
            raise errors.BidBelowListedPrice(
                errors=[FieldError(field="body.price", code="price_positive", message="挂牌价应大于 0")]
            )
        achievement.pricing_mode = PricingMode.listed
        now = utcnow()
        listing = PriceListing(
            achievement_id=achievement.id or 0,
            seller_organization_id=achievement.owner_id,
            rule=data.rule,
            price_fen=price,
            opens_at=now,
            closes_at=now + timedelta(days=data.days),
            created_by=principal.user.id,
        )
        await self.repository.add(achievement, listing)
        await audit.record(
            self.session, "price_listing", listing.id or 0, "opened", actor_user_id=principal.user.id,
            changes={"price_fen": price, "rule": data.rule.value},
        )  # fmt: skip
        return listing

    async def get(self, listing_id: int, *, lock: bool = False) -> PriceListing:
        listing = await self.repository.listing(listing_id, lock=lock)
        if listing is None:
            raise errors.PriceListingNotFound()
        return listing

    async def read(self, listing: PriceListing) -> PriceListingRead:
        accepted = await self.repository.acceptances(listing.id or 0)
        return PriceListingRead(
            id=listing.id or 0,
            achievement_id=listing.achievement_id,
            rule=listing.rule,
            price=fen_to_yuan(listing.price_fen),
            opens_at=listing.opens_at,
            closes_at=listing.closes_at,
            status=listing.status,
            acceptances=len(accepted),
            winner_organization_id=listing.winner_organization_id,
            final_price=None if listing.final_price_fen is None else fen_to_yuan(listing.final_price_fen),
            awarded_at=listing.awarded_at,
        )

    async def accept(self, principal: Principal, listing_id: int, data: AcceptIn) -> PriceListing:
        buyer = principal.require_can_publish()
        listing = await self.get(listing_id, lock=True)
        if listing.seller_organization_id == buyer.id:
            raise errors.OwnPriceListing()
        if listing.status != PriceListingStatus.open or utcnow() >= listing.closes_at:
            raise errors.PriceListingClosed(listing_status=listing.status.value)
        bid = listing.price_fen if data.bid is None else yuan_to_fen(data.bid)
        if bid < listing.price_fen or (listing.rule == ListingRule.first_accept and bid != listing.price_fen):
            raise errors.BidBelowListedPrice(
                errors=[
                    FieldError(
                        field="body.bid",
                        code=errors.BidBelowListedPrice.code,
                        message=f"挂牌价为 {fen_to_yuan(listing.price_fen)} 元"
                        + ("" if listing.rule == ListingRule.bidding else ", 首个接受者按挂牌价成交"),
                    )
                ]
            )
        acceptance = ListingAcceptance(
            listing_id=listing.id or 0, organization_id=buyer.id or 0, bid_fen=bid, user_id=principal.user.id
        )
        try:
            async with self.session.begin_nested():
                self.session.add(acceptance)
        except IntegrityError as exc:  # one acceptance per organization
            raise errors.PriceListingClosed("本单位已接受过该挂牌") from exc
        await audit.record(
            self.session, "price_listing", listing.id or 0, "accepted", actor_user_id=principal.user.id,
            changes={"organization_id": buyer.id, "bid_fen": bid},
        )  # fmt: skip
        if listing.rule == ListingRule.first_accept:
            await self._award(principal, listing, acceptance)
        return listing

    async def award(self, principal: Principal, listing_id: int) -> PriceListing:
        """A bidding listing whose window closed: the seller awards it to the highest bid."""
        listing = await self.get(listing_id, lock=True)
        if not principal.belongs_to(listing.seller_organization_id):
            raise errors.PricingOwnerOnly()
        principal.require_can_publish()
        if listing.status != PriceListingStatus.open:
            raise errors.PriceListingClosed(listing_status=listing.status.value)
        if utcnow() < listing.closes_at:
            raise errors.PriceListingStillOpen(closes_at=listing.closes_at.isoformat())
        accepted = await self.repository.acceptances(listing.id or 0)
        if not accepted:
            listing.status = PriceListingStatus.lapsed
            await self.repository.add(listing)
            await audit.record(
                self.session, "price_listing", listing.id or 0, "lapsed", actor_user_id=principal.user.id
            )
            return listing
        await self._award(principal, listing, accepted[0])
        return listing

    async def _award(self, principal: Principal, listing: PriceListing, winner: ListingAcceptance) -> None:
        listing.status, listing.awarded_at = PriceListingStatus.awarded, utcnow()
        listing.winner_organization_id, listing.final_price_fen = winner.organization_id, winner.bid_fen
        await self.repository.add(listing)
        await publish_deal_notice(
            self.session,
            achievement_id=listing.achievement_id,
            mode=DealMode.listed.value,
            price_fen=winner.bid_fen,
            seller_organization_id=listing.seller_organization_id,
            buyer_organization_id=winner.organization_id,
            contract_id=None,
            deal_date=contract_service.today(),
        )
        await audit.record(
            self.session, "price_listing", listing.id or 0, "awarded", actor_user_id=principal.user.id,
            changes={"organization_id": winner.organization_id, "price_fen": winner.bid_fen},
        )  # fmt: skip
