"""Every payment and inbox query."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.payment.models import REFUSED_RESULTS, Payment, PaymentRefund, WebhookEvent


class PaymentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, *objects: object) -> None:
        self.session.add_all(objects)
        await self.session.flush()

    async def of_milestone(self, milestone_id: int) -> Payment | None:
        statement = (
            select(Payment).where(Payment.milestone_id == milestone_id).execution_options(populate_existing=True)
        )
        return (await self.session.execute(statement)).scalars().first()

    async def by_intent(self, intent_id: str) -> Payment | None:
        statement = (
            select(Payment).where(Payment.provider_intent_id == intent_id).execution_options(populate_existing=True)
        )
        return (await self.session.execute(statement)).scalars().first()

    async def of_contract(self, contract_id: int) -> Sequence[Payment]:
        statement = select(Payment).where(Payment.contract_id == contract_id).order_by(Payment.id)  # type: ignore[arg-type]
        return (await self.session.execute(statement)).scalars().all()

    async def all(self) -> Sequence[Payment]:
        return (await self.session.execute(select(Payment).order_by(Payment.id))).scalars().all()  # type: ignore[arg-type]

    async def refund_recorded(self, provider_refund_id: str) -> bool:
        statement = select(PaymentRefund.id).where(PaymentRefund.provider_refund_id == provider_refund_id)
        return (await self.session.execute(statement)).first() is not None

    async def event(self, event_id: str) -> WebhookEvent | None:
        statement = select(WebhookEvent).where(WebhookEvent.event_id == event_id)
        return (await self.session.execute(statement)).scalars().first()

    async def unprocessed_events(self) -> Sequence[WebhookEvent]:
        statement = select(WebhookEvent).where(WebhookEvent.processed_at.is_(None)).order_by(WebhookEvent.id)  # type: ignore[union-attr,arg-type]
        return (await self.session.execute(statement)).scalars().all()

    async def refused_events(self) -> Sequence[WebhookEvent]:
        statement = select(WebhookEvent).where(WebhookEvent.result.in_(REFUSED_RESULTS)).order_by(WebhookEvent.id)  # type: ignore[union-attr,arg-type]
        return (await self.session.execute(statement)).scalars().all()
