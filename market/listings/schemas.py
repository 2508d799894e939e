"""API shapes of listings. ``*Create`` is also the full check a merged edit must pass."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from typing import Annotated, Any, Self, get_args
from zoneinfo import ZoneInfo

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError
from pydantic_core.core_schema import ErrorType

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
    PricingMode,
    TransactionMode,
)

MAX_LISTING_PRICE = Decimal("10000000000")  # 100亿元: above that a price is a typo, not a deal
CHINA = ZoneInfo("Asia/Shanghai")
_KNOWN_ERRORS = frozenset(get_args(ErrorType))


def china_today() -> date:
    """Deadlines are dates as people in China read them."""
    return datetime.now(CHINA).date()


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


def _again(error: Any) -> InitErrorDetails:
    """A reported error as a line of a new ``ValidationError`` (custom errors keep their Chinese message)."""
    kind, ctx = error["type"], error.get("ctx")
    detail: InitErrorDetails = {
        "type": kind if kind in _KNOWN_ERRORS else PydanticCustomError(kind, error["msg"], ctx),
        "loc": error["loc"],
        "input": error["input"],
    }
    if ctx is not None:
        detail["ctx"] = ctx
    return detail


def cross_error(
    fields: tuple[str, ...], code: str, message: str, ctx: dict[str, Any], value: Any
) -> list[InitErrorDetails]:
    """One error reported at each field it concerns."""
    return [
        {"type": PydanticCustomError(code, message, ctx), "loc": (name,), "input": value, "ctx": ctx} for name in fields
    ]


@cache
def _field_adapter(model: type[BaseModel], name: str) -> TypeAdapter[Any]:
    info = model.model_fields[name]
    annotation: Any = info.annotation
    if not info.metadata:
        return TypeAdapter(annotation)
    annotated: Any = Annotated  # the field's type with its constraints, as a type form built at run time
    return TypeAdapter(annotated[(annotation, *info.metadata)])


class ListingCommon(BaseModel):
    """A listing body is checked whole: every field error and every cross-field error in one answer.

    Cross-field rules (``cross_check``) run on the fields that are valid on their own, also when
    other fields failed, and report at the fields they concern, never at the whole body."""

    model_config = ConfigDict(extra="forbid")

    external_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)] | None = None
    title: Title
    field: FieldCode
    keywords: Keywords = []
    transaction_modes: Modes
    region: RegionCode | None = Field(default=None, description="GB/T 2260; 默认为发布单位所在地")
    contact: Contact = Contact()

    @classmethod
    def cross_check(cls, values: Mapping[str, Any]) -> tuple[list[InitErrorDetails], dict[str, Any]]:
        """Errors between fields (given only the fields valid alone), and values to normalise."""
        return [], {}

    @model_validator(mode="wrap")
    @classmethod
    def _every_error(cls, data: Any, handler: ModelWrapValidatorHandler[Self]) -> Self:
        try:
            model = handler(data)
        except ValidationError as exc:
            if not isinstance(data, Mapping):
                raise
            found = exc.errors()
            failed = {error["loc"][0] for error in found if error["loc"]}
            problems, _ = cls.cross_check(_valid_alone(cls, data, failed))
            raise ValidationError.from_exception_data(cls.__name__, [*map(_again, found), *problems]) from None
        problems, normalized = cls.cross_check(dict(model))
        if problems:
            raise ValidationError.from_exception_data(cls.__name__, problems)
        for name, value in normalized.items():
            setattr(model, name, value)
        return model


def _valid_alone(model: type[BaseModel], data: Mapping[str, Any], failed: set[Any]) -> dict[str, Any]:
    """The fields of ``data`` that passed their own checks, as validated values (defaults included)."""
    values: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        if name in failed:
            continue
        if name in data:
            try:
                values[name] = _field_adapter(model, name).validate_python(data[name])
            except ValidationError:
                continue
        elif not info.is_required():
            values[name] = info.get_default(call_default_factory=True)
    return values


class AchievementCreate(ListingCommon):
    summary: LongText = Field(description="非保密的成果简介")
    maturity: Maturity
    trl: Annotated[int, Field(ge=1, le=9, description="技术就绪度 (GB/T 22900)")]
    ip_type: IpType
    ip_numbers: Annotated[list[Text], BeforeValidator(_split_list), Field(max_length=50)] = []
    price: ListingPrice = Field(default=None, description="元; null = 面议")
    inventors: Annotated[list[Inventor], Field(max_length=50)] = []
    advantages: Annotated[list[Advantage], Field(max_length=10)] = []

    @classmethod
    def cross_check(cls, values: Mapping[str, Any]) -> tuple[list[InitErrorDetails], dict[str, Any]]:
        problems: list[InitErrorDetails] = []
        normalized: dict[str, Any] = {}
        trl, maturity = values.get("trl"), values.get("maturity")
        if trl is not None and maturity is not None and trl not in MATURITY_TRL[maturity]:
            levels = MATURITY_TRL[maturity]
            ctx = {"trl": trl, "stage": MATURITY_ZH[maturity], "low": levels.start, "high": levels.stop - 1}
            message = "技术就绪度 {trl} 与成熟度 {stage} 不一致 (应为 {low}-{high} 级)"
            problems += cross_error(("trl", "maturity"), "trl_inconsistent", message, ctx, [trl, maturity.value])
        if values.get("ip_type") in PATENT_IP_TYPES and "ip_numbers" in values:
            checked = []
            for position, number in enumerate(values["ip_numbers"]):
                patent = normalize_patent_application_number(number)
                if patent is None:
                    error = PydanticCustomError(
                        "invalid_patent_number", "专利申请号 {number} 格式或校验位错误", {"number": number}
                    )
                    problems.append({"type": error, "loc": ("ip_numbers", position), "input": number})
                checked.append(patent)
            normalized["ip_numbers"] = _unique(checked)
        return problems, normalized


class DemandCreate(ListingCommon):
    description: LongText = Field(description="企业对问题的描述")
    budget_max: ListingPrice = Field(default=None, description="预算上限 (元); null = 面议")
    deadline: date | None = None
    min_maturity: Maturity | None = None


class DemandRequest(DemandCreate):
    """A demand as a person posts or edits it: its deadline is still ahead (imports may carry past ones)."""

    @classmethod
    def cross_check(cls, values: Mapping[str, Any]) -> tuple[list[InitErrorDetails], dict[str, Any]]:
        problems, normalized = super().cross_check(values)
        deadline, today = values.get("deadline"), china_today()
        if deadline is not None and deadline < today:
            ctx = {"deadline": deadline.isoformat(), "today": today.isoformat()}
            message = "截止日期 {deadline} 已过 (今天是 {today}), 请填写今天或以后的日期"
            problems += cross_error(("deadline",), "deadline_passed", message, ctx, deadline.isoformat())
        return problems, normalized


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


class LicenceRead(Classified):
    """A completed licence of an achievement, as the market shows it (the licensee stays with the parties)."""

    subtype: Public[str] = Field(description="合同子类代码, 如 ordinary_license")
    label: Public[str] = Field(description="如 专利实施许可 (普通)")
    granted_on: Public[date] = Field(description="许可合同履行完毕的日期")


class AchievementRead(ListingReadCommon):
    summary: Public[str]
    maturity: Public[Maturity]
    trl: Public[int]
    ip_type: Public[IpType]
    ip_numbers: Public[list[str]]
    price: Public[Yuan | None]
    pricing_mode: Public[PricingMode | None] = Field(
        default=None, description="定价方式: agreed 协议定价 (先公示) / listed 挂牌 / auction 拍卖; 未设定为 null"
    )
    inventors: Org[list[dict[str, Any]]] = Field(description="完成人姓名与份额 (仅发布单位与管理员可见)")
    advantages: Public[list[str]]
    licences: Public[list[LicenceRead]] = Field(default=[], description="已履行完毕的技术许可 (成果仍可继续许可)")
    licence_count: Public[int] = 0


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
