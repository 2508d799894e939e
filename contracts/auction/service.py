"""Creating auctions, paying deposits and bidding.

A bid is accepted under the auction's row lock (PostgreSQL ``FOR UPDATE``; SQLite's ``BEGIN IMMEDIATE``
serialises writers anyway), so bids on one lot are strictly ordered: each takes the next sequence number
and must be at least the increment above the price before it. The Idempotency-Key is unique per lot
and bidder: a retried bid answers the bid it already placed and never places a second one.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from contracts import errors as contract_errors
from contracts.auction import errors, rules
from contracts.auction.deposits import DepositService
from contracts.auction.models import Auction, AuctionBid, AuctionEvent, AuctionStatus, DepositStatus
from contracts.auction.repository import AuctionRepository
from contracts.auction.schemas import AuctionCreate
from contracts.contract.models import SUBTYPES
from contracts.payment.client import PaymentProvider
from core import audit
from core.errors import FieldError
from core.money import fen_to_yuan, yuan_to_fen
from core.types import utcnow
from market.identity.service import Principal
from market.listings.models import Achievement, ListingStatus, PricingMode


def _invalid(field: str, message: str) -> errors.InvalidAuctionTerms:
    return errors.InvalidAuctionTerms(errors=[FieldError(field=field, code="invalid_auction_terms", message=message)])


class AuctionService:
    def __init__(self, session: AsyncSession, provider: PaymentProvider | None = None) -> None:
        self.session = session
        self.provider = provider
        self.repository = AuctionRepository(session)

    async def get(self, auction_id: int) -> Auction:
        auction = await self.repository.auction(auction_id)
        if auction is None:
            raise errors.AuctionNotFound()
        return auction

    async def create(self, principal: Principal, data: AuctionCreate, now: datetime | None = None) -> Auction:
        """The seller puts one of its published achievements up for auction, if its pricing mode is 拍卖."""
        seller = principal.require_can_publish()
        achievement = await self.session.get(Achievement, data.achievement_id)
        if achievement is None or achievement.owner_id != seller.id:
            raise contract_errors.ListingNotFound()
        if achievement.status != ListingStatus.published or achievement.pricing_mode != PricingMode.auction:
            raise errors.AchievementNotAuctionable()
        if await self.repository.live_on(data.achievement_id) is not None:
            raise errors.AuctionAlreadyLive()
        now = now or utcnow()
        start, reserve = yuan_to_fen(data.start_price), yuan_to_fen(data.reserve_price)
        increment, deposit = yuan_to_fen(data.increment), yuan_to_fen(data.deposit)
        for field, value in (("start_price", start), ("increment", increment), ("deposit", deposit)):
            if value <= 0:
                raise _invalid(f"body.{field}", "金额须大于 0")
        if reserve < start:
            raise _invalid("body.reserve_price", "保留价不得低于起拍价")
        if data.ends_at <= data.starts_at or data.ends_at <= now:
            raise _invalid("body.ends_at", "结束时间须晚于开始时间和当前时间")
        if data.contract_subtype not in SUBTYPES[data.contract_type]:
            raise _invalid("body.contract_subtype", "合同子类型与合同类型不符")
        auction = Auction(
            achievement_id=data.achievement_id,
            seller_org_id=seller.id or 0,
            created_by=principal.user.id or 0,
            title=data.title or achievement.title[:200],
            contract_type=data.contract_type,
            contract_subtype=data.contract_subtype,
            start_price_fen=start,
            reserve_fen=reserve,
            increment_fen=increment,
            deposit_fen=deposit,
            starts_at=data.starts_at,
            ends_at=data.ends_at,
            scheduled_end_at=data.ends_at,
            extension_minutes=data.extension_minutes,
            sign_days=data.sign_days,
        )
        await self.repository.add(auction)
        await audit.record(
            self.session, "auction", auction.id or 0, "created", actor_user_id=principal.user.id, to_status="live"
        )
        return auction

    async def bid(
        self, principal: Principal, auction_id: int, amount_fen: int, key: str | None, now: datetime | None = None
    ) -> tuple[AuctionBid, bool, int | None]:
        """Place a bid (``True``) or answer the one this key already placed (``False``); with the paddle."""
        bidder = principal.require_can_publish()
        if not key or len(key) > 64:
            raise errors.IdempotencyKeyRequired()
        org_id = bidder.id or 0
        replay = await self._replay(auction_id, org_id, key, amount_fen)
        deposit = await self.repository.deposit_of(auction_id, org_id)
        if replay is not None:
            return replay, False, deposit.id if deposit else None
        if deposit is None or deposit.status != DepositStatus.held:  # the slow path: say why not
            auction = await self.get(auction_id)
            if auction.seller_org_id == org_id:
                raise errors.OwnAuction()
            if auction.status != AuctionStatus.live:
                raise errors.AuctionNotOpen()
            if deposit is not None and deposit.status == DepositStatus.pending and self.provider is not None:
                await DepositService(self.session, self.provider).refresh(deposit)
            if deposit is None or deposit.status != DepositStatus.held:
                raise errors.DepositRequired()

        locked = await self.repository.auction(auction_id, lock=True)  # bids on one lot queue here
        if locked is None:
            raise errors.AuctionNotFound()
        auction = locked
        replay = await self._replay(auction_id, org_id, key, amount_fen)  # the same key, raced
        if replay is not None:
            return replay, False, deposit.id
        now = now or utcnow()
        if auction.status != AuctionStatus.live or not auction.starts_at <= now < auction.ends_at:
            raise errors.AuctionNotOpen()
        minimum = rules.minimum_bid(auction.start_price_fen, auction.current_price_fen, auction.increment_fen)
        if amount_fen < minimum:
            floor = str(fen_to_yuan(minimum))
            raise errors.BidTooLow(detail=f"当前最低可出价 {floor} 元", minimum=floor)
        if auction.leader_org_id == org_id:
            raise errors.AlreadyLeading()
        bid = AuctionBid(
            auction_id=auction_id,
            seq=auction.bid_count + 1,
            organization_id=org_id,
            user_id=principal.user.id or 0,
            amount_fen=amount_fen,
            idempotency_key=key,
            created_at=now,
        )
        auction.bid_count, auction.current_price_fen, auction.leader_org_id = bid.seq, amount_fen, org_id
        events = [("bid", {"seq": bid.seq, "amount": str(fen_to_yuan(amount_fen)), "paddle": deposit.id})]
        new_end = rules.extended_end(auction.ends_at, now, auction.extension_minutes)
        if new_end is not None:
            events.append(("extended", {"from": auction.ends_at.isoformat(), "ends_at": new_end.isoformat()}))
            auction.ends_at = new_end
        for kind, data in events:
            auction.event_seq += 1
            self.session.add(AuctionEvent(auction_id=auction_id, seq=auction.event_seq, kind=kind, data=data))
        await self.repository.add(bid, auction)
        return bid, True, deposit.id

    async def _replay(self, auction_id: int, org_id: int, key: str, amount_fen: int) -> AuctionBid | None:
        existing = await self.repository.bid_by_key(auction_id, org_id, key)
        if existing is not None and existing.amount_fen != amount_fen:
            raise errors.IdempotencyKeyReused()
        return existing


def sign_due(closed_at: datetime, sign_days: int) -> datetime:
    return closed_at + timedelta(days=sign_days)
