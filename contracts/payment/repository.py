"""Every payment and inbox query."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from contracts.payment.models import REFUSED_RESULTS, Payment, PaymentRefund, WebhookEvent
from core.pagination import paged


class PaymentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, *objects: object) -> None:
        self.session.add_all(objects)
        await self.session.flush()

    async def of_milestone(self, milestone_id: int) -> Payment | None:
        statement = (
            select(Payment).where(col(Payment.milestone_id) == milestone_id).execution_options(populate_existing=True)
        )
        return (await self.session.execute(statement)).scalars().first()

    async def by_intent(self, intent_id: str) -> Payment | None:
        statement = (
            select(Payment)
            .where(col(Payment.provider_intent_id) == intent_id)
            .execution_options(populate_existing=True)
        )
        return (await self.session.execute(statement)).scalars().first()

    async def of_contract(self, contract_id: int, offset: int, limit: int) -> tuple[list[Payment], int]:
        statement = select(Payment).where(col(Payment.contract_id) == contract_id).order_by(col(Payment.id))
        return await paged(self.session, statement, offset, limit)

    async def all(self) -> Sequence[Payment]:
        return (await self.session.execute(select(Payment).order_by(col(Payment.id)))).scalars().all()

    async def refund_recorded(self, provider_refund_id: str) -> bool:
        statement = select(col(PaymentRefund.id)).where(col(PaymentRefund.provider_refund_id) == provider_refund_id)
        return (await self.session.execute(statement)).first() is not None

    async def event(self, event_id: str) -> WebhookEvent | None:
        statement = select(WebhookEvent).where(col(WebhookEvent.event_id) == event_id)
        return (await self.session.execute(statement)).scalars().first()

    async def unprocessed_events(self) -> Sequence[WebhookEvent]:
        statement = select(WebhookEvent).where(col(WebhookEvent.processed_at).is_(None)).order_by(col(WebhookEvent.id))
        return (await self.session.execute(statement)).scalars().all()

    async def refused_events(self) -> Sequence[WebhookEvent]:
        statement = (
            select(WebhookEvent).where(col(WebhookEvent.result).in_(REFUSED_RESULTS)).order_by(col(WebhookEvent.id))
        )
        return (await self.session.execute(statement)).scalars().all()
