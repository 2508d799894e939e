"""The one writer of tabular exports: CSV (UTF-8 with BOM, for Excel), XLSX (openpyxl write-only,
Chinese headers, 2-decimal yuan, frozen header, column widths) and JSON.

Every file a user downloads or the CLI writes goes through here, because spreadsheet programs execute
what they read: a text cell starting with ``= + - @``, a tab or a carriage return is a formula (or DDE
command) to Excel and LibreOffice. So every *text* cell is neutralised with a leading apostrophe, XLSX
text cells are typed as strings (never ``<f>``), and characters XML forbids are stripped (one of them
in a title would abort the workbook mid-download). Numbers (Decimal yuan, ints) and dates stay typed
values, so amounts remain exact and summable; a negative amount is a number, not text, and keeps its sign.

CSV and JSON bytes leave as each page of rows is read; XLSX (a zip whose index comes last) is written
row by row to a temporary file and then streamed from disk, one sheet per 1,000,000 rows. Small
workbooks of several sheets (import templates and reports: notes, hidden option lists, drop-downs)
are made whole in memory by ``workbook_bytes``.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import tempfile
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.worksheet.datavalidation import DataValidation

from core.characters import strip_illegal

BOM = "\ufeff"
XLSX_ROWS_PER_SHEET = 1_000_000
AMOUNT_FORMAT = "#,##0.00"
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "json": "application/json",
}
# What makes a spreadsheet read a cell as a formula or command (OWASP "CSV injection").
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")

Rows = Sequence[Sequence[Any]]


@dataclass(frozen=True)
class Column:
    key: str  # JSON key
    header: str  # Chinese header (CSV, XLSX)
    width: int = 16
    amount: bool = False  # Decimal yuan: 2 decimals, thousands separator in XLSX


def safe_text(value: str) -> str:
    """Text a spreadsheet shows as typed and never evaluates."""
    text = strip_illegal(value)
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


def csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return safe_text(str(value))
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    return safe_text(str(value))


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, date | datetime):
        return value.isoformat()
    return value


async def pages_of(rows: Rows) -> AsyncIterator[Rows]:
    """A list of rows as the single page the streaming writers take."""
    yield rows


async def csv_stream(columns: Sequence[Column], pages: AsyncIterator[Rows]) -> AsyncIterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([safe_text(c.header) for c in columns])
    yield (BOM + buffer.getvalue()).encode("utf-8")
    async for page in pages:
        buffer.seek(0)
        buffer.truncate()
        writer.writerows([[csv_cell(v) for v in row] for row in page])
        yield buffer.getvalue().encode("utf-8")


async def json_stream(
    columns: Sequence[Column], pages: AsyncIterator[Rows], meta: dict[str, Any] | None = None
) -> AsyncIterator[bytes]:
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


def _sheet_title(title: str) -> str:
    return "".join(ch for ch in strip_illegal(title) if ch not in "[]:*?/\\")[:31] or "Sheet"


def _new_sheet(workbook: Workbook, title: str, columns: Sequence[Column]) -> Any:
    sheet = workbook.create_sheet(_sheet_title(title))
    for index, column in enumerate(columns, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = column.width
    sheet.freeze_panes = "A2"
    header = []
    for column in columns:
        cell = _xlsx_cell(sheet, column.header)
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDEBF7")
        cell.alignment = Alignment(horizontal="center", vertical="center")
        header.append(cell)
    sheet.append(header)
    return sheet


def _xlsx_cell(sheet: Any, value: Any, *, amount: bool = False) -> Any:
    if value is None or isinstance(value, Decimal | int | float | date | datetime) and not isinstance(value, bool):
        cell = WriteOnlyCell(sheet, value=value)
        if amount:
            cell.number_format = AMOUNT_FORMAT
        elif isinstance(value, date):
            cell.number_format = "yyyy-mm-dd"
        return cell
    cell = WriteOnlyCell(sheet, value=safe_text(str(value)))
    cell.data_type = "s"  # an inline string: openpyxl would otherwise store text starting with "=" as a formula
    return cell


def _write_xlsx(columns: Sequence[Column], title: str) -> tuple[Workbook, Any]:
    workbook = Workbook(write_only=True)
    sheets = 1
    sheet = _new_sheet(workbook, title[:31], columns)
    rows_in_sheet = 0
    amounts = {i for i, c in enumerate(columns) if c.amount}

    def append(page: Rows) -> None:
        nonlocal sheet, rows_in_sheet, sheets
        for row in page:
            if rows_in_sheet >= XLSX_ROWS_PER_SHEET:
                sheets += 1
                sheet, rows_in_sheet = _new_sheet(workbook, f"{title[:26]} ({sheets})", columns), 0
            sheet.append([_xlsx_cell(sheet, value, amount=index in amounts) for index, value in enumerate(row)])
            rows_in_sheet += 1

    return workbook, append


async def xlsx_file(columns: Sequence[Column], pages: AsyncIterator[Rows], title: str) -> str:
    """Writes the workbook to a temporary file and returns its path (the caller deletes it)."""
    workbook, append = _write_xlsx(columns, title)
    async for page in pages:
        await asyncio.to_thread(append, page)
    handle, path = tempfile.mkstemp(prefix="techmarket-export-", suffix=".xlsx")
    os.close(handle)
    try:
        await asyncio.to_thread(workbook.save, path)
    except BaseException:
        os.unlink(path)
        raise
    return path


async def file_stream(path: str, chunk: int = 256 * 1024) -> AsyncIterator[bytes]:
    try:
        with open(path, "rb") as handle:
            while data := await asyncio.to_thread(handle.read, chunk):
                yield data
    finally:
        os.unlink(path)


async def export_stream(
    fmt: str, columns: Sequence[Column], pages: AsyncIterator[Rows], *, title: str, meta: dict[str, Any] | None = None
) -> AsyncIterator[bytes]:
    """The file's bytes (``fmt``: csv, xlsx or json). Nothing is read until the stream is iterated, i.e.
    after the request's own session has committed (on SQLite a second writer-locking session would wait on it)."""
    if fmt == "csv":
        source = csv_stream(columns, pages)
    elif fmt == "json":
        source = json_stream(columns, pages, meta)
    elif fmt == "xlsx":
        source = file_stream(await xlsx_file(columns, pages, title))
    else:
        raise ValueError(f"unknown export format {fmt!r}")
    async for chunk in source:
        yield chunk


async def export_bytes(
    fmt: str, columns: Sequence[Column], rows: Rows, *, title: str, meta: dict[str, Any] | None = None
) -> bytes:
    """A whole (small) export in memory."""
    return b"".join([chunk async for chunk in export_stream(fmt, columns, pages_of(rows), title=title, meta=meta)])


@dataclass(frozen=True)
class Choices:
    """A drop-down on one column of a sheet: the values offered, and whether others are refused."""

    values: Sequence[str]
    strict: bool = True  # False: the list is a help, other text may be typed (several values, other regions)
    prompt: str = ""


@dataclass(frozen=True)
class Sheet:
    title: str
    columns: Sequence[Column]
    rows: Rows = ()
    hidden: bool = False
    choices: Mapping[int, Choices] = field(default_factory=dict)  # column index → drop-down
    choice_rows: int = 1000  # how many rows below the header offer the drop-downs


OPTIONS_SHEET = "选项"
INLINE_LIST_LIMIT = 255  # Excel's limit on a list typed into the validation itself


def workbook_bytes(sheets: Sequence[Sheet]) -> bytes:
    """A small workbook of several sheets, same cell rules as every export. A drop-down whose values do
    not fit inline (255 characters, or a value with a comma) reads them from a hidden sheet 选项."""
    workbook = Workbook(write_only=True)
    options: list[Sequence[str]] = []
    for spec in sheets:
        sheet = _new_sheet(workbook, spec.title, spec.columns)
        if spec.hidden:
            sheet.sheet_state = "hidden"
        amounts = {i for i, c in enumerate(spec.columns) if c.amount}
        for row in spec.rows:
            sheet.append([_xlsx_cell(sheet, value, amount=index in amounts) for index, value in enumerate(row)])
        for index, choice in sorted(spec.choices.items()):
            sheet.data_validations.append(_validation(choice, index, spec.choice_rows, options))
    if options:
        height = max(len(values) for values in options)
        rows = [[values[r] if r < len(values) else None for values in options] for r in range(height)]
        sheet = workbook.create_sheet(OPTIONS_SHEET)
        sheet.sheet_state = "hidden"
        for row in rows:
            sheet.append([_xlsx_cell(sheet, value) for value in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _validation(choice: Choices, index: int, rows: int, options: list[Sequence[str]]) -> DataValidation:
    values = [strip_illegal(v) for v in choice.values]
    inline = '"' + ",".join(values) + '"'
    if len(inline) <= INLINE_LIST_LIMIT and not any("," in v or '"' in v for v in values):
        formula = inline
    else:
        options.append([safe_text(v) for v in values])
        letter = get_column_letter(len(options))
        formula = f"{quote_sheetname(OPTIONS_SHEET)}!${letter}$1:${letter}${len(values)}"
    validation = DataValidation(
        type="list",
        formula1=formula,
        allow_blank=True,
        showErrorMessage=choice.strict,
        errorTitle="取值无效",
        error="请从下拉列表中选择",
        showInputMessage=bool(choice.prompt),
        prompt=choice.prompt[:255] or None,
    )
    letter = get_column_letter(index + 1)
    validation.add(f"{letter}2:{letter}{rows + 1}")
    return validation
