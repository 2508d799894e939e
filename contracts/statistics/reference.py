"""The published series and the policy targets: the only reader of ``contracts/statistics/data/*.csv``.

The files are the one home of these figures; each row cites its source (``source_note``, see
``data/README.md``). Money is read as integers in the unit the column header names (``_fen``,
``_yuan`` or ``_wan_yuan``) and held as integer fen; growth rates as whole basis points. A decimal
point in an amount, an unknown region or metric, or a row without a source is refused with the file
and line, so a bad edit fails at load, never as a float somewhere later.

Migration 0004 seeded a frozen copy of the 2026 rows; ``sync`` brings a database up to the files.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.statistics.models import ReferenceFigure, Target
from contracts.statistics.schemas import Metric
from core.reference import is_known_region

DATA = Path(__file__).with_name("data")
FIGURES_FILE = "official-statistics.csv"
TARGETS_FILE = "targets.csv"
NATIONAL = "000000"
BP = 10_000
FEN_PER = {"fen": 1, "yuan": 100, "wan_yuan": 1_000_000}
MONEY_METRICS = frozenset({Metric.contract_turnover.value, Metric.technology_income.value})

_INTEGER = re.compile(r"^-?\d+$")
_PERIOD = re.compile(r"^(\d{4})(H[12]|Q[1-4])?$")


class ReferenceDataError(ValueError):
    """A data file that does not say what the loader needs, with the file and line."""


@dataclass(frozen=True)
class PublishedFigure:
    region: str
    period: str  # 2018 (full year), 2023H1, 2023Q2
    year: int
    metric: str
    value_fen: int
    contracts: int | None
    break_before: bool  # a counting-rule (口径) break against the previous figure
    source_note: str


@dataclass(frozen=True)
class PolicyTarget:
    region: str
    metric: str
    target_year: int
    target_value_fen: int
    annual_growth_bp: int | None
    source_note: str


class _Rows:
    """The rows of one data file, with the checks every column shares."""

    def __init__(self, directory: Path, name: str) -> None:
        self.name = name
        with (directory / name).open(encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle)
            self.header = list(reader.fieldnames or [])
            self.rows = list(enumerate(reader, start=2))
        self.line = 0

    def fail(self, message: str) -> ReferenceDataError:
        return ReferenceDataError(f"{self.name}:{self.line}: {message}")

    def money_column(self, stem: str) -> tuple[str, int]:
        """The column ``<stem>_<unit>`` and fen per unit; exactly one must be there."""
        found = [(f"{stem}_{unit}", fen) for unit, fen in FEN_PER.items() if f"{stem}_{unit}" in self.header]
        if len(found) != 1:
            raise ReferenceDataError(f"{self.name}: needs one of {', '.join(f'{stem}_{u}' for u in FEN_PER)}")
        return found[0]

    def integer(self, row: dict[str, str], column: str, *, optional: bool = False) -> int | None:
        text = (row.get(column) or "").strip()
        if not text and optional:
            return None
        if not _INTEGER.match(text):
            raise self.fail(f"{column} must be a whole number, got {text!r}")
        return int(text)

    def region(self, row: dict[str, str]) -> str:
        code = (row.get("region") or "").strip()
        if code != NATIONAL and not is_known_region(code):
            raise self.fail(f"unknown region {code!r}")
        return code

    def metric(self, row: dict[str, str]) -> str:
        metric = (row.get("metric") or "").strip()
        if metric not in MONEY_METRICS:
            raise self.fail(f"unknown metric {metric!r}")
        return metric

    def source(self, row: dict[str, str]) -> str:
        note = (row.get("source_note") or "").strip()
        if not note:
            raise self.fail("every figure cites its source (source_note)")
        if len(note) > 500:
            raise self.fail("source_note longer than 500 characters")
        return note

    def flag(self, row: dict[str, str], column: str) -> bool:
        text = (row.get(column) or "").strip().lower()
        if text not in ("true", "false"):
            raise self.fail(f"{column} must be true or false, got {text!r}")
        return text == "true"

    def basis_points(self, row: dict[str, str], column: str) -> int | None:
        """A decimal fraction (0.25) as whole basis points (2500)."""
        text = (row.get(column) or "").strip()
        if not text:
            return None
        try:
            bp = Decimal(text) * BP
        except InvalidOperation:
            raise self.fail(f"{column} must be a decimal fraction, got {text!r}") from None
        if not bp.is_finite() or bp != bp.to_integral_value() or "e" in text.lower():
            raise self.fail(f"{column} must be a decimal fraction in whole basis points, got {text!r}")
        return int(bp)


@cache
def published_figures(directory: Path = DATA) -> tuple[PublishedFigure, ...]:
    """Official figures published before the platform existed, as ``official-statistics.csv`` gives them."""
    data = _Rows(directory, FIGURES_FILE)
    value_column, fen_per = data.money_column("value")
    figures: dict[tuple[str, str, str], PublishedFigure] = {}
    for line, row in data.rows:
        data.line = line
        period = (row.get("year") or "").strip()
        match = _PERIOD.match(period)
        if not match:
            raise data.fail(f"period (year) must be YYYY, YYYYH1 or YYYYQ1, got {period!r}")
        figure = PublishedFigure(
            region=data.region(row),
            period=period,
            year=int(match.group(1)),
            metric=data.metric(row),
            value_fen=(data.integer(row, value_column) or 0) * fen_per,
            contracts=data.integer(row, "contracts", optional=True),
            break_before=data.flag(row, "break_before"),
            source_note=data.source(row),
        )
        key = (figure.region, figure.period, figure.metric)
        if key in figures:
            raise data.fail(f"{'/'.join(key)} appears twice")
        figures[key] = figure
    return tuple(figures.values())


@cache
def policy_targets(directory: Path = DATA) -> tuple[PolicyTarget, ...]:
    """The policy targets the statistics are measured against, as ``targets.csv`` gives them."""
    data = _Rows(directory, TARGETS_FILE)
    value_column, fen_per = data.money_column("target_value")
    targets: dict[tuple[str, str, int], PolicyTarget] = {}
    for line, row in data.rows:
        data.line = line
        target = PolicyTarget(
            region=data.region(row),
            metric=data.metric(row),
            target_year=data.integer(row, "target_year") or 0,
            target_value_fen=(data.integer(row, value_column) or 0) * fen_per,
            annual_growth_bp=data.basis_points(row, "annual_growth"),
            source_note=data.source(row),
        )
        key = (target.region, target.metric, target.target_year)
        if key in targets:
            raise data.fail(f"{target.region}/{target.metric}/{target.target_year} appears twice")
        targets[key] = target
    return tuple(targets.values())


@dataclass(frozen=True)
class SyncResult:
    figures_added: int
    figures_updated: int
    targets_added: int


async def sync(session: AsyncSession) -> SyncResult:
    """Bring a database up to the files: published figures follow the file (added or corrected); a
    target missing from the database is added, one already there is left as the platform admins set it."""
    stored = {(f.region, f.period, f.metric): f for f in (await session.execute(select(ReferenceFigure))).scalars()}
    added = updated = 0
    for figure in published_figures():
        row = stored.get((figure.region, figure.period, figure.metric))
        if row is None:
            row = ReferenceFigure(region=figure.region, period=figure.period, metric=figure.metric, value_fen=0, year=0)
            added += 1
        elif (row.year, row.value_fen, row.contracts, row.break_before, row.source_note) != (
            figure.year,
            figure.value_fen,
            figure.contracts,
            figure.break_before,
            figure.source_note,
        ):
            updated += 1
        else:
            continue
        row.year, row.value_fen, row.contracts = figure.year, figure.value_fen, figure.contracts
        row.break_before, row.source_note = figure.break_before, figure.source_note
        session.add(row)
    present = {(t.region, t.metric, t.target_year) for t in (await session.execute(select(Target))).scalars()}
    targets_added = 0
    for target in policy_targets():
        if (target.region, target.metric, target.target_year) not in present:
            session.add(
                Target(
                    region=target.region,
                    metric=target.metric,
                    target_year=target.target_year,
                    target_value_fen=target.target_value_fen,
                    annual_growth_bp=target.annual_growth_bp,
                    source_note=target.source_note,
                )
            )
            targets_added += 1
    await session.flush()
    return SyncResult(figures_added=added, figures_updated=updated, targets_added=targets_added)
