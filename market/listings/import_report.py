"""The import report as a workbook a clerk acts on: the rows that failed, as they were uploaded, each
with its reasons in Chinese (the field named by its column label), then a summary sheet.

The clerk fixes the rows in place and uploads the sheet again: the reason and line columns are read
past (``import_columns.IGNORED``), and rows that landed before are skipped by their key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.tabular import Column, Sheet, workbook_bytes
from market.listings.files import cell_text
from market.listings.import_columns import ERROR_LABEL, LINE_LABEL
from market.listings.importer import ImportReport, RowError
from market.listings.kinds import ListingKind

STATUS_ZH = {"draft": "草稿", "submitted": "已提交审核", "published": "已发布"}


def reason(errors: list[RowError]) -> str:
    return "；".join(f"{e.label or e.field}: {e.message}" if (e.label or e.field) else e.message for e in errors)


def summary_rows(report: ImportReport) -> list[tuple[str, Any]]:
    return [
        ("文件中的行", report.total),
        ("新增", report.created),
        ("已导入过, 跳过", report.skipped_existing),
        ("新建单位", report.organizations_created),
        ("失败的行", report.failed_rows),
        ("错误条数", len(report.errors)),
        ("新增行的状态", STATUS_ZH.get(report.status, report.status)),
    ]


def report_xlsx(kind: ListingKind, report: ImportReport, originals: Mapping[int, dict[str, Any] | None]) -> bytes:
    by_line: dict[int, list[RowError]] = {}
    for error in report.errors:
        by_line.setdefault(error.line, []).append(error)
    headers: dict[str, None] = {}
    for line in by_line:
        headers.update(dict.fromkeys(originals.get(line) or {}))
    names = list(headers)
    columns = [
        Column("error", ERROR_LABEL, 60),
        *(Column(name, name, max(12, 2 * len(name) + 4)) for name in names),
        Column("line", LINE_LABEL, 8),
    ]
    rows = []
    for line, errors in sorted(by_line.items()):
        values = originals.get(line) or {}
        rows.append([reason(errors), *(cell_text(values.get(name)) for name in names), line])
    summary = Sheet("汇总", (Column("item", "项目", 20), Column("count", "数量", 14)), rows=summary_rows(report))
    return workbook_bytes([Sheet(f"{kind.label_zh}导入报告", columns, rows=rows), summary])
