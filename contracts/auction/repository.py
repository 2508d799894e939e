"""Every auction, bid, event and deposit query."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from contracts.auction.models import (
    Auction,
    AuctionBid,
    AuctionDeposit,
    AuctionEvent,
    AuctionStatus,
    DepositEntry,
    DepositStatus,
)
from core.pagination import paged


class AuctionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, *objects: object) -> None:
        self.session.add_all(objects)
        await self.session.flush()

    async def auction(self, auction_id: int, *, lock: bool = False, skip_locked: bool = False) -> Auction | None:
        statement = select(Auction).where(col(Auction.id) == auction_id).execution_options(populate_existing=True)
        if lock:
            statement = statement.with_for_update(skip_locked=skip_locked)
        return (await self.session.execute(statement)).scalars().first()

    async def live_on(self, achievement_id: int) -> Auction | None:
        statement = select(Auction).where(
            col(Auction.achievement_id) == achievement_id, col(Auction.status) == AuctionStatus.live
        )
        return (await self.session.execute(statement)).scalars().first()

    async def listed(self, status: AuctionStatus | None, offset: int, limit: int) -> tuple[list[Auction], int]:
        statement = select(Auction)
        if status is not None:
            statement = statement.where(col(Auction.status) == status)
        return await paged(self.session, statement.order_by(col(Auction.id).desc()), offset, limit)

    async def due_to_close(self, now: datetime, limit: int = 20) -> Sequence[int | None]:
        statement = (
            select(col(Auction.id))
            .where(col(Auction.status) == AuctionStatus.live, col(Auction.ends_at) <= now)
            .order_by(col(Auction.ends_at))
            .limit(limit)
        )
        return (await self.session.execute(statement)).scalars().all()

    async def awaiting_signature(self, limit: int = 20) -> Sequence[int | None]:
        statement = (
            select(col(Auction.id)).where(col(Auction.status) == AuctionStatus.awarded).order_by(col(Auction.id))
        )
        return (await self.session.execute(statement.limit(limit))).scalars().all()

    # --- bids and events -------------------------------------------------------------------------

    async def bid_by_key(self, auction_id: int, organization_id: int, key: str) -> AuctionBid | None:
        statement = select(AuctionBid).where(
            col(AuctionBid.auction_id) == auction_id,
            col(AuctionBid.organization_id) == organization_id,
            col(AuctionBid.idempotency_key) == key,
        )
        return (await self.session.execute(statement)).scalars().first()

    async def bids(self, auction_id: int, offset: int, limit: int) -> tuple[list[AuctionBid], int]:
        statement = select(AuctionBid).where(col(AuctionBid.auction_id) == auction_id).order_by(col(AuctionBid.seq))
        return await paged(self.session, statement, offset, limit)

    async def best_bids(self, auction_id: int) -> Sequence[AuctionBid]:
        """Each organization's highest bid, highest first (the winner, then the runner-up...)."""
        statement = (
            select(AuctionBid)
            .where(col(AuctionBid.auction_id) == auction_id)
            .order_by(col(AuctionBid.amount_fen).desc())
        )
        seen: set[int] = set()
        best: list[AuctionBid] = []
        for bid in (await self.session.execute(statement)).scalars():
            if bid.organization_id not in seen:
                seen.add(bid.organization_id)
                best.append(bid)
        return best

    async def events_after(self, auction_id: int, cursor: int, limit: int = 200) -> Sequence[AuctionEvent]:
        statement = (
            select(AuctionEvent)
            .where(col(AuctionEvent.auction_id) == auction_id, col(AuctionEvent.seq) > cursor)
            .order_by(col(AuctionEvent.seq))
            .limit(limit)
        )
        return (await self.session.execute(statement)).scalars().all()

    # --- deposits --------------------------------------------------------------------------------

    async def deposit_of(self, auction_id: int, organization_id: int, *, lock: bool = False) -> AuctionDeposit | None:
        statement = select(AuctionDeposit).where(
            col(AuctionDeposit.auction_id) == auction_id, col(AuctionDeposit.organization_id) == organization_id
        )
        if lock:
            statement = statement.with_for_update()
        return (await self.session.execute(statement.execution_options(populate_existing=True))).scalars().first()

    async def deposit(self, deposit_id: int, *, lock: bool = False) -> AuctionDeposit | None:
        statement = select(AuctionDeposit).where(col(AuctionDeposit.id) == deposit_id)
        if lock:
            statement = statement.with_for_update()
        return (await self.session.execute(statement.execution_options(populate_existing=True))).scalars().first()

    async def deposit_by_intent(self, intent_id: str) -> AuctionDeposit | None:
        statement = select(AuctionDeposit).where(col(AuctionDeposit.provider_intent_id) == intent_id)
        return (await self.session.execute(statement.execution_options(populate_existing=True))).scalars().first()

    async def deposits_of(self, auction_id: int) -> Sequence[AuctionDeposit]:
        statement = (
            select(AuctionDeposit).where(col(AuctionDeposit.auction_id) == auction_id).order_by(col(AuctionDeposit.id))
        )
        return (await self.session.execute(statement.execution_options(populate_existing=True))).scalars().all()

    async def deposits_in(
        self, statuses: Sequence[DepositStatus], offset: int, limit: int
    ) -> tuple[list[AuctionDeposit], int]:
        statement = (
            select(AuctionDeposit).where(col(AuctionDeposit.status).in_(statuses)).order_by(col(AuctionDeposit.id))
        )
        return await paged(self.session, statement, offset, limit)

    async def refunds_due(self, limit: int = 20) -> Sequence[int | None]:
        statement = (
            select(col(AuctionDeposit.id))
            .where(col(AuctionDeposit.status) == DepositStatus.refund_due)
            .order_by(col(AuctionDeposit.id))
            .limit(limit)
        )
        return (await self.session.execute(statement)).scalars().all()

    async def credit_to(self, contract_id: int) -> int:
        """Fen of the winner's deposit credited (or, the contract signed, about to be) to ``contract_id``."""
        statement = (
            select(col(AuctionDeposit.amount_fen))
            .join(Auction, col(Auction.id) == col(AuctionDeposit.auction_id))
            .where(
                col(Auction.contract_id) == contract_id,
                col(AuctionDeposit.organization_id) == col(Auction.winner_org_id),
                col(AuctionDeposit.status).in_([DepositStatus.credited, DepositStatus.awaiting_signature]),
            )
        )
        return int(sum((await self.session.execute(statement)).scalars()))

    async def entry_exists(self, deposit_id: int, kind: str) -> bool:
        statement = select(col(DepositEntry.id)).where(
            col(DepositEntry.deposit_id) == deposit_id, col(DepositEntry.kind) == kind
        )
        return (await self.session.execute(statement)).first() is not None

    async def ledger_totals(self, auction_id: int | None = None) -> dict[str, int]:
        statement = select(col(DepositEntry.kind), func.coalesce(func.sum(col(DepositEntry.amount_fen)), 0)).group_by(
            col(DepositEntry.kind)
        )
        if auction_id is not None:
            statement = statement.where(col(DepositEntry.auction_id) == auction_id)
        return {str(kind): int(total) for kind, total in (await self.session.execute(statement)).all()}
