"""Thin handlers of the policy support report (后补助 and 创新券): JSON, CSV and XLSX through core.tabular.

Platform admins see every budget (``region`` narrows it); a region admin sees the budgets of their
盟市 only, whatever ``region`` asks for outside it.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Response
from pydantic import Field

from contracts.voucher import errors
from contracts.voucher.reports import (
    EXPORT_COLUMNS,
    INSTRUMENT_ZH,
    export_rows,
    region_label,
    support_lines,
    target_for,
)
from core.deps import SessionDep
from core.errors import problem_responses
from core.money import Yuan, fen_to_yuan
from core.reference import region_contains
from core.tabular import MEDIA_TYPES, export_bytes
from core.visibility import AdminOnly, Classified, Subject
from market.identity.deps import CurrentPrincipal
from market.identity.endpoints import AUTH_ERRORS
from market.identity.service import Principal

router = APIRouter(prefix="/api/v1/policy-reports", tags=["policy"])
REPORT_ERRORS = (*AUTH_ERRORS, errors.ReportAdminsOnly, errors.ReportOutOfScope)


class SupportRow(Classified):
    year: AdminOnly[int]
    region: AdminOnly[str]
    region_name: AdminOnly[str]
    instrument: AdminOnly[str] = Field(description="post_subsidy (后补助) 或 voucher (创新券)")
    instrument_name: AdminOnly[str]
    allocated: AdminOnly[Yuan] = Field(description="预算总额")
    committed: AdminOnly[Yuan] = Field(description="已承诺 (已预留未拨付)")
    disbursed: AdminOnly[Yuan] = Field(description="已拨付")
    available: AdminOnly[Yuan]
    supported_contracts: AdminOnly[int | None]
    technology_income: AdminOnly[Yuan | None] = Field(description="受支持合同的技术交易额")
    support_on_contracts: AdminOnly[Yuan | None] = Field(description="用于这些合同的支持金额")
    leverage: AdminOnly[str | None] = Field(description="杠杆率: 每元支持带动的技术交易额 (元)")
    target_year: AdminOnly[int | None] = Field(description="对照的技术合同成交额目标年度")
    target_turnover: AdminOnly[Yuan | None]
    target_source: AdminOnly[str | None]


class SupportReport(Classified):
    scope: AdminOnly[str | None] = Field(description="报表范围 (地区代码); 空为全部")
    rows: AdminOnly[list[SupportRow]]
    committed: AdminOnly[Yuan] = Field(description="合计已承诺")
    disbursed: AdminOnly[Yuan] = Field(description="合计已拨付")


def report_scope(principal: Principal, region: str | None) -> str | None:
    if principal.is_platform_admin:
        return region
    scope = principal.region_scope
    if scope is None:
        raise errors.ReportAdminsOnly()
    if region is None:
        return scope
    if not region_contains(scope, region):
        raise errors.ReportOutOfScope()
    return region


@router.get(
    "/support",
    response_model=SupportReport,
    summary="政策资金承诺与拨付 (按年度、地区、政策工具), 杠杆率与成交额目标",
    responses=problem_responses(*REPORT_ERRORS),
)
async def support_report(
    principal: CurrentPrincipal, session: SessionDep, year: int | None = None, region: str | None = None
) -> SupportReport:
    scope = report_scope(principal, region)
    lines = await support_lines(session, region=scope, year=year)
    rows = []
    for line in lines:
        target = target_for(line.year)
        rows.append(
            SupportRow(
                year=line.year,
                region=line.region,
                region_name=region_label(line.region),
                instrument=line.instrument,
                instrument_name=INSTRUMENT_ZH.get(line.instrument, line.instrument),
                allocated=fen_to_yuan(line.allocated_fen),
                committed=fen_to_yuan(line.committed_fen),
                disbursed=fen_to_yuan(line.disbursed_fen),
                available=fen_to_yuan(line.available_fen),
                supported_contracts=line.supported_contracts,
                technology_income=None
                if line.technology_income_fen is None
                else fen_to_yuan(line.technology_income_fen),
                support_on_contracts=None
                if line.support_on_contracts_fen is None
                else fen_to_yuan(line.support_on_contracts_fen),
                leverage=None if line.leverage is None else f"{line.leverage:.2f}",
                target_year=None if target is None else target.target_year,
                target_turnover=None if target is None else fen_to_yuan(target.target_value_fen),
                target_source=None if target is None else target.source_note,
            )
        )
    return SupportReport(
        scope=scope,
        rows=rows,
        committed=fen_to_yuan(sum(line.committed_fen for line in lines)),
        disbursed=fen_to_yuan(sum(line.disbursed_fen for line in lines)),
    ).about(Subject(regions=(scope or "150000",)))


@router.get(
    "/support/export",
    summary="导出政策资金报表 (CSV 或 XLSX)",
    responses={
        200: {"content": {MEDIA_TYPES["csv"]: {}, MEDIA_TYPES["xlsx"]: {}}},
        **problem_responses(*REPORT_ERRORS),
    },
)
async def export_support_report(
    principal: CurrentPrincipal,
    session: SessionDep,
    format: Literal["csv", "xlsx"] = "csv",
    year: int | None = None,
    region: str | None = None,
) -> Response:
    scope = report_scope(principal, region)
    lines = await support_lines(session, region=scope, year=year)
    content = await export_bytes(format, EXPORT_COLUMNS, export_rows(lines), title="政策资金报表")
    return Response(
        content,
        media_type=MEDIA_TYPES[format],
        headers={"Content-Disposition": f'attachment; filename="policy-support.{format}"'},
    )
