"""Exports: CSV with BOM, XLSX with Chinese headers / 2-decimal yuan / frozen header / widths, JSON;
the contract-level 登记表 streamed page by page; the same files from `techmarket export`."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from openpyxl import load_workbook
from sqlalchemy import insert
from typer.testing import CliRunner

from contracts.contract.models import Contract
from contracts.statistics import exports
from contracts.statistics.service import PeriodRange
from core.db import Database
from market.demo import PLATFORM_ADMIN_EMAIL, REGION_ADMIN
from tests.fixtures.app import login
from tests.statistics.helpers import LAST_YEAR, contract_row, organizations, random_contracts


async def test_aggregate_exports_in_three_formats(client: httpx.AsyncClient, database: Database) -> None:
    orgs = await organizations(database)
    await random_contracts(database, orgs, 24, seed=3)
    admin = await login(client, PLATFORM_ADMIN_EMAIL)
    params = {"by": "region", "year": LAST_YEAR}
    api = (await client.get("/api/v1/statistics/aggregates", params=params, headers=admin)).json()
    expected = [
        [i["key"], i["label"], str(i["contracts"]), i["turnover"], i["technology_income"]] for i in api["items"]
    ]
    expected.append(
        [
            "total",
            "合计",
            str(api["overall"]["contracts"]),
            api["overall"]["turnover"],
            api["overall"]["technology_income"],
        ]
    )

    reply = await client.get("/api/v1/statistics/exports/aggregates", params={**params, "format": "csv"}, headers=admin)
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/csv")
    assert reply.content.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads the Chinese correctly
    assert "attachment" in reply.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(reply.content.decode("utf-8-sig"))))
    assert rows[0] == ["代码", "名称", "合同数 (项)", "合同成交额 (元)", "技术交易额 (元)"]
    assert rows[1:] == expected

    reply = await client.get(
        "/api/v1/statistics/exports/aggregates", params={**params, "format": "xlsx"}, headers=admin
    )
    sheet = load_workbook(io.BytesIO(reply.content)).active
    assert [c.value for c in sheet[1]] == rows[0]
    assert sheet.freeze_panes == "A2"
    assert sheet.column_dimensions["B"].width == 28 and sheet.column_dimensions["D"].width == 22
    body = list(sheet.iter_rows(min_row=2, values_only=True))
    assert [[str(v) for v in r[:3]] + [f"{r[3]:.2f}", f"{r[4]:.2f}"] for r in body] == expected
    assert sheet["D2"].number_format == "#,##0.00" and sheet["A1"].font.bold

    reply = await client.get(
        "/api/v1/statistics/exports/aggregates", params={**params, "format": "json"}, headers=admin
    )
    data = reply.json()
    assert data["by"] == "region" and data["total"] == len(expected)
    assert [
        [d["key"], d["label"], str(d["contracts"]), d["turnover"], d["technology_income"]] for d in data["items"]
    ] == expected


async def test_registration_export_streams_every_row_across_pages(
    client: httpx.AsyncClient, database: Database, dialect: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    orgs = await organizations(database)
    monkeypatch.setattr(exports, "PAGE", 50)  # several keyset pages without thousands of rows
    seller, buyer = orgs.ids["演示稀土研究院"], orgs.ids["北京测试企业"]
    rows = []
    for seq in range(130):
        row = contract_row(
            orgs,
            seller,
            buyer,
            total_fen=10_000_00 + seq,
            registered_at=datetime(LAST_YEAR, 5, 1 + seq % 28, tzinfo=UTC),
            seq=1000 + seq,
        )
        rows.append({c.name: getattr(row, c.name) for c in Contract.__table__.columns if c.name != "id"})  # type: ignore[attr-defined]
    async with database.unit_of_work() as session:
        await session.execute(insert(Contract), rows)  # bulk insert: exported from the contracts table directly
    region = await login(client, REGION_ADMIN[0])
    period = PeriodRange(LAST_YEAR * 100 + 1, LAST_YEAR * 100 + 12)
    pages = [
        len(page) async for page in exports.registration_pages(database, side="seller", prefix="1502", period=period)
    ]
    assert len(pages) >= 3 and max(pages) == 50  # read page by page, never all at once
    reply = await client.get(
        "/api/v1/statistics/exports/registrations", params={"year": LAST_YEAR, "format": "csv"}, headers=region
    )
    assert reply.status_code == 200
    lines = list(csv.reader(io.StringIO(reply.content.decode("utf-8-sig"))))
    assert (
        lines[0][:3] == ["登记编号", "合同名称", "合同类型"]
        and "卖方所在地代码" in lines[0]
        and "技术交易额 (元)" in lines[0]
    )
    mine = [line for line in lines[1:] if line[1].startswith("统计测试合同")]
    assert len(mine) == 130
    first = mine[0]
    assert (
        first[0] == f"{LAST_YEAR}150200701000"
        and first[8] == "150200"
        and first[9] == "包头市"
        and first[13] == "110000"
    )
    total = sum(int(line[16].replace(".", "")) for line in mine)
    assert total == sum(r["total_fen"] for r in rows)

    reply = await client.get(
        "/api/v1/statistics/exports/registrations", params={"year": LAST_YEAR, "format": "json"}, headers=region
    )
    assert sum(1 for item in reply.json()["items"] if item["title"].startswith("统计测试合同")) == 130
    reply = await client.get(
        "/api/v1/statistics/exports/registrations", params={"year": LAST_YEAR, "format": "xlsx"}, headers=region
    )
    assert reply.status_code == 200, reply.text[:2000]
    sheet = load_workbook(io.BytesIO(reply.content)).active
    assert sheet.freeze_panes == "A2" and sheet.max_row >= 131
    other = await client.get("/api/v1/statistics/exports/registrations", params={"region": "150600"}, headers=region)
    assert other.status_code == 403


def test_cli_export(tmp_path: Path, migrated_urls: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    from app.cli import app

    source = Path(migrated_urls["sqlite"].removeprefix("sqlite+aiosqlite:///"))
    copy = tmp_path / "cli.db"
    shutil.copyfile(source, copy)
    monkeypatch.setenv("TECHMARKET_DATABASE_URL", f"sqlite+aiosqlite:///{copy}")
    monkeypatch.setenv("TECHMARKET_DATA_DIR", str(tmp_path))
    runner = CliRunner()
    out = tmp_path / "regions.xlsx"
    result = runner.invoke(
        app, ["export", "statistics", "--by", "region", "--region", "all", "--format", "xlsx", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    sheet = load_workbook(out).active
    assert sheet["A1"].value == "代码" and sheet.freeze_panes == "A2"
    out = tmp_path / "contracts.json"
    result = runner.invoke(app, ["export", "contracts", "--region", "all", "--format", "json", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert set(json.loads(out.read_text(encoding="utf-8"))) >= {"items", "total", "region"}
    result = runner.invoke(
        app, ["export", "statistics", "--start", "2026-09", "--end", "2026-01", "-o", str(tmp_path / "x.csv")]
    )
    assert result.exit_code == 2 and "晚于" in result.output
    assert runner.invoke(app, ["statistics", "verify"]).exit_code == 0
