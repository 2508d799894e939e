"""Statistics API shapes: amounts are decimal-yuan strings, rates are decimal-percent strings."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, Field, PlainSerializer, WithJsonSchema

from contracts.statistics.dimensions import By, Side
from core.money import fen_to_yuan
from core.pagination import Page
from core.validators import RegionCode
from core.visibility import AdminOnly, Classified, Public, Subject

Percent = Annotated[
    Decimal,
    PlainSerializer(lambda value: f"{value:.2f}", return_type=str, when_used="json"),
    WithJsonSchema(
        {"type": "string", "pattern": r"^-?\d+\.\d{2}$", "examples": ["17.57"], "description": "百分比, 两位小数"}
    ),
]


# Output amounts: sums may exceed the 1 万亿元 ceiling that ``Yuan`` enforces on a single contract's input.
YuanSum = Annotated[
    Decimal,
    PlainSerializer(lambda amount: f"{amount:.2f}", return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^-?\d+\.\d{2}$",
            "examples": ["6171000000.00"],
            "description": "元 (unit=wan: 万元), 两位小数",
        }
    ),
]


class Unit(StrEnum):
    yuan = "yuan"  # 元
    wan = "wan"  # 万元: as the statistics office files its tables


UNIT_LABELS = {Unit.yuan: "元", Unit.wan: "万元"}
FEN_PER_WAN_CENT = 10_000  # 0.01 万元 = 100 元 = 10 000 分
WAN_ROUNDING = (
    "万元金额由整数分换算, 四舍五入 (ROUND_HALF_UP) 至两位小数; 合计由分值先求和再换算, "
    "故合计可能与各项四舍五入后之和相差几个 0.01 万元"
)


def amount(fen: int, unit: Unit = Unit.yuan) -> Decimal:
    """Integer fen as decimal 元, or as 万元 rounded half-up to 0.01 (integer arithmetic, never a float)."""
    if unit == Unit.yuan:
        return fen_to_yuan(fen)
    hundredths, rest = divmod(abs(fen), FEN_PER_WAN_CENT)
    hundredths += 2 * rest >= FEN_PER_WAN_CENT
    return Decimal(-hundredths if fen < 0 else hundredths).scaleb(-2)


def yuan_as(value: Decimal, unit: Unit) -> Decimal:
    """A decimal-yuan figure (whole fen) in the unit asked."""
    return value if unit == Unit.yuan else amount(int(value * 100), unit)


# Targets may be national (数万亿元): decimal yuan with at most 2 places, no single-contract ceiling.
TargetValue = Annotated[Decimal, Field(gt=0, max_digits=18, decimal_places=2, description="元 (合同数指标为件数)")]


class Metric(StrEnum):
    contract_turnover = "contract_turnover"  # 合同成交额
    technology_income = "technology_income"  # 技术交易额
    contracts = "contracts"  # 合同数


METRIC_LABELS = {
    Metric.contract_turnover: "技术合同成交额",
    Metric.technology_income: "技术交易额",
    Metric.contracts: "技术合同数",
}


class ExportFormat(StrEnum):
    csv = "csv"
    xlsx = "xlsx"
    json = "json"


class AggregateRow(Classified):
    key: AdminOnly[str] = Field(description="维度取值代码")
    label: AdminOnly[str] = Field(description="中文名称")
    contracts: AdminOnly[int] = Field(description="合同数")
    turnover: AdminOnly[YuanSum] = Field(description="合同成交额 (元; unit=wan 时为万元)")
    technology_income: AdminOnly[YuanSum] = Field(description="技术交易额 (元; unit=wan 时为万元)")


class AggregateRead(Classified):
    """Statistics of a region: for the admins governing it (platform admins: everything)."""

    by: AdminOnly[By]
    side: AdminOnly[Side]
    side_label: AdminOnly[str]
    region: AdminOnly[str] = Field(description="统计范围: 地区代码或 all")
    region_name: AdminOnly[str]
    start: AdminOnly[str] = Field(description="起始月份 YYYY-MM (按认定登记日期)")
    end: AdminOnly[str] = Field(description="截止月份 YYYY-MM (含)")
    items: AdminOnly[list[AggregateRow]]
    total: AdminOnly[int] = Field(description="items 条数")
    overall: AdminOnly[AggregateRow] = Field(description="合计")
    unit: AdminOnly[Unit] = Field(default=Unit.yuan, description="金额单位: yuan = 元, wan = 万元")
    unit_label: AdminOnly[str] = "元"

    def visibility_subject(self) -> Subject:
        return Subject(regions=(self.region,))


class SeriesPoint(Classified):
    period: AdminOnly[str] = Field(description="2023, 或半年度 2023H1")
    year: AdminOnly[int]
    value: AdminOnly[Decimal | None] = Field(description="元 (合同数指标为件数)")
    contracts: AdminOnly[int | None]
    source: AdminOnly[str] = Field(description="platform (平台登记) 或 reference (公开统计数据)")
    source_note: AdminOnly[str] = ""
    partial: AdminOnly[bool] = Field(description="非完整年度 (本年累计或半年度)")
    break_before: AdminOnly[bool] = Field(description="与前一数据口径不同: 增长率不跨此处计算")
    yoy_growth: AdminOnly[Percent | None] = Field(description="同比增长 % (仅连续且同口径的完整年度)")
    reference_value: AdminOnly[Decimal | None] = Field(default=None, description="同年公开统计数据 (如有), 供对照")


class YearToDate(Classified):
    """The running year against the same months of the previous year (platform registrations only)."""

    year: AdminOnly[int]
    start: AdminOnly[str] = Field(description="起始月份 YYYY-MM")
    end: AdminOnly[str] = Field(description="截止月份 YYYY-MM (本月, 尚未结束)")
    value: AdminOnly[Decimal] = Field(description="本年 1 月至本月累计 (合同数指标为件数)")
    contracts: AdminOnly[int]
    previous_year: AdminOnly[int]
    previous_value: AdminOnly[Decimal] = Field(description="上年同期 (同样的月份) 累计")
    previous_contracts: AdminOnly[int]
    growth: AdminOnly[Percent | None] = Field(description="同比增长 % (上年同期为 0 时为空)")


class SeriesRead(Classified):
    region: AdminOnly[str]
    region_name: AdminOnly[str]
    metric: AdminOnly[Metric]
    metric_label: AdminOnly[str]
    items: AdminOnly[list[SeriesPoint]]
    total: AdminOnly[int]
    unit: AdminOnly[Unit] = Field(default=Unit.yuan, description="金额单位 (合同数指标不适用)")
    unit_label: AdminOnly[str] = "元"
    year_to_date: AdminOnly[YearToDate | None] = Field(default=None, description="本年累计与上年同期比较")

    def visibility_subject(self) -> Subject:
        return Subject(regions=(self.region,))


class CrossBy(StrEnum):
    type = "type"  # 合同类型
    field = "field"  # 技术领域
    region = "region"  # 盟市 (a 盟市's own view: 旗县)


CROSS_LABELS = {CrossBy.type: "合同类型", CrossBy.field: "技术领域", CrossBy.region: "地区"}


class CrossMeasure(StrEnum):
    turnover = "turnover"
    technology_income = "technology_income"
    contracts = "contracts"


class CrossCell(Classified):
    key: AdminOnly[str] = Field(description="列 (或合计 total) 的代码")
    contracts: AdminOnly[int]
    turnover: AdminOnly[YuanSum]
    technology_income: AdminOnly[YuanSum]


class CrossColumn(Classified):
    key: AdminOnly[str]
    label: AdminOnly[str]


class CrossRow(Classified):
    key: AdminOnly[str]
    label: AdminOnly[str]
    cells: AdminOnly[list[CrossCell]] = Field(description="与 columns 一一对应")
    total: AdminOnly[CrossCell] = Field(description="行合计")


class CrossTabRead(Classified):
    """Two-dimension table of registered contracts, with row and column totals."""

    rows: AdminOnly[CrossBy]
    columns_by: AdminOnly[CrossBy]
    side: AdminOnly[Side]
    side_label: AdminOnly[str]
    region: AdminOnly[str]
    region_name: AdminOnly[str]
    start: AdminOnly[str]
    end: AdminOnly[str]
    unit: AdminOnly[Unit]
    unit_label: AdminOnly[str]
    rounding: AdminOnly[str] = Field(description="金额取整规则")
    columns: AdminOnly[list[CrossColumn]]
    items: AdminOnly[list[CrossRow]]
    column_totals: AdminOnly[list[CrossCell]] = Field(description="列合计, 与 columns 一一对应")
    overall: AdminOnly[CrossCell] = Field(description="总计")

    def visibility_subject(self) -> Subject:
        return Subject(regions=(self.region,))


class TargetCreate(BaseModel):
    region: RegionCode = "150000"
    metric: Metric = Metric.contract_turnover
    target_year: int = Field(ge=2000, le=2100)
    target_value: TargetValue
    annual_growth: Decimal | None = Field(
        default=None, ge=Decimal("-100"), le=Decimal("1000"), description="规划年均增长 %"
    )
    source_note: str = Field(default="", max_length=500)


class TargetUpdate(BaseModel):
    target_year: int | None = Field(default=None, ge=2000, le=2100)
    target_value: TargetValue | None = None
    annual_growth: Decimal | None = Field(default=None, ge=Decimal("-100"), le=Decimal("1000"))
    source_note: str | None = Field(default=None, max_length=500)


class TargetStatus(StrEnum):
    met = "met"  # 已完成 (目标年已过或已达到)
    missed = "missed"  # 未完成 (目标年已过)
    on_track = "on_track"  # 按近期增速可完成
    behind = "behind"  # 按近期增速无法完成
    no_data = "no_data"  # 目标年已过, 无该年数据
    unknown = "unknown"  # 缺少可用于预测的增速


STATUS_LABELS = {
    TargetStatus.met: "已完成",
    TargetStatus.missed: "未完成",
    TargetStatus.on_track: "按近期增速可完成",
    TargetStatus.behind: "按近期增速难以完成",
    TargetStatus.no_data: "无该年度数据",
    TargetStatus.unknown: "数据不足, 无法预测",
}


class TargetProgress(Classified):
    actual: AdminOnly[Decimal | None] = Field(description="实际值: 目标年 (未到则本年累计) 的数值")
    actual_year: AdminOnly[int | None]
    actual_partial: AdminOnly[bool] = Field(description="实际值为本年累计 (非完整年度)")
    actual_source: AdminOnly[str | None]
    gap: AdminOnly[Decimal | None] = Field(description="目标值 − 实际值 (负数为超额)")
    progress: AdminOnly[Percent | None] = Field(description="完成进度 %")
    latest_full_year: AdminOnly[int | None] = Field(description="最近完整年度")
    latest_full_year_value: AdminOnly[Decimal | None]
    yoy_growth: AdminOnly[Percent | None] = Field(description="最近完整年度同比增长 % (不跨口径)")
    required_cagr: AdminOnly[Percent | None] = Field(description="自最近完整年度至目标年所需年均增长 %")
    projection: AdminOnly[Decimal | None] = Field(description="按近期增速预测的目标年数值")
    status: AdminOnly[TargetStatus]
    status_label: AdminOnly[str]


class TargetRead(Classified):
    id: AdminOnly[int]
    region: AdminOnly[str]
    region_name: AdminOnly[str]
    metric: AdminOnly[Metric]
    metric_label: AdminOnly[str]
    target_year: AdminOnly[int]
    target_value: AdminOnly[Decimal]
    annual_growth: AdminOnly[Percent | None]
    source_note: AdminOnly[str]
    updated_at: AdminOnly[datetime]
    progress: AdminOnly[TargetProgress]
    unit: AdminOnly[Unit] = Field(default=Unit.yuan, description="金额单位 (合同数指标不适用)")
    unit_label: AdminOnly[str] = "元"

    def in_unit(self, unit: Unit) -> TargetRead:
        """The same target with its amounts in ``unit`` (rates and counts unchanged)."""
        if unit == Unit.yuan or self.metric == Metric.contracts:
            return self
        p = self.progress
        for name in ("actual", "gap", "latest_full_year_value", "projection"):
            value = getattr(p, name)
            if value is not None:
                setattr(p, name, yuan_as(value, unit))
        self.target_value = yuan_as(self.target_value, unit)
        self.unit, self.unit_label = unit, UNIT_LABELS[unit]
        return self

    def visibility_subject(self) -> Subject:
        return Subject(regions=(self.region,))


class TargetPage(Page[TargetRead]):
    pass


class PublicationCreate(BaseModel):
    title: str = Field(min_length=2, max_length=200)
    region: RegionCode = "150000"
    year: int = Field(ge=2000, le=2100)
    quarter: int | None = Field(default=None, ge=1, le=4, description="不填为全年")


class PublicationRead(Classified):
    """A published summary: frozen figures, public by decision of the platform admin."""

    id: Public[int]
    title: Public[str]
    region: Public[str]
    region_name: Public[str]
    start: Public[str]
    end: Public[str]
    published_at: Public[datetime]
    summary: Public[dict[str, Any]]


class PublicationPage(Page[PublicationRead]):
    pass


class RollupCheck(Classified):
    consistent: AdminOnly[bool]
    mismatches: AdminOnly[list[dict[str, Any]]]
    total: AdminOnly[int]


class RebuildRead(Classified):
    facts: AdminOnly[int]


__all__ = [name for name in dir() if not name.startswith("_")]
