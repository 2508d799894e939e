"""API shapes of listings. ``*Create`` is also the full check a merged edit must pass."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, model_validator
from pydantic_core import PydanticCustomError

from core.money import Yuan
from core.pagination import Page
from core.reference import normalize_patent_application_number
from core.validators import Email, FieldCode, RegionCode
from core.visibility import AdminOnly, Classified, Org, Public, Subject
from market.listings.models import (
    MATURITY_TRL,
    MATURITY_ZH,
    PATENT_IP_TYPES,
    IpType,
    ListingStatus,
    Maturity,
    TransactionMode,
)

MAX_LISTING_PRICE = Decimal("10000000000")  # 100亿元: above that a price is a typo, not a deal


def _split_list(value: object) -> object:
    """Imports write lists as 'a;b' or 'a、b'; the API sends JSON arrays. Accept both."""
    if isinstance(value, str):
        parts = value.replace("；", ";").replace("、", ";").replace("，", ";").replace(",", ";").split(";")
        return [part.strip() for part in parts if part.strip()]
    return value


def _unique(values: list[Any]) -> list[Any]:
    return list(dict.fromkeys(values))


def _price_in_range(value: Decimal | None) -> Decimal | None:
    if value is not None and value > MAX_LISTING_PRICE:
        raise PydanticCustomError("price_absurd", "金额超过 100 亿元, 请检查单位是否为元")
    return value


Text = Annotated[str, StringConstraints(strip_whitespace=True)]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=100)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=10, max_length=5000)]
Keyword = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=30)]
Keywords = Annotated[list[Keyword], BeforeValidator(_split_list), AfterValidator(_unique), Field(max_length=10)]
Modes = Annotated[list[TransactionMode], BeforeValidator(_split_list), AfterValidator(_unique), Field(min_length=1)]
ListingPrice = Annotated[Yuan | None, AfterValidator(_price_in_range)]


class Contact(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=50)] | None = None
    phone: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9+\-() ]{5,30}$")] | None = None
    email: Email | None = None


class Inventor(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
    share: Annotated[Decimal, Field(gt=0, le=1000, decimal_places=4)] = Decimal(1)


def _advantage(value: str) -> str:
    if not any(ch.isdigit() for ch in value):
        raise PydanticCustomError("advantage_not_quantified", '优势应给出量化指标 (含数字), 如 "能耗降低30%"')
    return value


Advantage = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=2, max_length=200), AfterValidator(_advantage)
]


class ListingCommon(BaseModel):
    model_config = ConfigDict(extra="forbid")

    external_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)] | None = None
    title: Title
    field: FieldCode
    keywords: Keywords = []
    transaction_modes: Modes
    region: RegionCode | None = Field(default=None, description="GB/T 2260; 默认为发布单位所在地")
    contact: Contact = Contact()


class AchievementCreate(ListingCommon):
    summary: LongText = Field(description="非保密的成果简介")
    maturity: Maturity
    trl: Annotated[int, Field(ge=1, le=9, description="技术就绪度 (GB/T 22900)")]
    ip_type: IpType
    ip_numbers: Annotated[list[Text], BeforeValidator(_split_list), Field(max_length=50)] = []
    price: ListingPrice = Field(default=None, description="元; null = 面议")
    inventors: Annotated[list[Inventor], Field(max_length=50)] = []
    advantages: Annotated[list[Advantage], Field(max_length=10)] = []

    @model_validator(mode="after")
    def _consistent(self) -> AchievementCreate:
        if self.trl not in MATURITY_TRL[self.maturity]:
            levels = MATURITY_TRL[self.maturity]
            raise PydanticCustomError(
                "trl_inconsistent",
                "技术就绪度 {trl} 与成熟度 {stage} 不一致 (应为 {low}-{high} 级)",
                {"trl": self.trl, "stage": MATURITY_ZH[self.maturity], "low": levels.start, "high": levels.stop - 1},
            )
        if self.ip_type in PATENT_IP_TYPES:
            normalized = []
            for number in self.ip_numbers:
                checked = normalize_patent_application_number(number)
                if checked is None:
                    raise PydanticCustomError(
                        "invalid_patent_number", "专利申请号 {number} 格式或校验位错误", {"number": number}
                    )
                normalized.append(checked)
            self.ip_numbers = _unique(normalized)
        return self


class DemandCreate(ListingCommon):
    description: LongText = Field(description="企业对问题的描述")
    budget_max: ListingPrice = Field(default=None, description="预算上限 (元); null = 面议")
    deadline: date | None = None
    min_maturity: Maturity | None = None


class AchievementUpdate(BaseModel):
    """Any subset of the create fields; the merged result must pass ``AchievementCreate``."""

    model_config = ConfigDict(extra="forbid")

    title: Any = None
    summary: Any = None
    field: Any = None
    keywords: Any = None
    maturity: Any = None
    trl: Any = None
    ip_type: Any = None
    ip_numbers: Any = None
    transaction_modes: Any = None
    price: Any = None
    region: Any = None
    inventors: Any = None
    advantages: Any = None
    contact: Any = None


class DemandUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Any = None
    description: Any = None
    field: Any = None
    keywords: Any = None
    budget_max: Any = None
    deadline: Any = None
    transaction_modes: Any = None
    min_maturity: Any = None
    region: Any = None
    contact: Any = None


class ListingReadCommon(Classified):
    """What the market shows of a listing; contact details, inventors and review internals stay with
    the owning organization and the admins governing its region (``ListingKind.to_read`` names them)."""

    id: Public[int]
    external_id: Public[str | None]
    owner_id: Public[int]
    owner_name: Public[str]
    status: Public[ListingStatus]
    title: Public[str]
    field: Public[str]
    keywords: Public[list[str]]
    transaction_modes: Public[list[str]]
    region: Public[str]
    contact: Org[dict[str, Any]] = Field(description="联系人、电话、邮箱 (仅发布单位与管理员可见)")
    review_reason: Org[str | None] = None
    pending_revision: Org[dict[str, Any] | None] = Field(
        default=None, description="待审核的修改 (仅发布单位与管理员可见)"
    )
    created_at: Public[datetime]
    updated_at: Public[datetime]
    published_at: Public[datetime | None]


class AchievementRead(ListingReadCommon):
    summary: Public[str]
    maturity: Public[Maturity]
    trl: Public[int]
    ip_type: Public[IpType]
    ip_numbers: Public[list[str]]
    price: Public[Yuan | None]
    inventors: Org[list[dict[str, Any]]] = Field(description="完成人姓名与份额 (仅发布单位与管理员可见)")
    advantages: Public[list[str]]


class DemandRead(ListingReadCommon):
    description: Public[str]
    budget_max: Public[Yuan | None]
    deadline: Public[date | None]
    min_maturity: Public[Maturity | None]


class AchievementPage(Page[AchievementRead]):
    pass


class DemandPage(Page[DemandRead]):
    pass


class RejectBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=1000)]


class AuditRead(Classified):
    """A listing's audit trail is for its reviewers (the page names the listing as its subject)."""

    model_config = ConfigDict(from_attributes=True)

    id: AdminOnly[int]
    action: AdminOnly[str]
    actor_user_id: AdminOnly[int | None]
    from_status: AdminOnly[str | None]
    to_status: AdminOnly[str | None]
    reason: AdminOnly[str | None]
    changes: AdminOnly[dict[str, Any]]
    created_at: AdminOnly[datetime]


class AuditPage(Page[AuditRead]):
    pass


def listing_subject(owner_id: int, owner_region: str | None) -> Subject:
    """A listing concerns its owner; the admins governing the owner's region review it."""
    return Subject(owner=owner_id, regions=(owner_region,) if owner_region else ())
