"""Subscriptions to matches and the notifications they produce (pushed by the organization's webhook)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from core.types import UTCDateTime, str_enum, utcnow
from market.notifications.models import DeliveryStatus, WebhookEndpoint

__all__ = ["DeliveryStatus", "ListingKindName", "Notification", "Subscription", "WebhookEndpoint", "payload_of"]


class ListingKindName(StrEnum):
    achievement = "achievement"
    demand = "demand"


class Subscription(SQLModel, table=True):
    """Either one of the organization's own listings (alert on new listings that match it) or a saved query."""

    __tablename__ = "subscriptions"

    id: int | None = Field(default=None, primary_key=True)
    organization_id: int = Field(foreign_key="organizations.id", index=True, ondelete="CASCADE")
    created_by: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    source_kind: ListingKindName | None = Field(default=None, sa_type=str_enum(ListingKindName, 16))
    source_id: int | None = None
    query: str | None = Field(default=None, max_length=200)
    target_kind: ListingKindName = Field(sa_type=str_enum(ListingKindName, 16), nullable=False, index=True)
    threshold: float = Field(ge=0, le=1)
    active: bool = Field(default=True, index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class Notification(SQLModel, table=True):
    __tablename__ = "notifications"
    __table_args__ = (UniqueConstraint("subscription_id", "listing_kind", "listing_id"),)

    id: int | None = Field(default=None, primary_key=True)
    organization_id: int = Field(foreign_key="organizations.id", index=True, ondelete="CASCADE")
    subscription_id: int = Field(foreign_key="subscriptions.id", ondelete="CASCADE")
    listing_kind: ListingKindName = Field(sa_type=str_enum(ListingKindName, 16), nullable=False)
    listing_id: int
    title: str = Field(max_length=200)
    score: float
    reasons: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    read_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    delivery_error: str | None = Field(default=None, max_length=500)
    delivery_status: DeliveryStatus | None = Field(default=None, sa_type=str_enum(DeliveryStatus, 16))
    delivery_attempts: int = Field(default=0)


def payload_of(notification: Notification) -> dict[str, Any]:
    return {
        "id": f"ntf_{notification.id}",
        "type": "match.alert",
        "created_at": notification.created_at.isoformat(),
        "data": {
            "listing_kind": notification.listing_kind.value,
            "listing_id": notification.listing_id,
            "title": notification.title,
            "score": notification.score,
            "reasons": notification.reasons,
            "subscription_id": notification.subscription_id,
        },
    }
