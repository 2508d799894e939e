"""The published series and policy targets come from the project's own data files: exact fen, each row
cited, bad edits refused at load, and ``sync`` brings a database up to the files without undoing admins."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from contracts.statistics import reference
from contracts.statistics.models import ReferenceFigure, Target
from contracts.statistics.reference import ReferenceDataError, policy_targets, published_figures, sync
from core.db import Database

ROOT = Path(__file__).resolve().parents[2]


def test_policy_targets_are_the_plans_figures_in_fen_with_their_sources() -> None:
    targets = {(t.region, t.target_year): t for t in policy_targets()}
    assert targets[("150000", 2020)].target_value_fen == 300 * 10**8 * 100  # 300亿元
    assert targets[("150000", 2020)].annual_growth_bp == 2500  # 25%/yr
    assert targets[("150000", 2025)].target_value_fen == 100 * 10**8 * 100
    assert targets[("150000", 2028)].target_value_fen == 300 * 10**8 * 100
    assert all(isinstance(t.target_value_fen, int) and t.source_note for t in targets.values())
    assert "300亿元" in targets[("150000", 2028)].source_note


def test_published_series_keeps_periods_breaks_and_citations() -> None:
    figures = {(f.region, f.period, f.metric): f for f in published_figures()}
    y2022 = figures[("150000", "2022", "contract_turnover")]
    assert (y2022.value_fen, y2022.break_before, y2022.year) == (5_249_000_000_00, True, 2022)
    half = figures[("150000", "2023H1", "technology_income")]
    assert (half.year, half.value_fen) == (2023, 1_209_000_000_00)
    assert figures[("150000", "2018", "contract_turnover")].contracts == 6277
    assert figures[("000000", "2023", "contract_turnover")].value_fen == 6_147_566_000_000 * 100  # 61,475.66亿元
    assert all(isinstance(f.value_fen, int) and f.source_note for f in figures.values())


def _copy_data(tmp_path: Path) -> Path:
    shutil.copytree(reference.DATA, tmp_path / "data")
    return tmp_path / "data"


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.mark.parametrize(
    ("old", "new", "complaint"),
    [
        ("30000000000,0.25", "30000000000.5,0.25", "whole number"),  # money is never fractional
        ("30000000000,0.25", "3e10,0.25", "whole number"),
        ("30000000000,0.25", "30000000000,0.25005", "whole basis points"),
        ("150000,contract_turnover,2025", "159900,contract_turnover,2025", "unknown region"),
        ('"regional plan: 2025 技术市场成交额 100亿元以上"', '""', "source"),
        ("150000,contract_turnover,2028", "150000,contract_turnover,2020", "appears twice"),
    ],
)
def test_a_bad_edit_to_the_targets_is_refused_with_file_and_line(
    tmp_path: Path, old: str, new: str, complaint: str
) -> None:
    data = _copy_data(tmp_path)
    _edit(data / "targets.csv", old, new)
    with pytest.raises(ReferenceDataError, match=complaint) as refused:
        policy_targets(data)
    assert str(refused.value).startswith("targets.csv:")


def test_the_unit_is_the_one_the_header_names(tmp_path: Path) -> None:
    data = _copy_data(tmp_path)
    _edit(data / "official-statistics.csv", "value_yuan", "value_wan_yuan")
    _edit(
        data / "official-statistics.csv",
        "150000,2018,contract_turnover,23600000000",
        "150000,2018,contract_turnover,2360000",
    )
    figures = {(f.region, f.period, f.metric): f for f in published_figures(data)}
    assert figures[("150000", "2018", "contract_turnover")].value_fen == 236 * 10**8 * 100  # 236万万元 = 236亿元
    _edit(data / "official-statistics.csv", "value_wan_yuan", "value")
    with pytest.raises(ReferenceDataError, match="value_fen"):
        published_figures.__wrapped__(data)


def test_only_the_loader_reads_the_data_files_and_they_ship_as_package_data() -> None:
    readers = [
        path.relative_to(ROOT).as_posix()
        for package in ("app", "core", "market", "search", "contracts", "alembic")
        for path in (ROOT / package).rglob("*.py")
        if "official-statistics.csv" in path.read_text(encoding="utf-8")
        or "targets.csv" in path.read_text(encoding="utf-8")
    ]
    assert readers == ["contracts/statistics/reference.py"]
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert '"statistics/data/*.csv"' in pyproject


async def test_migrated_database_holds_the_files_figures_and_sync_follows_the_files(database: Database) -> None:
    async with database.unit_of_work() as session:
        first = await sync(session)
    assert (first.figures_added, first.figures_updated, first.targets_added) == (0, 0, 0)  # 0004 seeded the same rows

    async with database.unit_of_work() as session:
        figure = (
            await session.execute(
                select(ReferenceFigure).where(ReferenceFigure.region == "150000", ReferenceFigure.period == "2023")
            )
        ).scalar_one()
        figure.value_fen = 1  # a stale figure
        session.add(figure)
        target = (await session.execute(select(Target).where(Target.target_year == 2028))).scalar_one()
        target.target_value_fen = 123  # as a platform admin set it
        session.add(target)
        await session.delete((await session.execute(select(Target).where(Target.target_year == 2025))).scalar_one())
    async with database.unit_of_work() as session:
        again = await sync(session)
    assert (again.figures_added, again.figures_updated, again.targets_added) == (0, 1, 1)
    async with database.unit_of_work() as session:
        stored = {
            (f.region, f.period, f.metric): f.value_fen
            for f in (await session.execute(select(ReferenceFigure))).scalars()
        }
        targets = {t.target_year: t.target_value_fen for t in (await session.execute(select(Target))).scalars()}
    assert stored == {(f.region, f.period, f.metric): f.value_fen for f in published_figures()}
    assert targets[2028] == 123 and targets[2025] == 100 * 10**8 * 100  # kept the admin's; restored the missing
