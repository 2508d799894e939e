from __future__ import annotations

from datetime import datetime
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field, model_validator

from contracts.deal.models import DealOrigin, DealStatus
from core.pagination import Page
from core.visibility import Classified, Parties, Public, Subject


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


class DealParties(Protocol):
    @property
    def seller_org_id(self) -> int: ...
    @property
    def buyer_org_id(self) -> int: ...


def deal_subject(deal: DealParties) -> Subject:
    """A deal concerns its two parties only (no admin reviews an expression of interest)."""
    return Subject(parties=frozenset({deal.seller_org_id, deal.buyer_org_id}))


class DealRead(Classified):
    model_config = ConfigDict(from_attributes=True)

    id: Public[int]
    origin: Parties[DealOrigin]
    achievement_id: Parties[int | None]
    demand_id: Parties[int | None]
    seller_org_id: Parties[int]
    buyer_org_id: Parties[int]
    status: Parties[DealStatus]
    created_at: Parties[datetime]
    closed_at: Parties[datetime | None]
    drop_reason: Parties[str | None]

    def visibility_subject(self) -> Subject:
        return deal_subject(self)


class DealPage(Page[DealRead]):
    pass


class MessageRead(Classified):
    model_config = ConfigDict(from_attributes=True)

    id: Parties[int]
    deal_id: Parties[int]
    organization_id: Parties[int]
    author_user_id: Parties[int | None]
    body: Parties[str]
    created_at: Parties[datetime]


class MessagePage(Page[MessageRead]):
    pass
