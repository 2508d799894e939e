"""Reading import files: CSV (UTF-8 or GB18030), XLSX, XLS and JSONL, as (line number, row) pairs.

A file that cannot be read at all raises ``ImportFileRejected``; a row that cannot be read becomes
a row error in the report, so one bad line never hides the others. Rows keep their file's headers and
cells (text trimmed, empty as None, whole-number cells as integers, date cells as dates): naming
columns and converting values is ``import_columns``' job, and the report gives rows back as read.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import xlrd
from openpyxl import load_workbook

from core.errors import ValidationFailed

SUPPORTED = (".csv", ".xlsx", ".xls", ".jsonl", ".ndjson")


class ImportFileRejected(ValidationFailed):
    code = "import_file_rejected"
    message = "导入文件无法读取"


@dataclass
class RawRow:
    line: int
    values: dict[str, Any] | None
    error: str | None = None


def read_rows(filename: str, content: bytes) -> Iterator[RawRow]:
    name = filename.lower()
    if name.endswith(".csv"):
        return _csv_rows(content)
    if name.endswith(".xlsx"):
        return _xlsx_rows(content)
    if name.endswith(".xls"):
        return _xls_rows(content)
    if name.endswith((".jsonl", ".ndjson")):
        return _jsonl_rows(content)
    raise ImportFileRejected(detail=f"不支持的文件类型 {filename!r}; 支持 CSV、XLSX、XLS、JSONL")


def decode_text(content: bytes) -> str:
    """UTF-8 (with or without BOM) first, then GB18030, the encoding Chinese Excel exports use."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return content.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ImportFileRejected(detail="文件编码无法识别, 请使用 UTF-8 或 GB18030")


def _clean(values: dict[str, Any]) -> dict[str, Any]:
    cleaned = {}
    for key, value in values.items():
        if key is None:
            continue
        key = str(key).strip()
        if isinstance(value, str):
            value = value.strip() or None
        elif isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
            value = int(value)  # spreadsheets store every number as a float: 350000.0 is 350000
        if key:
            cleaned[key] = value
    return cleaned


def _csv_rows(content: bytes) -> Iterator[RawRow]:
    text = decode_text(content)
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if not reader.fieldnames:
        raise ImportFileRejected(detail="CSV 文件没有表头")
    for row in reader:
        yield RawRow(reader.line_num, _clean(row))


def _xlsx_rows(content: bytes) -> Iterator[RawRow]:
    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged or disguised file
        raise ImportFileRejected(detail="XLSX 文件已损坏或不是 Excel 文件") from exc
    try:
        rows = workbook.active.iter_rows(values_only=True)
        header = next(rows, None)
        if not header:
            raise ImportFileRejected(detail="XLSX 文件没有表头")
        names = [str(h).strip() if h is not None else "" for h in header]
        for index, cells in enumerate(rows, start=2):
            if all(cell is None for cell in cells):
                continue
            yield RawRow(index, _clean(dict(zip(names, cells, strict=False))))
    finally:
        workbook.close()


def _xls_rows(content: bytes) -> Iterator[RawRow]:
    """Excel 97-2003 workbooks, still what many offices' systems export (xlrd, which reads only .xls)."""
    try:
        book = xlrd.open_workbook(file_contents=content, on_demand=True)
        sheet = book.sheet_by_index(0)
    except Exception as exc:  # xlrd raises many kinds for a damaged or disguised file
        raise ImportFileRejected(detail="XLS 文件已损坏或不是 Excel 97-2003 文件") from exc
    if sheet.nrows == 0:
        raise ImportFileRejected(detail="XLS 文件没有表头")
    names = [str(cell.value).strip() for cell in sheet.row(0)]
    for index in range(1, sheet.nrows):
        cells = [_xls_value(cell, book.datemode) for cell in sheet.row(index)]
        if all(cell in (None, "") for cell in cells):
            continue
        yield RawRow(index + 1, _clean(dict(zip(names, cells, strict=False))))


def _xls_value(cell: Any, datemode: int) -> Any:
    if cell.ctype == xlrd.XL_CELL_DATE:
        try:
            moment = xlrd.xldate.xldate_as_datetime(cell.value, datemode)
        except (ValueError, OverflowError, xlrd.xldate.XLDateError):
            return cell.value
        return moment.date() if moment.time() == datetime.min.time() else moment
    if cell.ctype in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK, xlrd.XL_CELL_ERROR):
        return None
    if cell.ctype == xlrd.XL_CELL_BOOLEAN:
        return bool(cell.value)
    return cell.value


def cell_text(value: Any) -> Any:
    """A cell as a report gives it back: dates stay dates, lists and objects (JSONL) become JSON text."""
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, date | int | float | str) or value is None:
        return value
    return str(value)


def _jsonl_rows(content: bytes) -> Iterator[RawRow]:
    text = decode_text(content)
    for index, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            yield RawRow(index, None, f"JSON 格式错误: 第 {exc.colno} 列")
            continue
        if not isinstance(value, dict):
            yield RawRow(index, None, "每行应为一个 JSON 对象")
            continue
        yield RawRow(index, _clean(value))
