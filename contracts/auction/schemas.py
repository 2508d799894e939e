"""Auction requests and answers. The reserve is the seller's and the admins' only (``Org``)."""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from contracts.auction import rules
from contracts.auction.models import AuctionStatus, DepositStatus
from contracts.contract.models import ContractSubtype, ContractType
from core.money import Yuan
from core.pagination import Page
from core.visibility import Classified, Org, Parties, Public


class AuctionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    achievement_id: int
    title: str | None = Field(default=None, min_length=2, max_length=200, description="不填则取成果名称")
    start_price: Yuan = Field(description="起拍价")
    reserve_price: Yuan = Field(description="保留价 (不向竞买人公开; 未达保留价流拍)")
    increment: Yuan = Field(description="加价幅度")
    deposit: Yuan = Field(description="竞价保证金")
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    extension_minutes: int = Field(
        default=rules.DEFAULT_EXTENSION_MINUTES, ge=0, le=rules.MAX_EXTENSION_MINUTES, description="延时竞价周期 (分钟)"
    )
    sign_days: int = Field(
        default=rules.DEFAULT_SIGN_DAYS, ge=1, le=rules.MAX_SIGN_DAYS, description="成交后签约期限 (天)"
    )
    contract_type: ContractType = ContractType.transfer
    contract_subtype: ContractSubtype = ContractSubtype.patent_right


class BidIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: Yuan = Field(description="出价 (元)")


class AuctionRead(Classified):
    id: Public[int]
    achievement_id: Public[int]
    seller_org_id: Public[int]
    title: Public[str]
    start_price: Public[Yuan]
    reserve_price: Org[Yuan]
    increment: Public[Yuan]
    deposit: Public[Yuan]
    starts_at: Public[datetime]
    ends_at: Public[datetime]
    scheduled_end_at: Public[datetime]
    extension_minutes: Public[int]
    sign_days: Public[int]
    status: Public[AuctionStatus]
    current_price: Public[Yuan | None]
    minimum_bid: Public[Yuan | None]
    bid_count: Public[int]
    winner_org_id: Public[int | None]
    price: Public[Yuan | None]
    contract_id: Parties[int | None]
    closed_at: Public[datetime | None]
    sign_due_at: Public[datetime | None]
    created_at: Public[datetime]


class AuctionPage(Page[AuctionRead]):
    pass


class BidRead(Classified):
    id: Public[int]
    auction_id: Public[int]
    seq: Public[int]
    amount: Public[Yuan]
    paddle: Public[int | None] = Field(description="竞买号 (保证金编号); 竞买人身份不公开")
    created_at: Public[datetime]


class BidPage(Page[BidRead]):
    pass


class DepositRead(Classified):
    id: Org[int]
    auction_id: Org[int]
    organization_id: Org[int]
    amount: Org[Yuan]
    status: Org[DepositStatus]
    provider_intent_id: Org[str | None]
    created_at: Org[datetime]
    resolved_at: Org[datetime | None]


class DepositPage(Page[DepositRead]):
    totals: Public[dict[str, Yuan]] = Field(default_factory=dict, description="保证金台账合计: 缴纳/退还/抵作价款/没收")
