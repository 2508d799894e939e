"""Request and response shapes of price discovery. Notices, listings and deal notices are public
records (every field public); an objection's reasons and answer are for the objector, the institute
and the admins governing it."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from contracts.pricing.models import (
    DealMode,
    ListingRule,
    NoticeStatus,
    ObjectionStatus,
    PriceListingStatus,
)
from core.money import Yuan
from core.pagination import Page
from core.visibility import Classified, Parties, Public
from market.listings.models import PricingMode

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=4000)]


class PricingRuleRead(Classified):
    code: Public[str]
    mode: Public[PricingMode]
    name: Public[str]
    citation: Public[str] = Field(description="法律依据")
    effective_from: Public[date]
    requirement: Public[str] = Field(description="平台在签订合同前检查的内容")
    notice_days: Public[int] = Field(description="协议定价公示的最少天数 (其他方式为 0)")


class PricingRulePage(Page[PricingRuleRead]):
    pass


class PricingModeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: PricingMode = Field(description="agreed 协议定价 / listed 挂牌 / auction 拍卖")


class PricingModeRead(Classified):
    achievement_id: Public[int]
    pricing_mode: Public[PricingMode]


class PriceNoticeCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    achievement_id: int
    transferee_org_id: int = Field(description="拟受让方 (已认证单位)")
    price: Yuan = Field(description="拟交易价格 (元), 签订的合同成交额须与之相同")
    days: int = Field(default=15, ge=1, le=90, description="公示天数 (自今日起, 含首尾日), 不少于 15 日")


class PriceNoticeRead(Classified):
    id: Public[int]
    achievement_id: Public[int]
    title: Public[str] = Field(description="成果名称")
    seller_organization_id: Public[int]
    transferee_organization_id: Public[int]
    transferee_name: Public[str]
    price: Public[Yuan] = Field(description="拟交易价格")
    starts_on: Public[date]
    ends_on: Public[date] = Field(description="公示截止日 (含); 次日起可签订合同")
    status: Public[NoticeStatus]
    rule: Public[str]
    period_over: Public[bool] = Field(description="公示期是否已届满")
    open_objections: Public[int] = Field(description="尚未答复的异议数")
    objection_procedure: Public[str] = Field(description="异议处理程序")


class PriceNoticePage(Page[PriceNoticeRead]):
    pass


class ObjectionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reasons: Text = Field(description="异议理由")


class ObjectionAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    answer: Text = Field(description="公示单位的答复")


class WithdrawIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Text = Field(description="撤回理由 (如采纳异议、调整价格)")


class ObjectionRead(Classified):
    id: Public[int]
    notice_id: Public[int]
    status: Public[ObjectionStatus]
    created_at: Public[datetime]
    answered_at: Public[datetime | None]
    organization_id: Parties[int | None] = Field(description="异议人所属单位")
    reasons: Parties[str]
    answer: Parties[str | None]


class ObjectionPage(Page[ObjectionRead]):
    pass


class PriceListingCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    achievement_id: int
    price: Yuan = Field(description="挂牌价 (元)")
    rule: ListingRule = Field(
        default=ListingRule.first_accept, description="first_accept 首个接受者成交 / bidding 挂牌期内接受者竞价"
    )
    days: int = Field(default=20, ge=1, le=90, description="挂牌期天数")


class AcceptIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    bid: Yuan | None = Field(default=None, description="竞价挂牌的出价 (不低于挂牌价; 不填即挂牌价)")


class PriceListingRead(Classified):
    id: Public[int]
    achievement_id: Public[int]
    rule: Public[ListingRule]
    price: Public[Yuan]
    opens_at: Public[datetime]
    closes_at: Public[datetime]
    status: Public[PriceListingStatus]
    acceptances: Public[int] = Field(description="已接受挂牌价的买方数")
    winner_organization_id: Public[int | None]
    final_price: Public[Yuan | None]
    awarded_at: Public[datetime | None]


class DealNoticeRead(Classified):
    id: Public[int]
    achievement_id: Public[int]
    title: Public[str] = Field(description="成交标的")
    mode: Public[DealMode]
    mode_label: Public[str]
    price: Public[Yuan] = Field(description="成交价格")
    seller_organization_id: Public[int]
    seller_name: Public[str]
    buyer_organization_id: Public[int]
    buyer_name: Public[str]
    deal_date: Public[date]


class DealNoticePage(Page[DealNoticeRead]):
    pass


class CertificateRead(Classified):
    number: Parties[str]
    contract_id: Parties[int]
    mode: Parties[DealMode]
    terms_digest: Parties[str] = Field(description="合同条款规范形式的 SHA-256 (与合同的 terms_digest 相同)")
    issued_on: Parties[date]


class CertificateCheck(Classified):
    """What anyone may learn of a certificate number: whether it is genuine, and whether a digest matches."""

    number: Public[str]
    genuine: Public[bool]
    issued_on: Public[date | None] = None
    mode: Public[DealMode | None] = None
    digest_matches: Public[bool | None] = Field(default=None, description="给出 digest 时: 是否与鉴证的条款摘要一致")
