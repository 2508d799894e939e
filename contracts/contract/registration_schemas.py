"""What the seller and the registrar send for 认定登记, and how a request and the registrar's queue read."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from contracts.contract.models import ContractStatus, ContractSubtype, ContractType
from contracts.contract.registration_models import RegistrationRequest, RegistrationRound, RegistrationStatus
from core.money import Yuan, fen_to_yuan
from core.pagination import Page
from core.visibility import Classified, Parties, Public, Subject

# What a return for correction may name: a term of the contract, or a document of the application.
CORRECTION_FIELDS = {
    "title": "合同名称",
    "type": "合同类型",
    "subtype": "合同子类型",
    "field": "技术领域",
    "seller_org_id": "卖方",
    "buyer_org_id": "买方",
    "total": "合同成交额",
    "technology_income": "技术交易额",
    "term_start": "合同期限 (开始)",
    "term_end": "合同期限 (结束)",
    "milestones": "付款节点",
    "deductions": "扣除项",
    "inventors": "成果完成人",
    "achievement_ids": "所涉成果",
    "service_invention": "职务科技成果",
}
CORRECTION_DOCUMENTS = {
    "contract_text": "合同文本 (含签章页)",
    "technical_annex": "技术附件",
    "income_statement": "技术性收入核定材料",
    "ip_certificate": "知识产权证明",
    "qualification": "当事人主体资格证明",
    "authorization": "经办人授权委托书",
    "other": "其他材料",
}
CORRECTION_ITEMS = {"field": CORRECTION_FIELDS, "document": CORRECTION_DOCUMENTS}


class RegistrationRequestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(default=None, max_length=1000, description="卖方的说明")


class CorrectionItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["field", "document"] = Field(description="field: 合同条款; document: 申请材料")
    item: str = Field(min_length=1, max_length=64, description="条款名 (如 technology_income) 或材料代码")
    reason: str = Field(min_length=2, max_length=500, description="须补正的内容 (中文)")


class RegistrationReturn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[CorrectionItemIn] = Field(min_length=1, max_length=30, description="逐项的补正意见")
    note: str | None = Field(default=None, max_length=1000, description="总体说明")


class RegistrationResubmission(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field(min_length=2, max_length=1000, description="卖方对补正意见的逐项答复")


class RegistrationRefusal(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=2, max_length=1000, description="不予登记的理由 (中文)")


class Reclassification(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: ContractType
    subtype: ContractSubtype
    reason: str = Field(min_length=2, max_length=1000, description="认定类型的理由 (中文)")


class IncomeApproval(BaseModel):
    model_config = ConfigDict(extra="forbid")

    technology_income: Yuan = Field(description="核定的技术交易额 (不超过合同成交额)")
    reason: str = Field(min_length=2, max_length=1000, description="核定理由, 如剔除的非技术性费用 (中文)")


class CorrectionItemRead(Classified):
    kind: Parties[str]
    item: Parties[str]
    label: Parties[str] = Field(description="条款或材料的中文名")
    reason: Parties[str]


class RoundRead(Classified):
    round: Parties[int]
    submitted_at: Parties[datetime]
    note: Parties[str | None] = Field(description="卖方提交时的说明")
    terms_digest: Parties[str | None] = Field(description="提交时的合同条款摘要")
    returned_at: Parties[datetime | None]
    return_note: Parties[str | None]
    items: Parties[list[CorrectionItemRead]] = Field(description="退回补正的逐项意见")


class RegistrationRead(Classified):
    id: Parties[int]
    status: Parties[RegistrationStatus]
    round: Parties[int]
    requested_at: Parties[datetime]
    submitted_at: Parties[datetime] = Field(description="本轮提交时间")
    approved_technology_income: Parties[Yuan | None] = Field(description="核定的技术交易额 (登记时计入统计)")
    type: Parties[ContractType | None] = Field(description="认定的合同类型 (登记时适用)")
    subtype: Parties[ContractSubtype | None]
    decided_at: Parties[datetime | None]
    refusal_reason: Parties[str | None]
    registration_number: Parties[str | None]
    rounds: Parties[list[RoundRead]]

    @classmethod
    def of(cls, request: RegistrationRequest, rounds: Sequence[RegistrationRound]) -> RegistrationRead:
        return cls(
            id=request.id or 0,
            status=request.status,
            round=request.round,
            requested_at=request.requested_at,
            submitted_at=request.submitted_at,
            approved_technology_income=None
            if request.approved_income_fen is None
            else fen_to_yuan(request.approved_income_fen),
            type=request.type,
            subtype=request.subtype,
            decided_at=request.decided_at,
            refusal_reason=request.refusal_reason,
            registration_number=request.registration_number,
            rounds=[
                RoundRead(
                    round=r.round,
                    submitted_at=r.submitted_at,
                    note=r.note,
                    terms_digest=r.terms_digest,
                    returned_at=r.returned_at,
                    return_note=r.return_note,
                    items=[
                        CorrectionItemRead(
                            kind=i["kind"],
                            item=i["item"],
                            label=CORRECTION_ITEMS.get(i["kind"], {}).get(i["item"], i["item"]),
                            reason=i["reason"],
                        )
                        for i in r.items
                    ],
                )
                for r in rounds
            ],
        )


class MaterialRead(Classified):
    material: Parties[str] = Field(description="材料代码 (contract_text, patent_certificate ...)")
    label: Parties[str] = Field(description="材料名称")
    present: Parties[bool] = Field(description="合同 (或所涉成果) 的附件中已有此材料")
    attachment_ids: Parties[list[int]] = Field(description="对应的附件, 可经 /api/v1/attachments 下载")


class QueueItem(Classified):
    request_id: Parties[int]
    contract_id: Parties[int]
    title: Parties[str]
    status: Parties[RegistrationStatus]
    round: Parties[int]
    contract_status: Parties[ContractStatus]
    type: Parties[ContractType]
    subtype: Parties[ContractSubtype]
    seller_org_id: Parties[int]
    buyer_org_id: Parties[int]
    seller_region: Parties[str]
    buyer_region: Parties[str]
    total: Parties[Yuan]
    technology_income: Parties[Yuan] = Field(description="合同约定的技术交易额")
    approved_technology_income: Parties[Yuan | None]
    requested_at: Parties[datetime]
    submitted_at: Parties[datetime]
    age_days: Parties[int] = Field(description="本轮提交至今的天数")
    materials: Parties[list[MaterialRead]] = Field(description="申请材料 (依合同类型) 及其附件")

    def visibility_subject(self) -> Subject:
        seller, buyer = self.seller_org_id, self.buyer_org_id
        return Subject(
            owner=seller, parties=frozenset({seller, buyer}), regions=(self.seller_region, self.buyer_region)
        )


class RegistrationQueue(Page[QueueItem]):
    counts: Public[dict[str, int]] = Field(description="各状态的申请数 (同一辖区、盟市与天数条件, 不论 status)")


class RegistrationVerification(Classified):
    """What anyone holding a registration number may check. The contract's own particulars (title,
    parties, 技术交易额) are shown only with the check code printed on the certificate, since numbers
    run in sequence and could be tried one after another."""

    registration_number: Public[str]
    genuine: Public[bool] = Field(description="编号为本平台登记机构出具的有效登记")
    verdict: Public[str] = Field(description="核验结论 (中文)")
    registered_on: Public[date] = Field(description="登记日期 (北京时间)")
    registrar_region: Public[str] = Field(description="登记机构所在盟市 (GB/T 2260)")
    registrar_region_name: Public[str]
    type: Public[ContractType] = Field(description="认定的合同类型")
    subtype: Public[ContractSubtype]
    revision: Public[int] = Field(description="登记经更正后重新出具的次数 (0 为首次登记)")
    certificate_current: Public[bool | None] = Field(
        description="所给核验码是否属于现行证明 (null: 未给核验码; false: 核验码有误或证明已被重新出具的证明取代)"
    )
    title: Public[str | None] = Field(default=None, description="合同名称 (核验码正确时)")
    seller: Public[str | None] = Field(default=None, description="卖方 (核验码正确时)")
    buyer: Public[str | None] = Field(default=None, description="买方 (核验码正确时)")
    technology_income: Public[Yuan | None] = Field(default=None, description="核定的技术交易额, 元 (核验码正确时)")
