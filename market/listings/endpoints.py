"""Thin handlers for /achievements and /demands, built once per kind from the same template.

No ``from __future__ import annotations`` here: the per-kind schema types must be real objects
in the handler signatures for FastAPI to read them.
"""

import asyncio
from collections.abc import Callable, Coroutine, Sequence
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Query, Request, UploadFile, status
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.responses import Response

from core.db import Database
from core.deps import SessionDep, get_database
from core.errors import FieldError, problem_responses
from core.pagination import PageQuery
from core.tabular import MEDIA_TYPES
from core.visibility import Subject
from market.identity.deps import CurrentPrincipal, DraftingPrincipal, OptionalPrincipal
from market.identity.endpoints import AUTH_ERRORS
from market.identity.errors import NotPlatformAdmin, OrganizationNotVerified
from market.identity.models import Role
from market.identity.service import Principal
from market.listings import errors
from market.listings.files import ImportFileRejected, read_rows
from market.listings.import_report import report_xlsx
from market.listings.import_template import template_csv, template_xlsx
from market.listings.importer import Importer, ImportReport
from market.listings.kinds import ACHIEVEMENT, DEMAND, ListingKind
from market.listings.models import Achievement, Demand, ListingStatus
from market.listings.repository import ListingRepository
from market.listings.schemas import AchievementPage, AuditPage, AuditRead, DemandPage, RejectBody, listing_subject
from market.listings.service import ListingService


async def get_listing_service(session: SessionDep) -> ListingService:
    return ListingService(ListingRepository(session))


ListingServiceDep = Annotated[ListingService, Depends(get_listing_service)]


async def render(
    service: ListingService, kind: ListingKind, principal: Principal | None, rows: Sequence[Achievement | Demand]
) -> list[Any]:
    owners = await service.owners(rows)
    return [
        kind.to_read(
            row,
            owner.name if (owner := owners.get(row.owner_id)) else "",
            internals=service.sees_internals(principal, row, owner),
            owner_region=owner.region if owner else None,
        )
        for row in rows
    ]


def build_router(kind: ListingKind, path: str, page_schema: type[AchievementPage] | type[DemandPage]) -> APIRouter:
    router = APIRouter(prefix=f"/api/v1/{path}", tags=[path])
    Create, Update, Read = kind.request_schema, kind.update_schema, kind.read_schema
    label = kind.label_zh

    @router.post(
        "",
        response_model=Read,
        status_code=status.HTTP_201_CREATED,
        summary=f"新建{label} (草稿)",
        responses=problem_responses(*AUTH_ERRORS, errors.NotListingOwner),
    )
    async def create(data: Create, principal: DraftingPrincipal, service: ListingServiceDep) -> Any:  # type: ignore[valid-type]
        row = await service.create(principal, kind, data)
        return (await render(service, kind, principal, [row]))[0]

    @router.get(
        "",
        response_model=page_schema,
        summary=f"{label}列表 (公众仅见已发布; 单位可见本单位全部; 管理员可见辖区全部)",
        responses=problem_responses(*AUTH_ERRORS),
    )
    async def list_listings(
        principal: OptionalPrincipal,
        service: ListingServiceDep,
        page: PageQuery,
        status_filter: Annotated[ListingStatus | None, Query(alias="status")] = None,
        field: Annotated[str | None, Query(max_length=32)] = None,
        region: Annotated[str | None, Query(pattern=r"^\d{6}$")] = None,
        owner_id: int | None = None,
    ) -> Any:
        rows, total = await service.list(
            principal,
            kind,
            status=status_filter,
            field=field,
            region=region,
            owner_id=owner_id,
            offset=page.offset,
            limit=page.limit,
        )
        return page_schema.of(await render(service, kind, principal, rows), total, page)

    @router.get(
        "/{listing_id}",
        response_model=Read,
        summary=f"{label}详情",
        responses=problem_responses(*AUTH_ERRORS, errors.ListingNotFound),
    )
    async def read(listing_id: int, principal: OptionalPrincipal, service: ListingServiceDep) -> Any:
        row = await service.get(principal, kind, listing_id)
        return (await render(service, kind, principal, [row]))[0]

    @router.patch(
        "/{listing_id}",
        response_model=Read,
        summary=f"修改{label} (已发布的修改需重新审核, 审核前公众仍看到原版本)",
        responses=problem_responses(
            *AUTH_ERRORS, errors.ListingNotFound, errors.NotListingOwner, errors.InvalidTransition, errors.PriceHeld
        ),
    )
    async def update(listing_id: int, patch: Update, principal: DraftingPrincipal, service: ListingServiceDep) -> Any:  # type: ignore[valid-type]
        row = await service.update(principal, kind, listing_id, patch)
        return (await render(service, kind, principal, [row]))[0]

    transition_errors = problem_responses(
        *AUTH_ERRORS,
        errors.ListingNotFound,
        errors.NotListingOwner,
        errors.NotReviewer,
        errors.InvalidTransition,
        errors.PriceHeld,
        OrganizationNotVerified,
    )

    def add_transition(action: str, summary: str) -> None:
        async def handler(listing_id: int, principal: CurrentPrincipal, service: ListingServiceDep) -> Any:
            row = await service.transition(principal, kind, listing_id, action)
            return (await render(service, kind, principal, [row]))[0]

        router.add_api_route(
            f"/{{listing_id}}/{action}",
            handler,
            methods=["POST"],
            response_model=Read,
            summary=summary,
            responses=transition_errors,
            name=f"{action}_{kind.name}",
        )

    add_transition("submit", "提交审核")
    add_transition("approve", "审核通过 (或通过待审修改)")
    add_transition("withdraw", "撤回")
    add_transition("close", "关闭 (已成交)")

    @router.post("/{listing_id}/reject", response_model=Read, summary="驳回 (须说明理由)", responses=transition_errors)
    async def reject(listing_id: int, body: RejectBody, principal: CurrentPrincipal, service: ListingServiceDep) -> Any:
        row = await service.transition(principal, kind, listing_id, "reject", reason=body.reason)
        return (await render(service, kind, principal, [row]))[0]

    @router.get(
        "/{listing_id}/audit",
        response_model=AuditPage,
        summary="审计记录 (管理员)",
        responses=problem_responses(*AUTH_ERRORS, errors.ListingNotFound, errors.NotAdmin),
    )
    async def audit_trail(
        listing_id: int, principal: CurrentPrincipal, service: ListingServiceDep, page: PageQuery
    ) -> AuditPage:
        entries, total = await service.audit_trail(principal, kind, listing_id, page.offset, page.limit)
        row = await service.get(principal, kind, listing_id)
        owner = (await service.owners([row])).get(row.owner_id)
        subject = listing_subject(row.owner_id, owner.region if owner else None)
        items = [AuditRead.model_validate(e).about(subject) for e in entries]
        return AuditPage.of(items, total, page)

    return router


achievements_router = build_router(ACHIEVEMENT, "achievements", AchievementPage)
demands_router = build_router(DEMAND, "demands", DemandPage)


class MultipartRoute(APIRoute):
    """A body the framework cannot parse as multipart/form-data becomes the documented ``malformed_multipart``."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except HTTPException as exc:  # raised only while reading the body: the endpoint raises domain errors
                if exc.status_code != 400:
                    raise
                problem = errors.MalformedMultipart
                raise problem(
                    errors=[FieldError(field="body", code=problem.code, message=problem.message)],
                    detail=f"请求体无法按 multipart/form-data 解析 ({exc.detail})",
                ) from exc

        return guarded


imports_router = APIRouter(prefix="/api/v1/imports", tags=["imports"], route_class=MultipartRoute)
MAX_IMPORT_BYTES = 50 * 1024 * 1024


ImportKindName = Literal["achievements", "demands"]
XLSX_RESPONSE = {"content": {MEDIA_TYPES["xlsx"]: {"schema": {"type": "string", "format": "binary"}}}}


def _attachment(name: str, content: bytes, fmt: str, headers: dict[str, str] | None = None) -> Response:
    ascii_name = name.encode("ascii", "ignore").decode() or f"import.{fmt}"
    disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"
    return Response(
        content, media_type=MEDIA_TYPES[fmt], headers={"Content-Disposition": disposition, **(headers or {})}
    )


@imports_router.get(
    "/{kind}/template",
    summary="导入模板 (XLSX 含说明页与下拉选项, 或 CSV 表头)",
    description="表头为中文列名; XLSX 另有“说明”页 (每列含义、是否必填、可选值) 和编码列的下拉选项。",
    responses={200: {"content": {MEDIA_TYPES["xlsx"]: {}, MEDIA_TYPES["csv"]: {}}}, **problem_responses(*AUTH_ERRORS)},
)
async def import_template(
    kind: ImportKindName, principal: CurrentPrincipal, format: Literal["xlsx", "csv"] = "xlsx"
) -> Response:
    listing_kind = ACHIEVEMENT if kind == "achievements" else DEMAND
    content = template_xlsx(listing_kind) if format == "xlsx" else await template_csv(listing_kind)
    return _attachment(f"{listing_kind.label_zh}导入模板.{format}", content, format)


@imports_router.post(
    "/{kind}",
    response_model=ImportReport,
    summary="批量导入 (CSV/XLSX/XLS/JSONL); 返回逐行校验报告 (JSON, 或 report=xlsx: 失败行与原因)",
    description="列名可为 API 字段名或中文列名, 编码列可填代码或中文名称 (见导入模板)。"
    "每行只能挂在导入者可代表的已认证单位名下 (平台管理员: 任一; 盟市管理员: 本盟市的单位; "
    "单位管理员: 本单位, 只能导入为草稿或提交审核, 不能直接发布); "
    "新建的单位待审核, 除非平台管理员要求直接认证 (verify_organizations)。"
    "report=xlsx 时返回工作簿: 失败的行原样列出并附“错误原因”列, 改好后可整表重新上传 (已导入的行跳过); "
    "计数在响应头 X-Import-Total、X-Import-Created、X-Import-Skipped、X-Import-Failed-Rows、X-Import-Errors。",
    responses={
        200: XLSX_RESPONSE,
        **problem_responses(
            *AUTH_ERRORS, errors.NotAdmin, NotPlatformAdmin, ImportFileRejected, errors.MalformedMultipart
        ),
    },
)
async def import_listings(
    kind: ImportKindName,
    file: UploadFile,
    principal: CurrentPrincipal,
    session: SessionDep,
    database: Annotated[Database, Depends(get_database)],
    publish: Annotated[bool, Form(description="直接发布 (迁移已有登记库; 仅平台与盟市管理员)")] = False,
    submit: Annotated[bool, Form(description="导入后直接提交审核 (否则为草稿)")] = False,
    create_organizations: Annotated[bool, Form(description="创建缺失的单位 (待审核, 写入审计)")] = False,
    verify_organizations: Annotated[bool, Form(description="新建的单位直接记为已认证 (仅平台管理员)")] = False,
    report: Annotated[Literal["json", "xlsx"], Query(description="报告格式: json, 或 xlsx (失败行与原因)")] = "json",
) -> Any:
    """Runs in batched transactions of its own (not the request's unit of work): good rows land, bad rows
    are reported."""
    admin = principal.is_platform_admin or principal.region_scope is not None
    if not admin and not (principal.user.role == Role.org_admin and principal.organization is not None):
        raise errors.NotAdmin()
    if publish and not admin:
        raise errors.NotAdmin(detail="单位管理员导入的行为草稿或提交审核 (submit), 发布须经审核")
    if verify_organizations:
        principal.require_platform_admin()
    content = await file.read(MAX_IMPORT_BYTES + 1)
    if len(content) > MAX_IMPORT_BYTES:
        raise ImportFileRejected(detail="文件超过 50 MB, 请使用命令行 techmarket import")
    listing_kind = ACHIEVEMENT if kind == "achievements" else DEMAND
    await session.commit()  # end the request's read transaction: SQLite would hold its lock over the batches
    rows = read_rows(file.filename or "", content)
    importer = Importer(database, listing_kind, actor=principal)
    result = await importer.run(
        rows,
        publish=publish,
        submit=submit,
        create_organizations=create_organizations,
        verify_organizations=verify_organizations,
    )
    if report == "xlsx":
        counts = {
            "X-Import-Total": result.total,
            "X-Import-Created": result.created,
            "X-Import-Skipped": result.skipped_existing,
            "X-Import-Failed-Rows": result.failed_rows,
            "X-Import-Errors": len(result.errors),
        }
        workbook = await asyncio.to_thread(report_xlsx, listing_kind, result, importer.originals)
        headers = {name: str(value) for name, value in counts.items()}
        return _attachment(f"{listing_kind.label_zh}导入报告.xlsx", workbook, "xlsx", headers)
    return result.about(Subject(user=principal.user.id))  # the report of the caller's own run
