"""Turning announced events into notifications, and each user's list of them.

The fan-out claims events as the search relay does (head of each key, ``FOR UPDATE SKIP LOCKED`` on
PostgreSQL), so several workers share the work and each event is told once; in the same
transaction it writes the users' notifications, the pushes and the push events, so a crash leaves
either all of them or none (the event is claimed again). Rows are unique per (event, user) and
(event, channel, recipient): a replayed event adds nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import structlog
from sqlalchemy import ColumnElement, and_, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from core import outbox
from core.db import Database
from core.errors import NotFound
from core.reference import region_contains
from core.types import utcnow
from market.identity.models import Role, User
from market.notifications.messages import compose
from market.notifications.models import (
    EMAIL_TOPIC,
    WEBHOOK_TOPIC,
    Channel,
    DeliveryStatus,
    NotificationDelivery,
    UserNotification,
    WebhookEndpoint,
)

log = structlog.get_logger("techmarket.notifications")
REGISTRATION_TOPIC = "contract.registration"
DEAL_MESSAGE_TOPIC = "deal.message"
SIGNATURE_TOPIC = "contract.signature"
PAYMENT_TOPIC = "contract.payment"
DISTRIBUTION_TOPIC = "contract.distribution"
PRICE_NOTICE_TOPIC = "pricing.notice"
TOPICS = [
    REGISTRATION_TOPIC,
    DEAL_MESSAGE_TOPIC,
    SIGNATURE_TOPIC,
    PAYMENT_TOPIC,
    DISTRIBUTION_TOPIC,
    PRICE_NOTICE_TOPIC,
]


class UserNotificationNotFound(NotFound):
    code = "notification_not_found"
    message = "通知不存在"


async def announce(
    session: AsyncSession, topic: str, key: str, event_id: str, event_type: str, data: dict[str, Any]
) -> None:
    """An event on the outbox in the shape of a webhook delivery; ``data.organization_ids``: whom it concerns."""
    body = {"id": event_id, "type": event_type, "created_at": utcnow().isoformat(), "data": data}
    await outbox.enqueue(session, topic, key, body)


async def _exists(session: AsyncSession, model: type[UserNotification | NotificationDelivery], **where: Any) -> bool:
    statement = select(col(model.id)).where(*(getattr(model, name) == value for name, value in where.items()))
    return (await session.execute(statement.limit(1))).first() is not None


async def _audience(session: AsyncSession, organization_ids: list[int], data: dict[str, Any]) -> list[User]:
    """The active users an event concerns: the members of ``organization_ids``, the users named in
    ``user_ids`` (a linked inventor), and (``registrar_region``) whoever may act on that seller region's
    registration queue: the platform admins and the region admins whose 盟市 contains it."""
    user_ids = {int(i) for i in data.get("user_ids") or []}
    region = data.get("registrar_region")
    wanted: list[ColumnElement[bool]] = [col(User.organization_id).in_(organization_ids), col(User.id).in_(user_ids)]
    if region:
        wanted += [col(User.role) == Role.platform_admin, col(User.role) == Role.region_admin]
    rows = (
        await session.execute(select(User).where(or_(*wanted), col(User.is_active)).order_by(col(User.id)))
    ).scalars()
    return [
        user
        for user in rows
        if user.organization_id in organization_ids
        or user.id in user_ids
        or (region and user.role == Role.platform_admin)
        or (
            region
            and user.role == Role.region_admin
            and user.region_scope is not None
            and region_contains(user.region_scope, str(region))
        )
    ]


async def tell(session: AsyncSession, event: dict[str, Any], *, email: bool) -> int:
    """Notifications, webhook pushes and (``email``) e-mails for one announced event; how many users were told."""
    data = dict(event.get("data") or {})
    message = compose(str(event.get("type")), data)
    if message is None:
        return 0
    event_id = str(event["id"])
    organization_ids = sorted({int(i) for i in data.get("organization_ids") or []})
    told = 0
    for user in await _audience(session, organization_ids, data):
        assert user.id is not None
        if await _exists(session, UserNotification, event_id=event_id, user_id=user.id):
            continue
        session.add(
            UserNotification(
                user_id=user.id,
                organization_id=user.organization_id,
                event_id=event_id,
                type=str(event["type"]),
                title=message.title[:200],
                body=message.body[:2000],
                contract_id=data.get("contract_id"),
                deal_id=data.get("deal_id"),
            )
        )
        told += 1
        if email:
            await _push(session, event_id, Channel.email, user.email, user.organization_id, message, {}, user.id)
    endpoints = (
        await session.execute(
            select(col(WebhookEndpoint.organization_id)).where(
                col(WebhookEndpoint.organization_id).in_(organization_ids)
            )
        )
    ).scalars()
    for organization_id in endpoints:
        payload = {**event, "data": {**data, "notification": {"title": message.title, "body": message.body}}}
        await _push(session, event_id, Channel.webhook, f"org:{organization_id}", organization_id, message, payload)
    await session.flush()
    return told


async def _push(
    session: AsyncSession,
    event_id: str,
    channel: Channel,
    recipient: str,
    organization_id: int | None,
    message: Any,
    payload: dict[str, Any],
    user_id: int | None = None,
) -> None:
    if await _exists(session, NotificationDelivery, event_id=event_id, channel=channel, recipient=recipient):
        return
    row = NotificationDelivery(
        event_id=event_id,
        channel=channel,
        recipient=recipient,
        organization_id=organization_id,
        user_id=user_id,
        subject=message.title[:200],
        body=message.body[:2000],
        payload=payload,
    )
    session.add(row)
    await session.flush()
    topic, key = (EMAIL_TOPIC, f"user:{user_id}") if channel == Channel.email else (WEBHOOK_TOPIC, recipient)
    await outbox.enqueue(session, topic, key, {"delivery_id": row.id})


async def fan_out_once(database: Database, *, email: bool, limit: int = 50) -> int:
    """Tell the people concerned by the due announced events; returns how many events were consumed."""
    async with database.unit_of_work() as session:
        events = await outbox.claim_due(session, TOPICS, limit=limit)
        for event in events:
            try:
                await tell(session, event.payload, email=email)
            except (
                KeyError,
                TypeError,
                ValueError,
            ) as exc:  # a malformed event tells nobody; it must not block its key
                event.last_error = f"malformed event: {type(exc).__name__}: {exc}"[:2000]
                log.error("notification_event_malformed", event_id=event.id, topic=event.topic, error=str(exc))
        await outbox.mark_processed(session, [e.id for e in events if e.id is not None])
        return len(events)


class NotificationInbox:
    """A user's own notifications and the state of their pushes."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def page(
        self, user_id: int, *, unread: bool, delivery: DeliveryStatus | None, offset: int, limit: int
    ) -> tuple[Sequence[UserNotification], int]:
        statement = select(UserNotification).where(col(UserNotification.user_id) == user_id)
        if unread:
            statement = statement.where(col(UserNotification.read_at).is_(None))
        if delivery is not None:
            statement = statement.where(
                exists().where(
                    col(NotificationDelivery.event_id) == col(UserNotification.event_id),
                    col(NotificationDelivery.delivery_status) == delivery,
                    or_(
                        col(NotificationDelivery.user_id) == user_id,
                        and_(
                            col(NotificationDelivery.channel) == Channel.webhook,
                            col(NotificationDelivery.organization_id) == col(UserNotification.organization_id),
                        ),
                    ),
                )
            )
        total = (await self.session.execute(select(func.count()).select_from(statement.subquery()))).scalar_one()
        rows = await self.session.execute(
            statement.order_by(col(UserNotification.id).desc()).offset(offset).limit(limit)
        )
        return rows.scalars().all(), int(total)

    async def pushes(self, rows: Sequence[UserNotification]) -> dict[int, list[NotificationDelivery]]:
        """Per notification: its user's e-mail and its organization's webhook push."""
        if not rows:
            return {}
        found = (
            await self.session.execute(
                select(NotificationDelivery).where(
                    col(NotificationDelivery.event_id).in_({row.event_id for row in rows})
                )
            )
        ).scalars()
        by_event: dict[str, list[NotificationDelivery]] = {}
        for push in found:
            by_event.setdefault(push.event_id, []).append(push)
        return {
            row.id or 0: [
                push
                for push in by_event.get(row.event_id, [])
                if push.user_id == row.user_id
                or (push.channel == Channel.webhook and push.organization_id == row.organization_id)
            ]
            for row in rows
        }

    async def mark_read(self, user_id: int, notification_id: int) -> UserNotification:
        row = await self.session.get(UserNotification, notification_id)
        if row is None or row.user_id != user_id:
            raise UserNotificationNotFound()
        await self.session.execute(
            update(UserNotification)
            .where(col(UserNotification.id) == notification_id, col(UserNotification.read_at).is_(None))
            .values(read_at=utcnow())
        )
        await self.session.refresh(row)
        return row
