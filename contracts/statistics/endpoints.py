"""Thin handlers for trade statistics: aggregates, series, targets, publications, exports, charts."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.responses import StreamingResponse

from contracts.statistics import errors
from contracts.statistics.charts import MEDIA, YearPoint, breakdown_chart, turnover_chart
from contracts.statistics.crosstab import crosstab
from contracts.statistics.dimensions import ALL_REGIONS, By, Side, region_name, scope_prefix
from contracts.statistics.exports import (
    MEASURE_LABELS,
    MEDIA_TYPES,
    aggregate_columns,
    aggregate_rows,
    crosstab_columns,
    crosstab_rows,
    export_stream,
    registration_columns,
    registration_pages,
    single_page,
)
from contracts.statistics.rollups import rebuild, verify
from contracts.statistics.schemas import (
    AggregateRead,
    CrossBy,
    CrossMeasure,
    CrossTabRead,
    ExportFormat,
    Metric,
    PublicationCreate,
    PublicationPage,
    PublicationRead,
    RebuildRead,
    RollupCheck,
    SeriesRead,
    TargetCreate,
    TargetPage,
    TargetRead,
    TargetUpdate,
    Unit,
)
from contracts.statistics.service import PeriodRange, StatisticsService, parse_period, resolve_scope
from core.deps import SessionDep
from core.errors import problem_responses
from core.money import fen_to_yuan
from core.pagination import PageQuery
from market.identity.deps import CurrentPrincipal
from market.identity.endpoints import AUTH_ERRORS
from market.identity.errors import NotPlatformAdmin

router = APIRouter(prefix="/api/v1/statistics", tags=["statistics"])

SCOPE_ERRORS = (*AUTH_ERRORS, errors.StatisticsAdminRequired, errors.RegionOutOfScope, errors.UnknownRegion)
PERIOD_ERRORS = (errors.InvalidPeriod, errors.InvertedPeriod, errors.PeriodOutOfRange)
RegionQuery = Annotated[
    str | None,
    Query(
        description="地区代码 (GB/T 2260; 境外 99+国家代码; all=全部, 仅平台管理员); "
        "默认: 平台管理员为 150000, 盟市管理员为本辖区"
    ),
]
YearQuery = Annotated[int | None, Query(description="统计年度 (按认定登记日期); 默认本年")]
QuarterQuery = Annotated[int | None, Query(ge=1, le=4, description="季度 (需同时给出 year)")]
StartQuery = Annotated[str | None, Query(description="起始月份 YYYY-MM (含)")]
EndQuery = Annotated[str | None, Query(description="截止月份 YYYY-MM (含)")]
SideQuery = Annotated[Side, Query(description="seller = 输出 (按卖方所在地); buyer = 吸纳 (按买方所在地)")]
UnitQuery = Annotated[
    Unit, Query(description="金额单位: yuan = 元; wan = 万元 (由整数分四舍五入至两位小数, 合计先求和再取整)")
]


@router.get(
    "/aggregates",
    response_model=AggregateRead,
    summary="登记合同统计: 按年/季/月、地区、技术领域、合同类型、单位类型、知识产权类型、流向",
    responses=problem_responses(*SCOPE_ERRORS, *PERIOD_ERRORS),
)
async def aggregates(
    principal: CurrentPrincipal,
    session: SessionDep,
    by: Annotated[By, Query(description="统计维度")],
    side: SideQuery = Side.seller,
    region: RegionQuery = None,
    year: YearQuery = None,
    quarter: QuarterQuery = None,
    start: StartQuery = None,
    end: EndQuery = None,
    unit: UnitQuery = Unit.yuan,
) -> AggregateRead:
    scope = resolve_scope(principal, region)
    return await StatisticsService(session).aggregate(scope, by, side, parse_period(year, quarter, start, end), unit)


CROSS_ERRORS = (*SCOPE_ERRORS, *PERIOD_ERRORS, errors.SameCrossDimension)
RowsQuery = Annotated[CrossBy, Query(description="行维度: type 合同类型, field 技术领域, region 地区 (盟市)")]
ColumnsQuery = Annotated[CrossBy, Query(description="列维度 (与行不同)")]


@router.get(
    "/crosstab",
    response_model=CrossTabRead,
    summary="交叉表: 合同类型 × 技术领域、地区 × 合同类型等 (输出/吸纳), 含行合计与列合计",
    responses=problem_responses(*CROSS_ERRORS),
)
async def crosstab_table(
    principal: CurrentPrincipal,
    session: SessionDep,
    rows: RowsQuery = CrossBy.type,
    columns: ColumnsQuery = CrossBy.field,
    side: SideQuery = Side.seller,
    region: RegionQuery = None,
    year: YearQuery = None,
    quarter: QuarterQuery = None,
    start: StartQuery = None,
    end: EndQuery = None,
    unit: UnitQuery = Unit.yuan,
) -> CrossTabRead:
    scope = resolve_scope(principal, region)
    return await crosstab(session, scope, rows, columns, side, parse_period(year, quarter, start, end), unit)


@router.get(
    "/series",
    response_model=SeriesRead,
    summary="年度序列: 平台数据与公开统计数据, 标出口径变化, 增长率不跨口径",
    responses=problem_responses(*SCOPE_ERRORS),
)
async def series(
    principal: CurrentPrincipal,
    session: SessionDep,
    region: RegionQuery = None,
    metric: Metric = Metric.contract_turnover,
    unit: UnitQuery = Unit.yuan,
) -> SeriesRead:
    return await StatisticsService(session).series(resolve_scope(principal, region), metric, unit)


# --- targets ---------------------------------------------------------------------------------


@router.get("/targets", response_model=TargetPage, summary="目标及完成情况", responses=problem_responses(*SCOPE_ERRORS))
async def list_targets(
    principal: CurrentPrincipal,
    session: SessionDep,
    page: PageQuery,
    region: RegionQuery = None,
    unit: UnitQuery = Unit.yuan,
) -> TargetPage:
    if not principal.is_platform_admin and principal.region_scope is None:
        raise errors.StatisticsAdminRequired()
    targets, total = await StatisticsService(session).target_page(principal, region, page.offset, page.limit)
    return TargetPage.of([t.in_unit(unit) for t in targets], total, page)


@router.post(
    "/targets",
    response_model=TargetRead,
    status_code=status.HTTP_201_CREATED,
    summary="新增目标 (平台管理员)",
    responses=problem_responses(*AUTH_ERRORS, NotPlatformAdmin, errors.TargetExists, errors.InvalidTarget),
)
async def create_target(data: TargetCreate, principal: CurrentPrincipal, session: SessionDep) -> TargetRead:
    service = StatisticsService(session)
    return await service.read_target(await service.create_target(principal, data))


@router.get(
    "/targets/{target_id}", response_model=TargetRead, responses=problem_responses(*AUTH_ERRORS, errors.TargetNotFound)
)
async def get_target(
    target_id: int, principal: CurrentPrincipal, session: SessionDep, unit: UnitQuery = Unit.yuan
) -> TargetRead:
    service = StatisticsService(session)
    return (await service.read_target(await service.get_target(principal, target_id))).in_unit(unit)


@router.patch(
    "/targets/{target_id}",
    response_model=TargetRead,
    summary="修改目标 (平台管理员)",
    responses=problem_responses(
        *AUTH_ERRORS, NotPlatformAdmin, errors.TargetNotFound, errors.TargetExists, errors.InvalidTarget
    ),
)
async def update_target(
    target_id: int, data: TargetUpdate, principal: CurrentPrincipal, session: SessionDep
) -> TargetRead:
    service = StatisticsService(session)
    return await service.read_target(await service.update_target(principal, target_id, data))


@router.delete(
    "/targets/{target_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="删除目标 (平台管理员)",
    responses=problem_responses(*AUTH_ERRORS, NotPlatformAdmin, errors.TargetNotFound),
)
async def delete_target(target_id: int, principal: CurrentPrincipal, session: SessionDep) -> Response:
    await StatisticsService(session).delete_target(principal, target_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- published summaries (public) ------------------------------------------------------------


@router.post(
    "/publications",
    response_model=PublicationRead,
    status_code=status.HTTP_201_CREATED,
    summary="发布统计摘要 (平台管理员; 发布时的数字被固定下来, 公众可见)",
    responses=problem_responses(*AUTH_ERRORS, NotPlatformAdmin, *PERIOD_ERRORS),
)
async def publish(data: PublicationCreate, principal: CurrentPrincipal, session: SessionDep) -> PublicationRead:
    service = StatisticsService(session)
    return service.read_publication(await service.publish(principal, data))


@router.get(
    "/published", response_model=PublicationPage, summary="已发布的统计摘要 (公开)", responses=problem_responses()
)
async def list_published(session: SessionDep, page: PageQuery) -> PublicationPage:
    service = StatisticsService(session)
    rows, total = await service.repository.publications(page.offset, page.limit)
    return PublicationPage.of([service.read_publication(p) for p in rows], total, page)


@router.get(
    "/published/{publication_id}",
    response_model=PublicationRead,
    summary="已发布的统计摘要 (公开)",
    responses=problem_responses(errors.PublicationNotFound),
)
async def get_published(publication_id: int, session: SessionDep) -> PublicationRead:
    service = StatisticsService(session)
    publication = await service.repository.publication(publication_id)
    if publication is None:
        raise errors.PublicationNotFound()
    return service.read_publication(publication)


# --- exports ---------------------------------------------------------------------------------


def _download(stream: object, fmt: ExportFormat, stem: str) -> StreamingResponse:
    name = f"{stem}.{fmt.value}"
    return StreamingResponse(
        stream,  # type: ignore[arg-type]
        media_type=MEDIA_TYPES[fmt],
        headers={
            "Content-Disposition": f'attachment; filename="{name.encode("ascii", "ignore").decode()}"; '
            f"filename*=UTF-8''{name}"
        },
    )


def _stem(kind: str, scope: str, side: Side, period: PeriodRange) -> str:
    return f"{kind}-{scope}-{side.value}-{period.start_text}-{period.end_text}"


@router.get(
    "/exports/aggregates",
    summary="导出统计表 (CSV 带 BOM / XLSX / JSON)",
    responses={
        **problem_responses(*SCOPE_ERRORS, *PERIOD_ERRORS),
        200: {"content": {t: {} for t in MEDIA_TYPES.values()}, "description": "文件"},
    },
)
async def export_aggregates(
    principal: CurrentPrincipal,
    session: SessionDep,
    by: Annotated[By, Query()],
    format: Annotated[ExportFormat, Query(description="csv / xlsx / json")] = ExportFormat.csv,
    side: SideQuery = Side.seller,
    region: RegionQuery = None,
    year: YearQuery = None,
    quarter: QuarterQuery = None,
    start: StartQuery = None,
    end: EndQuery = None,
    unit: UnitQuery = Unit.yuan,
) -> StreamingResponse:
    scope = resolve_scope(principal, region)
    period = parse_period(year, quarter, start, end)
    return await aggregates_download(StatisticsService(session), scope, by, side, period, format, unit)


async def aggregates_download(
    service: StatisticsService, scope: str, by: By, side: Side, period: PeriodRange, fmt: ExportFormat, unit: Unit
) -> StreamingResponse:
    result = await service.aggregate(scope, by, side, period, unit)
    meta = result.model_dump(mode="json", exclude={"items", "overall", "total"})
    stream = export_stream(
        fmt, aggregate_columns(unit), single_page(aggregate_rows(result)), title="技术合同统计", meta=meta
    )
    return _download(stream, fmt, _stem(f"statistics-by-{by.value}", scope, side, period))


@router.get(
    "/exports/crosstab",
    summary="导出交叉表 (一个指标: 行 × 列, 含行合计与列合计; CSV 带 BOM / XLSX / JSON)",
    responses={
        **problem_responses(*CROSS_ERRORS),
        200: {"content": {t: {} for t in MEDIA_TYPES.values()}, "description": "文件"},
    },
)
async def export_crosstab(
    principal: CurrentPrincipal,
    session: SessionDep,
    rows: RowsQuery = CrossBy.type,
    columns: ColumnsQuery = CrossBy.field,
    measure: Annotated[CrossMeasure, Query(description="指标")] = CrossMeasure.turnover,
    format: Annotated[ExportFormat, Query(description="csv / xlsx / json")] = ExportFormat.csv,
    side: SideQuery = Side.seller,
    region: RegionQuery = None,
    year: YearQuery = None,
    quarter: QuarterQuery = None,
    start: StartQuery = None,
    end: EndQuery = None,
    unit: UnitQuery = Unit.yuan,
) -> StreamingResponse:
    scope = resolve_scope(principal, region)
    period = parse_period(year, quarter, start, end)
    return await crosstab_download(session, scope, rows, columns, measure, side, period, format, unit)


async def crosstab_download(
    session: SessionDep,
    scope: str,
    rows: CrossBy,
    columns: CrossBy,
    measure: CrossMeasure,
    side: Side,
    period: PeriodRange,
    fmt: ExportFormat,
    unit: Unit,
) -> StreamingResponse:
    table = await crosstab(session, scope, rows, columns, side, period, unit)
    meta = table.model_dump(mode="json", include={"rows", "columns_by", "side", "region", "start", "end", "unit"})
    meta["measure"] = MEASURE_LABELS[measure] + ("" if measure == CrossMeasure.contracts else f" ({table.unit_label})")
    meta["rounding"] = table.rounding
    stream = export_stream(
        fmt,
        crosstab_columns(table, measure),
        single_page(crosstab_rows(table, measure)),
        title="技术合同交叉表",
        meta=meta,
    )
    return _download(stream, fmt, _stem(f"crosstab-{rows.value}-{columns.value}-{measure.value}", scope, side, period))


@router.get(
    "/exports/registrations",
    summary="导出合同登记表 (逐份合同: 登记编号、双方、地区代码、单位类型、类型、领域、两项金额、日期; 流式)",
    responses={
        **problem_responses(*SCOPE_ERRORS, *PERIOD_ERRORS),
        200: {"content": {t: {} for t in MEDIA_TYPES.values()}, "description": "文件"},
    },
)
async def export_registrations(
    request: Request,
    principal: CurrentPrincipal,
    format: Annotated[ExportFormat, Query(description="csv / xlsx / json")] = ExportFormat.csv,
    side: SideQuery = Side.seller,
    region: RegionQuery = None,
    year: YearQuery = None,
    quarter: QuarterQuery = None,
    start: StartQuery = None,
    end: EndQuery = None,
    unit: UnitQuery = Unit.yuan,
) -> StreamingResponse:
    scope = resolve_scope(principal, region)
    period = parse_period(year, quarter, start, end)
    return registrations_download(request, scope, side, period, format, unit)


def registrations_download(
    request: Request, scope: str, side: Side, period: PeriodRange, fmt: ExportFormat, unit: Unit
) -> StreamingResponse:
    database = request.app.state.database
    pages = registration_pages(database, side=side.value, prefix=scope_prefix(scope), period=period, unit=unit)
    meta = {"region": scope, "side": side.value, "start": period.start_text, "end": period.end_text, "unit": unit.value}
    stream = export_stream(fmt, registration_columns(unit), pages, title="技术合同登记表", meta=meta)
    return _download(stream, fmt, _stem("registrations", scope, side, period))


# --- charts ----------------------------------------------------------------------------------


async def turnover_image(service: StatisticsService, scope: str, metric: Metric, fmt: str) -> bytes:
    data = await service.series(scope, metric)
    points = [
        YearPoint(p.year, p.value, p.partial, p.break_before, p.source) for p in data.items if p.period == str(p.year)
    ]
    targets = [
        t
        for t in await service.repository.targets(scope_prefix(scope) if scope != ALL_REGIONS else None)
        if t.region == scope and t.metric == metric.value
    ]
    title = f"{'全国' if scope == ALL_REGIONS else region_name(scope)}{data.metric_label}与目标"
    return turnover_chart(
        points, [(t.target_year, fen_to_yuan(t.target_value_fen)) for t in targets], title=title, fmt=fmt
    )


async def breakdown_image(
    service: StatisticsService, scope: str, by: By, side: Side, period: PeriodRange, fmt: str
) -> bytes:
    result = await service.aggregate(scope, by, side, period)
    rows = [(row.label, row.turnover) for row in result.items if row.contracts]
    side_zh = "输出" if side == Side.seller else "吸纳"
    by_zh = _BY_ZH.get(by, by.value)
    title = f"{result.region_name} {period.start_text}~{period.end_text} 合同成交额 · {side_zh} · 按{by_zh}"
    return breakdown_chart(rows, title=title, fmt=fmt)


_BY_ZH = {
    By.region: "地区",
    By.field: "技术领域",
    By.type: "合同类型",
    By.seller_kind: "卖方单位类型",
    By.buyer_kind: "买方单位类型",
    By.ip_type: "知识产权类型",
    By.flow: "流向",
    By.year: "年度",
    By.quarter: "季度",
    By.month: "月份",
}
ChartFormat = Literal["png", "svg"]


@router.get(
    "/charts/turnover.{fmt}",
    summary="成交额年度图 (对照目标线, 标出口径变化)",
    responses={
        **problem_responses(*SCOPE_ERRORS, errors.ChartFontMissing),
        200: {"content": {"image/png": {}, "image/svg+xml": {}}},
    },
)
async def chart_turnover(
    fmt: ChartFormat,
    principal: CurrentPrincipal,
    session: SessionDep,
    region: RegionQuery = None,
    metric: Metric = Metric.contract_turnover,
) -> Response:
    image = await turnover_image(StatisticsService(session), resolve_scope(principal, region), metric, fmt)
    return Response(image, media_type=MEDIA[fmt])


@router.get(
    "/charts/breakdown.{fmt}",
    summary="分项图 (按地区、技术领域等)",
    responses={
        **problem_responses(*SCOPE_ERRORS, *PERIOD_ERRORS, errors.ChartFontMissing),
        200: {"content": {"image/png": {}, "image/svg+xml": {}}},
    },
)
async def chart_breakdown(
    fmt: ChartFormat,
    principal: CurrentPrincipal,
    session: SessionDep,
    by: By = By.region,
    side: SideQuery = Side.seller,
    region: RegionQuery = None,
    year: YearQuery = None,
    quarter: QuarterQuery = None,
    start: StartQuery = None,
    end: EndQuery = None,
) -> Response:
    scope = resolve_scope(principal, region)
    image = await breakdown_image(
        StatisticsService(session), scope, by, side, parse_period(year, quarter, start, end), fmt
    )
    return Response(image, media_type=MEDIA[fmt])


# --- rollup maintenance ----------------------------------------------------------------------


@router.get(
    "/rollups/verify",
    response_model=RollupCheck,
    summary="核对汇总表与合同表 GROUP BY 结果 (平台管理员)",
    responses=problem_responses(*AUTH_ERRORS, NotPlatformAdmin),
)
async def verify_rollups(principal: CurrentPrincipal, session: SessionDep) -> RollupCheck:
    principal.require_platform_admin()
    mismatches = await verify(session)
    return RollupCheck(consistent=not mismatches, mismatches=mismatches[:100], total=len(mismatches))


@router.post(
    "/rollups/rebuild",
    response_model=RebuildRead,
    summary="由合同表重建汇总表 (批量导入后; 平台管理员)",
    responses=problem_responses(*AUTH_ERRORS, NotPlatformAdmin),
)
async def rebuild_rollups(principal: CurrentPrincipal, session: SessionDep) -> RebuildRead:
    principal.require_platform_admin()
    return RebuildRead(facts=await rebuild(session))
