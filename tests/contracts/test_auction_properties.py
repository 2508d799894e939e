"""Property: for any interleaving of bids, retries and closes, the winner is the highest valid bid, no
two accepted bids share a price, bids rise by at least the increment, a retried key never places a
second bid, and every deposit ends refunded, credited or forfeited with the ledger balanced to the fen.

Each example runs on its own copy of the migrated SQLite template (the demo organizations as bidders);
steps of a batch run concurrently, so the row lock, not the test, orders them. The provider's part of
a refund is covered against the real stub in test_auctions.py; here a due refund is recorded directly.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from contracts.auction import deposits as deposit_ledger
from contracts.auction.closing import close_one, settle_one
from contracts.auction.models import (
    RESOLVED,
    Auction,
    AuctionBid,
    AuctionDeposit,
    DepositEntry,
    DepositStatus,
    LedgerKind,
)
from contracts.auction.service import AuctionService
from contracts.contract.models import ContractSubtype, ContractType
from core.db import Database, create_engine
from core.errors import DomainError
from core.types import utcnow
from market.identity.models import Organization, User
from market.identity.service import Principal
from market.listings.models import Achievement, PricingMode
from tests.contracts.conftest import published_achievement
from tests.contracts.helpers import ENERGY, ENTERPRISE, INSTITUTE, UNIVERSITY

BIDDERS = (ENTERPRISE, ENERGY, UNIVERSITY)
START, RESERVE, INCREMENT, DEPOSIT = 100_000, 130_000, 5_000, 20_000

step = st.one_of(
    st.tuples(st.just("bid"), st.integers(0, 2), st.integers(-1, 3), st.integers(0, 3)),  # bidder, raises, key
    st.tuples(st.just("close"), st.just(0), st.just(0), st.just(0)),
)
scenarios = st.lists(st.lists(step, min_size=1, max_size=4), min_size=1, max_size=8)  # batches run concurrently


async def _principal(database: Database, email: str) -> Principal:
    async with database.unit_of_work() as session:
        user = (await session.execute(select(User).where(User.email == email))).scalar_one()
        organization = await session.get(Organization, user.organization_id)
        return Principal(user=user, organization=organization)


async def _scenario(url: str, batches: list[list[tuple[str, int, int, int]]]) -> None:
    database = Database(create_engine(url))
    try:
        await _run(database, batches)
    finally:
        await database.dispose()


async def lot_with_deposits(
    database: Database, ends_at: datetime, extension_minutes: int = 5
) -> tuple[int, list[Principal]]:
    """A live lot of the institute's with the three bidders' deposits held (the ledger's paid entries)."""
    seller = await _principal(database, INSTITUTE)
    bidders = [await _principal(database, email) for email in BIDDERS]
    achievement_id = await published_achievement(database, INSTITUTE)
    now = utcnow()
    async with database.unit_of_work() as session:
        achievement = await session.get(Achievement, achievement_id)
        assert achievement is not None
        achievement.pricing_mode = PricingMode.auction
        auction = Auction(
            achievement_id=achievement_id,
            seller_org_id=seller.organization.id if seller.organization else 0,
            created_by=seller.user.id or 0,
            title="性质测试拍卖",
            contract_type=ContractType.transfer,
            contract_subtype=ContractSubtype.patent_right,
            start_price_fen=START,
            reserve_fen=RESERVE,
            increment_fen=INCREMENT,
            deposit_fen=DEPOSIT,
            starts_at=now - timedelta(minutes=1),
            ends_at=ends_at,
            scheduled_end_at=ends_at,
            extension_minutes=extension_minutes,
        )
        session.add(auction)
        await session.flush()
        aid = auction.id or 0
        for number, bidder in enumerate(bidders):
            deposit = AuctionDeposit(
                auction_id=aid,
                organization_id=bidder.organization.id if bidder.organization else 0,
                amount_fen=DEPOSIT,
                status=DepositStatus.held,
                idempotency_key=f"prop-{aid}-{number}",
            )
            session.add(deposit)
            await session.flush()
            await deposit_ledger.record(session, deposit, LedgerKind.paid, "test")
    return aid, bidders


async def _run(database: Database, batches: list[list[tuple[str, int, int, int]]]) -> None:
    now = utcnow()
    aid, bidders = await lot_with_deposits(database, now + timedelta(hours=1))
    close_at = now + timedelta(hours=2)
    placed: dict[tuple[int, str], tuple[int, int]] = {}  # (bidder, key) -> (bid id, amount)

    async def bid(who: int, raises: int, key: int) -> None:
        async with database.unit_of_work() as session:
            current = await session.get(Auction, aid)
            assert current is not None
            floor = START if current.current_price_fen is None else current.current_price_fen + INCREMENT
        amount = floor + raises * INCREMENT if raises >= 0 else floor - 1  # -1: an invalid bid
        name = f"k{key}"
        earlier = placed.get((who, name))
        if earlier is not None:
            amount = earlier[1]  # a retry sends the same request again
        try:
            async with database.unit_of_work() as session:
                placed_bid, created, _ = await AuctionService(session).bid(bidders[who], aid, amount, name)
                result = (placed_bid.id or 0, placed_bid.amount_fen)
        except DomainError:
            return
        if earlier is not None:
            assert result == earlier and not created, "a retried key placed a second bid"
        placed[(who, name)] = result

    async def close() -> None:
        async with database.unit_of_work() as session:
            await close_one(session, aid, close_at)

    for batch in batches:
        await asyncio.gather(*(bid(w, r, k) if kind == "bid" else close() for kind, w, r, k in batch))
    await close()
    await close()  # closing again changes nothing

    async with database.unit_of_work() as session:
        bids = (
            (await session.execute(select(AuctionBid).where(AuctionBid.auction_id == aid).order_by(AuctionBid.seq)))
            .scalars()
            .all()
        )
        auction = await session.get(Auction, aid)
        assert auction is not None
    amounts = [b.amount_fen for b in bids]
    assert [b.seq for b in bids] == list(range(1, len(bids) + 1))
    assert len(set(amounts)) == len(amounts), "two accepted bids share a price"
    assert all(b - a >= INCREMENT for a, b in zip(amounts, amounts[1:], strict=False)), "a bid below the increment"
    assert not amounts or amounts[0] >= START
    assert {bid_id for bid_id, _ in placed.values()} == {b.id for b in bids}, "a bid lost or duplicated"
    best = max(bids, key=lambda b: b.amount_fen, default=None)
    if best is not None and best.amount_fen >= RESERVE:
        assert (auction.winner_bid_id, auction.price_fen) == (best.id, best.amount_fen)
    else:
        assert auction.status.value == "unsold" and auction.winner_bid_id is None

    # Refund what is due, let the winner's days run out (forfeit; the runner-up may be offered), repeat.
    for _ in range(3):
        async with database.unit_of_work() as session:
            for deposit in (
                await session.execute(select(AuctionDeposit).where(AuctionDeposit.auction_id == aid))
            ).scalars():
                if deposit.status == DepositStatus.refund_due:
                    await deposit_ledger.resolve(session, deposit, LedgerKind.refunded, "test")
        async with database.unit_of_work() as session:
            await settle_one(session, aid, close_at + timedelta(days=400))
    async with database.unit_of_work() as session:
        deposits = (
            (await session.execute(select(AuctionDeposit).where(AuctionDeposit.auction_id == aid))).scalars().all()
        )
        entries = (await session.execute(select(DepositEntry).where(DepositEntry.auction_id == aid))).scalars().all()
    assert all(d.status in RESOLVED for d in deposits), [d.status for d in deposits]
    for deposit in deposits:
        mine = [e for e in entries if e.deposit_id == deposit.id]
        paid = sum(e.amount_fen for e in mine if e.kind == LedgerKind.paid)
        out = sum(e.amount_fen for e in mine if e.kind != LedgerKind.paid)
        assert paid == out == DEPOSIT and len(mine) == 2, "the ledger does not balance to the fen"


@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(batches=scenarios)
def test_any_interleaving_keeps_the_auction_invariants(
    batches: list[list[tuple[str, int, int, int]]], migrated_urls: dict[str, str]
) -> None:
    template = Path(migrated_urls["sqlite"].removeprefix("sqlite+aiosqlite:///"))
    with tempfile.TemporaryDirectory() as directory:
        copy = Path(directory) / "auction.db"
        shutil.copyfile(template, copy)
        # In a thread of its own: the example owns its event loop whatever loop pytest keeps running.
        with ThreadPoolExecutor(max_workers=1) as pool:
            pool.submit(asyncio.run, _scenario(f"sqlite+aiosqlite:///{copy}", batches)).result()
