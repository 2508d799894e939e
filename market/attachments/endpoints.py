"""Attachment routes: the same four under each object that takes files (built per kind by its own
package, which knows who may see the object), and one download route answering signed links.

No ``from __future__ import annotations``: FastAPI reads the handler signatures built here.
"""

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request, status
from fastapi.responses import StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from core.deps import SessionDep, SettingsDep
from core.errors import DomainError, problem_responses
from core.pagination import PageQuery
from core.storage import ObjectMissing, ObjectStore
from core.visibility import ANONYMOUS
from market.attachments import errors, service
from market.attachments.kinds import ACCEPTED_ZH, KINDS, MB
from market.attachments.models import AttachmentCategory, AttachmentVisibility, OwnerKind
from market.attachments.schemas import AttachmentPage, AttachmentRead, render
from market.attachments.service import Holder, object_key
from market.attachments.upload import receive
from market.identity.deps import CurrentPrincipal, OptionalPrincipal
from market.identity.endpoints import AUTH_ERRORS
from market.identity.service import Principal

Resolver = Callable[[AsyncSession, Principal | None, int], Awaitable[Holder]]

LIMITS_ZH = "、".join(f"{kind.label} {kind.max_bytes // MB} MB" for kind in KINDS)
UPLOAD_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {"file": {"type": "string", "format": "binary", "description": "一个文件"}},
            }
        }
    },
}


async def get_store(request: Request) -> ObjectStore:
    store: ObjectStore = request.app.state.store
    return store


StoreDep = Annotated[ObjectStore, Depends(get_store)]


def add_attachment_routes(
    router: APIRouter, *, kind: OwnerKind, label: str, resolve: Resolver, not_found: type[DomainError]
) -> None:
    """Upload, list, read and delete under ``{router.prefix}/{owner_id}/attachments``."""

    @router.post(
        "/{owner_id}/attachments",
        response_model=AttachmentRead,
        status_code=status.HTTP_201_CREATED,
        summary=f"上传{label}附件",
        description=(
            f"multipart/form-data, 文件放在 file 字段, 边收边存 (不整体读入内存)。类型按内容识别: {ACCEPTED_ZH}; "
            f"上限: {LIMITS_ZH} (超过: 413 file_too_large)。同一内容只存一份 (SHA-256)。"
        ),
        openapi_extra={"requestBody": UPLOAD_BODY},
        responses=problem_responses(
            *AUTH_ERRORS,
            not_found,
            errors.AttachmentForbidden,
            errors.FileTooLarge,
            errors.FileTypeRefused,
            errors.EmptyFile,
            errors.BadUpload,
        ),
    )
    async def upload_attachment(
        owner_id: int,
        request: Request,
        principal: CurrentPrincipal,
        session: SessionDep,
        settings: SettingsDep,
        store: StoreDep,
        category: Annotated[AttachmentCategory, Query(description="附件类别")] = AttachmentCategory.other,
        visibility: Annotated[AttachmentVisibility, Query(description="可见范围")] = AttachmentVisibility.parties,
    ) -> Any:
        holder = await resolve(session, principal, owner_id)
        if not service.may_attach(principal.viewer, holder):
            raise errors.AttachmentForbidden()
        # Nothing is held while the bytes arrive: the authorizing read ends here (it wrote nothing),
        # and the object is resolved again in the transaction that writes.
        await session.commit()
        received = await receive(request)
        try:
            holder = await resolve(session, principal, owner_id)
            attachment = await service.upload(
                session, store, principal.viewer, holder, received, category=category, visibility=visibility
            )
        finally:
            received.path.unlink(missing_ok=True)
        return render(settings, holder, attachment)

    @router.get(
        "/{owner_id}/attachments",
        response_model=AttachmentPage,
        summary=f"{label}的附件 (按可见范围)",
        responses=problem_responses(*AUTH_ERRORS, not_found),
    )
    async def list_attachments(
        owner_id: int,
        principal: OptionalPrincipal,
        session: SessionDep,
        settings: SettingsDep,
        page: PageQuery,
        category: AttachmentCategory | None = None,
    ) -> Any:
        holder = await resolve(session, principal, owner_id)
        viewer = principal.viewer if principal is not None else ANONYMOUS
        rows, total = await service.page(
            session, viewer, holder, category=category, offset=page.offset, limit=page.limit
        )
        return AttachmentPage.of([render(settings, holder, row) for row in rows], total, page)

    @router.get(
        "/{owner_id}/attachments/{attachment_id}",
        response_model=AttachmentRead,
        summary=f"{label}的一个附件 (含新的下载链接)",
        responses=problem_responses(*AUTH_ERRORS, not_found, errors.AttachmentNotFound),
    )
    async def read_attachment(
        owner_id: int, attachment_id: int, principal: OptionalPrincipal, session: SessionDep, settings: SettingsDep
    ) -> Any:
        holder = await resolve(session, principal, owner_id)
        viewer = principal.viewer if principal is not None else ANONYMOUS
        return render(settings, holder, await service.visible_attachment(session, viewer, holder, attachment_id))

    @router.delete(
        "/{owner_id}/attachments/{attachment_id}",
        status_code=status.HTTP_204_NO_CONTENT,
        summary=f"删除{label}附件 (上传单位或管理员; 记入审计)",
        responses=problem_responses(*AUTH_ERRORS, not_found, errors.AttachmentNotFound, errors.AttachmentForbidden),
    )
    async def delete_attachment(
        owner_id: int, attachment_id: int, principal: CurrentPrincipal, session: SessionDep
    ) -> Response:
        holder = await resolve(session, principal, owner_id)
        await service.delete(session, principal.viewer, holder, attachment_id)
        return Response(status_code=status.HTTP_204_NO_CONTENT)


download_router = APIRouter(prefix="/api/v1/attachments", tags=["attachments"])


@download_router.get(
    "/{attachment_id}/content",
    summary="按签名链接下载附件 (无需登录头)",
    response_class=StreamingResponse,
    responses={
        200: {"description": "文件内容", "content": {"application/octet-stream": {}}},
        **problem_responses(errors.LinkInvalid, errors.ObjectUnavailable),
    },
)
async def download_attachment(
    attachment_id: int,
    session: SessionDep,
    settings: SettingsDep,
    store: StoreDep,
    expires: Annotated[int, Query(description="链接到期时间 (Unix 秒)")],
    signature: Annotated[str, Query(max_length=100, description="链接签名")],
) -> StreamingResponse:
    attachment = await service.by_link(session, settings, attachment_id, expires, signature)
    chunks = store.read(object_key(attachment.sha256))
    try:
        first = await anext(chunks, b"")
    except ObjectMissing as exc:
        raise errors.ObjectUnavailable() from exc

    async def body() -> AsyncIterator[bytes]:
        yield first
        async for chunk in chunks:
            yield chunk

    name = Path(attachment.filename).name
    fallback = name.encode("ascii", "replace").decode().replace('"', "_").replace("?", "_")
    headers = {
        "Content-Disposition": f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name)}",
        "Content-Length": str(attachment.size),
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, no-store",
        "Content-Security-Policy": "sandbox",
        "ETag": f'"{attachment.sha256}"',
    }
    return StreamingResponse(body(), media_type=attachment.media_type, headers=headers)
