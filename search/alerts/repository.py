"""Every query of subscriptions, notifications and webhook endpoints."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from core.pagination import paged
from core.types import utcnow
from search.alerts.models import DeliveryStatus, ListingKindName, Notification, Subscription, WebhookEndpoint


class AlertRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, *rows: object) -> None:
        self.session.add_all(rows)
        await self.session.flush()

    async def subscription(self, subscription_id: int) -> Subscription | None:
        return await self.session.get(Subscription, subscription_id)

    async def subscriptions_of(self, organization_id: int, offset: int, limit: int) -> tuple[list[Subscription], int]:
        statement = (
            select(Subscription)
            .where(col(Subscription.organization_id) == organization_id, col(Subscription.active))
            .order_by(col(Subscription.id))
        )
        return await paged(self.session, statement, offset, limit)

    async def active_for_target(self, target: ListingKindName, exclude_organization: int) -> Sequence[Subscription]:
        statement = select(Subscription).where(
            col(Subscription.active),
            col(Subscription.target_kind) == target,
            col(Subscription.organization_id) != exclude_organization,
        )
        return (await self.session.execute(statement)).scalars().all()

    async def notification_exists(self, subscription_id: int, kind: ListingKindName, listing_id: int) -> bool:
        statement = select(col(Notification.id)).where(
            col(Notification.subscription_id) == subscription_id,
            col(Notification.listing_kind) == kind,
            col(Notification.listing_id) == listing_id,
        )
        return (await self.session.execute(statement)).first() is not None

    async def notifications(
        self, organization_id: int, *, unread: bool, delivery: DeliveryStatus | None = None, offset: int, limit: int
    ) -> tuple[Sequence[Notification], int]:
        statement = select(Notification).where(col(Notification.organization_id) == organization_id)
        if unread:
            statement = statement.where(col(Notification.read_at).is_(None))
        if delivery is not None:
            statement = statement.where(col(Notification.delivery_status) == delivery)
        total = (await self.session.execute(select(func.count()).select_from(statement.subquery()))).scalar_one()
        page = statement.order_by(col(Notification.id).desc()).offset(offset).limit(limit)
        return (await self.session.execute(page)).scalars().all(), total

    async def notification(self, notification_id: int) -> Notification | None:
        return await self.session.get(Notification, notification_id)

    async def mark_read(self, organization_id: int, notification_id: int) -> int:
        result = await self.session.execute(
            update(Notification)
            .where(
                col(Notification.id) == notification_id,
                col(Notification.organization_id) == organization_id,
                col(Notification.read_at).is_(None),
            )
            .values(read_at=utcnow())
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def webhook_of(self, organization_id: int) -> WebhookEndpoint | None:
        statement = select(WebhookEndpoint).where(col(WebhookEndpoint.organization_id) == organization_id)
        return (await self.session.execute(statement)).scalars().first()

    async def remove(self, row: object) -> None:
        await self.session.delete(row)
        await self.session.flush()
