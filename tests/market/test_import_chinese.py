"""Imports as institutes and 盟市 offices write them: Chinese headers and labels, GB18030, Chinese dates, .xls,
and the template that makes such a file. Both profiles (the ``database`` fixture's ``dialect``)."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from pathlib import Path
from typing import Any

import httpx
from openpyxl import Workbook, load_workbook
from sqlalchemy import select
from sqlmodel import col

from core.db import Database
from market.listings.files import read_rows
from market.listings.import_columns import columns_for
from market.listings.importer import Importer
from market.listings.kinds import ACHIEVEMENT, DEMAND
from market.listings.models import Achievement, Demand
from tests.fixtures.app import login

INSTITUTE = "institute@demo.techmarket.cn"  # admin of 演示稀土研究院, 包头
XLS_FIXTURE = Path(__file__).with_name("data") / "demands.xls"

# A 盟市 office's sheet: its own column names and the labels people write, saved by Chinese Excel as CSV.
OFFICE_HEADER = [
    "序号", "编号", "成果名称", "成果简介", "技术领域", "成熟度", "技术就绪度", "知识产权类型", "专利号",
    "交易方式", "价格(元)", "完成人", "所在地区", "发布单位", "联系人", "联系电话",
]  # fmt: skip
OFFICE_ROWS = [
    [
        "1", "BT-2026-01", "高矫顽力钕铁硼晶界扩散技术", "重稀土晶界扩散工艺, 镝用量减少60%, 矫顽力提高8 kOe。",
        "新材料", "中试", "6", "发明专利", "201710601862.3", "转让、许可", "1,200,000", "王磊:3、李娜",
        "包头", "演示稀土研究院", "张工", "0472-5123456",
    ],
    [
        "2", "BT-2026-02", "稀土抛光粉回收再生工艺", "废旧抛光粉酸浸回收, 氧化铈回收率达到92%, 成本降低30%。",
        "环境保护", "小试", "4级", "技术秘密", "", "合作开发", "面议", "赵敏",
        "昆都仑区", "演示稀土研究院", "", "",
    ],
]  # fmt: skip


def office_csv(header: list[str], rows: list[list[str]], encoding: str = "gb18030") -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode(encoding)


async def fetch(database: Database, model: Any, external_id: str) -> Any:
    async with database.unit_of_work() as session:
        query = select(model).where(col(model.external_id) == external_id)
        return (await session.execute(query)).scalars().one()


async def test_office_gb18030_csv_with_chinese_headers_and_labels_imports_clean(database: Database) -> None:
    content = office_csv(OFFICE_HEADER, OFFICE_ROWS)
    report = await Importer(database, ACHIEVEMENT).run(read_rows("成果.csv", content))
    assert report.errors == [] and report.created == 2 and report.status == "draft"
    first = await fetch(database, Achievement, "BT-2026-01")
    assert (first.field, first.maturity, first.trl, first.ip_type) == ("new_materials", "pilot", 6, "invention_patent")
    assert first.transaction_modes == ["transfer", "license"] and first.price_fen == 120_000_000
    assert first.inventors == [{"name": "王磊", "share": "3"}, {"name": "李娜", "share": "1"}]
    assert first.region == "150200" and (first.contact["name"], first.contact["phone"]) == ("张工", "0472-5123456")
    second = await fetch(database, Achievement, "BT-2026-02")
    assert (second.field, second.maturity, second.trl, second.price_fen) == ("environment", "lab", 4, None)
    assert second.region == "150203"  # 昆都仑区, a 旗县级 unit of 包头


async def test_the_bytes_are_gb18030_and_a_bad_label_names_its_chinese_column(database: Database) -> None:
    content = office_csv(OFFICE_HEADER, [[*OFFICE_ROWS[0][:4], "魔法", *OFFICE_ROWS[0][5:]]])
    try:
        content.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        raise AssertionError("the file should be GB18030, which is not valid UTF-8")
    report = await Importer(database, ACHIEVEMENT).run(read_rows("成果.csv", content))
    assert [(e.line, e.field, e.code, e.label) for e in report.errors] == [(2, "field", "unknown_field", "技术领域")]
    assert report.failed_rows == 1 and report.created == 0


NEED = "乳企希望蒸发浓缩工段能耗降低20%以上, 年处理鲜奶10万吨。"


async def test_demand_dates_in_every_way_people_write_them(database: Database) -> None:
    header = ["编号", "需求名称", "需求描述", "技术领域", "截止日期", "交易方式", "需求单位"]
    rows = [
        [f"D-{n}", f"乳品加工节能改造需求{n}", NEED, "农业", when, "转让", "演示乳业科技有限公司"]
        for n, when in enumerate(("2026-06-30", "2026/06/30", "2026年6月30日", "2026.6.30"))
    ]  # fmt: skip
    report = await Importer(database, DEMAND).run(read_rows("需求.csv", office_csv(header, rows, "utf-8-sig")))
    assert report.errors == [] and report.created == 4
    for n in range(4):
        assert (await fetch(database, Demand, f"D-{n}")).deadline == date(2026, 6, 30)
    workbook = Workbook()  # an Excel date cell (a datetime to openpyxl), as a clerk's sheet has it
    workbook.active.append(header)
    workbook.active.append(["D-X", "乳品加工节能改造需求X", NEED, "农业", datetime(2026, 6, 30), "转让", rows[0][6]])
    workbook.active["E2"].number_format = "yyyy年m月d日"
    buffer = io.BytesIO()
    workbook.save(buffer)
    report = await Importer(database, DEMAND).run(read_rows("需求.xlsx", buffer.getvalue()))
    assert report.errors == [] and (await fetch(database, Demand, "D-X")).deadline == date(2026, 6, 30)
    bad = [["D-9", "乳品加工节能改造需求9", rows[0][2], "农业", "2026年13月1日", "转让", "演示乳业科技有限公司"]]
    report = await Importer(database, DEMAND).run(read_rows("需求.csv", office_csv(header, bad, "utf-8")))
    assert [(e.field, e.label) for e in report.errors] == [("deadline", "截止日期")]


async def test_xls_file_imports_with_its_date_cells(database: Database) -> None:
    """``data/demands.xls`` was written once by xlwt 1.3.0 (unmaintained, so not a dependency) with
    ``xlwt.Workbook(encoding="utf-8")``: Chinese headers, a budget as a number cell, one deadline as an Excel
    date cell (``num_format_str="YYYY-MM-DD"``) and one as text 2026年12月31日, labels for field, maturity,
    modes and region. The importer reads it with xlrd."""
    report = await Importer(database, DEMAND).run(read_rows("demands.xls", XLS_FIXTURE.read_bytes()))
    assert report.errors == [] and report.created == 2
    first, second = await fetch(database, Demand, "XLS-1"), await fetch(database, Demand, "XLS-2")
    assert (first.deadline, first.budget_max_fen, first.min_maturity) == (date(2026, 6, 30), 80_000_000, "pilot")
    assert (first.field, first.region, first.transaction_modes) == ("agriculture", "150100", ["transfer", "license"])
    assert (second.deadline, second.budget_max_fen, second.field) == (date(2026, 12, 31), None, "electronic_info")


def test_every_create_field_has_a_chinese_column() -> None:
    """The column table cannot fall behind the schema: each API field has a labelled column."""
    for kind in (ACHIEVEMENT, DEMAND):
        keys = {c.key.split(".", 1)[0] for c in columns_for(kind).columns}
        assert set(kind.create_schema.model_fields) <= keys, kind.name


async def test_template_round_trip_as_an_institute(client: httpx.AsyncClient, database: Database) -> None:
    headers = await login(client, INSTITUTE)
    reply = await client.get("/api/v1/imports/achievements/template", params={"format": "xlsx"}, headers=headers)
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("application/vnd.openxmlformats")
    workbook = load_workbook(io.BytesIO(reply.content))
    sheet = workbook.worksheets[0]
    labels = [cell.value for cell in sheet[1]]
    assert labels[:3] == ["编号", "成果名称", "成果简介"] and "技术领域" in labels and "发布单位" in labels
    notes = {row[0]: row for row in workbook["说明"].iter_rows(min_row=2, values_only=True)}
    assert notes["成果名称"][2] == "必填" and notes["价格（元）"][2] == "选填"
    assert notes["成熟度"][4] == "研发阶段、小试、中试、产业化"
    drop_downs = {str(v.sqref).split(":")[0][:-1]: v for v in sheet.data_validations.dataValidation}
    column = {label: chr(ord("A") + i) for i, label in enumerate(labels)}
    assert drop_downs[column["成熟度"]].formula1 == '"研发阶段,小试,中试,产业化"'
    region_list = drop_downs[column["所在地区"]].formula1  # 100+ names: from the hidden sheet
    assert region_list.startswith("'选项'!") and workbook["选项"].sheet_state == "hidden"
    option_column = region_list.split("!")[1].split(":")[0].strip("$").rstrip("0123456789").strip("$")
    offered = [c.value for c in workbook["选项"][option_column] if c.value]
    assert "包头市" in offered and "昆都仑区" in offered

    filled = {
        "编号": "TPL-1",
        "成果名称": "稀土永磁电机磁钢低重稀土配方",
        "成果简介": "通过晶界扩散降低重稀土用量40%, 矫顽力保持不变, 已在中试线验证。",
        "技术领域": "新材料及其应用",
        "成熟度": "中试",
        "技术就绪度": 6,
        "知识产权类型": "技术秘密",
        "交易方式": "许可",
        "价格（元）": 500000,
        "所在地区": "包头市",
        "发布单位": "演示稀土研究院",
    }
    for name, value in filled.items():
        sheet.cell(row=2, column=labels.index(name) + 1, value=value)
    buffer = io.BytesIO()
    workbook.save(buffer)
    files = {"file": ("模板.xlsx", buffer.getvalue(), "application/octet-stream")}
    reply = await client.post("/api/v1/imports/achievements", files=files, headers=headers)
    assert reply.status_code == 200, reply.text
    assert (reply.json()["created"], reply.json()["errors"]) == (1, [])
    landed = await fetch(database, Achievement, "TPL-1")
    assert (landed.status, landed.field, landed.maturity, landed.price_fen) == (
        "draft",
        "new_materials",
        "pilot",
        50_000_000,
    )

    csv_reply = await client.get("/api/v1/imports/demands/template", params={"format": "csv"}, headers=headers)
    text = csv_reply.content.decode("utf-8-sig")
    assert text.splitlines()[0].startswith("编号,需求名称,需求描述,预算上限（元）,截止日期")
    anonymous = await client.get("/api/v1/imports/demands/template")
    assert anonymous.status_code == 401


async def test_an_unknown_column_is_named_once_per_row_with_what_to_do(database: Database) -> None:
    content = office_csv([*OFFICE_HEADER, "备注"], [[*OFFICE_ROWS[0], "内部备注"]], "utf-8")
    report = await Importer(database, ACHIEVEMENT).run(read_rows("成果.csv", content))
    assert [(e.field, e.code) for e in report.errors] == [("备注", "extra_forbidden")]
    assert "不认识的列 “备注”" in report.errors[0].message and report.created == 0
