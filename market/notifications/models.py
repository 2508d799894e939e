"""What people are told: a notification per user (in-app), and its pushes (organization webhook, e-mail).

The webhook endpoint and the delivery states live here, below search and contracts, because match
alerts (search) and contract notifications (contracts) are pushed by the same signed delivery.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from core.types import UTCDateTime, str_enum, utcnow

WEBHOOK_TOPIC = "alerts.webhook"  # every organization webhook push, ordered per organization
EMAIL_TOPIC = "notifications.email"  # every notification e-mail, ordered per user


class DeliveryStatus(StrEnum):
    """A push to a webhook or a mailbox (None on an alert: no webhook was set when it was made)."""

    pending = "pending"  # queued or waiting for a retry (``delivery_error`` says why the last try failed)
    delivered = "delivered"
    failed = "failed"  # dead-lettered: refused destination or every attempt failed


class Channel(StrEnum):
    webhook = "webhook"
    email = "email"


class WebhookEndpoint(SQLModel, table=True):
    __tablename__ = "webhook_endpoints"

    id: int | None = Field(default=None, primary_key=True)
    organization_id: int = Field(foreign_key="organizations.id", unique=True, ondelete="CASCADE")
    url: str = Field(max_length=500)
    secret: str = Field(max_length=100, description="HMAC-SHA256 key shared with the receiver")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class UserNotification(SQLModel, table=True):
    """One event told to one user; made once per (event, user) however often the event is replayed."""

    __tablename__ = "user_notifications"
    __table_args__ = (UniqueConstraint("event_id", "user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    organization_id: int | None = Field(
        default=None, foreign_key="organizations.id", ondelete="CASCADE", description="none for a registrar"
    )
    event_id: str = Field(max_length=64, description="the announcing event's id, also the webhook's event id")
    type: str = Field(max_length=64)
    title: str = Field(max_length=200)
    body: str = Field(max_length=2000)
    contract_id: int | None = None
    deal_id: int | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    read_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class NotificationDelivery(SQLModel, table=True):
    """One push of one event: to an organization's webhook, or to a user's mailbox. The state fields
    carry the same names as an alert's, so the one webhook delivery records both alike."""

    __tablename__ = "notification_deliveries"
    __table_args__ = (UniqueConstraint("event_id", "channel", "recipient"),)

    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(max_length=64, index=True)
    channel: Channel = Field(sa_type=str_enum(Channel, 16), nullable=False)
    recipient: str = Field(max_length=280, description="org:<id> for a webhook, the address for an e-mail")
    organization_id: int | None = Field(
        default=None, foreign_key="organizations.id", index=True, ondelete="CASCADE", description="none for a registrar"
    )
    user_id: int | None = Field(default=None, foreign_key="users.id", ondelete="CASCADE")
    subject: str = Field(max_length=200)
    body: str = Field(max_length=2000)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    delivery_status: DeliveryStatus | None = Field(  # never None here; typed as an alert's for ``delivery.settle``
        default=DeliveryStatus.pending, sa_type=str_enum(DeliveryStatus, 16), nullable=False
    )
    delivery_attempts: int = Field(default=0)
    delivery_error: str | None = Field(default=None, max_length=500)
