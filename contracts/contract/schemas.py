from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Protocol

from pydantic import BaseModel, ConfigDict, Field

from contracts.contract.models import ContractStatus, ContractSubtype, ContractType, MilestoneStatus
from contracts.contract.registration_schemas import RegistrationRead
from contracts.reward.rules import DeductionKind
from core.money import Yuan
from core.pagination import Page
from core.validators import FieldCode
from core.visibility import Classified, Org, Parties, Public, Subject
from market.identity.models import OrganizationKind

Percent = Annotated[Decimal, Field(ge=0, le=100, decimal_places=2, description="百分比, 如 75 或 72.5")]


class MilestoneIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200)
    amount: Yuan
    due_on: date | None = None


class InventorIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    weight: int = Field(default=1, le=1_000_000, description="份额权重 (大于 0), 默认均分")
    user_id: int | None = Field(default=None, description="完成人的平台账号 (可查看本人的分配)")


class DeductionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: DeductionKind
    description: str = Field(min_length=1, max_length=200)
    amount: Yuan


class ContractCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    deal_id: int | None = Field(default=None, description="由意向转为合同时填写; 双方取自意向")
    seller_org_id: int | None = None
    buyer_org_id: int | None = None
    title: str = Field(min_length=2, max_length=200)
    type: ContractType
    subtype: ContractSubtype
    field: FieldCode | None = Field(default=None, description="技术领域代码; 不填则取所涉成果最多的领域")
    total: Yuan = Field(description="合同成交额")
    technology_income: Yuan = Field(description="技术交易额 (不超过成交额)")
    term_start: date | None = None
    term_end: date | None = None
    achievement_ids: list[int] = Field(default_factory=list, max_length=50)
    milestones: list[MilestoneIn] = Field(min_length=1, max_length=50)
    service_invention: bool = Field(default=False, description="职务科技成果 (收益须向完成人分配)")
    reward_rate: Percent | None = Field(default=None, description="单位规定的完成人奖励比例; 不填则取法定下限")
    inventors: list[InventorIn] | None = Field(default=None, description="不填则取所涉成果的完成人")
    deductions: list[DeductionIn] = Field(default_factory=list, max_length=50)


class AmountsCorrection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    total: Yuan
    technology_income: Yuan
    milestones: list[MilestoneIn] | None = Field(default=None, min_length=1, max_length=50)
    reason: str = Field(min_length=2, max_length=1000)


class SignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    terms_digest: str | None = Field(
        default=None, max_length=64, description="签署人查看到的条款摘要 (合同的 terms_digest); 条款已被改动时拒绝签署"
    )


class RegistrationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    technology_income: Yuan | None = Field(default=None, description="登记机构核定的技术交易额; 不填则按合同")


class CompletionObjection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=2, max_length=1000, description="买方的异议 (未完成的内容)")


class TransitionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to: ContractStatus
    reason: str | None = Field(default=None, max_length=1000)


class ContractParties(Protocol):
    """A contract, its rendering, or anything else naming both parties and their regions."""

    @property
    def seller_org_id(self) -> int: ...
    @property
    def buyer_org_id(self) -> int: ...
    @property
    def seller_region(self) -> str: ...
    @property
    def buyer_region(self) -> str: ...


def contract_subject(contract: ContractParties) -> Subject:
    """A contract (or anything carrying its parties and their regions) concerns both parties; the
    seller owns its internal terms; the admins governing either party's region see it all."""
    seller, buyer = contract.seller_org_id, contract.buyer_org_id
    regions = (contract.seller_region, contract.buyer_region)
    return Subject(owner=seller, parties=frozenset({seller, buyer}), regions=regions)


class MilestoneRead(Classified):
    id: Parties[int]
    seq: Parties[int]
    title: Parties[str]
    amount: Parties[Yuan]
    due_on: Parties[date | None]
    status: Parties[MilestoneStatus]
    paid_at: Parties[datetime | None]


class InventorRead(Classified):
    name: Parties[str]
    weight: Parties[int]
    user_id: Org[int | None] = None


class ContractRead(Classified):
    id: Public[int]
    deal_id: Parties[int | None]
    title: Parties[str]
    type: Parties[ContractType]
    subtype: Parties[ContractSubtype]
    field: Parties[str | None]
    seller_org_id: Parties[int]
    buyer_org_id: Parties[int]
    seller_region: Parties[str]
    buyer_region: Parties[str]
    seller_kind: Parties[OrganizationKind]
    buyer_kind: Parties[OrganizationKind]
    total: Parties[Yuan]
    technology_income: Parties[Yuan]
    signed_on: Parties[date | None]
    term_start: Parties[date | None]
    term_end: Parties[date | None]
    status: Parties[ContractStatus]
    seller_signed_at: Parties[datetime | None]
    buyer_signed_at: Parties[datetime | None]
    registration_requested_at: Parties[datetime | None]
    registration_number: Parties[str | None]
    registered_at: Parties[datetime | None]
    registration_revision: Parties[int] = Field(description="登记经更正后重新出具的次数 (0 为首次登记)")
    completion_claimed_at: Parties[datetime | None] = Field(default=None, description="卖方声明履行完毕的时间")
    completion_due_at: Parties[datetime | None] = Field(
        default=None, description="买方确认或提出异议的截止时间; 逾期未答复的, 卖方可确认完成"
    )
    terms_digest: Parties[str] = Field(description="当前条款的摘要; 签署与登记都绑定到它, 条款改动后此前的签署作废")
    service_invention: Parties[bool]
    reward_rate: Org[Decimal | None]
    reward_rule: Org[str | None]
    inventors: Parties[list[InventorRead]]
    achievement_ids: Parties[list[int]]
    milestones: Parties[list[MilestoneRead]]
    allowed_transitions: Parties[list[ContractStatus]] = Field(description="/transitions 接受的目标状态")
    registration_requests: Parties[list[RegistrationRead]] = Field(
        default_factory=list, description="认定登记申请 (最早的在前), 各含审查轮次、补正意见与决定"
    )
    created_at: Parties[datetime]

    def visibility_subject(self) -> Subject:
        return contract_subject(self)


class ContractPage(Page[ContractRead]):
    pass


class AuditRead(Classified):
    model_config = ConfigDict(from_attributes=True)

    id: Parties[int]
    action: Parties[str]
    actor_user_id: Parties[int | None]
    from_status: Parties[str | None]
    to_status: Parties[str | None]
    reason: Parties[str | None]
    changes: Parties[dict[str, object]]
    created_at: Parties[datetime]


class AuditPage(Page[AuditRead]):
    pass
