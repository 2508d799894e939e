"""Reports as the statistics office files them: 万元 rounded half-up from integer fen, two-dimension
cross-tabs whose totals add up to the one-dimension figures, and the running year against the same
months of the previous year."""

from __future__ import annotations

import csv
import io
import random
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from contracts.contract.models import ContractStatus, ContractType
from contracts.statistics.dimensions import china_today
from contracts.statistics.schemas import Unit, amount
from core.db import Database
from core.reference import fields
from market.demo import PLATFORM_ADMIN_EMAIL, REGION_ADMIN
from tests.fixtures.app import login
from tests.statistics.helpers import (
    LAST_YEAR,
    THIS_YEAR,
    Orgs,
    api_cells,
    as_fen,
    contract_row,
    organizations,
    plain_group_by,
)

PERIOD = {"start": f"{LAST_YEAR}-01", "end": f"{THIS_YEAR}-12"}
STAT = "/api/v1/statistics"


async def random_contracts(database: Database, orgs: Orgs, count: int, seed: int) -> None:
    """Registered (and some uncounted) contracts across regions, types and fields over two years, odd fen."""
    rng = random.Random(seed)
    ids = list(orgs.ids.values())
    statuses = [ContractStatus.registered] * 4 + [ContractStatus.completed, ContractStatus.draft]
    async with database.unit_of_work() as session:
        for seq in range(count):
            seller, buyer = rng.sample(ids, 2)
            when = datetime(rng.choice([LAST_YEAR, THIS_YEAR]), rng.randint(1, 12), rng.randint(1, 28), 3, tzinfo=UTC)
            contract = contract_row(
                orgs,
                seller,
                buyer,
                status=rng.choice(statuses),
                total_fen=rng.randint(1, 5_000_000_00),
                registered_at=when,
                type=rng.choice(list(ContractType)),
                field=rng.choice([*fields(), None]),
                seq=600 + seq,
            )
            contract.technology_income_fen = rng.randint(0, contract.total_fen)
            session.add(contract)


def test_wan_is_rounded_half_up_from_integer_fen() -> None:
    # 0.01 万元 = 100 元 = 10 000 分: 49.99 元 rounds down, 50.00 元 up (half-up, not banker's).
    assert [str(amount(fen, Unit.wan)) for fen in (0, 4_999, 5_000, 14_999, 15_000, 123_456_789_01)] == [
        "0.00",
        "0.00",
        "0.01",
        "0.01",
        "0.02",
        "12345.68",
    ]
    assert str(amount(-5_000, Unit.wan)) == "-0.01" and str(amount(12_345, Unit.yuan)) == "123.45"


async def _get(client: httpx.AsyncClient, headers: dict[str, str], path: str, **params: Any) -> dict[str, Any]:
    reply = await client.get(f"{STAT}/{path}", params=params, headers=headers)
    assert reply.status_code == 200, reply.text
    return reply.json()


def _fen(cell: dict[str, Any]) -> tuple[int, int, int]:
    return cell["contracts"], as_fen(cell["turnover"]), as_fen(cell["technology_income"])


def _sum(cells: list[tuple[int, int, int]]) -> tuple[int, int, int]:
    return (sum(c[0] for c in cells), sum(c[1] for c in cells), sum(c[2] for c in cells))


@pytest.mark.parametrize("scope", ["all", "150000"])
async def test_crosstab_cells_add_up_to_one_dimension_totals(
    client: httpx.AsyncClient, database: Database, scope: str
) -> None:
    orgs = await organizations(database)
    await random_contracts(database, orgs, 48, seed=11)
    admin = await login(client, PLATFORM_ADMIN_EMAIL)
    for side in ("seller", "buyer"):
        for rows, columns in (("type", "field"), ("region", "type"), ("field", "region")):
            query = {**PERIOD, "side": side, "region": scope, "rows": rows, "columns": columns}
            table = await _get(client, admin, "crosstab", **query)
            keys = [c["key"] for c in table["columns"]]
            grid = {r["key"]: [_fen(c) for c in r["cells"]] for r in table["items"]}
            # Row totals, column totals and the overall total, in 元, to the fen.
            for row in table["items"]:
                assert _fen(row["total"]) == _sum(grid[row["key"]]), (side, rows, row["key"])
            for i, total in enumerate(table["column_totals"]):
                assert _fen(total) == _sum([cells[i] for cells in grid.values()]), (side, columns, keys[i])
            assert _fen(table["overall"]) == _sum([_fen(r["total"]) for r in table["items"]])
            # …and they are the one-dimension statistics.
            one = {"side": side, "region": scope, **PERIOD}
            by_rows = await _get(client, admin, "aggregates", by=rows, **one)
            by_columns = await _get(client, admin, "aggregates", by=columns, **one)
            assert {r["key"]: _fen(r["total"]) for r in table["items"] if r["total"]["contracts"]} == api_cells(by_rows)
            assert {
                k: _fen(t) for k, t in zip(keys, table["column_totals"], strict=True) if t["contracts"]
            } == api_cells(by_columns)
            assert _fen(table["overall"]) == _fen(by_rows["overall"])
            assert table["overall"]["contracts"] > 0

            # In 万元 every figure is its fen total rounded on its own: totals equal the one-dimension
            # totals in 万元 exactly, and differ from the sum of rounded cells by at most 0.005 万元 a cell.
            wan = await _get(client, admin, "crosstab", unit="wan", **query)
            assert wan["unit"] == "wan" and wan["unit_label"] == "万元" and "四舍五入" in wan["rounding"]
            wan_rows = await _get(client, admin, "aggregates", by=rows, unit="wan", **one)
            assert {r["key"]: r["total"]["turnover"] for r in wan["items"] if r["total"]["contracts"]} == {
                r["key"]: r["turnover"] for r in wan_rows["items"] if r["contracts"]
            }
            assert wan["overall"]["turnover"] == wan_rows["overall"]["turnover"]
            for row, exact in zip(wan["items"], table["items"], strict=True):
                total_fen = _fen(exact["total"])[1]
                assert row["total"]["turnover"] == str(amount(total_fen, Unit.wan))
                rounded = sum(Decimal(c["turnover"]) for c in row["cells"])
                assert abs(rounded - Decimal(row["total"]["turnover"])) <= Decimal("0.005") * len(row["cells"])


async def test_wan_totals_are_rounded_from_fen_not_summed_from_rounded_cells(
    client: httpx.AsyncClient, database: Database
) -> None:
    orgs = await organizations(database)
    seller, buyer = orgs.ids["演示稀土研究院"], orgs.ids["北京测试企业"]
    when = datetime(LAST_YEAR, 5, 10, 4, tzinfo=UTC)
    async with database.unit_of_work() as session:
        for seq, kind in enumerate((ContractType.transfer, ContractType.license), start=1):
            # 60.00 元 each = 0.006 万元 → 0.01; together 120.00 元 = 0.012 万元 → 0.01.
            session.add(
                contract_row(orgs, seller, buyer, total_fen=60_00, registered_at=when, type=kind, seq=800 + seq)
            )
    admin = await login(client, PLATFORM_ADMIN_EMAIL)
    may = {"start": f"{LAST_YEAR}-05", "end": f"{LAST_YEAR}-05", "region": "150200"}
    table = await _get(client, admin, "crosstab", rows="type", columns="field", unit="wan", **may)
    column = [c["key"] for c in table["columns"]].index("new_materials")
    cells = {r["key"]: r["cells"][column]["turnover"] for r in table["items"]}
    assert cells["transfer"] == cells["license"] == "0.01"
    assert table["column_totals"][column]["turnover"] == "0.01" == table["overall"]["turnover"]
    assert (await _get(client, admin, "crosstab", rows="type", columns="field", **may))["overall"][
        "turnover"
    ] == "120.00"

    reply = await client.get(
        f"{STAT}/exports/crosstab",
        params={"rows": "type", "columns": "field", "unit": "wan", "format": "csv", **may},
        headers=admin,
    )
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/csv")
    lines = list(csv.reader(io.StringIO(reply.content.decode("utf-8-sig"))))
    assert lines[0][:2] == ["代码", "合同类型"] and lines[0][-1] == "合计"
    assert lines[-1][:2] == ["total", "合计"] and lines[-1][-1] == "0.01"
    by_key = {line[0]: line for line in lines[1:]}
    assert by_key["transfer"][2 + column] == "0.01" and by_key["transfer"][-1] == "0.01"

    same = await client.get(f"{STAT}/crosstab", params={"rows": "type", "columns": "type"}, headers=admin)
    assert (same.status_code, same.json()["code"]) == (422, "same_cross_dimension")
    region = await login(client, REGION_ADMIN[0])
    other = await client.get(f"{STAT}/crosstab", params={"region": "150100"}, headers=region)
    assert (other.status_code, other.json()["code"]) == (403, "region_out_of_scope")


async def test_aggregates_series_and_exports_answer_in_wan(client: httpx.AsyncClient, database: Database) -> None:
    orgs = await organizations(database)
    await random_contracts(database, orgs, 24, seed=5)
    admin = await login(client, PLATFORM_ADMIN_EMAIL)
    yuan = await _get(client, admin, "aggregates", by="type", **PERIOD)
    wan = await _get(client, admin, "aggregates", by="type", unit="wan", **PERIOD)
    assert wan["unit_label"] == "万元"
    for a, b in zip([*yuan["items"], yuan["overall"]], [*wan["items"], wan["overall"]], strict=True):
        assert b["turnover"] == str(amount(as_fen(a["turnover"]), Unit.wan))
    series = await _get(client, admin, "series", unit="wan")
    platform = [p for p in (await _get(client, admin, "series"))["items"]]
    for a, b in zip(platform, series["items"], strict=True):
        assert b["yoy_growth"] == a["yoy_growth"]  # growth from exact figures, whatever the unit
        if a["value"] is not None:
            assert Decimal(b["value"]) == amount(int(Decimal(a["value"]) * 100), Unit.wan)
    targets = (await _get(client, admin, "targets"))["items"]
    targets_wan = (await _get(client, admin, "targets", unit="wan"))["items"]
    assert targets and [t["id"] for t in targets] == [t["id"] for t in targets_wan]
    for a, b in zip(targets, targets_wan, strict=True):
        assert b["unit_label"] == "万元" and b["progress"]["progress"] == a["progress"]["progress"]
        assert Decimal(b["target_value"]) == amount(int(Decimal(a["target_value"]) * 100), Unit.wan)
        if a["progress"]["actual"] is not None:
            assert Decimal(b["progress"]["actual"]) == amount(int(Decimal(a["progress"]["actual"]) * 100), Unit.wan)
    one = await _get(client, admin, f"targets/{targets[0]['id']}", unit="wan")
    assert one["target_value"] == targets_wan[0]["target_value"]
    reply = await client.get(
        f"{STAT}/exports/aggregates", params={"by": "type", "unit": "wan", "format": "csv", **PERIOD}, headers=admin
    )
    lines = list(csv.reader(io.StringIO(reply.content.decode("utf-8-sig"))))
    assert lines[0][3:] == ["合同成交额 (万元)", "技术交易额 (万元)"]
    assert lines[-1][3] == wan["overall"]["turnover"]


async def test_year_to_date_compares_the_same_months_of_last_year(
    client: httpx.AsyncClient, database: Database
) -> None:
    orgs = await organizations(database)
    month = china_today().month
    seller, buyer = orgs.ids["演示稀土研究院"], orgs.ids["北京测试企业"]
    async with database.unit_of_work() as session:
        for seq, (year, m, fen) in enumerate(
            [(THIS_YEAR, 1, 150_000_00), (LAST_YEAR, 1, 100_000_00), (LAST_YEAR, month, 20_000_00)]
            + ([(LAST_YEAR, month + 1, 999_000_00)] if month < 12 else []),
            start=1,
        ):
            session.add(
                contract_row(
                    orgs, seller, buyer, total_fen=fen, registered_at=datetime(year, m, 5, 4, tzinfo=UTC), seq=850 + seq
                )
            )
    admin = await login(client, PLATFORM_ADMIN_EMAIL)
    ytd = (await _get(client, admin, "series", region="150200"))["year_to_date"]
    end = date(THIS_YEAR, month, 1)

    async def plain(year: int) -> tuple[int, int]:
        cells = await plain_group_by(
            database,
            "'all'",
            region_column="seller_region",
            prefix="1502",
            since=date(year, 1, 1),
            until=date(year + (month == 12), month % 12 + 1, 1),
        )
        return cells.get("all", (0, 0, 0))[:2]

    n, now = await plain(THIS_YEAR)
    previous_n, previous = await plain(LAST_YEAR)
    assert (ytd["year"], ytd["start"], ytd["end"]) == (THIS_YEAR, f"{THIS_YEAR}-01", f"{end:%Y-%m}")
    assert (ytd["contracts"], as_fen(ytd["value"])) == (n, now)
    assert (ytd["previous_year"], ytd["previous_contracts"], as_fen(ytd["previous_value"])) == (
        LAST_YEAR,
        previous_n,
        previous,
    )
    expected = (Decimal(now) / Decimal(previous) - 1) * 100
    assert Decimal(ytd["growth"]) == expected.quantize(Decimal("0.01"))
    assert previous < 999_000_00  # the months after this one last year are left out


def test_cli_exports_a_crosstab_in_wan(
    tmp_path: Path, migrated_urls: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    from app.cli import app

    copy = tmp_path / "copy.db"
    shutil.copy(migrated_urls["sqlite"].split("///", 1)[1], copy)
    monkeypatch.setenv("TECHMARKET_DATABASE_URL", f"sqlite+aiosqlite:///{copy}")
    monkeypatch.setenv("TECHMARKET_DATA_DIR", str(tmp_path))
    out = tmp_path / "crosstab.csv"
    result = CliRunner().invoke(
        app, ["export", "crosstab", "--rows", "region", "--columns", "type", "--unit", "wan", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    lines = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    assert lines[0] == ["代码", "地区", "技术开发", "技术转让", "技术许可", "技术咨询", "技术服务", "合计"]
    assert lines[-1][:2] == ["total", "合计"]
    same = CliRunner().invoke(app, ["export", "crosstab", "--rows", "type", "--columns", "type", "-o", str(out)])
    assert same.exit_code == 2
