"""Exports: CSV (UTF-8 with BOM, for Excel), XLSX (openpyxl, Chinese headers, 2-decimal yuan, frozen
header, column widths) and JSON, for aggregates and for the contract-level 登记表.

Contract exports stream: rows are read in keyset pages (by contract id) in short transactions, so
memory stays flat at millions of rows and SQLite writers are never blocked for long. CSV and JSON
bytes leave as each page is read; XLSX (a zip whose index comes last) is written row by row to a
temporary file by openpyxl's write-only mode and then streamed from disk, one sheet per 1,000,000 rows.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import tempfile
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from contracts.contract.models import ContractSubtype, ContractType
from contracts.statistics.dimensions import (
    CHINA,
    IP_LABELS,
    KIND_LABELS,
    NO_IP,
    STATUS_LABELS,
    TYPE_LABELS,
    region_name,
)
from contracts.statistics.repository import StatisticsRepository
from contracts.statistics.schemas import AggregateRead, ExportFormat
from contracts.statistics.service import PeriodRange
from core.db import Database
from core.money import fen_to_yuan
from core.reference import fields
from market.identity.models import OrganizationKind

BOM = "\ufeff"
PAGE = 2000
XLSX_ROWS_PER_SHEET = 1_000_000
MEDIA_TYPES = {
    ExportFormat.csv: "text/csv; charset=utf-8",
    ExportFormat.xlsx: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ExportFormat.json: "application/json",
}
SUBTYPE_LABELS = {
    ContractSubtype.commissioned_development: "委托开发", ContractSubtype.cooperative_development: "合作开发",
    ContractSubtype.patent_right: "专利权转让", ContractSubtype.patent_application_right: "专利申请权转让",
    ContractSubtype.technical_secret: "技术秘密转让", ContractSubtype.exclusive_license: "专利实施许可 (独占)",
    ContractSubtype.sole_license: "专利实施许可 (排他)", ContractSubtype.ordinary_license: "专利实施许可 (普通)",
    ContractSubtype.technical_secret_license: "技术秘密使用许可", ContractSubtype.consulting: "技术咨询",
    ContractSubtype.technical_service: "技术服务", ContractSubtype.technical_training: "技术培训",
    ContractSubtype.technical_intermediary: "技术中介",
}


@dataclass(frozen=True)
class Column:
    key: str  # JSON key
    header: str  # Chinese header (CSV, XLSX)
    width: int
    amount: bool = False


AGGREGATE_COLUMNS = (
    Column("key", "代码", 16), Column("label", "名称", 28), Column("contracts", "合同数 (项)", 14),
    Column("turnover", "合同成交额 (元)", 22, amount=True), Column("technology_income", "技术交易额 (元)", 22, amount=True),
)
REGISTRATION_COLUMNS = (
    Column("registration_number", "登记编号", 20), Column("title", "合同名称", 40),
    Column("type", "合同类型", 12), Column("subtype", "合同子类型", 20), Column("field", "技术领域", 24),
    Column("ip_type", "知识产权类型", 18),
    Column("seller_name", "卖方单位", 32), Column("seller_uscc", "卖方统一社会信用代码", 22),
    Column("seller_region", "卖方所在地代码", 14), Column("seller_region_name", "卖方所在地", 16), Column("seller_kind", "卖方单位类型", 12),
    Column("buyer_name", "买方单位", 32), Column("buyer_uscc", "买方统一社会信用代码", 22),
    Column("buyer_region", "买方所在地代码", 14), Column("buyer_region_name", "买方所在地", 16), Column("buyer_kind", "买方单位类型", 12),
    Column("turnover", "合同成交额 (元)", 20, amount=True), Column("technology_income", "技术交易额 (元)", 20, amount=True),
    Column("signed_on", "签订日期", 12), Column("registered_on", "登记日期", 12), Column("status", "合同状态", 10),
)


def aggregate_rows(result: AggregateRead) -> list[list[Any]]:
    rows = [[r.key, r.label, r.contracts, r.turnover, r.technology_income] for r in result.items]
    o = result.overall
    return [*rows, [o.key, o.label, o.contracts, o.turnover, o.technology_income]]


def _kind(value: Any) -> str:
    try:
        return KIND_LABELS[OrganizationKind(getattr(value, "value", value))]
    except (KeyError, ValueError):
        return str(value)


def registration_row(record: Any) -> list[Any]:
    contract = record[0]
    field = fields().get(contract.field or "")
    registered = contract.registered_at or contract.created_at
    ip = record.ip_type or NO_IP
    return [
        contract.registration_number or "", contract.title,
        TYPE_LABELS.get(ContractType(contract.type), str(contract.type)),
        SUBTYPE_LABELS.get(ContractSubtype(contract.subtype), str(contract.subtype)),
        field.name_zh if field else "", IP_LABELS.get(ip, ip),  # type: ignore[call-overload]
        record.seller_name, record.seller_uscc or "", contract.seller_region, region_name(contract.seller_region), _kind(contract.seller_kind),
        record.buyer_name, record.buyer_uscc or "", contract.buyer_region, region_name(contract.buyer_region), _kind(contract.buyer_kind),
        fen_to_yuan(contract.total_fen), fen_to_yuan(contract.technology_income_fen),
        contract.signed_on, registered.astimezone(CHINA).date() if registered else None,
        STATUS_LABELS.get(contract.status, str(contract.status)),
    ]


async def registration_pages(database: Database, *, side: str, prefix: str, period: PeriodRange) -> AsyncIterator[list[list[Any]]]:
    """Pages of 登记表 rows, each read in its own short transaction (keyset on contract id)."""
    since, until = period.bounds()
    after = 0
    while True:
        async with database.unit_of_work() as session:
            records = await StatisticsRepository(session).registration_rows(
                side=side, prefix=prefix, since=since, until=until, after_id=after, limit=PAGE
            )
        if not records:
            return
        after = records[-1][0].id
        yield [registration_row(r) for r in records]
        if len(records) < PAGE:
            return


async def single_page(rows: list[list[Any]]) -> AsyncIterator[list[list[Any]]]:
    yield rows


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, date | datetime):
        return value.isoformat()
    return str(value)


async def csv_stream(columns: Sequence[Column], pages: AsyncIterator[list[list[Any]]]) -> AsyncIterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([c.header for c in columns])
    yield (BOM + buffer.getvalue()).encode("utf-8")
    async for page in pages:
        buffer.seek(0)
        buffer.truncate()
        writer.writerows([[_text(v) for v in row] for row in page])
        yield buffer.getvalue().encode("utf-8")


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, date | datetime):
        return value.isoformat()
    return value


async def json_stream(columns: Sequence[Column], pages: AsyncIterator[list[list[Any]]], meta: dict[str, Any] | None = None) -> AsyncIterator[bytes]:
    head = json.dumps(meta or {}, ensure_ascii=False)[:-1]
    yield (head + (", " if meta else "") + '"items": [').encode("utf-8")
    count = 0
    async for page in pages:
        parts = []
        for row in page:
            record = {c.key: _json_value(v) for c, v in zip(columns, row, strict=True)}
            parts.append(("," if count else "") + json.dumps(record, ensure_ascii=False))
            count += 1
        yield "".join(parts).encode("utf-8")
    yield f'], "total": {count}}}'.encode()


def _new_sheet(workbook: Workbook, title: str, columns: Sequence[Column]) -> Any:
    sheet = workbook.create_sheet(title)
    for index, column in enumerate(columns, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = column.width
    sheet.freeze_panes = "A2"
    header = []
    for column in columns:
        cell = WriteOnlyCell(sheet, value=column.header)
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDEBF7")
        cell.alignment = Alignment(horizontal="center", vertical="center")
        header.append(cell)
    sheet.append(header)
    return sheet


async def xlsx_file(columns: Sequence[Column], pages: AsyncIterator[list[list[Any]]], title: str) -> str:
    """Writes the workbook to a temporary file and returns its path (the caller deletes it)."""
    workbook = Workbook(write_only=True)
    sheet, rows_in_sheet, sheets = _new_sheet(workbook, title[:31], columns), 0, 1
    amount_styles: dict[int, str] = {i: "#,##0.00" for i, c in enumerate(columns) if c.amount}

    def append(page: list[list[Any]]) -> None:
        nonlocal sheet, rows_in_sheet, sheets
        for row in page:
            if rows_in_sheet >= XLSX_ROWS_PER_SHEET:
                sheets += 1
                sheet, rows_in_sheet = _new_sheet(workbook, f"{title[:26]} ({sheets})", columns), 0
            cells = []
            for index, value in enumerate(row):
                cell = WriteOnlyCell(sheet, value=value)
                if index in amount_styles:
                    cell.number_format = amount_styles[index]
                elif isinstance(value, date):
                    cell.number_format = "yyyy-mm-dd"
                cells.append(cell)
            sheet.append(cells)
            rows_in_sheet += 1

    async for page in pages:
        await asyncio.to_thread(append, page)
    handle, path = tempfile.mkstemp(prefix="techmarket-export-", suffix=".xlsx")
    os.close(handle)
    await asyncio.to_thread(workbook.save, path)
    return path


async def file_stream(path: str, chunk: int = 256 * 1024) -> AsyncIterator[bytes]:
    try:
        with open(path, "rb") as handle:
            while data := await asyncio.to_thread(handle.read, chunk):
                yield data
    finally:
        os.unlink(path)


async def export_stream(
    fmt: ExportFormat, columns: Sequence[Column], pages: AsyncIterator[list[list[Any]]], *, title: str, meta: dict[str, Any] | None = None
) -> AsyncIterator[bytes]:
    """The file's bytes. Nothing is read until the response starts, i.e. after the request's own
    session has committed (on SQLite a second writer-locking session would otherwise wait on it)."""
    if fmt == ExportFormat.csv:
        source = csv_stream(columns, pages)
    elif fmt == ExportFormat.json:
        source = json_stream(columns, pages, meta)
    else:
        source = file_stream(await xlsx_file(columns, pages, title))
    async for chunk in source:
        yield chunk


def filename(stem: str, fmt: ExportFormat) -> str:
    return f"{stem}.{fmt.value}"
