"""``techmarket export …`` (statistics tables, 登记表) and ``techmarket statistics rebuild|verify|sync-reference``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from contracts.statistics.crosstab import crosstab
from contracts.statistics.dimensions import By, Side, known_region, scope_prefix
from contracts.statistics.exports import (
    MEASURE_LABELS,
    aggregate_columns,
    aggregate_rows,
    crosstab_columns,
    crosstab_rows,
    export_stream,
    registration_columns,
    registration_pages,
    single_page,
)
from contracts.statistics.schemas import CrossBy, CrossMeasure, ExportFormat, Unit
from contracts.statistics.service import StatisticsService, parse_period
from core import migrations
from core.db import Database
from core.errors import DomainError
from core.settings import Settings

export_app = typer.Typer(help="Export statistics (CSV with BOM / XLSX / JSON).", no_args_is_help=True)
statistics_app = typer.Typer(
    help="Statistics: rebuild rollups after bulk loads, verify them, sync the published figures and targets.",
    no_args_is_help=True,
)
console = Console()

RegionOption = Annotated[str, typer.Option(help="GB/T 2260 code, 99+country for abroad, or all.")]
FormatOption = Annotated[ExportFormat, typer.Option("--format", help="csv, xlsx or json")]
OutputOption = Annotated[Path, typer.Option("-o", "--output", help="File to write.")]
YearOption = Annotated[int | None, typer.Option(help="Registration year (default: this year).")]
QuarterOption = Annotated[int | None, typer.Option(min=1, max=4)]
StartOption = Annotated[str | None, typer.Option(help="First month YYYY-MM.")]
EndOption = Annotated[str | None, typer.Option(help="Last month YYYY-MM.")]
SideOption = Annotated[Side, typer.Option(help="seller (输出) or buyer (吸纳).")]
UnitOption = Annotated[Unit, typer.Option(help="yuan (元) or wan (万元, rounded half-up from fen).")]


def _run(work):
    try:
        return migrations.run_with_database(Settings(), work)
    except DomainError as exc:
        details = "; ".join(e.message for e in exc.errors) or exc.detail or ""
        console.print(f"[red]{exc.title}[/red] {details}")
        raise typer.Exit(2) from exc
    except migrations.SchemaBehindError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc


def _check_region(region: str) -> None:
    if not known_region(region):
        console.print(f"[red]未知的地区代码 {region}[/red]")
        raise typer.Exit(2)


async def _write(stream, output: Path) -> int:
    size = 0
    with output.open("wb") as handle:
        async for chunk in stream:
            handle.write(chunk)
            size += len(chunk)
    return size


@export_app.command("statistics")
def export_statistics(
    output: OutputOption,
    by: Annotated[
        By, typer.Option(help="year, quarter, month, region, field, type, seller_kind, buyer_kind, ip_type, flow")
    ] = By.region,
    fmt: FormatOption = ExportFormat.csv,
    region: RegionOption = "150000",
    side: SideOption = Side.seller,
    year: YearOption = None,
    quarter: QuarterOption = None,
    start: StartOption = None,
    end: EndOption = None,
    unit: UnitOption = Unit.yuan,
) -> None:
    """One statistics table (by a dimension), e.g.
    `techmarket export statistics --by region --year 2026 --format xlsx -o t.xlsx`."""
    _check_region(region)

    async def work(database: Database) -> int:
        period = parse_period(year, quarter, start, end)
        async with database.unit_of_work() as session:
            result = await StatisticsService(session).aggregate(region, by, side, period, unit)
        meta = result.model_dump(mode="json", exclude={"items", "overall", "total"})
        rows = single_page(aggregate_rows(result))
        return await _write(export_stream(fmt, aggregate_columns(unit), rows, title="技术合同统计", meta=meta), output)

    size = _run(work)
    console.print(f"[green]已导出[/green] {output} ({size} bytes)")


@export_app.command("contracts")
def export_contracts(
    output: OutputOption,
    fmt: FormatOption = ExportFormat.csv,
    region: RegionOption = "150000",
    side: SideOption = Side.seller,
    year: YearOption = None,
    quarter: QuarterOption = None,
    start: StartOption = None,
    end: EndOption = None,
    unit: UnitOption = Unit.yuan,
) -> None:
    """The contract-level 登记表 (registration number, parties, regions, kinds, type, field, amounts, dates),
    streamed."""
    _check_region(region)

    async def work(database: Database) -> int:
        period = parse_period(year, quarter, start, end)
        pages = registration_pages(database, side=side.value, prefix=scope_prefix(region), period=period, unit=unit)
        meta = {"region": region, "side": side.value, "start": period.start_text, "end": period.end_text}
        columns = registration_columns(unit)
        return await _write(export_stream(fmt, columns, pages, title="技术合同登记表", meta=meta), output)

    size = _run(work)
    console.print(f"[green]已导出[/green] {output} ({size} bytes)")


@export_app.command("crosstab")
def export_crosstab(
    output: OutputOption,
    rows: Annotated[CrossBy, typer.Option(help="type, field or region")] = CrossBy.type,
    columns: Annotated[CrossBy, typer.Option(help="type, field or region (not the rows')")] = CrossBy.field,
    measure: Annotated[CrossMeasure, typer.Option(help="turnover, technology_income or contracts")] = (
        CrossMeasure.turnover
    ),
    fmt: FormatOption = ExportFormat.csv,
    region: RegionOption = "150000",
    side: SideOption = Side.seller,
    year: YearOption = None,
    quarter: QuarterOption = None,
    start: StartOption = None,
    end: EndOption = None,
    unit: UnitOption = Unit.yuan,
) -> None:
    """A two-dimension table with row and column totals (`--rows region --columns type --unit wan`)."""
    _check_region(region)

    async def work(database: Database) -> int:
        period = parse_period(year, quarter, start, end)
        async with database.unit_of_work() as session:
            table = await crosstab(session, region, rows, columns, side, period, unit)
        meta = table.model_dump(mode="json", include={"rows", "columns_by", "side", "region", "start", "end", "unit"})
        meta["measure"], meta["rounding"] = MEASURE_LABELS[measure], table.rounding
        lines = single_page(crosstab_rows(table, measure))
        return await _write(
            export_stream(fmt, crosstab_columns(table, measure), lines, title="技术合同交叉表", meta=meta), output
        )

    size = _run(work)
    console.print(f"[green]已导出[/green] {output} ({size} bytes)")


@statistics_app.command("rebuild")
def rebuild_command() -> None:
    """Recompute facts and rollups from the contracts table (after bulk SQL loads that bypass the ORM)."""
    from contracts.statistics.rollups import rebuild

    async def work(database: Database) -> int:
        async with database.unit_of_work() as session:
            return await rebuild(session)

    console.print(f"[green]已重建[/green] {_run(work)} contracts counted")


@statistics_app.command("verify")
def verify_command() -> None:
    """Compare the rollups with a GROUP BY over the contracts table; exit 1 on any difference."""
    from contracts.statistics.rollups import verify

    async def work(database: Database) -> list[dict[str, object]]:
        async with database.unit_of_work() as session:
            return await verify(session)

    problems = _run(work)
    for problem in problems[:20]:
        console.print(problem)
    if problems:
        console.print(f"[red]{len(problems)} cells differ[/red]")
        raise typer.Exit(1)
    console.print("[green]rollups agree with the contracts table[/green]")


@statistics_app.command("sync-reference")
def sync_reference_command() -> None:
    """Bring the published figures and policy targets up to contracts/statistics/data (targets set by admins stay)."""
    from contracts.statistics.reference import SyncResult, sync

    async def work(database: Database) -> SyncResult:
        async with database.unit_of_work() as session:
            return await sync(session)

    result = _run(work)
    console.print(
        f"[green]已同步[/green] figures added {result.figures_added}, corrected {result.figures_updated}; "
        f"targets added {result.targets_added}"
    )
