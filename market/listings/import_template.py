"""The blank import file of each kind: Chinese headers, a 说明 sheet, drop-downs on the coded columns.

Made from the same column table the importer reads (``import_columns``), so a template filled in and
uploaded as it is imports without a header or label being translated by hand.
"""

from __future__ import annotations

from core.tabular import Choices, Column, Sheet, export_bytes, workbook_bytes
from market.listings.import_columns import ERROR_LABEL, ImportColumn, columns_for
from market.listings.kinds import ListingKind

NOTE_COLUMNS = (
    Column("label", "列名", 18),
    Column("key", "字段 (API)", 20),
    Column("required", "是否必填", 10),
    Column("note", "说明", 56),
    Column("values", "可选值", 60),
    Column("example", "示例", 28),
)
LISTED_CHOICES = 20  # longer lists are named by count in 说明; the drop-down has them all
GENERAL_NOTES = (
    "第一行是表头 (列名), 从第二行起每行一条; 列的顺序不限, 不需要的选填列可以删除。",
    "有下拉列表的列可填中文名称, 也可填代码; 多个值用分号 ; 或顿号 、 分隔。",
    "日期可写 2026-06-30、2026/06/30 或 2026年6月30日, 也可用 Excel 的日期格式。",
    "CSV 文件可用 UTF-8 或 GB18030 (GBK) 编码保存; 也接受 .xlsx 与 .xls。",
    f"导入报告中的“{ERROR_LABEL}”列在重新上传时会被忽略: 改好后整表重新上传, 已导入的行按编号跳过。",
)


def _columns(kind: ListingKind) -> list[Column]:
    return [Column(c.key, c.label, width=max(12, 2 * len(c.label) + 4)) for c in columns_for(kind).columns]


def _required(kind: ListingKind, column: ImportColumn) -> str:
    if column.key in ("owner", "owner_uscc"):
        return "二选一"
    return "必填" if columns_for(kind).required(column) else "选填"


def _values(column: ImportColumn) -> str:
    labels = column.labels()
    if not labels:
        return ""
    if len(labels) <= LISTED_CHOICES:
        return "、".join(labels)
    return f"下拉选择 (共 {len(labels)} 项), 也可填其他名称或代码"


def template_xlsx(kind: ListingKind) -> bytes:
    columns = columns_for(kind).columns
    choices = {
        index: Choices(column.labels(), strict=not column.many and column.key != "region", prompt=column.note)
        for index, column in enumerate(columns)
        if column.choices
    }
    notes = [(c.label, c.key, _required(kind, c), c.note, _values(c), c.example) for c in columns] + [
        ("通用说明", "", "", note, "", "") for note in GENERAL_NOTES
    ]
    return workbook_bytes(
        [
            Sheet(f"{kind.label_zh}导入", _columns(kind), choices=choices),
            Sheet("说明", NOTE_COLUMNS, rows=notes),
        ]
    )


async def template_csv(kind: ListingKind) -> bytes:
    return await export_bytes("csv", _columns(kind), [], title=f"{kind.label_zh}导入")
