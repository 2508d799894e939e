"""The dimensions statistics are cut by, their Chinese labels, and how regions and flows are classified.

Abroad (境外): GB/T 2260 only codes Chinese divisions (first digit 1-8). A party outside China
carries the region code ``99`` + its ISO 3166-1 numeric country code, zero-padded to four digits
(``990840`` United States, ``990276`` Germany; ``990000`` when the country is unknown); the API
accepts such codes for organizations and listings (``core.reference.is_abroad``). Hong Kong, Macao
and Taiwan keep their GB/T 2260 codes (810000, 820000, 710000) and count as other provinces.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from contracts.contract.models import ContractStatus, ContractType
from core.reference import fields, is_known_region, prefecture_of, region_prefix, regions
from core.reference import is_abroad as reference_is_abroad
from market.identity.models import OrganizationKind
from market.listings.models import IpType

CHINA = ZoneInfo("Asia/Shanghai")
COUNTED_STATUSES = frozenset({ContractStatus.registered, ContractStatus.performing, ContractStatus.completed})


def counted(status: object, registered_at: datetime | None) -> bool:
    """Statistics count registered contracts (by registration date) that were not terminated; a
    contract paid and performed before its registration counts from the day it is registered."""
    return registered_at is not None and str(getattr(status, "value", status)) in {s.value for s in COUNTED_STATUSES}


ALL_REGIONS = "all"
UNSPECIFIED = "unspecified"
NO_IP = "none"


class Side(StrEnum):
    seller = "seller"  # 输出: counted in the seller's region
    buyer = "buyer"  # 吸纳: counted in the buyer's region


SIDE_LABELS = {Side.seller: "输出 (按卖方所在地)", Side.buyer: "吸纳 (按买方所在地)"}


class By(StrEnum):
    year = "year"
    quarter = "quarter"
    month = "month"
    region = "region"
    field = "field"
    type = "type"
    seller_kind = "seller_kind"
    buyer_kind = "buyer_kind"
    ip_type = "ip_type"
    flow = "flow"


# Rollup dimensions (stored); the period and region cuts read the ``total`` dimension.
STORED_DIMENSIONS = ("total", "type", "field", "seller_kind", "buyer_kind", "ip_type", "flow")


class RawFlow(StrEnum):
    """Stored flow categories, relative to the region of the row's side."""

    same_prefecture = "same_prefecture"
    same_province = "same_province"
    other_province = "other_province"
    abroad = "abroad"


class Flow(StrEnum):
    in_region = "in_region"
    out_of_region = "out_of_region"
    abroad = "abroad"


FLOW_LABELS = {Flow.in_region: "区域内", Flow.out_of_region: "区域外 (境内)", Flow.abroad: "境外"}

TYPE_LABELS = {
    ContractType.development: "技术开发",
    ContractType.transfer: "技术转让",
    ContractType.license: "技术许可",
    ContractType.consulting: "技术咨询",
    ContractType.service: "技术服务",
}
KIND_LABELS = {
    OrganizationKind.university: "高等院校",
    OrganizationKind.institute: "科研机构",
    OrganizationKind.enterprise: "企业",
    OrganizationKind.agency: "中介机构",
    OrganizationKind.government: "机关团体",
}
IP_LABELS = {
    IpType.invention_patent: "发明专利",
    IpType.utility_model: "实用新型专利",
    IpType.design: "外观设计专利",
    IpType.plant_variety: "植物新品种",
    IpType.ic_layout: "集成电路布图设计",
    IpType.software_copyright: "计算机软件著作权",
    IpType.know_how: "技术秘密",
    NO_IP: "未涉及知识产权",
}
# A contract covering several achievements is counted once, under its strongest IP type.
IP_RANK = {
    ip: rank
    for rank, ip in enumerate(
        (
            IpType.invention_patent,
            IpType.utility_model,
            IpType.design,
            IpType.plant_variety,
            IpType.ic_layout,
            IpType.software_copyright,
            IpType.know_how,
        )
    )
}
STATUS_LABELS = {
    ContractStatus.registered: "已登记",
    ContractStatus.performing: "履行中",
    ContractStatus.completed: "已完成",
}


def is_abroad(code: str) -> bool:
    return reference_is_abroad(code)


def region_name(code: str) -> str:
    if is_abroad(code):
        return "境外"
    region = regions().get(code)
    return region.name_zh if region else code


def known_region(code: str) -> bool:
    return code == ALL_REGIONS or is_known_region(code)


def raw_flow(region: str, counterpart: str) -> RawFlow:
    """The first four digits name the 盟市, so two 旗县 of one 盟市 (or a 旗县 and its 盟市) are the same one."""
    if is_abroad(region) or is_abroad(counterpart):
        return RawFlow.same_prefecture if region == counterpart else RawFlow.abroad
    if region[:4] == counterpart[:4]:
        return RawFlow.same_prefecture
    if region[:2] == counterpart[:2]:
        return RawFlow.same_province
    return RawFlow.other_province


def scope_level(scope: str) -> str:
    """``all`` (every region), ``province`` or ``prefecture`` (盟市; a 旗县 is seen as its 盟市's)."""
    if scope == ALL_REGIONS:
        return "all"
    return "prefecture" if prefecture_of(scope) is not None else "province"


def region_row(code: str, scope: str) -> str:
    """The row a region's figures go to when cut by region: its 盟市 (a 旗县 counts under it), or the
    旗县 itself inside a 盟市's own view."""
    if scope_level(scope) == "prefecture":
        return code
    return prefecture_of(code) or code


def flow_of(raw: str, scope: str) -> Flow:
    """A stored category seen from a scope: in a 盟市 only the same 盟市 is 区域内."""
    if raw == RawFlow.abroad:
        return Flow.abroad
    if raw == RawFlow.same_prefecture:
        return Flow.in_region
    if raw == RawFlow.same_province:
        return Flow.out_of_region if scope_level(scope) == "prefecture" else Flow.in_region
    return Flow.out_of_region


def scope_prefix(scope: str) -> str:
    return "" if scope == ALL_REGIONS else region_prefix(scope)


def label(by: By | str, key: str) -> str:
    by = By(by)
    if by == By.region:
        return region_name(key)
    if by == By.field:
        found = fields().get(key)
        return found.name_zh if found else "未填写技术领域"
    if by == By.type:
        return TYPE_LABELS.get(ContractType(key), key) if key in ContractType.__members__ else key
    if by in (By.seller_kind, By.buyer_kind):
        return KIND_LABELS.get(OrganizationKind(key), key) if key in OrganizationKind.__members__ else key
    if by == By.ip_type:
        return IP_LABELS.get(key, key)
    if by == By.flow:
        return FLOW_LABELS.get(Flow(key), key) if key in Flow.__members__ else key
    if by == By.year:
        return f"{key}年"
    if by == By.quarter:
        year, quarter = key.split("-Q")
        return f"{year}年第{quarter}季度"
    if by == By.month:
        year, month = key.split("-")
        return f"{year}年{int(month)}月"
    return key


def china_period(moment: datetime | None, fallback: datetime | date | None = None) -> int:
    """YYYYMM of a UTC moment's date in China (no DST since 1991, so UTC+8 in SQL agrees)."""
    value: datetime | date | None = moment if moment is not None else fallback
    if isinstance(value, datetime):
        local = value.astimezone(CHINA) if value.tzinfo else value.replace(tzinfo=ZoneInfo("UTC")).astimezone(CHINA)
        return local.year * 100 + local.month
    if isinstance(value, date):
        return value.year * 100 + value.month
    raise ValueError("a counted contract needs a registration date")


def primary_ip_type(ip_types: list[str]) -> str:
    ranked = sorted((IP_RANK.get(IpType(ip), 99), ip) for ip in ip_types if ip in IpType.__members__)
    return ranked[0][1] if ranked else NO_IP


def china_today() -> date:
    return datetime.now(CHINA).date()
