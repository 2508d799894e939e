from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator

from contracts.deal.models import DealOrigin, DealStatus


class DealCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    achievement_id: int | None = Field(default=None, description="对成果表达意向 (买方)")
    demand_id: int | None = Field(default=None, description="响应技术需求 (卖方)")
    message: str = Field(min_length=1, max_length=4000)

    @model_validator(mode="after")
    def _one_listing(self) -> DealCreate:
        if (self.achievement_id is None) == (self.demand_id is None):
            raise ValueError("achievement_id 与 demand_id 须且只能填写一个")
        return self


class DealDrop(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=1000)


class MessageCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: str = Field(min_length=1, max_length=4000)


class DealRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    origin: DealOrigin
    achievement_id: int | None
    demand_id: int | None
    seller_org_id: int
    buyer_org_id: int
    status: DealStatus
    created_at: datetime
    closed_at: datetime | None
    drop_reason: str | None


class DealPage(BaseModel):
    items: list[DealRead]
    total: int


class MessageRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    deal_id: int
    organization_id: int
    author_user_id: int | None
    body: str
    created_at: datetime


class MessagePage(BaseModel):
    items: list[MessageRead]
    total: int
