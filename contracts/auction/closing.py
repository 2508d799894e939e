"""The background worker's auction steps: close lots at their end, refund deposits, settle awards.

Closing happens once: each lot is closed in its own transaction that locks its row (``FOR UPDATE SKIP
LOCKED`` on PostgreSQL, so another worker moves on to the next lot; SQLite serialises writers) and
re-checks that it is still live and due; the status change commits with everything the close writes,
so a worker killed half way leaves the lot live and the next run closes it. Provider calls (refunds)
are a step of their own, after the close committed, with a fixed Idempotency-Key per deposit.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal

import httpx
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.auction.deposits import refund_one, resolve
from contracts.auction.models import Auction, AuctionBid, AuctionEvent, AuctionStatus, DepositStatus, LedgerKind
from contracts.auction.repository import AuctionRepository
from contracts.contract.models import Contract
from contracts.contract.schemas import ContractCreate, MilestoneIn
from contracts.contract.service import ContractService, today
from contracts.payment.client import PaymentProvider
from contracts.pricing.deal_notices import publish_deal_notice
from contracts.settings import PaymentSettings
from core import audit
from core.db import Database
from core.errors import DomainError
from core.money import fen_to_yuan
from core.settings import get_settings
from core.types import utcnow
from market.identity.models import Organization, User
from market.identity.service import Principal

log = structlog.get_logger("techmarket.auctions")


async def close_due(database: Database, now: datetime | None = None) -> int:
    """Close every live lot whose end has passed; returns how many this worker closed."""
    now = now or utcnow()
    async with database.unit_of_work() as session:
        due = await AuctionRepository(session).due_to_close(now)
    closed = 0
    for auction_id in due:
        async with database.unit_of_work() as session:
            closed += await close_one(session, auction_id or 0, now)
    return closed


async def close_one(session: AsyncSession, auction_id: int, now: datetime | None = None) -> bool:
    now = now or utcnow()
    repository = AuctionRepository(session)
    auction = await repository.auction(auction_id, lock=True, skip_locked=True)
    if auction is None or auction.status != AuctionStatus.live or auction.ends_at > now:
        return False  # closed by another worker, being closed right now, or extended
    best = await repository.best_bids(auction_id)
    winner = best[0] if best and best[0].amount_fen >= auction.reserve_fen else None
    auction.closed_at = now
    deposits = await repository.deposits_of(auction_id)
    if winner is None:
        auction.status = AuctionStatus.unsold
    else:
        await _award(session, auction, winner, now)
    for deposit in deposits:
        if deposit.status == DepositStatus.held:
            mine = winner is not None and deposit.organization_id == winner.organization_id
            deposit.status = DepositStatus.awaiting_signature if mine else DepositStatus.refund_due
            session.add(deposit)
    auction.event_seq += 1
    result = {
        "result": auction.status.value,
        "price": None if winner is None else str(fen_to_yuan(winner.amount_fen)),
        "bids": auction.bid_count,
    }
    session.add(AuctionEvent(auction_id=auction_id, seq=auction.event_seq, kind="closed", data=result))
    await repository.add(auction)
    await audit.record(session, "auction", auction_id, "closed", actor_user_id=None, to_status=auction.status.value)
    log.info("auction_closed", auction=auction_id, result=auction.status.value)
    return True


async def _award(session: AsyncSession, auction: Auction, bid: AuctionBid, now: datetime) -> None:
    """Award the lot to ``bid``: a contract draft pre-filled with the parties, price and achievement,
    and the 成交公示; the bidder has ``sign_days`` to sign."""
    auction.status = AuctionStatus.awarded
    auction.winner_bid_id, auction.winner_org_id, auction.price_fen = bid.id, bid.organization_id, bid.amount_fen
    auction.sign_due_at = now + timedelta(days=auction.sign_days)
    auction.contract_id = await _contract_draft(session, auction, bid)
    await publish_deal_notice(
        session,
        achievement_id=auction.achievement_id,
        mode="auction",
        price_fen=bid.amount_fen,
        seller_organization_id=auction.seller_org_id,
        buyer_organization_id=bid.organization_id,
        contract_id=auction.contract_id,
        deal_date=today(),
    )


async def _contract_draft(session: AsyncSession, auction: Auction, bid: AuctionBid) -> int | None:
    """Through the contract service's own creation, as the user who put the lot up (None if refused)."""
    user = await session.get(User, auction.created_by)
    seller = await session.get(Organization, auction.seller_org_id)
    if user is None or seller is None:
        return None
    credit = min(auction.deposit_fen, bid.amount_fen)
    milestones = [MilestoneIn(title="竞价保证金抵作首付款", amount=fen_to_yuan(credit))]
    if bid.amount_fen > credit:
        milestones.append(MilestoneIn(title="合同生效后付清余款", amount=fen_to_yuan(bid.amount_fen - credit)))
    data = ContractCreate(
        buyer_org_id=bid.organization_id,
        title=f"{auction.title} (拍卖成交)"[:200],
        type=auction.contract_type,
        subtype=auction.contract_subtype,
        total=fen_to_yuan(bid.amount_fen),
        technology_income=Decimal(fen_to_yuan(bid.amount_fen)),
        achievement_ids=[auction.achievement_id],
        milestones=milestones,
    )
    try:
        async with session.begin_nested():
            contract = await ContractService(session).create(Principal(user=user, organization=seller), data)
    except DomainError as exc:  # e.g. the buyer was suspended since: the award stands, the draft is made by hand
        log.warning("auction_contract_refused", auction=auction.id, code=exc.code)
        return None
    return contract.id


async def refund_due(database: Database, provider: PaymentProvider) -> int:
    async with database.unit_of_work() as session:
        due = await AuctionRepository(session).refunds_due()
    done = 0
    for deposit_id in due:
        async with database.unit_of_work() as session:
            done += await refund_one(session, provider, deposit_id or 0)
    return done


async def settle_awards(database: Database, now: datetime | None = None) -> int:
    """Credit the winner's deposit once the winner signed; forfeit it when the days ran out."""
    now = now or utcnow()
    async with database.unit_of_work() as session:
        awarded = await AuctionRepository(session).awaiting_signature()
    settled = 0
    for auction_id in awarded:
        async with database.unit_of_work() as session:
            settled += await settle_one(session, auction_id or 0, now)
    return settled


async def settle_one(session: AsyncSession, auction_id: int, now: datetime) -> bool:
    repository = AuctionRepository(session)
    auction = await repository.auction(auction_id, lock=True, skip_locked=True)
    if auction is None or auction.status != AuctionStatus.awarded or auction.winner_org_id is None:
        return False
    contract = await session.get(Contract, auction.contract_id) if auction.contract_id else None
    deposit = await repository.deposit_of(auction_id, auction.winner_org_id, lock=True)
    waiting = deposit if deposit is not None and deposit.status == DepositStatus.awaiting_signature else None
    if contract is not None and contract.buyer_signed_at is not None:
        if waiting is not None:
            waiting.credited_contract_id = contract.id
            await resolve(session, waiting, LedgerKind.credited, f"contract:{contract.id}")
        auction.status = AuctionStatus.contracted
    elif auction.sign_due_at is not None and now >= auction.sign_due_at:
        if waiting is not None:
            await resolve(session, waiting, LedgerKind.forfeited, None)
        runner_up = _runner_up(auction, await repository.best_bids(auction_id))
        if runner_up is not None:
            auction.runner_up_offered = True
            await _award(session, auction, runner_up, now)
        else:
            auction.status = AuctionStatus.failed
        auction.event_seq += 1
        price = None if runner_up is None else str(fen_to_yuan(runner_up.amount_fen))
        data = {"result": auction.status.value, "price": price}
        session.add(AuctionEvent(auction_id=auction_id, seq=auction.event_seq, kind="forfeited", data=data))
    else:
        return False
    await repository.add(auction)
    await audit.record(session, "auction", auction_id, "settled", actor_user_id=None, to_status=auction.status.value)
    return True


def _runner_up(auction: Auction, best: Sequence[AuctionBid]) -> AuctionBid | None:
    """Offered once: the next bidder's best bid, if it reached the reserve."""
    if auction.runner_up_offered:
        return None
    others = [b for b in best if b.organization_id != auction.winner_org_id and b.amount_fen >= auction.reserve_fen]
    return others[0] if others else None


def worker_steps(database: Database, http: httpx.AsyncClient) -> list[tuple[str, Callable[[], Awaitable[int]]]]:
    """The worker's auction steps. Refunds need the provider's settings; a worker without valid ones
    (the test profile without TECHMARKET_PAYMENT_*) closes and settles, and leaves refunds due."""
    settings: list[PaymentSettings] = []

    async def refunds() -> int:
        if not settings:
            try:
                settings.append(PaymentSettings(env=get_settings().env))
            except ValueError as exc:
                log.warning("auction_refunds_without_provider", error=str(exc).splitlines()[0])
                return 0
        return await refund_due(database, PaymentProvider(http, settings[0]))

    return [
        ("auction_close", lambda: close_due(database)),
        ("auction_settle", lambda: settle_awards(database)),
        ("auction_refunds", refunds),
    ]
