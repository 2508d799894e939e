"""Request and response models of budgets, rules and 后补助 claims (yuan strings at the edge)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from contracts.subsidy.budget_models import EntryKind, Instrument
from contracts.subsidy.models import ClaimStatus
from core.money import Yuan
from core.pagination import Page
from core.visibility import AdminOnly, Classified, Org, Public

Reason = Field(default=None, max_length=500, description="说明 (驳回时必填)")


class ClaimCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    contract_ids: list[int] = Field(min_length=1, max_length=50, description="已认定登记、款项已付清的合同")
    payee_name: str = Field(min_length=1, max_length=100, description="收款户名")
    payee_account: str = Field(pattern=r"^[0-9A-Za-z-]{4,40}$", description="收款账号")


class RegionReviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["approve", "refuse"]
    amount: Yuan | None = Field(default=None, description="建议金额, 不填为申请金额; 可低于申请金额")
    reason: str | None = Reason


class ApproveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: Yuan | None = Field(default=None, description="核定金额, 不填为盟市建议金额")
    reason: str | None = Reason


class ReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Reason


class AllocationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    region_code: str = Field(pattern=r"^\d{6}$", description="150000 科技厅, 或盟市代码")
    year: int = Field(ge=2000, le=2100)
    instrument: Instrument
    amount: Yuan = Field(description="下达 (或调减) 的金额")
    reduce: bool = Field(default=False, description="true: 调减预算")
    reference: str = Field(min_length=1, max_length=64, description="文件编号, 同一编号只记账一次")
    source: str | None = Field(default=None, max_length=500, description="预算来源说明")


class RuleRead(Classified):
    code: Public[str]
    issuer_region: Public[str]
    effective_from: Public[date]
    effective_to: Public[date | None]
    applicant_side: Public[str]
    entity_kinds: Public[list[str]]
    applicant_region: Public[str]
    contract_types: Public[list[str]]
    rate_percent: Public[str] = Field(description="技术交易额的百分比")
    per_contract_cap: Public[Yuan]
    per_applicant_year_cap: Public[Yuan]
    budget_level: Public[str]
    placeholder: Public[bool] = Field(description="true: 未公开的占位值, 可配置")
    source_note: Public[str]


class RulePage(Page[RuleRead]):
    pass


class BudgetRead(Classified):
    id: AdminOnly[int]
    region_code: AdminOnly[str]
    year: AdminOnly[int]
    instrument: AdminOnly[Instrument]
    total: AdminOnly[Yuan]
    reserved: AdminOnly[Yuan]
    disbursed: AdminOnly[Yuan]
    available: AdminOnly[Yuan]
    source: AdminOnly[str]
    updated_at: AdminOnly[datetime]


class BudgetPage(Page[BudgetRead]):
    pass


class BudgetEntryRead(Classified):
    id: AdminOnly[int]
    budget_id: AdminOnly[int]
    kind: AdminOnly[EntryKind]
    amount: AdminOnly[Yuan]
    reference: AdminOnly[str]
    actor_user_id: AdminOnly[int | None]
    created_at: AdminOnly[datetime]


class BudgetEntryPage(Page[BudgetEntryRead]):
    pass


class ClaimLineRead(Classified):
    contract_id: Org[int]
    registration_number: Org[str | None]
    registered_on: Org[str]
    technology_income: Org[Yuan]
    rate_percent: Org[str]
    amount: Org[Yuan]
    holds_contract: Org[bool] = Field(description="false: 申请已驳回或撤回, 合同可再次申报")


class ClaimRead(Classified):
    id: Org[int]
    applicant_org_id: Org[int]
    side: Org[str]
    region_code: Org[str]
    year: Org[int]
    rule_code: Org[str]
    budget_region_code: Org[str]
    claimed: Org[Yuan]
    recommended: Org[Yuan | None]
    approved: Org[Yuan | None]
    status: Org[ClaimStatus]
    payee_name: Org[str]
    payee_account: Org[str]
    payout_id: Org[str | None]
    created_at: Org[datetime]
    updated_at: Org[datetime]
    lines: Org[list[ClaimLineRead]] = Field(default_factory=list, description="列表中不含")


class ClaimPage(Page[ClaimRead]):
    pass


class ClaimEventRead(Classified):
    id: Org[int]
    from_status: Org[str | None]
    to_status: Org[str]
    amount: Org[Yuan | None]
    reason: Org[str | None]
    actor_user_id: Org[int | None]
    at: Org[datetime]


class ClaimEventPage(Page[ClaimEventRead]):
    pass
