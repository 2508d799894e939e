"""The import columns of each listing kind: API name, Chinese label, and how a cell becomes the API's value.

A header may be the API name (``title``) or the Chinese label (成果名称, a few common variants too); a
coded cell may be the code or its Chinese label (新材料, 中试, 包头市). The labels of coded values come
from the reference data (``core.reference``), so the template's drop-downs, its 说明 sheet, the importer
and the report all read one mapping. Which columns are required comes from the create schema.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from core import reference
from core.tabular import FORMULA_TRIGGERS
from market.listings.kinds import ListingKind

# Columns a report adds (or a clerk keeps) that are not listing data: read past, never an error.
ERROR_LABEL = "错误原因"
LINE_LABEL = "原行号"
IGNORED = frozenset({ERROR_LABEL, LINE_LABEL, "序号"})
SEPARATORS = re.compile(r"[;；、，,\n]+")
_DATE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$")
_INVENTOR = re.compile(r"^(.+?)\s*(?:[:：]\s*|[(（]\s*)(\d+(?:\.\d+)?)\s*[)）]?$")


@dataclass(frozen=True)
class ImportColumn:
    key: str  # API field; "contact.phone" is a member of the contact object
    label: str  # Chinese header
    note: str  # what the column holds (说明 sheet)
    choices: str | None = None  # the reference code list (``core.reference.CODE_LISTS``) its values come from
    many: bool = False  # several values, separated by ; 、 or ，
    shape: str = "text"  # text | date | int | money | inventors
    aliases: tuple[str, ...] = ()
    example: str = ""

    def labels(self) -> list[str]:
        """What the template's drop-down offers: the labels (for regions, those of the home province)."""
        if self.choices is None:
            return []
        items = reference.code_list(self.choices)
        if self.choices == "regions":
            home = reference.region_prefix(reference.HOME_PROVINCE)
            items = tuple(sorted((i for i in items if i.code.startswith(home)), key=lambda i: i.code))
        return [item.label for item in items]


COMMON_HEAD = (
    ImportColumn(
        "external_id",
        "编号",
        "本单位的登记编号; 重新导入时按编号跳过已导入的行 (不填则按单位和名称识别)",
        aliases=("外部编号", "成果编号", "需求编号", "登记编号"),
        example="NMG-2026-001",
    ),
)
OWNER_COLUMNS = (
    ImportColumn(
        "owner",
        "发布单位",
        "单位全称, 须与平台上登记的名称一致 (或填统一社会信用代码); 单位管理员导入本单位的可不填",
        aliases=("单位名称", "完成单位", "需求单位", "所属单位", "单位"),
        example="内蒙古某某研究院",
    ),
    ImportColumn("owner_uscc", "统一社会信用代码", "18 位, 校验位符合 GB 32100-2015", aliases=("信用代码",)),
    ImportColumn("owner_kind", "单位类型", "仅在需要新建单位时填写", choices="organization_kinds", example="科研机构"),
)
COMMON_TAIL = (
    ImportColumn(
        "field", "技术领域", "下拉选择", choices="fields", aliases=("领域", "所属领域"), example="新材料及其应用"
    ),
    ImportColumn("keywords", "关键词", "最多 10 个, 用 ; 或 、 分隔", many=True, example="稀土;永磁"),
    ImportColumn(
        "transaction_modes",
        "交易方式",
        "可多选, 用 ; 或 、 分隔",
        choices="transaction_modes",
        many=True,
        aliases=("合作方式", "转化方式"),
        example="转让;许可",
    ),
    ImportColumn(
        "region",
        "所在地区",
        "行政区划名称或 GB/T 2260 代码; 不填则为发布单位所在地",
        choices="regions",
        aliases=("地区", "所在地", "行政区划"),
        example="包头市",
    ),
    ImportColumn("contact.name", "联系人", "", aliases=("联系人姓名",), example="张三"),
    ImportColumn("contact.phone", "联系电话", "", aliases=("电话", "手机"), example="0472-1234567"),
    ImportColumn("contact.email", "联系邮箱", "", aliases=("邮箱", "电子邮箱"), example="tt@example.cn"),
)
ACHIEVEMENT_COLUMNS = (
    *COMMON_HEAD,
    ImportColumn("title", "成果名称", "2-100 字", aliases=("名称", "标题"), example="高性能稀土永磁材料制备技术"),
    ImportColumn("summary", "成果简介", "10-5000 字, 非保密内容", aliases=("简介", "成果摘要", "摘要")),
    ImportColumn(
        "maturity", "成熟度", "下拉选择", choices="maturity", aliases=("技术成熟度", "成熟程度"), example="中试"
    ),
    ImportColumn(
        "trl", "技术就绪度", "1-9 级 (GB/T 22900), 须与成熟度一致", shape="int", aliases=("TRL",), example="6"
    ),
    ImportColumn("ip_type", "知识产权类型", "下拉选择", choices="ip_types", aliases=("产权类型",), example="发明专利"),
    ImportColumn(
        "ip_numbers",
        "知识产权编号",
        "专利申请号等, 多个用 ; 分隔",
        many=True,
        aliases=("专利号", "专利申请号"),
        example="201710601862.3",
    ),
    ImportColumn(
        "price", "价格（元）", "单位: 元; 不填或填“面议”为面议", shape="money", aliases=("意向价格",), example="350000"
    ),
    ImportColumn(
        "inventors",
        "完成人",
        "姓名, 多人用 ; 分隔; 份额写在冒号后 (默认 1), 如 王磊:3;李娜:1",
        shape="inventors",
        aliases=("发明人", "成果完成人"),
        example="王磊:3;李娜:1",
    ),
    ImportColumn(
        "advantages", "技术优势", "量化指标, 多条用 ; 分隔", many=True, aliases=("优势",), example="能耗降低30%"
    ),
    *COMMON_TAIL,
    *OWNER_COLUMNS,
)
DEMAND_COLUMNS = (
    *COMMON_HEAD,
    ImportColumn("title", "需求名称", "2-100 字", aliases=("名称", "标题"), example="磁钢降本需减少重稀土用量"),
    ImportColumn("description", "需求描述", "10-5000 字", aliases=("需求内容", "描述")),
    ImportColumn("budget_max", "预算上限（元）", "单位: 元; 不填或填“面议”为面议", shape="money", aliases=("预算",)),
    ImportColumn(
        "deadline", "截止日期", "如 2026-06-30、2026/06/30 或 2026年6月30日", shape="date", example="2026-06-30"
    ),
    ImportColumn(
        "min_maturity",
        "最低成熟度",
        "下拉选择; 不填为不限",
        choices="maturity",
        aliases=("要求成熟度",),
        example="中试",
    ),
    *COMMON_TAIL,
    *OWNER_COLUMNS,
)


def _header_key(text: str) -> str:
    """成果名称 *, 价格(元), ``Title`` → 成果名称, 价格, title."""
    text = re.sub(r"[(（【\[].*?[)）】\]]", "", str(text))
    return re.sub(r"[\s*＊:：]", "", text).lower()


class ColumnSet:
    """One kind's columns: reading a row's headers and cells into the API's field values."""

    def __init__(self, kind: ListingKind, columns: Iterable[ImportColumn]) -> None:
        self.kind = kind
        self.columns = tuple(columns)
        self.by_key = {c.key: c for c in self.columns}
        self._headers: dict[str, ImportColumn] = {}
        self._resolved: dict[str, ImportColumn | str | None] = {}
        for column in self.columns:
            for name in (column.key, column.label, *column.aliases):
                self._headers.setdefault(_header_key(name), column)

    def required(self, column: ImportColumn) -> bool:
        schema = self.kind.create_schema.model_fields.get(column.key)
        return bool(schema and schema.is_required())

    def label_of(self, field: str) -> str:
        """The Chinese label of an error's field (``contact.email``, ``inventors.0.name``); "" when none."""
        for key in (field, field.split(".", 1)[0]):
            if key in self.by_key:
                return self.by_key[key].label
        return "联系方式" if field.startswith("contact") else ""

    def column_of(self, header: str) -> ImportColumn | None:
        return self._headers.get(_header_key(header))

    def _resolve(self, header: str) -> ImportColumn | str | None:
        """A header's column; the header itself when unknown; None for a column read past. Kept per
        header: a file repeats its headers on every row."""
        if header not in self._resolved:
            key = _header_key(header)
            self._resolved[header] = None if key in _IGNORED_KEYS else self._headers.get(key, header)
        return self._resolved[header]

    def to_api(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """A row as read (its own headers) → API field values; empty cells are left out (schema defaults)."""
        result: dict[str, Any] = {}
        contact: dict[str, Any] = {}
        for header, value in values.items():
            column = self._resolve(header)
            if value is None or column is None:
                continue
            value = _unquote(value)
            if isinstance(column, str):
                result[column] = _json(value)  # unknown: the schema names it (extra_forbidden)
                continue
            converted = convert(column, value)
            if converted is None:
                continue
            if column.key.startswith("contact."):
                contact[column.key.split(".", 1)[1]] = converted
            else:
                result[column.key] = converted
        if contact:
            given = result.get("contact")
            result["contact"] = {**(given if isinstance(given, dict) else {}), **contact}
        return result


_IGNORED_KEYS = frozenset(_header_key(name) for name in IGNORED)


def _unquote(value: Any) -> Any:
    """Our own exports neutralise formula-like text with a leading apostrophe; a re-upload takes it off."""
    if isinstance(value, str) and len(value) > 1 and value[0] == "'" and value[1:].startswith(FORMULA_TRIGGERS):
        return value[1:]
    return value


def _json(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def convert(column: ImportColumn, value: Any) -> Any:
    """One cell → the API's value; what cannot be converted is passed on for the schema to name."""
    value = _json(value)
    if isinstance(value, list | dict):
        return value
    if column.choices is not None:
        if column.many and isinstance(value, str):
            return [choice(column, part) for part in SEPARATORS.split(value) if part.strip()]
        return choice(column, value)
    if column.shape == "date":
        return _date(value)
    if column.shape == "int":
        if isinstance(value, str) and (match := re.fullmatch(r"\s*(\d+)\s*级?\s*", value)):
            return int(match.group(1))
        return value
    if column.shape == "money":
        if isinstance(value, int | float):
            return str(Decimal(str(value)))
        text = str(value).replace(",", "").replace("，", "").strip().removesuffix("元").strip()
        return None if text in ("面议", "议价", "") else text
    if column.shape == "inventors" and isinstance(value, str):
        return [_inventor(part.strip()) for part in SEPARATORS.split(value) if part.strip()]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value) if isinstance(value, int | float) else value


def _inventor(text: str) -> dict[str, Any]:
    match = _INVENTOR.match(text)
    return {"name": match.group(1), "share": match.group(2)} if match else {"name": text}


def _date(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str) and (match := _DATE.match(value.strip())):
        year, month, day = match.groups()
        return f"{year}-{int(month):02d}-{int(day):02d}"  # an impossible date is the schema's to refuse
    return value


def choice(column: ImportColumn, value: Any) -> Any:
    """A code or a label → the code: ``core.reference.code_of_label`` (包头 → 150200), a code in any case,
    else the start of exactly one label (新材料 → 新材料及其应用); unknown text is the schema's to refuse."""
    text = str(value).strip()
    assert column.choices is not None
    return _lookup(column.choices, text) or text


def _lookup(name: str, text: str) -> str | None:
    if found := reference.code_of_label(name, text):
        return found
    items = reference.code_list(name)
    by_lower = [item.code for item in items if item.code.lower() == text.lower()]
    if by_lower:
        return by_lower[0]
    if len(text) < 2:
        return None
    starts = {item.code for item in items if item.label.startswith(text)}
    return starts.pop() if len(starts) == 1 else None


_SETS: dict[str, ColumnSet] = {}


def columns_for(kind: ListingKind) -> ColumnSet:
    if kind.name not in _SETS:
        _SETS[kind.name] = ColumnSet(kind, ACHIEVEMENT_COLUMNS if kind.name == "achievement" else DEMAND_COLUMNS)
    return _SETS[kind.name]
