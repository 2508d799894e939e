"""The import report a clerk acts on, and institutes importing their own catalogue. Both profiles."""

from __future__ import annotations

import io
from typing import Any

import httpx
from openpyxl import load_workbook
from sqlalchemy import select
from sqlmodel import col

from core.db import Database
from market.demo import PLATFORM_ADMIN_EMAIL
from market.listings.models import Achievement
from tests.fixtures.app import login
from tests.market.test_import_chinese import INSTITUTE, OFFICE_HEADER, OFFICE_ROWS, office_csv

URL = "/api/v1/imports/achievements"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def office_row(n: int, **changes: str) -> list[str]:
    row = dict(zip(OFFICE_HEADER, OFFICE_ROWS[0], strict=True))
    row.update({"序号": str(n), "编号": f"REP-{n}", "成果名称": f"{row['成果名称']}{n}"}, **changes)
    return [row[name] for name in OFFICE_HEADER]


async def statuses(database: Database, prefix: str) -> dict[str, str]:
    async with database.unit_of_work() as session:
        query = select(Achievement).where(col(Achievement.external_id).like(f"{prefix}%"))
        return {str(a.external_id): a.status.value for a in (await session.execute(query)).scalars()}


def sheet_rows(content: bytes) -> tuple[list[Any], list[tuple[Any, ...]], dict[str, Any]]:
    workbook = load_workbook(io.BytesIO(content))
    rows = list(workbook.worksheets[0].iter_rows(values_only=True))
    summary = {row[0]: row[1] for row in workbook["汇总"].iter_rows(min_row=2, values_only=True)}
    return list(rows[0]), rows[1:], summary


async def test_report_xlsx_lists_exactly_the_failed_rows_and_the_fixed_sheet_lands(
    client: httpx.AsyncClient, database: Database
) -> None:
    admin = await login(client, PLATFORM_ADMIN_EMAIL)
    rows = [
        office_row(1),
        office_row(2, **{"技术领域": "魔法", "价格(元)": "-5"}),  # two errors in one row
        office_row(3),
        office_row(4, 成熟度="研发阶段"),  # TRL 6 does not fit 研发阶段: one error at each of the two columns
        office_row(5, 发布单位="不存在的研究所"),
    ]
    header = OFFICE_HEADER
    files = {"file": ("成果.csv", office_csv(header, rows), "text/csv")}
    reply = await client.post(URL, files=files, params={"report": "xlsx"}, headers=admin)
    assert reply.status_code == 200 and reply.headers["content-type"] == XLSX
    assert (reply.headers["x-import-created"], reply.headers["x-import-failed-rows"]) == ("2", "3")
    assert reply.headers["x-import-errors"] == "5"
    names, failed, summary = sheet_rows(reply.content)
    assert names[0] == "错误原因" and names[1:-1] == header and names[-1] == "原行号"
    assert [(row[2], row[-1]) for row in failed] == [("REP-2", 3), ("REP-4", 5), ("REP-5", 6)]
    reasons = [row[0] for row in failed]
    assert "技术领域: 未知的技术领域代码 魔法" in reasons[0] and "价格（元）: " in reasons[0]
    assert "技术就绪度 6 与成熟度 研发阶段 不一致" in reasons[1] and reasons[2].startswith("发布单位: ")
    assert (summary["失败的行"], summary["错误条数"], summary["新增"]) == (3, 5, 2)
    assert failed[0][names.index("价格(元)")] == "'-5"  # neutralised like every export

    # The clerk fixes the rows in the report and uploads it again as it is.
    workbook = load_workbook(io.BytesIO(reply.content))
    sheet = workbook.worksheets[0]
    fixes = {2: {"技术领域": "新材料", "价格(元)": "80000"}, 3: {"成熟度": "中试"}, 4: {"发布单位": "演示稀土研究院"}}
    for row_index, changes in fixes.items():
        for name, value in changes.items():
            sheet.cell(row=row_index, column=names.index(name) + 1, value=value)
    buffer = io.BytesIO()
    workbook.save(buffer)
    again = await client.post(
        URL, files={"file": ("报告.xlsx", buffer.getvalue(), XLSX)}, headers=admin
    )  # JSON report by default
    assert again.status_code == 200, again.text
    assert (again.json()["created"], again.json()["errors"], again.json()["failed_rows"]) == (3, [], 0)
    whole = await client.post(URL, files=files, headers=admin)  # the original file again: nothing new
    body = whole.json()
    assert (body["created"], body["skipped_existing"], body["failed_rows"], len(body["errors"])) == (0, 2, 3, 5)
    assert {e["label"] for e in body["errors"]} == {"技术领域", "价格（元）", "技术就绪度", "成熟度", "发布单位"}
    assert set((await statuses(database, "REP-")).values()) == {"draft"}


async def test_an_institute_imports_its_own_catalogue_as_drafts_or_submitted(
    client: httpx.AsyncClient, database: Database
) -> None:
    institute = await login(client, INSTITUTE)
    rows = [office_row(11), office_row(12, 发布单位="演示大学 (内蒙古)"), office_row(13)]
    files = {"file": ("成果.csv", office_csv(OFFICE_HEADER, rows), "text/csv")}
    reply = await client.post(URL, files=files, headers=institute)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert (body["created"], body["status"]) == (2, "draft")
    assert [(e["line"], e["code"]) for e in body["errors"]] == [(3, "outside_scope")]
    assert "只能导入本单位" in body["errors"][0]["message"]
    assert await statuses(database, "REP-1") == {"REP-11": "draft", "REP-13": "draft"}

    refused = await client.post(URL, files=files, data={"publish": "true"}, headers=institute)
    assert (refused.status_code, refused.json()["code"]) == (403, "admin_required")

    # Its own sheet needs no 发布单位 column: the rows are the institute's.
    without_owner = [name for name in OFFICE_HEADER if name != "发布单位"]
    submitted = [[v for name, v in zip(OFFICE_HEADER, office_row(14), strict=True) if name != "发布单位"]]
    files = {"file": ("成果.csv", office_csv(without_owner, submitted), "text/csv")}
    reply = await client.post(URL, files=files, data={"submit": "true"}, headers=institute)
    assert (reply.json()["created"], reply.json()["status"], reply.json()["errors"]) == (1, "submitted", [])
    assert (await statuses(database, "REP-14")) == {"REP-14": "submitted"}
    again = await client.post(URL, files=files, data={"submit": "true"}, headers=institute)
    assert (again.json()["created"], again.json()["skipped_existing"]) == (0, 1)

    created = await client.post(
        URL,
        files={"file": ("x.csv", office_csv(OFFICE_HEADER, [office_row(15, 发布单位="新研究所")]), "text/csv")},
        data={"create_organizations": "true"},
        headers=institute,
    )
    assert [e["code"] for e in created.json()["errors"]] == ["outside_scope"]
    assert created.json()["organizations_created"] == 0


async def test_plain_members_may_not_import(client: httpx.AsyncClient) -> None:
    admin = await login(client, PLATFORM_ADMIN_EMAIL)
    organizations = (await client.get("/api/v1/organizations", params={"limit": 100}, headers=admin)).json()["items"]
    institute = next(o for o in organizations if o["name"] == "演示稀土研究院")
    member = {
        "email": "clerk@demo.techmarket.cn",
        "full_name": "科研处办事员",
        "password": "Clerk-2026-pass",
        "role": "member",
    }
    made = await client.post(f"/api/v1/organizations/{institute['id']}/users", json=member, headers=admin)
    assert made.status_code == 201, made.text
    clerk = await login(client, "clerk@demo.techmarket.cn", "Clerk-2026-pass")
    files = {"file": ("成果.csv", office_csv(OFFICE_HEADER, [office_row(21)]), "text/csv")}
    reply = await client.post(URL, files=files, headers=clerk)
    assert (reply.status_code, reply.json()["code"]) == (403, "admin_required")
