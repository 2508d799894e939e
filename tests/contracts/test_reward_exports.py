"""The institution exports its reward ledger; the figures are the demo contract's, to the fen."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import httpx
from openpyxl import load_workbook
from sqlalchemy import select
from sqlmodel import col

from contracts.contract.models import Contract
from contracts.demo import DEMO_CONTRACT_TITLE
from contracts.reward.models import Distribution
from core.db import Database
from tests.fixtures.app import login

INSTITUTE = "institute@demo.techmarket.cn"  # seller of the demo contract (演示稀土研究院)


async def test_institution_exports_its_distributions_as_csv_and_xlsx(client: httpx.AsyncClient) -> None:
    headers = await login(client, INSTITUTE)
    reply = await client.get("/api/v1/rewards/export", headers=headers)
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(reply.content.decode("utf-8-sig"))))
    header, body = rows[0], rows[1:]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in "".join(header)), "Chinese headers for Excel users"
    assert body, "the demo contract's two payments produced distributions"
    amounts = [
        cell for row in body for cell in row if cell.replace(".", "", 1).replace("-", "", 1).isdigit() and "." in cell
    ]
    assert all(len(a.split(".")[1]) == 2 for a in amounts), "yuan with two decimals, never floats"
    # Per beneficiary: 王教授 gets 98,000 and 245,000; the institute keeps 84,000 and 210,000.
    assert {"98000.00", "245000.00", "84000.00", "210000.00"} <= {cell for row in body for cell in row}

    xlsx = await client.get("/api/v1/rewards/export", params={"format": "xlsx"}, headers=headers)
    sheet = load_workbook(io.BytesIO(xlsx.content), read_only=True).active
    assert sheet is not None
    assert len(list(sheet.iter_rows(values_only=True))) == len(rows)


async def test_export_names_the_registration_and_the_rule_and_tells_china_time(
    client: httpx.AsyncClient, database: Database
) -> None:
    async with database.unit_of_work() as session:
        number = (
            await session.execute(
                select(col(Contract.registration_number)).where(col(Contract.title) == DEMO_CONTRACT_TITLE)
            )
        ).scalar_one()
        made = {d.id: d.created_at for d in (await session.execute(select(Distribution))).scalars().all()}
    reply = await client.get("/api/v1/rewards/export", headers=await login(client, INSTITUTE))
    rows = list(csv.DictReader(io.StringIO(reply.content.decode("utf-8-sig"))))
    assert rows and number and len(number) == 16
    for row in rows:
        assert row["登记号"] == number
        assert row["依据"] == "内蒙古自治区促进科技成果转移转化方案 (2017年)"  # the rule's name, not its code
        assert row["比例"] == "70%"
        local = made[int(row["分配编号"])] + timedelta(hours=8)  # Asia/Shanghai has no daylight saving
        assert (row["日期"], row["时间(北京时间)"]) == (local.date().isoformat(), local.strftime("%H:%M:%S"))

    xlsx = await client.get("/api/v1/rewards/export", params={"format": "xlsx"}, headers=await login(client, INSTITUTE))
    sheet = load_workbook(io.BytesIO(xlsx.content), read_only=True).active
    assert sheet is not None
    header, first = list(sheet.iter_rows(values_only=True))[:2]
    cells = dict(zip(header, first, strict=True))
    local = made[int(str(cells["分配编号"]))] + timedelta(hours=8)
    assert cells["登记号"] == number
    assert hasattr(cells["日期"], "date") and cells["日期"].date() == local.date(), cells  # a typed date cell


async def test_an_admin_account_cannot_export_an_organizations_ledger(client: httpx.AsyncClient) -> None:
    admin = await login(client, "admin@demo.techmarket.cn")
    reply = await client.get("/api/v1/rewards/export", headers=admin)
    assert reply.status_code == 403 and reply.headers["content-type"].startswith("application/problem+json"), reply.text
    other = await login(client, "energy@demo.techmarket.cn")
    reply = await client.get("/api/v1/rewards/export", headers=other)
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/csv"), reply.text
    rows = list(csv.reader(io.StringIO(reply.content.decode("utf-8-sig"))))
    assert len(rows) == 1, rows  # its own ledger, empty: the header alone, nothing of the demo contract's
