"""科技创新券 rules as data: who may receive a voucher, its face value, how long it is valid, what it buys.

Sources. The project holds no copy of Inner Mongolia's current 创新券 measures (``../shared/reference``
has none, and nothing here may cite a text nobody checked), so every figure below is a *configurable
placeholder*: ``RuleValue.placeholder`` is True, ``source`` says what must be checked, and each can be
set by the environment (``TECHMARKET_VOUCHER_*``, ``VoucherSettings``) until the published measures
are copied in with their citation and date. Only the eligibility test on 科技型中小企业 names a text,
the national 《科技型中小企业评价办法》 (国科发政〔2017〕115号); whether Inner Mongolia ties its vouchers
to it is itself marked unchecked.

Service categories say what a voucher may buy. A deal's category follows from its contract's subtype
(``category_of``): a voucher spends only on a contract whose category it allows, at a provider listed
for that category.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

BP = 10_000
PROVINCE = "150000"  # 内蒙古自治区


class ServiceCategory(StrEnum):
    research_development = "research_development"  # 研究开发 (委托开发、合作开发)
    technology_transfer = "technology_transfer"  # 技术转移 (转让、许可)
    consulting = "consulting"  # 技术咨询
    technical_service = "technical_service"  # 技术服务 (检验检测、培训、中介)


CATEGORY_ZH = {
    ServiceCategory.research_development: "研究开发",
    ServiceCategory.technology_transfer: "技术转移",
    ServiceCategory.consulting: "技术咨询",
    ServiceCategory.technical_service: "技术服务 (检验检测、技术培训、技术中介)",
}

# Contract subtype (contracts.contract.models.ContractSubtype values) → the category a voucher must allow.
SUBTYPE_CATEGORY: dict[str, ServiceCategory] = {
    "commissioned_development": ServiceCategory.research_development,
    "cooperative_development": ServiceCategory.research_development,
    "patent_right": ServiceCategory.technology_transfer,
    "patent_application_right": ServiceCategory.technology_transfer,
    "technical_secret": ServiceCategory.technology_transfer,
    "exclusive_license": ServiceCategory.technology_transfer,
    "sole_license": ServiceCategory.technology_transfer,
    "ordinary_license": ServiceCategory.technology_transfer,
    "technical_secret_license": ServiceCategory.technology_transfer,
    "consulting": ServiceCategory.consulting,
    "technical_service": ServiceCategory.technical_service,
    "technical_training": ServiceCategory.technical_service,
    "technical_intermediary": ServiceCategory.technical_service,
}


def category_of(contract_subtype: str) -> ServiceCategory:
    return SUBTYPE_CATEGORY[contract_subtype]


@dataclass(frozen=True)
class RuleValue:
    """One figure of the rules, with where it comes from (or what is still to be checked)."""

    key: str
    name: str  # Chinese, for the API and exports
    value: int
    unit: str  # "fen", "bp", "days"
    source: str
    placeholder: bool


UNCHECKED = "占位值, 待核实: 本项目尚未收录内蒙古自治区科技创新券的现行管理办法; 可通过环境变量配置"


class VoucherSettings(BaseSettings):
    """The placeholders' values (environment, prefix ``TECHMARKET_VOUCHER_``), in fen, basis points and days."""

    model_config = SettingsConfigDict(env_prefix="TECHMARKET_VOUCHER_", env_file=None, extra="ignore")

    max_face_value_fen: int = Field(default=20_000_000, ge=1, description="one voucher's face value at most")
    max_per_enterprise_year_fen: int = Field(default=50_000_000, ge=1, description="one enterprise's vouchers a year")
    max_share_bp: int = Field(default=5_000, ge=1, le=BP, description="share of a milestone a voucher may cover")
    validity_days: int = Field(default=365, ge=1, le=3 * 366, description="default validity from the issue day")


def rule_values(settings: VoucherSettings | None = None) -> tuple[RuleValue, ...]:
    s = settings or VoucherSettings()
    return (
        RuleValue("max_face_value", "单张创新券面额上限", s.max_face_value_fen, "fen", UNCHECKED, True),
        RuleValue(
            "max_per_enterprise_year", "每家企业每年领用上限", s.max_per_enterprise_year_fen, "fen", UNCHECKED, True
        ),
        RuleValue("max_share", "创新券可抵付单笔付款节点的比例上限", s.max_share_bp, "bp", UNCHECKED, True),
        RuleValue("validity_days", "默认有效期 (自发放之日起)", s.validity_days, "days", UNCHECKED, True),
    )


@dataclass(frozen=True)
class Eligibility:
    """Why an organization may not receive a voucher (``reasons`` empty: it may)."""

    reasons: tuple[str, ...]

    @property
    def eligible(self) -> bool:
        return not self.reasons


SME_SOURCE = (
    "《科技型中小企业评价办法》(国科发政〔2017〕115号): 入库登记编号; 内蒙古自治区创新券是否以此为条件待核实 (占位规则)"
)


def eligibility(*, kind: str, status: str, region: str, sme_number: str | None) -> Eligibility:
    """An enterprise, verified on the platform, located in the region, with a 科技型中小企业 number."""
    reasons = []
    if kind != "enterprise":
        reasons.append("创新券只发放给企业")
    if status != "verified":
        reasons.append("企业尚未通过平台审核或已被暂停")
    if region[:2] != PROVINCE[:2]:
        reasons.append("企业不在内蒙古自治区")
    if not (sme_number or "").strip():
        reasons.append("须提供科技型中小企业入库登记编号")
    return Eligibility(tuple(reasons))


def default_valid_until(issued_on: date, settings: VoucherSettings | None = None) -> date:
    return issued_on + timedelta(days=(settings or VoucherSettings()).validity_days)


def max_cover(milestone_fen: int, settings: VoucherSettings | None = None) -> int:
    """The most of a milestone a voucher may pay (rounded down: the share is never exceeded)."""
    return milestone_fen * (settings or VoucherSettings()).max_share_bp // BP
