"""GET /api/v1/reference and /api/v1/reference/{name}: every code the API takes, with its Chinese label.

Public and read-only: the lists are ``core.reference``'s (``core/data/``), the same the validators
check against. The OpenAPI document names each enum's codes with their labels (``describe_codes``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Path, Query
from pydantic import Field

from core import reference
from core.errors import NotFound, ValidationFailed, problem_responses
from core.pagination import Page, PageQuery
from core.visibility import Classified, Public

router = APIRouter(prefix="/api/v1/reference", tags=["reference"])


class UnknownCodeList(NotFound):
    code = "unknown_code_list"
    message = "没有这个代码表"


class CodeListSummary(Classified):
    name: Public[str] = Field(description="代码表名, 用于 /reference/{name}")
    title: Public[str] = Field(description="中文名")
    total: Public[int] = Field(description="代码数")


class CodeListIndex(Page[CodeListSummary]):
    """Every code list the API knows."""


class CodeRead(Classified):
    code: Public[str] = Field(description="API 收发的代码")
    label: Public[str] = Field(description="中文名称")
    parent: Public[str | None] = Field(
        default=None, description="上级: 行政区划的上级区划, 技术合同子类的合同类型; 其余为空"
    )
    order: Public[int] = Field(description="在代码表中的次序, 从 1 起")
    level: Public[str | None] = Field(
        default=None,
        description="行政区划的级别: province, city, league (盟), district (市辖区), county_city (县级市), "
        "county, banner (旗), autonomous_banner (自治旗); 其余为空",
    )


class CodePage(Page[CodeRead]):
    name: Public[str] = Field(description="代码表名")
    title: Public[str] = Field(description="代码表中文名")


@router.get("", response_model=CodeListIndex, summary="全部代码表 · every code list")
async def list_code_lists(page: PageQuery) -> CodeListIndex:
    rows = [
        CodeListSummary(name=name, title=title, total=len(reference.code_list(name)))
        for name, title in reference.CODE_LISTS.items()
    ]
    return CodeListIndex.window(rows, page)


@router.get(
    "/{name}",
    response_model=CodePage,
    summary="一个代码表: 代码、中文名称、上级与次序 · one code list with Chinese labels",
    description="代码表: "
    + ", ".join(f"`{name}` ({title})" for name, title in reference.CODE_LISTS.items())
    + "。行政区划为 GB/T 2260 代码 (内蒙古含 12 个盟市及 103 个旗县级单位, 其他省份为省级); "
    "境外当事人用 99 + ISO 3166-1 数字代码, 不在表中。`parent` 只列某一上级的下级 (如 150200 列出包头市的旗县区)。",
    responses=problem_responses(UnknownCodeList),
)
async def get_code_list(
    name: Annotated[str, Path(max_length=64, description="代码表名: " + ", ".join(reference.CODE_LISTS))],
    page: PageQuery,
    parent: Annotated[str | None, Query(max_length=64, description="只列这一上级的代码 (如 150200)")] = None,
) -> CodePage:
    if name not in reference.CODE_LISTS:
        raise UnknownCodeList(detail=f"没有代码表 {name}, 可用: {'、'.join(reference.CODE_LISTS)}")
    items = reference.code_list(name)
    if parent is not None:
        parents = {item.parent for item in items} | {item.code for item in items}
        if parent not in parents:
            raise ValidationFailed.on_field("query.parent", "unknown_parent", f"代码表 {name} 中没有上级 {parent}")
        items = tuple(item for item in items if item.parent == parent)
    rows = [
        CodeRead(code=item.code, label=item.label, parent=item.parent, order=item.order, level=item.level)
        for item in items
    ]
    return CodePage.window(rows, page, name=name, title=reference.CODE_LISTS[name])


def _describe(node: Any) -> None:
    """Give every enum schema whose codes are a reference list's a ``code: 标签`` description."""
    if isinstance(node, dict):
        values = node.get("enum")
        if isinstance(values, list) and values and all(isinstance(v, str) for v in values):
            name = reference.list_of_codes(values)
            if name is not None:
                labels = f"{reference.CODE_LISTS[name]} · " + "; ".join(
                    f"{v}: {reference.label_of(name, v)}" for v in values
                )
                existing = node.get("description")
                node["description"] = f"{existing} ({labels})" if existing and labels not in existing else labels
        for child in node.values():
            _describe(child)
    elif isinstance(node, list):
        for child in node:
            _describe(child)


def describe_codes(app: FastAPI) -> None:
    """Wrap ``app.openapi`` so each enum of codes lists its Chinese labels, once per document."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        fresh = app.openapi_schema is None
        document = generate()
        if fresh:
            _describe(document)
        return document

    setattr(app, "openapi", openapi)  # noqa: B010  (FastAPI's documented override; mypy refuses method assignment)
