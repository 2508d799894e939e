"""Bulk import: every format, a report per bad row, batches that land whole, re-runs that add nothing."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import httpx
import pytest
from openpyxl import Workbook
from sqlalchemy import select
from sqlmodel import col

from core.db import Database
from market.demo import PLATFORM_ADMIN_EMAIL, REGION_ADMIN
from market.listings.files import ImportFileRejected, read_rows
from market.listings.importer import Importer
from market.listings.kinds import ACHIEVEMENT, DEMAND
from market.listings.models import Achievement
from market.listings.repository import ListingRepository
from tests.fixtures.app import login
from tests.prerequisites import EVAL_SET, needs

ROWS = [
    {
        "external_id": "IMP-1",
        "title": "马铃薯脱毒种薯快繁技术",
        "summary": "茎尖脱毒结合雾培快繁, 单株结薯数提高到40粒以上, 原原种成本降低30%。",
        "field": "agriculture",
        "keywords": "马铃薯;脱毒;雾培",
        "maturity": "industrialized",
        "trl": "8",
        "ip_type": "know_how",
        "transaction_modes": "transfer;license",
        "price": "350000",
        "owner": "演示大学 (内蒙古)",
        "region": "150100",
    },
    {
        "external_id": "IMP-2",
        "title": "燕麦β-葡聚糖提取工艺",
        "summary": "酶法结合膜分离提取燕麦β-葡聚糖, 纯度达到85%, 收率提高20%。",
        "field": "agriculture",
        "keywords": "燕麦;葡聚糖",
        "maturity": "lab",
        "trl": "4",
        "ip_type": "invention_patent",
        "ip_numbers": "201710601862.3",
        "transaction_modes": "license",
        "price": "",
        "owner": "新建的农牧科技公司",
        "owner_kind": "enterprise",
        "region": "150900",
    },
    {  # bad: TRL inconsistent with maturity
        "external_id": "IMP-3",
        "title": "坏行",
        "summary": "这一行的技术就绪度与成熟度不一致, 应当被报告而不是被导入。",
        "field": "agriculture",
        "keywords": "",
        "maturity": "research",
        "trl": "9",
        "ip_type": "know_how",
        "transaction_modes": "transfer",
        "price": "1",
        "owner": "演示大学 (内蒙古)",
        "region": "150100",
    },
    {  # bad: unknown field code and negative price
        "external_id": "IMP-4",
        "title": "另一坏行",
        "summary": "领域代码未知且价格为负数, 两个字段都应出现在报告中。",
        "field": "magic",
        "keywords": "",
        "maturity": "lab",
        "trl": "3",
        "ip_type": "know_how",
        "transaction_modes": "transfer",
        "price": "-5",
        "owner": "演示大学 (内蒙古)",
        "region": "150100",
    },
]


def csv_bytes(rows: list[dict[str, str]], encoding: str) -> bytes:
    names = sorted({key for row in rows for key in row})
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=names)
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode(encoding)


def xlsx_bytes(rows: list[dict[str, str]]) -> bytes:
    names = sorted({key for row in rows for key in row})
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(names)
    for row in rows:
        sheet.append([int(row[n]) if n == "trl" else row.get(n, "") for n in names])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def jsonl_bytes(rows: list[dict[str, str]]) -> bytes:
    lines = [json.dumps(r, ensure_ascii=False) for r in rows]
    lines.insert(2, "{not json")
    return "\n".join(lines).encode("utf-8")


@pytest.mark.parametrize(
    ("filename", "content"),
    [
        ("a.csv", csv_bytes(ROWS, "utf-8-sig")),
        ("a.csv", csv_bytes(ROWS, "gb18030")),
        ("a.xlsx", xlsx_bytes(ROWS)),
        ("a.jsonl", jsonl_bytes(ROWS)),
    ],
    ids=["csv-utf8", "csv-gb18030", "xlsx", "jsonl"],
)
async def test_import_formats_report_bad_rows_and_rerun_adds_nothing(
    database: Database, filename: str, content: bytes
) -> None:
    importer = Importer(database, ACHIEVEMENT)
    report = await importer.run(read_rows(filename, content), create_organizations=True, publish=True)
    assert report.created == 2 and report.organizations_created == 1
    problems = {(e.field, e.code) for e in report.errors}
    assert {("trl", "trl_inconsistent"), ("maturity", "trl_inconsistent")} <= problems
    assert {("field", "unknown_field"), ("price", "negative_money")} <= problems
    if filename.endswith(".jsonl"):
        assert ("", "unreadable_row") in problems and report.total == 5
    again = await importer.run(read_rows(filename, content), create_organizations=True, publish=True)
    assert (again.created, again.skipped_existing, again.organizations_created) == (0, 2, 0)


async def test_imported_published_rows_are_public_with_exact_money(
    client: httpx.AsyncClient, database: Database
) -> None:
    await Importer(database, ACHIEVEMENT).run(
        read_rows("a.csv", csv_bytes(ROWS[:2], "gb18030")), create_organizations=True, publish=True
    )
    listed = (await client.get("/api/v1/achievements", params={"field": "agriculture"})).json()
    by_id = {item["external_id"]: item for item in listed["items"]}
    assert by_id["IMP-1"]["price"] == "350000.00" and by_id["IMP-1"]["keywords"] == ["马铃薯", "脱毒", "雾培"]
    assert by_id["IMP-2"]["price"] is None and by_id["IMP-2"]["owner_name"] == "新建的农牧科技公司"
    assert by_id["IMP-2"]["ip_numbers"] == ["201710601862.3"]


async def test_without_create_organizations_unknown_owner_is_a_row_error(database: Database) -> None:
    report = await Importer(database, ACHIEVEMENT).run(read_rows("a.csv", csv_bytes(ROWS[:2], "utf-8")))
    assert report.created == 1
    assert [(e.line, e.code) for e in report.errors] == [(3, "owner_not_found")]


def test_unreadable_files_are_rejected_whole() -> None:
    with pytest.raises(ImportFileRejected):
        list(read_rows("a.csv", b"\xff\xfe\xfa\x00\x81"))
    with pytest.raises(ImportFileRejected):
        list(read_rows("a.xlsx", b"not a zip"))
    with pytest.raises(ImportFileRejected):
        list(read_rows("a.pdf", b"%PDF"))


async def test_import_api_publishes_for_admins_and_region_admins_stay_in_their_region(
    client: httpx.AsyncClient,
) -> None:
    content = csv_bytes(ROWS[:2], "utf-8")
    files = {"file": ("rows.csv", content, "text/csv")}
    university = await login(client, "univ@demo.techmarket.cn")  # an organization's admin: drafts, never published
    reply = await client.post("/api/v1/imports/achievements", files=files, data={"publish": "true"}, headers=university)
    assert (reply.status_code, reply.json()["code"]) == (403, "admin_required")

    baotou = await login(client, REGION_ADMIN[0])
    reply = await client.post(
        "/api/v1/imports/achievements", files=files, data={"create_organizations": "true"}, headers=baotou
    )
    assert reply.status_code == 200
    assert reply.json()["created"] == 0 and {e["code"] for e in reply.json()["errors"]} == {"outside_scope"}

    admin = await login(client, PLATFORM_ADMIN_EMAIL)
    reply = await client.post(
        "/api/v1/imports/achievements", files=files, data={"create_organizations": "true"}, headers=admin
    )
    assert reply.json()["created"] == 1  # the organization it created is pending: its row waits for verification
    assert [(e["line"], e["code"]) for e in reply.json()["errors"]] == [
        (3, "owner_not_verified")
    ]  # line 1 is the header
    pending = (
        await client.get("/api/v1/organizations", params={"status": "pending", "limit": 100}, headers=admin)
    ).json()["items"]
    created = next(o for o in pending if o["name"] == "新建的农牧科技公司")
    assert (await client.post(f"/api/v1/organizations/{created['id']}/verify", headers=admin)).status_code == 200
    reply = await client.post(
        "/api/v1/imports/achievements", files=files, headers=admin
    )  # once verified, a re-run lands it
    assert (reply.json()["created"], reply.json()["skipped_existing"], reply.json()["errors"]) == (1, 1, [])
    bad = await client.post(
        "/api/v1/imports/achievements", files={"file": ("x.pdf", b"%PDF", "application/pdf")}, headers=admin
    )
    assert (bad.status_code, bad.json()["code"]) == (422, "import_file_rejected")


async def test_a_failing_batch_leaves_no_partial_rows(database: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """The second batch fails after its rows were written: none of them stay, the first batch does; a re-run
    lands the rest once. An unknown owner is a row error, not a failed batch."""
    rows = [dict(ROWS[0], external_id=f"B-{i}", title=f"批次测试成果{i}") for i in range(5)]
    rows[4]["owner"] = "不存在的单位"
    content = csv_bytes(rows, "utf-8")
    real, inserted = ListingRepository.insert_many, []

    async def insert_then_fail(self: ListingRepository, model: Any, values: list[dict[str, Any]]) -> list[int]:
        ids = await real(self, model, values)
        inserted.append(len(ids))
        if len(inserted) == 2:
            raise RuntimeError("the connection dropped after the batch's rows were written")
        return ids

    async def landed() -> set[str]:
        async with database.unit_of_work() as session:
            query = select(col(Achievement.external_id)).where(col(Achievement.external_id).like("B-%"))
            return {str(k) for k in (await session.execute(query)).scalars().all()}

    monkeypatch.setattr(ListingRepository, "insert_many", insert_then_fail)
    with pytest.raises(RuntimeError):
        await Importer(database, ACHIEVEMENT).run(read_rows("a.csv", content), batch_size=2)
    assert inserted == [2, 2] and await landed() == {"B-0", "B-1"}
    monkeypatch.undo()
    report = await Importer(database, ACHIEVEMENT).run(read_rows("a.csv", content), batch_size=2)
    assert (report.created, report.skipped_existing) == (2, 2) and [e.code for e in report.errors] == [
        "owner_not_found"
    ]
    assert await landed() == {"B-0", "B-1", "B-2", "B-3"}


@needs(EVAL_SET.is_dir(), f"the matching evaluation set is not at {EVAL_SET}")
@pytest.mark.parametrize("dialect", ["postgresql"], indirect=True)
async def test_shared_dev_set_imports_unchanged(database: Database) -> None:
    for kind, name in ((ACHIEVEMENT, "achievements.jsonl"), (DEMAND, "demands.jsonl")):
        content = (EVAL_SET / name).read_bytes()
        report = await Importer(database, kind).run(read_rows(name, content), create_organizations=True, publish=True)
        assert report.errors == [] and report.created == report.total > 0
