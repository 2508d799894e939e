"""Statistics exports: the aggregate tables and the contract-level 登记表, as rows for core.tabular
(the one writer of CSV/XLSX/JSON files, which neutralises text cells and keeps amounts numeric).

Contract exports stream: rows are read in keyset pages (by contract id) in short transactions, so
memory stays flat at millions of rows and SQLite writers are never blocked for long.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

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
from contracts.statistics.schemas import (
    CROSS_LABELS,
    UNIT_LABELS,
    AggregateRead,
    CrossMeasure,
    CrossTabRead,
    ExportFormat,
    Unit,
    amount,
)
from contracts.statistics.service import PeriodRange
from core.db import Database
from core.reference import fields
from core.tabular import MEDIA_TYPES, Column, export_stream, pages_of
from market.identity.models import OrganizationKind

__all__ = [
    "AGGREGATE_COLUMNS",
    "MEASURE_LABELS",
    "aggregate_columns",
    "crosstab_columns",
    "crosstab_rows",
    "MEDIA_TYPES",
    "REGISTRATION_COLUMNS",
    "aggregate_rows",
    "export_stream",
    "registration_columns",
    "registration_pages",
    "single_page",
]

PAGE = 2000
SUBTYPE_LABELS = {
    ContractSubtype.commissioned_development: "委托开发",
    ContractSubtype.cooperative_development: "合作开发",
    ContractSubtype.patent_right: "专利权转让",
    ContractSubtype.patent_application_right: "专利申请权转让",
    ContractSubtype.technical_secret: "技术秘密转让",
    ContractSubtype.exclusive_license: "专利实施许可 (独占)",
    ContractSubtype.sole_license: "专利实施许可 (排他)",
    ContractSubtype.ordinary_license: "专利实施许可 (普通)",
    ContractSubtype.technical_secret_license: "技术秘密使用许可",
    ContractSubtype.consulting: "技术咨询",
    ContractSubtype.technical_service: "技术服务",
    ContractSubtype.technical_training: "技术培训",
    ContractSubtype.technical_intermediary: "技术中介",
}


def aggregate_columns(unit: Unit = Unit.yuan) -> tuple[Column, ...]:
    name = UNIT_LABELS[unit]
    return (
        Column("key", "代码", 16),
        Column("label", "名称", 28),
        Column("contracts", "合同数 (项)", 14),
        Column("turnover", f"合同成交额 ({name})", 22, amount=True),
        Column("technology_income", f"技术交易额 ({name})", 22, amount=True),
    )


AGGREGATE_COLUMNS = aggregate_columns()
MEASURE_LABELS = {
    CrossMeasure.turnover: "合同成交额",
    CrossMeasure.technology_income: "技术交易额",
    CrossMeasure.contracts: "合同数",
}


def crosstab_columns(table: CrossTabRead, measure: CrossMeasure) -> tuple[Column, ...]:
    money = measure != CrossMeasure.contracts
    return (
        Column("key", "代码", 16),
        Column("label", CROSS_LABELS[table.rows], 24),
        *(Column(f"c_{c.key}", c.label, 16, amount=money) for c in table.columns),
        Column("total", "合计", 18, amount=money),
    )


def crosstab_rows(table: CrossTabRead, measure: CrossMeasure) -> list[list[Any]]:
    """One measure per file: a row per row key with its total, then the column totals (合计)."""
    value = lambda cell: getattr(cell, measure.value)  # noqa: E731
    rows = [[r.key, r.label, *(value(c) for c in r.cells), value(r.total)] for r in table.items]
    return [*rows, ["total", "合计", *(value(c) for c in table.column_totals), value(table.overall)]]


def registration_columns(unit: Unit = Unit.yuan) -> tuple[Column, ...]:
    name = UNIT_LABELS[unit]
    return tuple(Column(c.key, c.header.replace("(元)", f"({name})"), c.width, c.amount) for c in REGISTRATION_COLUMNS)


REGISTRATION_COLUMNS = (
    Column("registration_number", "登记编号", 20),
    Column("title", "合同名称", 40),
    Column("type", "合同类型", 12),
    Column("subtype", "合同子类型", 20),
    Column("field", "技术领域", 24),
    Column("ip_type", "知识产权类型", 18),
    Column("seller_name", "卖方单位", 32),
    Column("seller_uscc", "卖方统一社会信用代码", 22),
    Column("seller_region", "卖方所在地代码", 14),
    Column("seller_region_name", "卖方所在地", 16),
    Column("seller_kind", "卖方单位类型", 12),
    Column("buyer_name", "买方单位", 32),
    Column("buyer_uscc", "买方统一社会信用代码", 22),
    Column("buyer_region", "买方所在地代码", 14),
    Column("buyer_region_name", "买方所在地", 16),
    Column("buyer_kind", "买方单位类型", 12),
    Column("turnover", "合同成交额 (元)", 20, amount=True),
    Column("technology_income", "技术交易额 (元)", 20, amount=True),
    Column("signed_on", "签订日期", 12),
    Column("registered_on", "登记日期", 12),
    Column("status", "合同状态", 10),
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


def registration_row(record: Any, unit: Unit = Unit.yuan) -> list[Any]:
    contract = record[0]
    field = fields().get(contract.field or "")
    registered = contract.registered_at or contract.created_at
    ip = record.ip_type or NO_IP
    return [
        contract.registration_number or "",
        contract.title,
        TYPE_LABELS.get(ContractType(contract.type), str(contract.type)),
        SUBTYPE_LABELS.get(ContractSubtype(contract.subtype), str(contract.subtype)),
        field.name_zh if field else "",
        IP_LABELS.get(ip, ip),
        record.seller_name,
        record.seller_uscc or "",
        contract.seller_region,
        region_name(contract.seller_region),
        _kind(contract.seller_kind),
        record.buyer_name,
        record.buyer_uscc or "",
        contract.buyer_region,
        region_name(contract.buyer_region),
        _kind(contract.buyer_kind),
        amount(contract.total_fen, unit),
        amount(contract.technology_income_fen, unit),
        contract.signed_on,
        registered.astimezone(CHINA).date() if registered else None,
        STATUS_LABELS.get(contract.status, str(contract.status)),
    ]


async def registration_pages(
    database: Database, *, side: str, prefix: str, period: PeriodRange, unit: Unit = Unit.yuan
) -> AsyncIterator[list[list[Any]]]:
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
        yield [registration_row(r, unit) for r in records]
        if len(records) < PAGE:
            return


def single_page(rows: list[list[Any]]) -> AsyncIterator[list[list[Any]]]:
    return pages_of(rows)  # type: ignore[return-value]


def filename(stem: str, fmt: ExportFormat) -> str:
    return f"{stem}.{fmt.value}"
