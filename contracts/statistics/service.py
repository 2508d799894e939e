"""Statistics rules: who sees which region, periods, aggregates from rollups, series, targets, publications."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import partial
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from contracts.contract.models import ContractType
from contracts.statistics import errors
from contracts.statistics.dimensions import (
    ALL_REGIONS,
    CHINA,
    IP_LABELS,
    NO_IP,
    SIDE_LABELS,
    By,
    Flow,
    Side,
    china_today,
    flow_of,
    known_region,
    label,
    region_name,
    region_row,
    scope_prefix,
)
from contracts.statistics.models import Publication, Target
from contracts.statistics.repository import StatisticsRepository
from contracts.statistics.schemas import (
    METRIC_LABELS,
    STATUS_LABELS,
    UNIT_LABELS,
    AggregateRead,
    AggregateRow,
    Metric,
    PublicationCreate,
    PublicationRead,
    SeriesPoint,
    SeriesRead,
    TargetCreate,
    TargetProgress,
    TargetRead,
    TargetStatus,
    TargetUpdate,
    Unit,
    YearToDate,
    amount,
    yuan_as,
)
from core.money import fen_to_yuan, yuan_to_fen
from core.reference import HOME_PROVINCE, fields, region_contains
from core.types import utcnow
from market.identity.models import OrganizationKind
from market.identity.service import Principal

MIN_YEAR = 1980
MAX_SPAN_MONTHS = 50 * 12
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
HUNDRED = Decimal(100)
CENT = Decimal("0.01")


@dataclass(frozen=True)
class PeriodRange:
    start: int  # YYYYMM
    end: int

    @staticmethod
    def text(period: int) -> str:
        return f"{period // 100:04d}-{period % 100:02d}"

    @property
    def start_text(self) -> str:
        return self.text(self.start)

    @property
    def end_text(self) -> str:
        return self.text(self.end)

    def months(self) -> list[int]:
        out, period = [], self.start
        while period <= self.end:
            out.append(period)
            period = period + 1 if period % 100 < 12 else (period // 100 + 1) * 100 + 1
        return out

    def bounds(self) -> tuple[datetime, datetime]:
        """[first moment of the start month, first moment after the end month) in China, as UTC."""
        since = datetime(self.start // 100, self.start % 100, 1, tzinfo=CHINA)
        end_year, end_month = divmod(self.end, 100)
        until = datetime(end_year + (end_month == 12), end_month % 12 + 1, 1, tzinfo=CHINA)
        return since.astimezone(UTC), until.astimezone(UTC)


def parse_period(
    year: int | None = None, quarter: int | None = None, start: str | None = None, end: str | None = None
) -> PeriodRange:
    """``year`` (+ ``quarter``) or ``start``/``end`` months (YYYY-MM, inclusive); default: this year."""
    this_year = china_today().year
    if year is not None and (start or end):
        raise errors.on_field(errors.InvalidPeriod, "query.year", "year/quarter 与 start/end 不能同时使用")
    if quarter is not None and year is None:
        raise errors.on_field(errors.InvalidPeriod, "query.quarter", "指定季度时须同时指定 year")
    if start or end:
        periods: list[int | None] = []
        for name, value in (("start", start), ("end", end)):
            if value is None:
                periods.append(None)
                continue
            match = _MONTH.match(value.strip())
            if not match:
                raise errors.on_field(
                    errors.InvalidPeriod, f"query.{name}", f"{name} 应为 YYYY-MM 格式的月份, 而不是 {value!r}"
                )
            periods.append(int(match.group(1)) * 100 + int(match.group(2)))
        low, high = periods
        if low is None:
            assert high is not None  # start or end was given
            low = (high // 100) * 100 + 1
        result = PeriodRange(low, high if high is not None else (low // 100) * 100 + 12)
    else:
        year = this_year if year is None else year
        first, last = (1, 12) if quarter is None else (quarter * 3 - 2, quarter * 3)
        result = PeriodRange(year * 100 + first, year * 100 + last)
    for name, period in (("start", result.start), ("end", result.end)):
        if not MIN_YEAR <= period // 100 <= this_year + 1:
            raise errors.on_field(
                errors.PeriodOutOfRange,
                f"query.{name if (start or end) else 'year'}",
                f"统计期间应在 {MIN_YEAR} 年至 {this_year + 1} 年之间",
            )
    if result.start > result.end:
        raise errors.on_field(
            errors.InvertedPeriod, "query.start", f"开始月份 {result.start_text} 晚于结束月份 {result.end_text}"
        )
    return result


def resolve_scope(principal: Principal, region: str | None) -> str:
    """The region a caller may see: platform admins any (default the home province), region admins theirs."""
    if principal.is_platform_admin:
        scope = (region or HOME_PROVINCE).strip()
        if not known_region(scope):
            raise errors.UnknownRegion.for_code(scope)
        return scope
    own = principal.region_scope
    if own is None:
        raise errors.StatisticsAdminRequired()
    scope = (region or own).strip()
    if not known_region(scope):
        raise errors.UnknownRegion.for_code(scope)
    if scope == ALL_REGIONS or not region_contains(own, scope):
        raise errors.RegionOutOfScope(detail=f"您的辖区为 {region_name(own)} ({own})", region=scope, scope=own)
    return scope


def _row(
    key: str, by: By | None, n: int, total: int, income: int, text: str | None = None, unit: Unit = Unit.yuan
) -> AggregateRow:
    return AggregateRow(
        key=key,
        label=text if text is not None else label(by, key) if by else key,
        contracts=n,
        turnover=amount(total, unit),
        technology_income=amount(income, unit),
    )


def _categories(by: By) -> list[str]:
    """Every value a categorical cut shows, even at zero, in the order reports use."""
    if by == By.type:
        return [t.value for t in ContractType]
    if by == By.field:
        return list(fields())
    if by in (By.seller_kind, By.buyer_kind):
        return [k.value for k in OrganizationKind]
    if by == By.ip_type:
        return [str(getattr(k, "value", k)) for k in IP_LABELS if k != NO_IP] + [NO_IP]
    if by == By.flow:
        return [f.value for f in Flow]
    return []


def _percent(value: Decimal) -> Decimal:
    return (value * HUNDRED).quantize(CENT, rounding=ROUND_HALF_UP)


def _growth(current: Decimal, previous: Decimal) -> Decimal | None:
    return _percent(current / previous - 1) if previous > 0 else None


class StatisticsService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.repository = StatisticsRepository(session)

    # --- aggregates ----------------------------------------------------------------------------

    async def aggregate(
        self, scope: str, by: By, side: Side, period: PeriodRange, unit: Unit = Unit.yuan
    ) -> AggregateRead:
        prefix = scope_prefix(scope)
        sums = partial(self.repository.sums, side=side.value, prefix=prefix, start=period.start, end=period.end)
        overall_rows = await sums(dimension="total", group=[])
        n, total, income = (int(v or 0) for v in overall_rows[0]) if overall_rows else (0, 0, 0)
        acc: dict[str, list[int]] = {}

        def add(key: str, values: tuple[Any, ...]) -> None:
            cell = acc.setdefault(key, [0, 0, 0])
            for i in range(3):
                cell[i] += int(values[i])

        if by in (By.year, By.quarter, By.month):

            def key_of(p: int) -> str:
                year, month = divmod(p, 100)
                return (
                    str(year)
                    if by == By.year
                    else f"{year}-Q{(month - 1) // 3 + 1}"
                    if by == By.quarter
                    else f"{year}-{month:02d}"
                )

            for p in period.months():
                acc.setdefault(key_of(p), [0, 0, 0])
            for p, *values in await sums(dimension="total", group=["period"]):
                add(key_of(int(p)), tuple(values))
            keys = list(acc)
        elif by == By.region:
            for region, *values in await sums(dimension="total", group=["region"]):
                add(region_row(region, scope), tuple(values))
            keys = sorted(acc)
        else:
            dimension = "flow" if by == By.flow else by.value
            for key in _categories(by):
                acc.setdefault(key, [0, 0, 0])
            for key, *values in await sums(dimension=dimension, group=["key"]):
                add(flow_of(key, scope).value if by == By.flow else key, tuple(values))
            keys = [k for k in acc if acc[k][0] or k in _categories(by)]
        items = [_row(k, by, acc[k][0], acc[k][1], acc[k][2], unit=unit) for k in keys]
        return AggregateRead(
            by=by,
            side=side,
            side_label=SIDE_LABELS[side],
            region=scope,
            region_name="全部地区" if scope == ALL_REGIONS else region_name(scope),
            start=period.start_text,
            end=period.end_text,
            items=items,
            total=len(items),
            overall=_row("total", None, n, total, income, "合计", unit=unit),
            unit=unit,
            unit_label=UNIT_LABELS[unit],
        )

    # --- reference series ----------------------------------------------------------------------

    async def year_to_date(self, scope: str, metric: Metric) -> YearToDate:
        """1月 to this month of the running year against the same months of the previous year."""
        today = china_today()
        year, month = today.year, today.month
        figures = []
        for y in (year, year - 1):
            rows = await self.repository.sums(
                side=Side.seller.value,
                dimension="total",
                prefix=scope_prefix(scope),
                start=y * 100 + 1,
                end=y * 100 + month,
                group=[],
            )
            n, total, income = (int(v or 0) for v in rows[0]) if rows else (0, 0, 0)
            value = (
                Decimal(n)
                if metric == Metric.contracts
                else fen_to_yuan(total if metric == Metric.contract_turnover else income)
            )
            figures.append((n, value))
        (n, value), (previous_n, previous) = figures
        return YearToDate(
            year=year,
            start=f"{year}-01",
            end=f"{year}-{month:02d}",
            value=value,
            contracts=n,
            previous_year=year - 1,
            previous_value=previous,
            previous_contracts=previous_n,
            growth=_growth(value, previous),
        )

    async def series(self, scope: str, metric: Metric, unit: Unit = Unit.yuan) -> SeriesRead:
        """Growth is computed on exact yuan; values are converted to the unit asked only at the end."""
        result = await self._series(scope, metric)
        result.year_to_date = ytd = await self.year_to_date(scope, metric)
        if unit == Unit.wan and metric != Metric.contracts:
            for point in result.items:
                point.value = None if point.value is None else yuan_as(point.value, unit)
                point.reference_value = None if point.reference_value is None else yuan_as(point.reference_value, unit)
            ytd.value, ytd.previous_value = yuan_as(ytd.value, unit), yuan_as(ytd.previous_value, unit)
            result.unit, result.unit_label = unit, UNIT_LABELS[unit]
        return result

    async def _series(self, scope: str, metric: Metric) -> SeriesRead:
        this_year = china_today().year
        platform = await self.repository.yearly(side=Side.seller.value, prefix=scope_prefix(scope))
        reference_region = "000000" if scope == ALL_REGIONS else scope
        figure_metric = Metric.contract_turnover.value if metric == Metric.contracts else metric.value
        figures = await self.repository.reference_figures(reference_region, figure_metric)

        def measure(n: int, total: int, income: int) -> Decimal:
            return (
                Decimal(n)
                if metric == Metric.contracts
                else fen_to_yuan(total if metric == Metric.contract_turnover else income)
            )

        points: list[SeriesPoint] = []
        full_refs = {f.year: f for f in figures if f.period == str(f.year)}
        for year in sorted(set(platform) | set(full_refs)):
            ref = full_refs.get(year)
            ref_value = None
            if ref is not None:
                ref_value = (
                    Decimal(ref.contracts)
                    if metric == Metric.contracts and ref.contracts is not None
                    else None
                    if metric == Metric.contracts
                    else fen_to_yuan(ref.value_fen)
                )
            if year in platform:
                n, total, income = platform[year]
                points.append(
                    SeriesPoint(
                        period=str(year),
                        year=year,
                        value=measure(n, total, income),
                        contracts=n,
                        source="platform",
                        source_note="平台认定登记合同 (按登记日期)",
                        partial=year >= this_year,
                        break_before=False,
                        yoy_growth=None,
                        reference_value=ref_value,
                    )
                )
            elif ref is not None:
                points.append(
                    SeriesPoint(
                        period=ref.period,
                        year=year,
                        value=ref_value,
                        contracts=ref.contracts,
                        source="reference",
                        source_note=ref.source_note,
                        partial=False,
                        break_before=ref.break_before,
                        yoy_growth=None,
                    )
                )
        previous: SeriesPoint | None = None
        for point in points:
            if previous is not None and previous.source != point.source:
                point.break_before = True  # platform registrations and official statistics count differently
            if (
                previous is not None
                and previous.year == point.year - 1
                and not point.break_before
                and not point.partial
                and not previous.partial
                and point.value is not None
                and previous.value is not None
            ):
                point.yoy_growth = _growth(point.value, previous.value)
            previous = point
        for figure in figures:  # half-year figures: shown, never used for growth
            if figure.period != str(figure.year):
                value = None if metric == Metric.contracts else fen_to_yuan(figure.value_fen)
                if value is not None:
                    points.append(
                        SeriesPoint(
                            period=figure.period,
                            year=figure.year,
                            value=value,
                            contracts=figure.contracts,
                            source="reference",
                            source_note=figure.source_note,
                            partial=True,
                            break_before=figure.break_before,
                            yoy_growth=None,
                        )
                    )
        points.sort(key=lambda p: (p.year, p.partial and p.source == "reference", p.period))
        return SeriesRead(
            region=scope,
            region_name="全国" if scope == ALL_REGIONS else region_name(scope),
            metric=metric,
            metric_label=METRIC_LABELS[metric],
            items=points,
            total=len(points),
        )

    # --- targets -------------------------------------------------------------------------------

    async def progress(self, target: Target) -> TargetProgress:
        metric = Metric(target.metric)
        series = await self._series(target.region, metric)
        this_year = china_today().year
        goal = Decimal(target.target_value_fen) if metric == Metric.contracts else fen_to_yuan(target.target_value_fen)
        yearly = {p.year: p for p in series.items if p.value is not None and (p.source == "platform" or not p.partial)}
        full = {y: p for y, p in yearly.items() if y < this_year}
        latest = max(full) if full else None
        actual_point = yearly.get(min(target.target_year, this_year))
        actual = actual_point.value if actual_point else None
        latest_point = full.get(latest) if latest is not None else None
        growth = latest_point.yoy_growth if latest_point else None
        required = projection = None
        if latest_point is not None and latest_point.value and target.target_year > latest_point.year:
            years = target.target_year - latest_point.year
            required = _percent((goal / latest_point.value) ** (Decimal(1) / years) - 1)
            if growth is not None:
                projection = (latest_point.value * (1 + growth / HUNDRED) ** years).quantize(
                    CENT, rounding=ROUND_HALF_UP
                )
        if target.target_year < this_year:
            status = (
                TargetStatus.no_data if actual is None else TargetStatus.met if actual >= goal else TargetStatus.missed
            )
        elif actual is not None and actual >= goal:
            status = TargetStatus.met
        elif projection is not None:
            status = TargetStatus.on_track if projection >= goal else TargetStatus.behind
        else:
            status = TargetStatus.unknown
        return TargetProgress(
            actual=actual,
            actual_year=actual_point.year if actual_point else None,
            actual_partial=bool(actual_point and actual_point.partial),
            actual_source=actual_point.source if actual_point else None,
            gap=None if actual is None else goal - actual,
            progress=None if actual is None or not goal else _percent(actual / goal),
            latest_full_year=latest,
            latest_full_year_value=latest_point.value if latest_point else None,
            yoy_growth=growth,
            required_cagr=required,
            projection=projection,
            status=status,
            status_label=STATUS_LABELS[status],
        )

    async def read_target(self, target: Target) -> TargetRead:
        metric = Metric(target.metric)
        return TargetRead(
            id=target.id or 0,
            region=target.region,
            region_name=region_name(target.region),
            metric=metric,
            metric_label=METRIC_LABELS[metric],
            target_year=target.target_year,
            target_value=Decimal(target.target_value_fen)
            if metric == Metric.contracts
            else fen_to_yuan(target.target_value_fen),
            annual_growth=None if target.annual_growth_bp is None else Decimal(target.annual_growth_bp) / 100,
            source_note=target.source_note,
            updated_at=target.updated_at,
            progress=await self.progress(target),
        )

    async def list_targets(self, principal: Principal | None, region: str | None = None) -> list[TargetRead]:
        rows = await self.repository.targets(self._target_prefix(principal, region))
        return [await self.read_target(t) for t in rows]

    async def target_page(
        self, principal: Principal, region: str | None, offset: int, limit: int
    ) -> tuple[list[TargetRead], int]:
        """One window of the targets in scope, their progress computed for that window only."""
        rows, total = await self.repository.targets_page(self._target_prefix(principal, region), offset, limit)
        return [await self.read_target(t) for t in rows], total

    @staticmethod
    def _target_prefix(principal: Principal | None, region: str | None) -> str | None:
        if principal is not None and not principal.is_platform_admin:
            return scope_prefix(resolve_scope(principal, region))
        return scope_prefix(region) if region else None

    async def get_target(self, principal: Principal, target_id: int) -> Target:
        target = await self.repository.target(target_id)
        if target is None or not principal.governs_region(target.region):
            raise errors.TargetNotFound()
        return target

    @staticmethod
    def _value_fen(metric: Metric, value: Decimal) -> int:
        if metric == Metric.contracts:
            if value != value.to_integral_value():
                raise errors.on_field(errors.InvalidTarget, "body.target_value", "合同数目标应为整数")
            return int(value)
        return yuan_to_fen(value)

    async def create_target(self, principal: Principal, data: TargetCreate) -> Target:
        principal.require_platform_admin()
        if await self.repository.target_clash(data.region, data.metric.value, data.target_year):
            raise errors.TargetExists()
        value = self._value_fen(data.metric, data.target_value)
        if value <= 0:
            raise errors.on_field(errors.InvalidTarget, "body.target_value", "目标值应大于 0")
        target = Target(
            region=data.region,
            metric=data.metric.value,
            target_year=data.target_year,
            target_value_fen=value,
            annual_growth_bp=None if data.annual_growth is None else int(data.annual_growth * 100),
            source_note=data.source_note,
            updated_by=principal.user.id,
        )
        await self.repository.add(target)
        return target

    async def update_target(self, principal: Principal, target_id: int, data: TargetUpdate) -> Target:
        principal.require_platform_admin()
        target = await self.get_target(principal, target_id)
        changes = data.model_dump(exclude_unset=True)
        if "target_year" in changes and changes["target_year"] is not None:
            if await self.repository.target_clash(
                target.region, target.metric, changes["target_year"], exclude_id=target.id
            ):
                raise errors.TargetExists()
            target.target_year = changes["target_year"]
        if changes.get("target_value") is not None:
            value = self._value_fen(Metric(target.metric), changes["target_value"])
            if value <= 0:
                raise errors.on_field(errors.InvalidTarget, "body.target_value", "目标值应大于 0")
            target.target_value_fen = value
        if "annual_growth" in changes:
            growth = changes["annual_growth"]
            target.annual_growth_bp = None if growth is None else int(growth * 100)
        if changes.get("source_note") is not None:
            target.source_note = changes["source_note"]
        target.updated_at, target.updated_by = utcnow(), principal.user.id
        await self.repository.add(target)
        return target

    async def delete_target(self, principal: Principal, target_id: int) -> None:
        principal.require_platform_admin()
        await self.repository.delete(await self.get_target(principal, target_id))

    # --- published summaries -------------------------------------------------------------------

    async def publish(self, principal: Principal, data: PublicationCreate) -> Publication:
        principal.require_platform_admin()
        period = parse_period(year=data.year, quarter=data.quarter)
        summary: dict[str, Any] = {}
        for side in Side:
            for by in (By.type, By.field, By.flow):
                result = await self.aggregate(data.region, by, side, period)
                summary.setdefault(
                    side.value, {"label": SIDE_LABELS[side], "overall": result.overall.model_dump(mode="json")}
                )
                summary[side.value][by.value] = [row.model_dump(mode="json") for row in result.items]
        publication = Publication(
            title=data.title,
            region=data.region,
            start_period=period.start,
            end_period=period.end,
            payload=summary,
            published_by=principal.user.id,
        )
        await self.repository.add(publication)
        return publication

    @staticmethod
    def read_publication(publication: Publication) -> PublicationRead:
        return PublicationRead(
            id=publication.id or 0,
            title=publication.title,
            region=publication.region,
            region_name=region_name(publication.region),
            start=PeriodRange.text(publication.start_period),
            end=PeriodRange.text(publication.end_period),
            published_at=publication.published_at,
            summary=publication.payload,
        )
