from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from pydantic_core import PydanticCustomError

from core.pagination import Page
from core.visibility import Classified, Org, Public
from search.alerts.models import DeliveryStatus, ListingKindName


class SubscriptionCreate(BaseModel):
    """Either ``listing_kind`` + ``listing_id`` (one of your listings) or ``query`` + ``target_kind``."""

    model_config = ConfigDict(extra="forbid")

    listing_kind: ListingKindName | None = None
    listing_id: int | None = None
    query: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] | None = None
    target_kind: ListingKindName | None = None
    threshold: float = Field(default=0.5, ge=0, le=1, description="得分达到此值才提醒 (0–1)")

    @model_validator(mode="after")
    def _one_source(self) -> SubscriptionCreate:
        by_listing = self.listing_kind is not None and self.listing_id is not None
        by_query = self.query is not None and self.target_kind is not None
        if by_listing == by_query:
            raise PydanticCustomError(
                "subscription_source",
                "请指定本单位的一条成果/需求 (listing_kind + listing_id) 或一个检索词 (query + target_kind), 二选一",
            )
        return self


class SubscriptionRead(Classified):
    """An organization's own subscription (the endpoint names the organization)."""

    model_config = ConfigDict(from_attributes=True)

    id: Public[int]
    source_kind: Org[ListingKindName | None]
    source_id: Org[int | None]
    query: Org[str | None]
    target_kind: Org[ListingKindName]
    threshold: Org[float]
    created_at: Org[datetime]


class SubscriptionPage(Page[SubscriptionRead]):
    pass


class NotificationRead(Classified):
    """An organization's own alert (the endpoint names the organization)."""

    model_config = ConfigDict(from_attributes=True)

    id: Public[int]
    subscription_id: Org[int]
    listing_kind: Org[ListingKindName]
    listing_id: Org[int]
    title: Org[str]
    score: Org[float]
    reasons: Org[list[str]]
    created_at: Org[datetime]
    read_at: Org[datetime | None]
    delivered_at: Org[datetime | None]
    delivery_status: Org[DeliveryStatus | None] = Field(
        description="推送到本单位回调地址的状态; 空: 当时未设置回调地址"
    )
    delivery_attempts: Org[int] = Field(description="已尝试推送的次数")
    delivery_error: Org[str | None] = Field(description="最近一次推送失败的原因 (稳定的错误码开头)")


class NotificationPage(Page[NotificationRead]):
    pass


class WebhookSet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Annotated[str, StringConstraints(strip_whitespace=True, min_length=8, max_length=500)]


class WebhookRead(Classified):
    """An organization's callback and its secret (the endpoint names the organization)."""

    url: Org[str]
    secret: Org[str | None] = Field(default=None, description="签名密钥, 只在设置时显示一次")
    created_at: Org[datetime]
