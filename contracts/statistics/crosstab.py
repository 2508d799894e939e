"""Two-dimension tables (合同类型 × 技术领域, 地区 × 合同类型, …) for 输出 or 吸纳, with row and column totals.

Cells, row totals, column totals and the overall total are each summed in integer fen first and only
then converted: in 元 every total equals the sum of its cells exactly; in 万元 each figure is rounded
half-up on its own, so a total may differ from the sum of its rounded cells by a few 0.01 万元 (the
rule the statistics office uses; stated in the answer's ``rounding``).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from contracts.contract.models import ContractType
from contracts.statistics import errors
from contracts.statistics.dimensions import (
    ALL_REGIONS,
    SIDE_LABELS,
    UNSPECIFIED,
    By,
    Side,
    label,
    region_name,
    region_row,
    scope_prefix,
)
from contracts.statistics.repository import StatisticsRepository
from contracts.statistics.schemas import (
    UNIT_LABELS,
    WAN_ROUNDING,
    CrossBy,
    CrossCell,
    CrossColumn,
    CrossRow,
    CrossTabRead,
    Unit,
    amount,
)
from contracts.statistics.service import PeriodRange
from core.reference import fields

Sums = list[int]  # contracts, total_fen, income_fen


def _cell(key: str, sums: Sums, unit: Unit) -> CrossCell:
    return CrossCell(
        key=key, contracts=sums[0], turnover=amount(sums[1], unit), technology_income=amount(sums[2], unit)
    )


def _add(into: Sums, values: Sums) -> None:
    for i in range(3):
        into[i] += values[i]


def _keys(by: CrossBy, present: set[str]) -> list[str]:
    """Every contract type and field in report order (zeros shown), regions as they occur."""
    if by == CrossBy.type:
        return [t.value for t in ContractType]
    if by == CrossBy.field:
        return list(fields()) + ([UNSPECIFIED] if UNSPECIFIED in present else [])
    return sorted(present)


async def crosstab(
    session: AsyncSession,
    scope: str,
    rows: CrossBy,
    columns: CrossBy,
    side: Side,
    period: PeriodRange,
    unit: Unit = Unit.yuan,
) -> CrossTabRead:
    if rows == columns:
        raise errors.on_field(errors.SameCrossDimension, "query.columns", "rows 与 columns 不能相同")
    facts = await StatisticsRepository(session).fact_sums(
        side=side.value,
        prefix=scope_prefix(scope),
        start=period.start,
        end=period.end,
        rows=rows.value,
        columns=columns.value,
    )
    grid: dict[tuple[str, str], Sums] = {}
    for row_key, column_key, *values in facts:
        if rows == CrossBy.region:
            row_key = region_row(row_key, scope)
        if columns == CrossBy.region:
            column_key = region_row(column_key, scope)
        _add(grid.setdefault((row_key, column_key), [0, 0, 0]), list(values))
    row_keys = _keys(rows, {r for r, _ in grid})
    column_keys = _keys(columns, {c for _, c in grid})
    column_totals: dict[str, Sums] = {c: [0, 0, 0] for c in column_keys}
    overall: Sums = [0, 0, 0]
    items = []
    for row_key in row_keys:
        row_total: Sums = [0, 0, 0]
        cells = []
        for column_key in column_keys:
            sums = grid.get((row_key, column_key), [0, 0, 0])
            _add(row_total, sums)
            _add(column_totals[column_key], sums)
            cells.append(_cell(column_key, sums, unit))
        _add(overall, row_total)
        items.append(
            CrossRow(
                key=row_key, label=label(By(rows.value), row_key), cells=cells, total=_cell("total", row_total, unit)
            )
        )
    return CrossTabRead(
        rows=rows,
        columns_by=columns,
        side=side,
        side_label=SIDE_LABELS[side],
        region=scope,
        region_name="全部地区" if scope == ALL_REGIONS else region_name(scope),
        start=period.start_text,
        end=period.end_text,
        unit=unit,
        unit_label=UNIT_LABELS[unit],
        rounding=WAN_ROUNDING if unit == Unit.wan else "元金额精确到分, 合计等于各项之和",
        columns=[CrossColumn(key=c, label=label(By(columns.value), c)) for c in column_keys],
        items=items,
        column_totals=[_cell(c, column_totals[c], unit) for c in column_keys],
        overall=_cell("total", overall, unit),
    )
