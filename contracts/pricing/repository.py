"""Every query of price discovery: notices, objections, listings, deal notices, certificates."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from contracts.contract.models import ContractAchievement
from contracts.pricing.models import (
    DealNotice,
    ListingAcceptance,
    NoticeStatus,
    ObjectionStatus,
    PriceListing,
    PriceListingStatus,
    PriceNotice,
    PriceObjection,
    TransactionCertificate,
)
from core.pagination import paged
from market.identity.models import Organization
from market.listings.models import Achievement


def _locking(session: AsyncSession) -> bool:
    return session.bind is not None and session.bind.dialect.name == "postgresql"


class PricingRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, *objects: object) -> None:
        self.session.add_all(objects)
        await self.session.flush()

    async def organization(self, organization_id: int) -> Organization | None:
        return await self.session.get(Organization, organization_id)

    async def achievement(self, achievement_id: int, *, lock: bool = False) -> Achievement | None:
        statement = select(Achievement).where(col(Achievement.id) == achievement_id)
        if lock and _locking(self.session):
            statement = statement.with_for_update()
        return (await self.session.execute(statement)).scalars().first()

    # --- 协议定价公示 ---------------------------------------------------------------------------

    async def notice(self, notice_id: int) -> PriceNotice | None:
        return await self.session.get(PriceNotice, notice_id)

    async def notices(
        self, offset: int, limit: int, achievement_id: int | None = None
    ) -> tuple[list[PriceNotice], int]:
        statement = select(PriceNotice).where(col(PriceNotice.status) == NoticeStatus.open)
        if achievement_id is not None:
            statement = statement.where(col(PriceNotice.achievement_id) == achievement_id)
        return await paged(self.session, statement.order_by(col(PriceNotice.id).desc()), offset, limit)

    async def notices_for(self, achievement_id: int, buyer_id: int, price_fen: int) -> list[PriceNotice]:
        statement = select(PriceNotice).where(
            col(PriceNotice.achievement_id) == achievement_id,
            col(PriceNotice.transferee_organization_id) == buyer_id,
            col(PriceNotice.price_fen) == price_fen,
            col(PriceNotice.status) == NoticeStatus.open,
        )
        return list((await self.session.execute(statement.order_by(col(PriceNotice.id)))).scalars())

    async def running_notices(self, achievement_id: int, today: date) -> int:
        """Notices of the achievement whose period has not ended yet."""
        statement = select(col(PriceNotice.id)).where(
            col(PriceNotice.achievement_id) == achievement_id,
            col(PriceNotice.status) == NoticeStatus.open,
            col(PriceNotice.ends_on) >= today,
        )
        return len((await self.session.execute(statement)).all())

    async def notices_with_open_objections(self, notice_ids: Sequence[int]) -> set[int]:
        if not notice_ids:
            return set()
        statement = select(col(PriceObjection.notice_id)).where(
            col(PriceObjection.notice_id).in_(notice_ids), col(PriceObjection.status) == ObjectionStatus.open
        )
        return {row[0] for row in (await self.session.execute(statement)).all()}

    async def objection(self, notice_id: int, objection_id: int) -> PriceObjection | None:
        row = await self.session.get(PriceObjection, objection_id)
        return row if row is not None and row.notice_id == notice_id else None

    async def objections(self, notice_id: int, offset: int, limit: int) -> tuple[list[PriceObjection], int]:
        statement = select(PriceObjection).where(col(PriceObjection.notice_id) == notice_id)
        return await paged(self.session, statement.order_by(col(PriceObjection.id)), offset, limit)

    async def open_objections(
        self, offset: int, limit: int, seller_region_prefix: str | None
    ) -> tuple[list[PriceObjection], int]:
        """Unanswered objections, oldest first; a region admin's only of sellers in its region."""
        statement = (
            select(PriceObjection)
            .join(PriceNotice, col(PriceNotice.id) == col(PriceObjection.notice_id))
            .where(col(PriceObjection.status) == ObjectionStatus.open, col(PriceNotice.status) == NoticeStatus.open)
        )
        if seller_region_prefix is not None:
            statement = statement.join(
                Organization, col(Organization.id) == col(PriceNotice.seller_organization_id)
            ).where(col(Organization.region).startswith(seller_region_prefix))
        return await paged(self.session, statement.order_by(col(PriceObjection.id)), offset, limit)

    async def open_objection_counts(self, notice_ids: Sequence[int]) -> dict[int, int]:
        counts: dict[int, int] = {}
        if notice_ids:
            statement = select(col(PriceObjection.notice_id)).where(
                col(PriceObjection.notice_id).in_(notice_ids), col(PriceObjection.status) == ObjectionStatus.open
            )
            for (notice_id,) in (await self.session.execute(statement)).all():
                counts[notice_id] = counts.get(notice_id, 0) + 1
        return counts

    # --- 挂牌 -----------------------------------------------------------------------------------

    async def listing(self, listing_id: int, *, lock: bool = False) -> PriceListing | None:
        statement = select(PriceListing).where(col(PriceListing.id) == listing_id)
        if lock and _locking(self.session):
            statement = statement.with_for_update()
        return (await self.session.execute(statement.execution_options(populate_existing=lock))).scalars().first()

    async def open_listing(self, achievement_id: int) -> PriceListing | None:
        statement = select(PriceListing).where(
            col(PriceListing.achievement_id) == achievement_id, col(PriceListing.status) == PriceListingStatus.open
        )
        return (await self.session.execute(statement)).scalars().first()

    async def acceptances(self, listing_id: int) -> list[ListingAcceptance]:
        statement = select(ListingAcceptance).where(col(ListingAcceptance.listing_id) == listing_id)
        ordered = statement.order_by(col(ListingAcceptance.bid_fen).desc(), col(ListingAcceptance.id))
        return list((await self.session.execute(ordered)).scalars())

    # --- 成交公示, 交易鉴证 ------------------------------------------------------------------------

    async def award(self, achievement_id: int, mode: str, buyer_id: int, price_fen: int) -> DealNotice | None:
        statement = select(DealNotice).where(
            col(DealNotice.achievement_id) == achievement_id,
            col(DealNotice.mode) == mode,
            col(DealNotice.buyer_organization_id) == buyer_id,
            col(DealNotice.price_fen) == price_fen,
        )
        return (await self.session.execute(statement.order_by(col(DealNotice.id)))).scalars().first()

    async def unlinked_award(self, achievement_ids: Sequence[int], buyer_id: int, price_fen: int) -> DealNotice | None:
        """An award (listing or auction) not yet tied to a contract, for this buyer at this price."""
        if not achievement_ids:
            return None
        statement = select(DealNotice).where(
            col(DealNotice.achievement_id).in_(achievement_ids),
            col(DealNotice.buyer_organization_id) == buyer_id,
            col(DealNotice.price_fen) == price_fen,
            col(DealNotice.contract_id).is_(None),
        )
        return (await self.session.execute(statement.order_by(col(DealNotice.id)))).scalars().first()

    async def deal_notice_of_contract(self, contract_id: int) -> DealNotice | None:
        statement = select(DealNotice).where(col(DealNotice.contract_id) == contract_id)
        return (await self.session.execute(statement)).scalars().first()

    async def deal_notices(
        self, offset: int, limit: int, achievement_id: int | None = None
    ) -> tuple[list[DealNotice], int]:
        statement = select(DealNotice)
        if achievement_id is not None:
            statement = statement.where(col(DealNotice.achievement_id) == achievement_id)
        return await paged(self.session, statement.order_by(col(DealNotice.id).desc()), offset, limit)

    async def certificate_of_contract(self, contract_id: int) -> TransactionCertificate | None:
        statement = select(TransactionCertificate).where(col(TransactionCertificate.contract_id) == contract_id)
        return (await self.session.execute(statement)).scalars().first()

    async def certificate(self, number: str) -> TransactionCertificate | None:
        statement = select(TransactionCertificate).where(col(TransactionCertificate.number) == number)
        return (await self.session.execute(statement)).scalars().first()

    async def organization_names(self, *ids: int) -> dict[int, str]:
        statement = select(col(Organization.id), col(Organization.name)).where(col(Organization.id).in_(ids))
        return {int(i or 0): str(name) for i, name in (await self.session.execute(statement)).all()}

    async def achievement_titles(self, contract_id: int) -> list[str]:
        """The contract's object: its achievements' titles, in id order."""
        statement = (
            select(col(Achievement.title))
            .join(ContractAchievement, col(ContractAchievement.achievement_id) == col(Achievement.id))
            .where(col(ContractAchievement.contract_id) == contract_id)
            .order_by(col(Achievement.id))
        )
        return [str(t) for t in (await self.session.execute(statement)).scalars()]
