from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from pydantic_core import PydanticCustomError

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
            raise PydanticCustomError("subscription_source", "请指定本单位的一条成果/需求 (listing_kind + listing_id) 或一个检索词 (query + target_kind), 二选一")
        return self


class SubscriptionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    source_kind: ListingKindName | None
    source_id: int | None
    query: str | None
    target_kind: ListingKindName
    threshold: float
    created_at: datetime


class SubscriptionPage(BaseModel):
    items: list[SubscriptionRead]
    total: int


class NotificationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    subscription_id: int
    listing_kind: ListingKindName
    listing_id: int
    title: str
    score: float
    reasons: list[str]
    created_at: datetime
    read_at: datetime | None
    delivered_at: datetime | None
    delivery_status: DeliveryStatus | None = Field(description="推送到本单位回调地址的状态; 空: 当时未设置回调地址")
    delivery_attempts: int = Field(description="已尝试推送的次数")
    delivery_error: str | None = Field(description="最近一次推送失败的原因 (稳定的错误码开头)")


class NotificationPage(BaseModel):
    items: list[NotificationRead]
    total: int


class WebhookSet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Annotated[str, StringConstraints(strip_whitespace=True, min_length=8, max_length=500)]


class WebhookRead(BaseModel):
    url: str
    secret: str | None = Field(default=None, description="签名密钥, 只在设置时显示一次")
    created_at: datetime
