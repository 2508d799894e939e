"""Voucher requests and responses: money as decimal yuan strings, every field classified."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from contracts.payment.models import PaymentStatus
from contracts.voucher.ledger import Move, VoucherState
from contracts.voucher.models import RedemptionStatus
from contracts.voucher.rules import ServiceCategory
from core.money import Yuan
from core.pagination import Page
from core.visibility import Classified, Org, Parties, Public


class ProviderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    organization_id: int = Field(description="服务机构 (已审核的单位)")
    categories: list[ServiceCategory] = Field(min_length=1, description="可承接的创新券服务类别")


class ProviderRead(Classified):
    """A listed provider: the directory enterprises choose from."""

    id: Public[int]
    organization_id: Public[int]
    organization_name: Public[str]
    region: Public[str]
    categories: Public[list[str]]
    listed_at: Public[datetime]


class ProviderPage(Page[ProviderRead]):
    pass


class VoucherIssue(BaseModel):
    model_config = ConfigDict(extra="forbid")

    organization_id: int = Field(description="领券企业")
    face_value: Yuan = Field(description="面额 (元)")
    categories: list[ServiceCategory] = Field(min_length=1, description="可用于的服务类别")
    sme_number: str = Field(min_length=1, max_length=64, description="科技型中小企业入库登记编号")
    valid_until: date | None = Field(default=None, description="有效期至 (含当日); 不填按规则的默认有效期")


class Balances(Classified):
    """Where each fen of the face value is now: the five always sum to the face value."""

    issued: Org[Yuan] = Field(description="已发放待领取")
    held: Org[Yuan] = Field(description="持有, 可使用")
    spent: Org[Yuan] = Field(description="已使用, 待服务机构兑付")
    redeemed: Org[Yuan] = Field(description="已兑付")
    expired: Org[Yuan] = Field(description="过期收回预算")


class EntryRead(Classified):
    move: Org[Move]
    from_state: Org[VoucherState | None]
    to_state: Org[VoucherState]
    amount: Org[Yuan]
    created_at: Org[datetime]


class VoucherRead(Classified):
    """A voucher, for its holder and the admins governing the holder's 盟市."""

    id: Public[int]
    organization_id: Org[int]
    region: Org[str]
    budget_region: Org[str] = Field(description="出资预算: 150000 为自治区本级, 否则为盟市")
    year: Org[int]
    categories: Org[list[str]]
    valid_until: Org[date]
    face_value: Org[Yuan]
    balances: Org[Balances]
    sme_number: Org[str]
    issued_at: Org[datetime]
    accepted_at: Org[datetime | None]
    expired_at: Org[datetime | None]
    entries: Org[list[EntryRead] | None] = Field(default=None, description="账目 (仅单张查询时给出)")


class VoucherPage(Page[VoucherRead]):
    pass


class SpendIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    contract_id: int
    milestone_id: int
    amount: Yuan = Field(description="用创新券抵付的金额 (元); 余款通过支付服务支付")


class SpendRead(Classified):
    """A milestone paid in part with a voucher: both parties of the contract see it."""

    id: Parties[int]
    voucher_id: Parties[int]
    contract_id: Parties[int]
    milestone_id: Parties[int]
    provider_org_id: Parties[int]
    category: Parties[str]
    amount: Parties[Yuan] = Field(description="创新券抵付")
    redemption_id: Parties[int | None]
    created_at: Parties[datetime]
    voided_at: Parties[datetime | None] = Field(default=None, description="合同终止、该节点不再付款时退回创新券")
    payment_amount: Parties[Yuan | None] = Field(default=None, description="通过支付服务支付的余款")
    payment_status: Parties[PaymentStatus | None] = None


class SpendPage(Page[SpendRead]):
    pass


class RedemptionRead(Classified):
    id: Org[int]
    provider_org_id: Org[int]
    amount: Org[Yuan]
    spends: Org[int]
    status: Org[RedemptionStatus]
    payout_id: Org[str | None]
    failure: Org[str | None]
    created_at: Org[datetime]
    settled_at: Org[datetime | None]


class RuleRead(Classified):
    key: Public[str]
    name: Public[str]
    value: Public[str] = Field(description="元、百分比或天数, 按 unit")
    unit: Public[str]
    source: Public[str]
    placeholder: Public[bool] = Field(description="占位值 (来源未核实, 可配置)")


class RulesRead(Classified):
    rules: Public[list[RuleRead]]
    categories: Public[dict[str, str]]
    eligibility_source: Public[str]
